-- public.audit_log: what admins did to access and personal data (migration 20261207003000).
--
-- read    admins
-- insert  nobody through the API: the database writes it (SECURITY DEFINER triggers and
--         functions)
-- update  nobody through the API or as the services (no grant); trigger
--         guard_audit_log_append_only refuses it to the owner too, but the owner can disable
--         or drop that trigger: for tamper evidence, ship the log elsewhere
-- delete  likewise (guard_audit_log_no_truncate refuses TRUNCATE)

create policy "Admins can read the audit log"
  on public.audit_log
  for select
  to authenticated
  using ((select private.is_admin()));
