-- Team access (migration 20261207002000): a sign-up nobody invited is an inactive agent
-- who can do nothing and is never assigned a conversation; admins invite by email, and a
-- CONFIRMED Auth account with that email joins with the invited role; the invitations
-- table is the admins' alone; the gateway's svc functions claim invitations with a lease.
begin;
\ir fixtures/access.sql
select plan(74);

-- Callers beyond the fixture's cast: any Auth user, by id.
create function access_test.act_as_user(p_id uuid) returns void
language plpgsql
as $$
begin
  perform set_config('role', 'none', true);
  perform set_config('request.jwt.claims', json_build_object('sub', p_id, 'role', 'authenticated')::text, true);
  perform set_config('role', 'authenticated', true);
end;
$$;
grant execute on function access_test.act_as_user(uuid) to authenticated;

-- The people of this file (ids 00000000-0000-4000-9000-0000000000xx).
create function access_test.person(key text) returns uuid
language sql immutable
as $$ select ('00000000-0000-4000-9000-0000000000' || key)::uuid $$;
grant execute on function access_test.person(text) to anon, authenticated, service_role;
grant usage on schema access_test to service_role;
-- a1 the stranger: signs up with the public anon key, nobody invited them
-- b1 Nueva: invited as admin, follows the invite link (created unconfirmed, then confirmed)
-- c1 Carla's address, signed up by someone else before Carla confirmed anything
-- d1 Luis: invited as agent, signs up by magic link (confirmed when created), other case
-- e1 Rosa: invited, revoked before she confirmed; f1 Tomás: confirms while his email is sent
-- 01-08 invitations; c9 a customer and f9 their conversation

-- An uninvited sign-up --------------------------------------------------------------------------
-- As Auth inserts it (role supabase_auth_admin), with a role claim in user metadata.
set local role supabase_auth_admin;
insert into auth.users (id, aud, role, email, email_confirmed_at, raw_app_meta_data, raw_user_meta_data) values
  ('00000000-0000-4000-9000-0000000000a1', 'authenticated', 'authenticated', 'stranger@example.test', now(),
   '{"provider": "email", "providers": ["email"]}', '{"full_name": "Stranger", "role": "admin"}');
reset role;

select results_eq(
  $$select role, status from public.users where id = access_test.person('a1')$$,
  $$values ('agent'::text, 'inactive'::text)$$,
  'an uninvited sign-up (confirmed email) gets an inactive agent profile');

select access_test.act_as_user(access_test.person('a1'));
select is(
  concat_ws('|', access_test.seen('public.users'), access_test.seen('public.contacts'),
    access_test.seen('public.conversations'), access_test.seen('public.messages'),
    access_test.seen('public.notes'), access_test.seen('public.labels'),
    access_test.seen('public.conversation_labels', 'right(conversation_id::text, 2)'),
    access_test.seen('public.message_templates'), access_test.seen('public.broadcast_messages'),
    access_test.seen('public.broadcast_recipients', 'right(contact_id::text, 2)'),
    access_test.seen('public.inbox_settings', 'id::text'), access_test.seen('public.invitations')),
  '|||||||||||',
  'the uninvited sign-up reads nothing: no user (not even themselves), contact, conversation, message, note, label, template, broadcast, setting or invitation');
select throws_ok(
  $$insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status)
    values (access_test.id('3f'), 'agent', access_test.person('a1'), 'hola', 'text', 'pending')$$,
  '42501', null, 'the uninvited sign-up cannot send a message, even in an unassigned conversation');
select is(
  access_test.dry_run($$update public.users set full_name = 'Me' where id = access_test.person('a1') returning right(id::text, 2)$$),
  '', 'the uninvited sign-up cannot even edit their own profile');
select is(
  access_test.dry_run($$update public.conversations set status = 'archived' returning right(id::text, 2)$$),
  '', 'the uninvited sign-up changes no conversation');
select access_test.act_as('postgres');

-- The stranger has no open conversation, fewer than any active agent: before invitations,
-- the least-loaded rule would have handed them the next customer.
insert into public.contacts (id, phone, wa_id) values (access_test.person('c9'), '+34600999001', '34600999001');
insert into public.conversations (id, contact_id) values (access_test.person('f9'), access_test.person('c9'));
select results_eq(
  $$select assigned_agent_id from public.conversations where id = access_test.person('f9')$$,
  $$values (access_test.id('1a'))$$,
  'a new customer goes to an active agent (A, least loaded after the stranger), never to the uninvited sign-up');
select is_empty(
  $$select 1 from public.conversations where assigned_agent_id = access_test.person('a1')$$,
  'no conversation is assigned to the uninvited sign-up');

-- Inviting ----------------------------------------------------------------------------------------
select access_test.act_as('admin');
select lives_ok(
  $$insert into public.invitations (id, email, role) values (access_test.person('01'), '  Nueva.Agente@Example.test ', 'admin')$$,
  'an admin invites an email with a role');
select access_test.act_as('postgres');
select results_eq(
  $$select email, role, status, invited_by, attempts, next_attempt_at is not null from public.invitations where id = access_test.person('01')$$,
  $$values ('Nueva.Agente@Example.test'::text, 'admin'::text, 'pending'::text, access_test.id('1e'), 0, true)$$,
  'the invitation is pending and due, trimmed, with the inviting admin');

-- Auth's invite endpoint creates the user unconfirmed (lower-cased address) ...
insert into auth.users (id, aud, role, email, raw_app_meta_data) values
  (access_test.person('b1'), 'authenticated', 'authenticated', 'nueva.agente@example.test', '{"provider": "email", "providers": ["email"]}');
select results_eq(
  $$select u.role, u.status, i.status from public.users u, public.invitations i
     where u.id = access_test.person('b1') and i.id = access_test.person('01')$$,
  $$values ('agent'::text, 'inactive'::text, 'pending'::text)$$,
  'the invited person''s account, not yet confirmed, is inactive and the invitation still open');
-- ... and confirms it when the link is followed.
update auth.users set email_confirmed_at = now(), last_sign_in_at = now() where id = access_test.person('b1');
select results_eq(
  $$select u.role, u.status from public.users u where u.id = access_test.person('b1')$$,
  $$values ('admin'::text, 'active'::text)$$,
  'once the email is confirmed, the person has the invited role (admin) and is active');
select results_eq(
  $$select status, accepted_user_id, accepted_at is not null from public.invitations where id = access_test.person('01')$$,
  $$values ('accepted'::text, access_test.person('b1'), true)$$,
  'the invitation records that it was accepted, and by whom');
select access_test.act_as_user(access_test.person('b1'));
select is(access_test.seen('public.conversations'), '3a,3b,3d,3f,f9', 'the invited admin reads every conversation');
select access_test.act_as('postgres');

-- Someone signs up with an invited address before its owner confirms anything.
select access_test.act_as('admin');
insert into public.invitations (id, email, role) values (access_test.person('02'), 'carla@example.test', 'agent');
select access_test.act_as('postgres');
insert into auth.users (id, aud, role, email, raw_app_meta_data) values
  (access_test.person('c1'), 'authenticated', 'authenticated', 'CARLA@example.test', '{"provider": "email"}');
update auth.users set last_sign_in_at = now(), raw_user_meta_data = '{"full_name": "Carla"}' where id = access_test.person('c1');
select results_eq(
  $$select u.status, i.status from public.users u, public.invitations i
     where u.id = access_test.person('c1') and i.id = access_test.person('02')$$,
  $$values ('inactive'::text, 'pending'::text)$$,
  'an unconfirmed sign-up with an invited email stays inactive and the invitation stays open');
select access_test.act_as_user(access_test.person('c1'));
select is(access_test.seen('public.conversations'), '', 'the unconfirmed sign-up with an invited email reads no conversation');
select access_test.act_as('postgres');
-- That sign-up chose a password; then Carla follows the invitation's link, which (Auth
-- reusing the unconfirmed account) confirms that very account: the password is not hers.
update auth.users set encrypted_password = '$2a$10$a.stranger.s.password.hash' where id = access_test.person('c1');
update auth.users set email_confirmed_at = now() where id = access_test.person('c1');
select results_eq(
  $$select u.status, i.status from public.users u, public.invitations i
     where u.id = access_test.person('c1') and i.id = access_test.person('02')$$,
  $$values ('inactive'::text, 'pending'::text)$$,
  'an account whose password was chosen before its address was proven does not join by confirming it');

-- A stranger pre-registers an address (unconfirmed, with their password) before any
-- invitation: inviting that address removes the unproven account, so that Auth's
-- invitation creates it afresh, without the stranger's password.
insert into auth.users (id, aud, role, email, encrypted_password, raw_app_meta_data) values
  (access_test.person('aa'), 'authenticated', 'authenticated', 'gina@example.test', '$2a$10$another.stranger.hash', '{"provider": "email"}');
select access_test.act_as('admin');
insert into public.invitations (id, email) values (access_test.person('09'), 'Gina@example.test');
select access_test.act_as('postgres');
select results_eq(
  $$select (select count(*)::int from auth.users where id = access_test.person('aa')),
           (select count(*)::int from public.users where id = access_test.person('aa')),
           (select status from public.invitations where id = access_test.person('09'))$$,
  $$values (0, 0, 'pending'::text)$$,
  'inviting an address removes its unconfirmed account (and profile); the invitation is pending');

-- A confirmed account with a password of its own (a password sign-up): not accepted at
-- once: an admin who knows it is this person's activates it in the team directory.
insert into auth.users (id, aud, role, email, encrypted_password, email_confirmed_at, raw_app_meta_data) values
  (access_test.person('bb'), 'authenticated', 'authenticated', 'hugo@example.test', '$2a$10$hugo.s.hash', now(), '{"provider": "email"}');
select access_test.act_as('admin');
insert into public.invitations (id, email) values (access_test.person('0a'), 'hugo@example.test');
select access_test.act_as('postgres');
select results_eq(
  $$select i.status, i.last_error like 'An account with this address already exists, with a password of its own%', u.status
      from public.invitations i, public.users u
     where i.id = access_test.person('0a') and u.id = access_test.person('bb')$$,
  $$values ('failed'::text, true, 'inactive'::text)$$,
  'inviting a password account fails with the reason, and the account stays inactive');
-- (These two invitations are not part of the queue's story below.)
delete from public.invitations where id in (access_test.person('09'), access_test.person('0a'));

-- A magic-link sign-up is confirmed when Auth creates it; the address in another case.
select access_test.act_as('admin');
insert into public.invitations (id, email) values (access_test.person('03'), 'Luis@Example.TEST');
select access_test.act_as('postgres');
insert into auth.users (id, aud, role, email, email_confirmed_at, raw_app_meta_data) values
  (access_test.person('d1'), 'authenticated', 'authenticated', 'luis@example.test', now(), '{"provider": "email"}');
select results_eq(
  $$select u.role, u.status, i.status from public.users u, public.invitations i
     where u.id = access_test.person('d1') and i.id = access_test.person('03')$$,
  $$values ('agent'::text, 'active'::text, 'accepted'::text)$$,
  'an account created confirmed with an invited email (any case) joins as an active agent (the default role)');

-- Inviting an existing confirmed account: accepted at once, no email to send.
select access_test.act_as('admin');
insert into public.invitations (id, email, role) values (access_test.person('04'), 'Stranger@example.test', 'agent');
select access_test.act_as('postgres');
select results_eq(
  $$select i.status, i.accepted_user_id, i.next_attempt_at is null, u.role, u.status
      from public.invitations i, public.users u
     where i.id = access_test.person('04') and u.id = access_test.person('a1')$$,
  $$values ('accepted'::text, access_test.person('a1'), true, 'agent'::text, 'active'::text)$$,
  'inviting the email of an existing confirmed (inactive) account accepts it at once: active, invited role, nothing to send');

-- Revoked before acceptance: confirming later gives nothing.
select access_test.act_as('admin');
insert into public.invitations (id, email) values (access_test.person('05'), 'rosa@example.test');
select lives_ok($$update public.invitations set status = 'revoked' where id = access_test.person('05')$$,
  'an admin revokes an open invitation');
select access_test.act_as('postgres');
select results_eq(
  $$select status, revoked_at is not null, next_attempt_at is null from public.invitations where id = access_test.person('05')$$,
  $$values ('revoked'::text, true, true)$$,
  'a revoked invitation has revoked_at and leaves the queue');
insert into auth.users (id, email, email_confirmed_at) values (access_test.person('e1'), 'rosa@example.test', now());
select is((select status from public.users where id = access_test.person('e1')), 'inactive',
  'confirming the email of a revoked invitation gives no access');

-- Refusals.
select access_test.act_as('admin');
select throws_ok(
  $$insert into public.invitations (email) values ('AGENT.A@example.test')$$,
  '23505', 'this person is already an active member of the team',
  'inviting an active member''s email is refused (their role is changed in the team directory)');
insert into public.invitations (id, email) values (access_test.person('06'), 'pablo@example.test');
select throws_ok(
  $$insert into public.invitations (email) values ('PABLO@example.test')$$,
  '23505', null, 'a second open invitation for the same address (any case) is refused');
select throws_ok(
  $$insert into public.invitations (email, role) values ('owner@example.test', 'owner')$$,
  '23514', null, 'an admin cannot invite with a role other than agent or admin');
select throws_ok(
  $$insert into public.invitations (email, status) values ('x@example.test', 'accepted')$$,
  '42501', null, 'an admin cannot choose the status of a new invitation');
select throws_ok(
  $$update public.invitations set status = 'accepted' where id = access_test.person('06')$$,
  '42501', 'an invitation''s status can only be set to pending (send again) or revoked',
  'an admin cannot mark an invitation accepted');
select throws_ok(
  $$update public.invitations set status = 'sent' where id = access_test.person('06')$$,
  '42501', null, 'an admin cannot mark an invitation sent');
select throws_ok(
  $$update public.invitations set accepted_user_id = access_test.id('1e') where id = access_test.person('06')$$,
  '42501', null, 'an admin cannot set who accepted an invitation');
select throws_ok(
  $$update public.invitations set attempts = 0, last_error = null where id = access_test.person('06')$$,
  '42501', null, 'an admin cannot change the delivery state');
select throws_ok(
  $$update public.invitations set role = 'owner' where id = access_test.person('06')$$,
  '23514', null, 'an admin cannot change an invitation to a role other than agent or admin');
select is(
  access_test.dry_run($$update public.invitations set status = 'pending' where id = access_test.person('01') returning right(id::text, 2)$$),
  '', 'an accepted invitation is final: an admin cannot reopen it');
select is(
  access_test.dry_run($$update public.invitations set status = 'pending' where id = access_test.person('05') returning right(id::text, 2)$$),
  '', 'a revoked invitation is final');
select throws_ok(
  $$delete from public.invitations where id = access_test.person('06')$$,
  '42501', null, 'an admin cannot delete an invitation (revoking keeps the record)');
select is(
  access_test.dry_run($$update public.invitations set role = 'admin' where id = access_test.person('06') returning right(id::text, 2)$$),
  '06', 'an admin changes the role of an open invitation');
select is(access_test.seen('public.invitations'), '01,02,03,04,05,06', 'an admin reads every invitation');

-- An admin sends a failed invitation again.
select access_test.act_as('postgres');
update public.invitations set status = 'failed', attempts = 3, last_error = 'HTTP 400: bad address' where id = access_test.person('06');
select access_test.act_as('admin');
select lives_ok($$update public.invitations set status = 'pending' where id = access_test.person('06')$$,
  'an admin sets a failed invitation back to pending');
select access_test.act_as('postgres');
select results_eq(
  $$select status, attempts, last_error, next_attempt_at = now() from public.invitations where id = access_test.person('06')$$,
  $$values ('pending'::text, 0, null::text, true)$$,
  'sending again starts a fresh series of attempts now, without the old error');

-- Agents, inactive users and anon -----------------------------------------------------------------
select access_test.act_as('agent A');
select is(access_test.seen('public.invitations'), '', 'an agent reads no invitation');
select throws_ok(
  $$insert into public.invitations (email, role) values ('friend@example.test', 'admin')$$,
  '42501', null, 'an agent cannot invite');
select is(
  access_test.dry_run($$update public.invitations set status = 'revoked' returning right(id::text, 2)$$),
  '', 'an agent cannot revoke invitations');
select access_test.act_as('inactive agent');
select is(access_test.seen('public.invitations'), '', 'an inactive agent reads no invitation');
select throws_ok(
  $$insert into public.invitations (email) values ('friend2@example.test')$$,
  '42501', null, 'an inactive agent cannot invite');
select access_test.act_as('anon');
select throws_ok($$select * from public.invitations$$, '42501', null, 'anon cannot read invitations');
select throws_ok(
  $$insert into public.invitations (email) values ('friend3@example.test')$$,
  '42501', null, 'anon cannot invite');
select access_test.act_as('postgres');

-- The structure -----------------------------------------------------------------------------------
select results_eq(
  $$select cmd::text, policyname::text collate "default" from pg_policies
     where schemaname = 'public' and tablename = 'invitations' order by 1, 2$$,
  $$values ('INSERT', 'Admins can invite people'), ('SELECT', 'Admins can read invitations'),
           ('UPDATE', 'Admins can change, resend and revoke open invitations')$$,
  'invitations: one policy per command (no delete)');
select results_eq(
  $$select concat_ws(',',
      case when has_table_privilege('authenticated', 'public.invitations', 'SELECT') then 'select' end,
      case when has_table_privilege('authenticated', 'public.invitations', 'INSERT') then 'insert' end,
      case when has_table_privilege('authenticated', 'public.invitations', 'UPDATE') then 'update' end,
      case when has_table_privilege('authenticated', 'public.invitations', 'DELETE') then 'delete' end,
      case when has_any_column_privilege('anon', 'public.invitations', 'SELECT, INSERT, UPDATE') then 'anon' end)$$,
  $$values ('select')$$,
  'authenticated: select on the whole table, writes per column; anon nothing');
select results_eq(
  $$select string_agg(a.attname::text, ',' order by a.attname) collate "default"
      from pg_attribute a
     where a.attrelid = 'public.invitations'::regclass and a.attnum > 0 and not a.attisdropped
       and has_column_privilege('authenticated', a.attrelid, a.attnum, 'INSERT')$$,
  $$values ('email,id,role')$$, 'authenticated inserts only id, email and role');
select results_eq(
  $$select string_agg(a.attname::text, ',' order by a.attname) collate "default"
      from pg_attribute a
     where a.attrelid = 'public.invitations'::regclass and a.attnum > 0 and not a.attisdropped
       and has_column_privilege('authenticated', a.attrelid, a.attnum, 'UPDATE')$$,
  $$values ('role,status')$$, 'authenticated updates only role and status');
select has_index('public', 'invitations', 'invitations_invited_by', array['invited_by'], 'index on invitations(invited_by)');
select has_index('public', 'invitations', 'invitations_accepted_user_id', array['accepted_user_id'], 'index on invitations(accepted_user_id)');

-- The gateway's queue (svc) ------------------------------------------------------------------------
-- Open now: i2 (carla, pending) and i6 (pablo, pending again). A fresh one, not yet due:
insert into public.invitations (id, email) values (access_test.person('07'), 'later@example.test');
update public.invitations set next_attempt_at = now() + interval '1 hour' where id = access_test.person('07');

set local role service_role;
select results_eq(
  $$select e ->> 'email', (e ->> 'attempts')::int
      from jsonb_array_elements(svc.claim_invitations('sender-1', 10, 60, now())) e order by 1$$,
  $$values ('carla@example.test'::text, 1), ('pablo@example.test'::text, 1)$$,
  'a claim returns the due pending invitations with their attempt number (not the one due later, nor sent, accepted or revoked ones)');
select is(svc.claim_invitations('sender-2', 10, 60, now()), '[]'::jsonb,
  'leased invitations are not handed to another sender');
select results_eq(
  $$select lease_owner, lease_expires_at = now() + interval '60 seconds' from public.invitations where id = access_test.person('02')$$,
  $$values ('sender-1'::text, true)$$, 'the claim leases to its owner for the lease time');
select is(svc.record_invitation_sent(access_test.person('02'), 'sender-2'), false,
  'another sender cannot record the outcome of a lease it does not hold');
select is(svc.record_invitation_sent(access_test.person('02'), 'sender-1', now()), true,
  'the lease holder records the invitation sent');
select results_eq(
  $$select status, sent_at = now(), lease_owner, last_error from public.invitations where id = access_test.person('02')$$,
  $$values ('sent'::text, true, null::text, null::text)$$, 'a sent invitation has sent_at and no lease');
select is(svc.record_invitation_sent(access_test.person('02'), 'sender-1'), false,
  'recording twice changes nothing');

-- A retryable error: back after the delay, with the error visible.
select is(svc.record_invitation_retry(access_test.person('06'), 'sender-1', 30, 'HTTP 503: Service Unavailable', now()), true,
  'the lease holder records a retry');
select results_eq(
  $$select status, attempts, next_attempt_at = now() + interval '30 seconds', last_error, lease_owner from public.invitations where id = access_test.person('06')$$,
  $$values ('pending'::text, 1, true, 'HTTP 503: Service Unavailable'::text, null::text)$$,
  'a retried invitation stays pending with its next attempt, the attempts so far and the error');
select is(svc.claim_invitations('sender-1', 10, 60, now() + interval '29 seconds'), '[]'::jsonb,
  'it is not claimed before its next attempt');
select results_eq(
  $$select e ->> 'email', (e ->> 'attempts')::int from jsonb_array_elements(svc.claim_invitations('sender-1', 10, 60, now() + interval '31 seconds')) e$$,
  $$values ('pablo@example.test'::text, 2)$$, 'it is claimed again after the delay, as attempt 2');

-- A lease that expires (the sender died) makes the invitation claimable again.
select is(svc.claim_invitations('sender-2', 10, 60, now() + interval '60 seconds'), '[]'::jsonb,
  'a lease is held until it expires');
select results_eq(
  $$select e ->> 'email', (e ->> 'attempts')::int from jsonb_array_elements(svc.claim_invitations('sender-2', 10, 60, now() + interval '92 seconds')) e$$,
  $$values ('pablo@example.test'::text, 3)$$, 'after the lease expired another sender claims it');
select is(svc.record_invitation_sent(access_test.person('06'), 'sender-1'), false,
  'the sender whose lease expired cannot record it any more');

-- A permanent error: failed with the error, out of the queue.
select is(svc.record_invitation_failed(access_test.person('06'), 'sender-2', 'HTTP 400 validation_failed: Unable to validate email address: invalid format'), true,
  'the lease holder records a permanent failure');
select results_eq(
  $$select status, last_error, lease_owner, next_attempt_at from public.invitations where id = access_test.person('06')$$,
  $$values ('failed'::text, 'HTTP 400 validation_failed: Unable to validate email address: invalid format'::text, null::text, null::timestamptz)$$,
  'a failed invitation shows the error an admin can read');
select is(svc.claim_invitations('sender-1', 10, 60, now() + interval '1 day'), (
  select jsonb_agg(jsonb_build_object('invitation_id', id, 'email', email, 'attempts', 1)) from public.invitations where id = access_test.person('07')),
  'failed, sent, accepted and revoked invitations are never claimed; the later one is, once due');

-- Revoked or accepted while in flight: the sender's record changes nothing.
reset role;
update public.invitations set status = 'revoked' where id = access_test.person('07');
set local role service_role;
select is(svc.record_invitation_sent(access_test.person('07'), 'sender-1'), false,
  'an invitation revoked while its email was being sent stays revoked');
reset role;
insert into public.invitations (id, email) values (access_test.person('08'), 'tomas@example.test');
set local role service_role;
select is(jsonb_array_length(svc.claim_invitations('sender-1', 10, 60, now())), 1, 'a new invitation is claimed');
reset role;
insert into auth.users (id, email, email_confirmed_at) values (access_test.person('f1'), 'tomas@example.test', now());
set local role service_role;
select is(svc.record_invitation_failed(access_test.person('08'), 'sender-1', 'HTTP 422 email_exists: A user with this email address has already been registered'), false,
  'an invitation accepted while its email was being sent stays accepted');
reset role;
select is((select status from public.invitations where id = access_test.person('08')), 'accepted', 'and is accepted');

-- Only the services call the queue.
select access_test.act_as('admin');
select throws_ok($$select svc.claim_invitations('me')$$, '42501', null, 'an admin cannot claim invitations');
select access_test.act_as('postgres');

select * from finish();
rollback;
