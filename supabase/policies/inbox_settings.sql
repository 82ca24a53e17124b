-- public.inbox_settings: the team inbox's settings, one row (migration 20261125004000).
--
-- read    every active user (the frontend shows whether conversations are assigned
--         automatically)
-- update  admins: auto_assign (grant in migration 20261125004000)
-- insert  nobody through the API: the one row comes with the migration
-- delete  nobody through the API

create policy "Active users can read the inbox settings"
  on public.inbox_settings
  for select
  to authenticated
  using ((select private.is_active_user()));

create policy "Admins can change the inbox settings"
  on public.inbox_settings
  for update
  to authenticated
  using ((select private.is_admin()))
  with check ((select private.is_admin()));
