-- public.broadcast_messages: scheduled mass messages. Admins only.
--
-- read    admins (the audience names contacts an agent may not see)
-- insert  admins, as themselves (created_by), as a draft or already scheduled
-- update  admins; the status they may set is draft, scheduled or cancelled: 'sending' and
--         'completed' are the broadcast worker's (it moves a broadcast to sending exactly
--         once), so a sending broadcast can only be cancelled and a completed one not
--         changed; sent_at is not even granted (migration 0600)
-- delete  admins, drafts only (what was scheduled or sent stays as history)

create policy "Admins can read broadcasts"
  on public.broadcast_messages
  for select
  to authenticated
  using ((select private.is_admin()));

create policy "Admins can create draft or scheduled broadcasts"
  on public.broadcast_messages
  for insert
  to authenticated
  with check (
    (select private.is_admin())
    and created_by = (select private.active_user_id())
    and status in ('draft', 'scheduled')
  );

create policy "Admins can edit, schedule and cancel broadcasts"
  on public.broadcast_messages
  for update
  to authenticated
  using ((select private.is_admin()))
  with check ((select private.is_admin()) and status in ('draft', 'scheduled', 'cancelled'));

create policy "Admins can delete draft broadcasts"
  on public.broadcast_messages
  for delete
  to authenticated
  using ((select private.is_admin()) and status = 'draft');
