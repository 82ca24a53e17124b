-- Journal retention, scheduled in the database where pg_cron is installed (Supabase:
-- Database > Extensions > pg_cron, or `create extension pg_cron with schema pg_catalog`).
--
-- With pg_cron: svc.prune_webhook_journal() runs hourly (minute 17), as the migrations'
-- role, which owns it; `select * from cron.job where jobname = 'prune-webhook-journal'`
-- shows the job and cron.job_run_details its runs. cron.schedule with a job name
-- replaces a job of that name, so running this again changes nothing.
-- Without pg_cron: nothing here; the services call svc.prune_webhook_journal hourly
-- instead (README, "Personal data"). Installing pg_cron later: run the statement below
-- once by hand.

do $$
begin
  if exists (select from pg_catalog.pg_extension where extname = 'pg_cron') then
    perform cron.schedule('prune-webhook-journal', '17 * * * *', 'select svc.prune_webhook_journal()');
  end if;
end
$$;
