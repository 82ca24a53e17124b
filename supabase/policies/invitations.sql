-- public.invitations: who may join the team, with which role (migration 20261207002000).
--
-- read    admins: every invitation with its delivery state (status, attempts,
--         next_attempt_at, last_error, sent_at, accepted_at)
-- insert  admins: email and role only (grant in migration 20261207002000); the status is
--         always pending, or accepted at once when that email's confirmed account exists
-- update  admins, open invitations only (pending, sent, failed): the role, and the status
--         to pending (send again) or revoked (guard trigger guard_invitations_status);
--         accepted and revoked invitations are final
-- delete  nobody through the API: a revoked invitation stays as the record

create policy "Admins can read invitations"
  on public.invitations
  for select
  to authenticated
  using ((select private.is_admin()));

create policy "Admins can invite people"
  on public.invitations
  for insert
  to authenticated
  with check ((select private.is_admin()));

create policy "Admins can change, resend and revoke open invitations"
  on public.invitations
  for update
  to authenticated
  using ((select private.is_admin()) and status in ('pending', 'sent', 'failed'))
  with check ((select private.is_admin()));
