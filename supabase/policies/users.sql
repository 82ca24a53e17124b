-- public.users: agents and admins, one profile per auth.users row.
--
-- read    every active user reads the whole team directory (assignments show names)
-- update  a user their own profile fields; an admin other users' role and status
--         (columns: grant in migration 0600; who may change which of them: the guard
--         triggers guard_users_*, migration 0800)
-- insert  nobody through the API: profiles follow auth.users
-- delete  nobody through the API: profiles follow auth.users

create policy "Active users can read the team directory"
  on public.users
  for select
  to authenticated
  using ((select private.is_active_user()));

create policy "Users can update their own profile and admins any user"
  on public.users
  for update
  to authenticated
  using (id = (select private.active_user_id()) or (select private.is_admin()))
  with check (id = (select private.active_user_id()) or (select private.is_admin()));
