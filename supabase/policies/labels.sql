-- public.labels: the team's labels for organizing conversations.
--
-- read    every active user (to show and attach them)
-- insert  admins, as themselves (created_by)
-- update  admins: name and color (grant in migration 0600)
-- delete  admins (a label still attached to a conversation can't go: foreign key)

create policy "Active users can read labels"
  on public.labels
  for select
  to authenticated
  using ((select private.is_active_user()));

create policy "Admins can create labels"
  on public.labels
  for insert
  to authenticated
  with check ((select private.is_admin()) and created_by = (select private.active_user_id()));

create policy "Admins can update labels"
  on public.labels
  for update
  to authenticated
  using ((select private.is_admin()))
  with check ((select private.is_admin()));

create policy "Admins can delete labels"
  on public.labels
  for delete
  to authenticated
  using ((select private.is_admin()));
