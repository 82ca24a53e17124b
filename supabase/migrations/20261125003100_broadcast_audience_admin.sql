-- Admins choose a broadcast's explicit audience (recipient rows of a draft or scheduled
-- broadcast) and retry failed recipients on purpose (failed -> pending re-queues them,
-- trigger on_broadcast_recipient_retried). Replaces the read-only rule of migration 0700.

grant insert (broadcast_id, contact_id) on public.broadcast_recipients to authenticated;
grant update (status) on public.broadcast_recipients to authenticated;
grant delete on public.broadcast_recipients to authenticated;

-- ====================================================================================
-- supabase/policies/broadcast_recipients.sql
-- ====================================================================================

drop policy "Admins can read broadcast recipients" on public.broadcast_recipients;

-- public.broadcast_recipients: one row per contact a broadcast goes to.
--
-- read    admins
-- insert  admins, into a draft or scheduled broadcast, as 'pending' (an explicit
--         audience); the worker adds the tag audience when the broadcast starts and skips
--         blocked and opted-out contacts either way
-- update  admins, only a failed recipient back to 'pending': a deliberate retry (e.g. of
--         an unknown outcome), which re-queues it; delivery statuses come from webhooks
-- delete  admins, from a draft or scheduled broadcast

create policy "Admins can read broadcast recipients"
  on public.broadcast_recipients
  for select
  to authenticated
  using ((select private.is_admin()));

create policy "Admins can add recipients to draft or scheduled broadcasts"
  on public.broadcast_recipients
  for insert
  to authenticated
  with check (
    (select private.is_admin())
    and status = 'pending'
    and exists (
      select from public.broadcast_messages b
      where b.id = broadcast_recipients.broadcast_id
        and b.status in ('draft', 'scheduled')
    )
  );

create policy "Admins can retry failed recipients"
  on public.broadcast_recipients
  for update
  to authenticated
  using ((select private.is_admin()) and status = 'failed')
  with check ((select private.is_admin()) and status = 'pending');

create policy "Admins can remove recipients from draft or scheduled broadcasts"
  on public.broadcast_recipients
  for delete
  to authenticated
  using (
    (select private.is_admin())
    and exists (
      select from public.broadcast_messages b
      where b.id = broadcast_recipients.broadcast_id
        and b.status in ('draft', 'scheduled')
    )
  );
