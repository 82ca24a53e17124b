-- Access matrix: public.users. Every active user reads the team directory; a user edits
-- their own profile fields; admins change other users' role and status; profiles come
-- and go with auth.users, never through the API. An inactive user has no access at all,
-- from the moment an admin deactivates them.
begin;
\ir fixtures/access.sql
select plan(38);

-- anon: no grant at all --------------------------------------------------------------
select access_test.act_as('anon');
select throws_ok($$select * from public.users$$, '42501', null, 'anon: select users is denied');
select throws_ok($$insert into public.users (id, email, full_name, role) values (gen_random_uuid(), 'x@example.test', 'X', 'admin')$$, '42501', null, 'anon: insert users is denied');
select throws_ok($$update public.users set full_name = 'X'$$, '42501', null, 'anon: update users is denied');
select throws_ok($$delete from public.users$$, '42501', null, 'anon: delete users is denied');

-- The update cells write a value over itself: they show which rows the update policy
-- reaches; which columns may change, and by whom, is tested further down.

-- agent A ----------------------------------------------------------------------------
select access_test.act_as('agent A');
select is(access_test.seen('public.users'), '1a,1b,1d,1e', 'agent A: reads the whole team directory');
select throws_ok($$insert into public.users (id, email, full_name, role) values (gen_random_uuid(), 'x@example.test', 'X', 'agent')$$, '42501', null, 'agent A: insert users is denied');
select is(access_test.dry_run($$update public.users set preferences = preferences returning right(id::text, 2)$$), '1a', 'agent A: update reaches only their own profile');
select throws_ok($$delete from public.users$$, '42501', null, 'agent A: delete users is denied');

-- agent B ----------------------------------------------------------------------------
select access_test.act_as('agent B');
select is(access_test.seen('public.users'), '1a,1b,1d,1e', 'agent B: reads the whole team directory');
select throws_ok($$insert into public.users (id, email, full_name, role) values (gen_random_uuid(), 'x@example.test', 'X', 'agent')$$, '42501', null, 'agent B: insert users is denied');
select is(access_test.dry_run($$update public.users set preferences = preferences returning right(id::text, 2)$$), '1b', 'agent B: update reaches only their own profile');
select throws_ok($$delete from public.users$$, '42501', null, 'agent B: delete users is denied');

-- admin ------------------------------------------------------------------------------
select access_test.act_as('admin');
select is(access_test.seen('public.users'), '1a,1b,1d,1e', 'admin: reads the whole team directory');
select throws_ok($$insert into public.users (id, email, full_name, role) values (gen_random_uuid(), 'x@example.test', 'X', 'agent')$$, '42501', null, 'admin: insert users is denied (Auth creates users)');
select is(access_test.dry_run($$update public.users set preferences = preferences returning right(id::text, 2)$$), '1a,1b,1d,1e', 'admin: update reaches every user');
select throws_ok($$delete from public.users$$, '42501', null, 'admin: delete users is denied (Auth deletes users)');

-- inactive agent ---------------------------------------------------------------------
select access_test.act_as('inactive agent');
select is(access_test.seen('public.users'), '', 'inactive agent: reads nothing, not even their own profile');
select throws_ok($$insert into public.users (id, email, full_name, role) values (gen_random_uuid(), 'x@example.test', 'X', 'agent')$$, '42501', null, 'inactive agent: insert users is denied');
select is(access_test.dry_run($$update public.users set preferences = preferences returning right(id::text, 2)$$), '', 'inactive agent: update reaches nothing');
select throws_ok($$delete from public.users$$, '42501', null, 'inactive agent: delete users is denied');

-- Protected columns ------------------------------------------------------------------
select access_test.act_as('agent A');
select is(access_test.dry_run($$update public.users set full_name = 'Ana', avatar_url = 'https://example.test/a.png', preferences = '{"sound": false}', phone = '+5491100009999', last_seen_at = now() where id = access_test.id('1a') returning right(id::text, 2)$$),
  '1a', 'agent A: edits every profile field of their own');
select throws_ok($$update public.users set role = 'admin' where id = access_test.id('1a')$$,
  '42501', 'only an admin can change a user''s role or status', 'agent A: cannot make themselves admin');
select is(access_test.dry_run($$update public.users set status = 'inactive' where id = access_test.id('1b') returning right(id::text, 2)$$),
  '', 'agent A: cannot deactivate agent B (not a row they may update)');
select throws_ok($$update public.users set email = 'other@example.test' where id = access_test.id('1a')$$,
  '42501', null, 'agent A: cannot change their email (Auth owns it)');
select throws_ok($$update public.users set id = gen_random_uuid() where id = access_test.id('1a')$$,
  '42501', null, 'agent A: cannot change their id');
select throws_ok($$update public.users set created_at = now() where id = access_test.id('1a')$$,
  '42501', null, 'agent A: cannot change created_at');
select is(access_test.dry_run($$update public.users set full_name = 'Not B' where id = access_test.id('1b') returning right(id::text, 2)$$),
  '', 'agent A: cannot rename agent B');

select access_test.act_as('admin');
select is(access_test.dry_run($$update public.users set role = 'admin' where id = access_test.id('1b') returning right(id::text, 2)$$),
  '1b', 'admin: promotes agent B to admin');
select is(access_test.dry_run($$update public.users set status = 'active' where id = access_test.id('1d') returning right(id::text, 2)$$),
  '1d', 'admin: reactivates the inactive agent');
select throws_ok($$update public.users set full_name = 'Renamed' where id = access_test.id('1b')$$,
  '42501', 'users can change only their own profile', 'admin: cannot edit agent B''s profile fields');
select throws_ok($$update public.users set role = 'agent' where id = access_test.id('1e')$$,
  '42501', 'admins cannot change their own role or status', 'admin: cannot demote themselves');
select throws_ok($$update public.users set status = 'inactive' where id = access_test.id('1e')$$,
  '42501', 'admins cannot change their own role or status', 'admin: cannot deactivate themselves');
select is(access_test.dry_run($$update public.users set full_name = 'Boss' where id = access_test.id('1e') returning right(id::text, 2)$$),
  '1e', 'admin: edits their own profile');
select throws_ok($$update public.users set email = 'b@example.test' where id = access_test.id('1b')$$,
  '42501', null, 'admin: cannot change an email either (Auth owns it)');

-- The role comes from Auth's app metadata, never from user metadata -------------------
select access_test.act_as('postgres');
insert into auth.users (id, email, raw_app_meta_data, raw_user_meta_data)
values (access_test.id('1c'), 'sneaky@example.test', '{}', '{"role": "admin"}');
select is((select role from public.users where id = access_test.id('1c')), 'agent',
  'a user who puts role admin in their own user metadata is an agent');

-- Deactivation takes effect at once ----------------------------------------------------
select access_test.act_as('admin');
update public.users set status = 'inactive' where id = access_test.id('1a');
select access_test.act_as('agent A');
select is(access_test.seen('public.conversations'), '', 'agent A, just deactivated: reads no conversation');
select is(access_test.seen('public.messages'), '', 'agent A, just deactivated: reads no message');
select throws_ok($$insert into public.messages (conversation_id, sender_type, sender_id, message_type, status, content) values (access_test.id('3a'), 'agent', access_test.id('1a'), 'text', 'pending', 'still here?')$$,
  '42501', null, 'agent A, just deactivated: cannot send a reply');

select * from finish();
rollback;
