-- An admin's retry of a failed recipient may re-open a completed broadcast, but never
-- rewrites its record:
--   - a broadcast keeps sent_at, the time it first completed, while retried recipients
--     are sent (the retry re-opens it: completed -> sending -> completed again), and also
--     when an admin cancels the retry (cancelled, with the sent_at of its completion);
--   - a recipient is retried only while its broadcast is sending or completed: in a
--     cancelled broadcast it would wait forever, its error wiped.

create or replace function private.requeue_broadcast_recipient()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_refusal jsonb := svc.check_contact_reachable(new.contact_id, true);
  v_status text;
begin
  if new.status = 'pending' and old.status = 'failed' then
    select b.status into v_status from public.broadcast_messages b where b.id = new.broadcast_id for update;
    if v_status not in ('sending', 'completed') then
      raise exception 'a recipient can be sent again only while its broadcast is sending or completed (this one is %)', v_status
        using errcode = '55000';
    end if;
    if v_refusal is not null then
      raise exception 'this recipient can''t be sent to again: %', lower(v_refusal ->> 'title')
        using errcode = '55000', hint = v_refusal ->> 'details';
    end if;
    new.error_message := null;
    -- A completed broadcast is sending again until its retried recipients are final; it
    -- keeps sent_at, when it first completed.
    update public.broadcast_messages set status = 'sending', status_detail = null
     where id = new.broadcast_id and status = 'completed';
    insert into svc.broadcast_queue (broadcast_id, contact_id)
    values (new.broadcast_id, new.contact_id)
    on conflict do nothing;
  end if;
  return new;
end;
$$;

create or replace function svc.complete_finished_broadcasts(p_now timestamptz default now())
returns int
language plpgsql
set search_path = ''
as $$
declare
  v_count int;
begin
  update public.broadcast_messages b
     set status = 'completed', sent_at = coalesce(b.sent_at, p_now), status_detail = null
   where b.status = 'sending'
     and not exists (select 1 from svc.broadcast_queue q where q.broadcast_id = b.id);
  get diagnostics v_count = row_count;
  return v_count;
end;
$$;
comment on function svc.complete_finished_broadcasts(timestamptz) is
  'Completes sending broadcasts whose every recipient is sent or failed (sent_at: when it first completed).';
