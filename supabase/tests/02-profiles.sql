-- Extension 1: every auth.users row has a public.users profile, made and kept in step by
-- the trigger on auth.users (private.sync_profile_from_auth_user).
-- The role comes from raw_app_meta_data only (set by the service role or an admin), never
-- from raw_user_meta_data, which users edit themselves through Auth. Without such a role
-- the profile is an INACTIVE agent: anyone can sign up on a hosted project, so a sign-up
-- nobody invited can do nothing (invitations: 03-invitations.sql).
begin;
select plan(42);

-- An admin, as the service role / dashboard creates one: role in app metadata.
insert into auth.users (id, aud, role, email, raw_app_meta_data, raw_user_meta_data) values
  ('00000000-0000-4000-a100-000000000001', 'authenticated', 'authenticated', 'maria.lopez@example.test',
   '{"provider": "email", "role": "admin"}', '{"full_name": "María López"}');

select results_eq(
  $$select id, email, full_name, role from public.users where id = '00000000-0000-4000-a100-000000000001'$$,
  $$values ('00000000-0000-4000-a100-000000000001'::uuid, 'maria.lopez@example.test'::text, 'María López'::text, 'admin'::text)$$,
  'a new auth user gets a profile with the same id, its email, full_name from user metadata and role from app metadata');
select is((select status from public.users where id = '00000000-0000-4000-a100-000000000001'), 'active', 'the new profile is active');
select is((select preferences from public.users where id = '00000000-0000-4000-a100-000000000001'), '{}'::jsonb, 'the new profile has empty preferences');
select isnt((select created_at from public.users where id = '00000000-0000-4000-a100-000000000001'), null, 'the new profile has created_at');

-- An agent with an explicit app-metadata role.
insert into auth.users (id, email, raw_app_meta_data, raw_user_meta_data) values
  ('00000000-0000-4000-a100-000000000002', 'jorge@example.test', '{"role": "agent"}', '{"full_name": "Jorge Ruiz"}');
select is((select role from public.users where id = '00000000-0000-4000-a100-000000000002'), 'agent', 'app metadata role agent gives an agent');
select is((select status from public.users where id = '00000000-0000-4000-a100-000000000002'), 'active', 'app metadata role agent (the operator''s word) gives an active agent');
select is((select full_name from public.users where id = '00000000-0000-4000-a100-000000000002'), 'Jorge Ruiz', 'full_name comes from user metadata');

-- No role and no full_name at all.
insert into auth.users (id, email, raw_app_meta_data, raw_user_meta_data) values
  ('00000000-0000-4000-a100-000000000003', 'pedro.gomez@example.test', '{"provider": "email"}', '{}');
select is((select role from public.users where id = '00000000-0000-4000-a100-000000000003'), 'agent', 'without a role in app metadata the profile is an agent');
select is((select status from public.users where id = '00000000-0000-4000-a100-000000000003'), 'inactive', 'without a role in app metadata (and no invitation) the profile is inactive');
select is((select full_name from public.users where id = '00000000-0000-4000-a100-000000000003'), 'pedro.gomez', 'without full_name the email''s local part is used');

-- Both metadata columns null (as a bare insert leaves them).
insert into auth.users (id, email) values ('00000000-0000-4000-a100-000000000004', 'lucia@example.test');
select results_eq(
  $$select full_name, role from public.users where id = '00000000-0000-4000-a100-000000000004'$$,
  $$values ('lucia'::text, 'agent'::text)$$,
  'with null metadata the profile is an agent named after the email''s local part');

-- An empty full_name counts as absent.
insert into auth.users (id, email, raw_user_meta_data) values
  ('00000000-0000-4000-a100-000000000005', 'sofia.diaz@example.test', '{"full_name": ""}');
select is((select full_name from public.users where id = '00000000-0000-4000-a100-000000000005'), 'sofia.diaz', 'an empty full_name falls back to the email''s local part');

-- Invalid roles in app metadata.
insert into auth.users (id, email, raw_app_meta_data) values
  ('00000000-0000-4000-a100-000000000006', 'x1@example.test', '{"role": "superadmin"}'),
  ('00000000-0000-4000-a100-000000000007', 'x2@example.test', '{"role": "Admin"}'),
  ('00000000-0000-4000-a100-000000000008', 'x3@example.test', '{"role": ""}'),
  ('00000000-0000-4000-a100-000000000009', 'x4@example.test', '{"role": ["admin"]}');
select is((select role from public.users where id = '00000000-0000-4000-a100-000000000006'), 'agent', 'app metadata role superadmin (invalid) gives an agent');
select is((select role from public.users where id = '00000000-0000-4000-a100-000000000007'), 'agent', 'app metadata role Admin (wrong case) gives an agent');
select is((select role from public.users where id = '00000000-0000-4000-a100-000000000008'), 'agent', 'an empty app metadata role gives an agent');
select is((select role from public.users where id = '00000000-0000-4000-a100-000000000009'), 'agent', 'a non-text app metadata role gives an agent');

-- User metadata is the user's own: a claim of admin there is ignored.
insert into auth.users (id, email, raw_app_meta_data, raw_user_meta_data) values
  ('00000000-0000-4000-a100-000000000010', 'mallory@example.test', '{}', '{"role": "admin", "full_name": "Mallory"}'),
  ('00000000-0000-4000-a100-000000000011', 'eve@example.test', null, '{"role": "admin"}'),
  ('00000000-0000-4000-a100-000000000012', 'trudy@example.test', '{"role": "agent"}', '{"role": "admin"}'),
  ('00000000-0000-4000-a100-000000000013', 'carmen@example.test', '{"role": "admin"}', '{"role": "agent"}');
select is((select role from public.users where id = '00000000-0000-4000-a100-000000000010'), 'agent', 'role admin in user metadata (empty app metadata) gives an agent');
select is((select role from public.users where id = '00000000-0000-4000-a100-000000000011'), 'agent', 'role admin in user metadata (null app metadata) gives an agent');
select is((select role from public.users where id = '00000000-0000-4000-a100-000000000012'), 'agent', 'app metadata agent wins over user metadata admin');
select is((select role from public.users where id = '00000000-0000-4000-a100-000000000013'), 'admin', 'app metadata admin wins over user metadata agent');
-- ... and editing user metadata later changes nothing.
update auth.users set raw_user_meta_data = '{"role": "admin", "full_name": "Mallory Admin"}'
 where id = '00000000-0000-4000-a100-000000000010';
select is((select role from public.users where id = '00000000-0000-4000-a100-000000000010'), 'agent', 'a user who later writes role admin into user metadata stays an agent');
select is((select status from public.users where id = '00000000-0000-4000-a100-000000000010'), 'inactive', '... and stays inactive');

-- Auth itself (supabase_auth_admin, the owner of auth.users) inserts users on Supabase: the
-- SECURITY DEFINER trigger works for it too.
set local role supabase_auth_admin;
insert into auth.users (id, aud, role, email, raw_app_meta_data, raw_user_meta_data) values
  ('00000000-0000-4000-a100-000000000020', 'authenticated', 'authenticated', 'signup@example.test', '{"provider": "email"}', '{"full_name": "Nueva Agente", "role": "admin"}');
reset role;
select results_eq(
  $$select email, full_name, role, status from public.users where id = '00000000-0000-4000-a100-000000000020'$$,
  $$values ('signup@example.test'::text, 'Nueva Agente'::text, 'agent'::text, 'inactive'::text)$$,
  'a sign-up inserted by supabase_auth_admin (Auth) gets an inactive agent profile: signing up grants nothing');

-- A phone-only auth user (no email) still gets a profile (public.users.email is not null).
insert into auth.users (id, phone, raw_app_meta_data) values
  ('00000000-0000-4000-a100-000000000021', '34611111111', '{"provider": "phone"}');
select is((select role from public.users where id = '00000000-0000-4000-a100-000000000021'), 'agent', 'a phone-only auth user gets an agent profile');
select is((select status from public.users where id = '00000000-0000-4000-a100-000000000021'), 'inactive', 'a phone-only auth user is inactive');
select is((select email from public.users where id = '00000000-0000-4000-a100-000000000021'),
  '00000000-0000-4000-a100-000000000021@users.invalid', 'a phone-only auth user gets a placeholder email');

-- Every auth user has exactly one profile, under the same id.
select is(
  (select count(*)::int from auth.users a left join public.users u on u.id = a.id where u.id is null),
  0, 'every auth user has a profile');
select is((select count(*)::int from public.users), (select count(*)::int from auth.users), 'there are as many profiles as auth users');

-- Email changes follow.
update auth.users set email = 'maria.lopez@chatcentralize.test' where id = '00000000-0000-4000-a100-000000000001';
select is((select email from public.users where id = '00000000-0000-4000-a100-000000000001'), 'maria.lopez@chatcentralize.test', 'an email change in auth.users follows to public.users');
select is((select role from public.users where id = '00000000-0000-4000-a100-000000000001'), 'admin', 'the email change leaves the role alone');
select is((select full_name from public.users where id = '00000000-0000-4000-a100-000000000001'), 'María López', 'the email change leaves full_name alone');
update auth.users set email = 'jorge.ruiz@example.test', raw_user_meta_data = '{"full_name": "Jorge Ruiz", "role": "admin"}'
 where id = '00000000-0000-4000-a100-000000000002';
select results_eq(
  $$select email, role from public.users where id = '00000000-0000-4000-a100-000000000002'$$,
  $$values ('jorge.ruiz@example.test'::text, 'agent'::text)$$,
  'an email change together with a user-metadata admin claim changes the email only');
-- A phone-only user who adds an email gets it in the profile.
update auth.users set email = 'telefono@example.test' where id = '00000000-0000-4000-a100-000000000021';
select is((select email from public.users where id = '00000000-0000-4000-a100-000000000021'), 'telefono@example.test', 'an email added later replaces the placeholder');
-- Other auth.users updates leave the profile's email alone.
update auth.users set last_sign_in_at = now() where id = '00000000-0000-4000-a100-000000000003';
select is((select email from public.users where id = '00000000-0000-4000-a100-000000000003'), 'pedro.gomez@example.test', 'an update without an email change leaves the profile''s email');

-- The operator's bootstrap: a role set in app metadata later (service role only) makes an
-- existing user active with that role; an invalid one changes nothing.
update auth.users set raw_app_meta_data = raw_app_meta_data || '{"role": "Admin"}' where id = '00000000-0000-4000-a100-000000000003';
select results_eq(
  $$select role, status from public.users where id = '00000000-0000-4000-a100-000000000003'$$,
  $$values ('agent'::text, 'inactive'::text)$$,
  'an invalid role set later in app metadata changes nothing');
update auth.users set raw_app_meta_data = raw_app_meta_data || '{"role": "admin"}' where id = '00000000-0000-4000-a100-000000000003';
select results_eq(
  $$select role, status from public.users where id = '00000000-0000-4000-a100-000000000003'$$,
  $$values ('admin'::text, 'active'::text)$$,
  'an operator who sets role admin in an existing user''s app metadata makes them an active admin (the first admin)');

-- Deleting the auth user deletes the profile (on delete cascade).
select lives_ok($$delete from auth.users where id = '00000000-0000-4000-a100-000000000004'$$, 'an auth user with a profile can be deleted');
select is_empty($$select 1 from public.users where id = '00000000-0000-4000-a100-000000000004'$$, 'deleting the auth user deletes its profile');
select isnt_empty($$select 1 from public.users where id = '00000000-0000-4000-a100-000000000003'$$, 'other profiles stay');
select is((select count(*)::int from public.users), (select count(*)::int from auth.users), 'profiles and auth users still match one to one');

-- A profile cannot exist without its auth user.
select throws_ok(
  $$insert into public.users (id, email, full_name, role) values ('00000000-0000-4000-a100-000000000099', 'ghost@example.test', 'Ghost', 'agent')$$,
  '23503', null, 'a profile without an auth user is rejected (foreign key to auth.users)');
-- Two auth users cannot share a profile email.
select throws_ok(
  $$insert into auth.users (id, email) values ('00000000-0000-4000-a100-000000000098', 'pedro.gomez@example.test')$$,
  '23505', null, 'a second auth user with an existing profile email is rejected (users.email is unique)');

select * from finish();
rollback;
