-- Access matrix: public.conversations. Agents see and act on the conversations assigned
-- to them, admins on all; only admins assign. Inserts and deletes are the services'.
begin;
\ir fixtures/access.sql
select plan(28);

-- anon: no grant at all --------------------------------------------------------------
select access_test.act_as('anon');
select throws_ok($$select * from public.conversations$$, '42501', null, 'anon: select conversations is denied');
select throws_ok($$insert into public.conversations (contact_id) values (access_test.id('2e'))$$, '42501', null, 'anon: insert conversations is denied');
select throws_ok($$update public.conversations set priority = 'high'$$, '42501', null, 'anon: update conversations is denied');
select throws_ok($$delete from public.conversations$$, '42501', null, 'anon: delete conversations is denied');

-- agent A ----------------------------------------------------------------------------
select access_test.act_as('agent A');
select is(access_test.seen('public.conversations'), '3a', 'agent A: reads only their conversation 3a');
select throws_ok($$insert into public.conversations (contact_id, assigned_agent_id) values (access_test.id('2e'), access_test.id('1a'))$$, '42501', null, 'agent A: insert conversations is denied');
select is(access_test.dry_run($$update public.conversations set priority = 'high' returning right(id::text, 2)$$), '3a', 'agent A: update reaches only 3a');
select throws_ok($$delete from public.conversations$$, '42501', null, 'agent A: delete conversations is denied');

-- agent B ----------------------------------------------------------------------------
select access_test.act_as('agent B');
select is(access_test.seen('public.conversations'), '3b', 'agent B: reads only their conversation 3b');
select throws_ok($$insert into public.conversations (contact_id, assigned_agent_id) values (access_test.id('2e'), access_test.id('1b'))$$, '42501', null, 'agent B: insert conversations is denied');
select is(access_test.dry_run($$update public.conversations set priority = 'high' returning right(id::text, 2)$$), '3b', 'agent B: update reaches only 3b');
select throws_ok($$delete from public.conversations$$, '42501', null, 'agent B: delete conversations is denied');

-- admin ------------------------------------------------------------------------------
select access_test.act_as('admin');
select is(access_test.seen('public.conversations'), '3a,3b,3d,3f', 'admin: reads every conversation, unassigned ones too');
select throws_ok($$insert into public.conversations (contact_id) values (access_test.id('2e'))$$, '42501', null, 'admin: insert conversations is denied (the services open them)');
select is(access_test.dry_run($$update public.conversations set priority = 'high' returning right(id::text, 2)$$), '3a,3b,3d,3f', 'admin: update reaches every conversation');
select throws_ok($$delete from public.conversations$$, '42501', null, 'admin: delete conversations is denied');

-- inactive agent ---------------------------------------------------------------------
select access_test.act_as('inactive agent');
select is(access_test.seen('public.conversations'), '', 'inactive agent: reads nothing, not even 3d still assigned to them');
select throws_ok($$insert into public.conversations (contact_id, assigned_agent_id) values (access_test.id('2e'), access_test.id('1d'))$$, '42501', null, 'inactive agent: insert conversations is denied');
select is(access_test.dry_run($$update public.conversations set priority = 'high' returning right(id::text, 2)$$), '', 'inactive agent: update reaches nothing');
select throws_ok($$delete from public.conversations$$, '42501', null, 'inactive agent: delete conversations is denied');

-- Protected columns ------------------------------------------------------------------
select access_test.act_as('agent A');
select is(access_test.dry_run($$update public.conversations set status = 'archived', priority = 'urgent' where id = access_test.id('3a') returning right(id::text, 2)$$),
  '3a', 'agent A: changes status and priority of their conversation');
select throws_ok($$update public.conversations set assigned_agent_id = access_test.id('1b') where id = access_test.id('3a')$$,
  '42501', 'only an admin can assign a conversation', 'agent A: cannot hand their conversation to agent B');
select throws_ok($$update public.conversations set assigned_agent_id = null where id = access_test.id('3a')$$,
  '42501', 'only an admin can assign a conversation', 'agent A: cannot unassign their conversation');
select is(access_test.dry_run($$update public.conversations set assigned_agent_id = access_test.id('1a') where id = access_test.id('3f') returning right(id::text, 2)$$),
  '', 'agent A: cannot take an unassigned conversation (it is not theirs to see)');
select throws_ok($$update public.conversations set last_message_at = now(), metadata = '{}' where id = access_test.id('3a')$$,
  '42501', null, 'agent A: cannot write the services'' columns (last_message_at, metadata)');
select throws_ok($$update public.conversations set contact_id = access_test.id('2e') where id = access_test.id('3a')$$,
  '42501', null, 'agent A: cannot move their conversation to another contact');

select access_test.act_as('admin');
select is(access_test.dry_run($$update public.conversations set assigned_agent_id = access_test.id('1b') where id = access_test.id('3a') returning right(id::text, 2)$$),
  '3a', 'admin: reassigns 3a from agent A to agent B');
select is(access_test.dry_run($$update public.conversations set assigned_agent_id = access_test.id('1a') where id = access_test.id('3f') returning right(id::text, 2)$$),
  '3f', 'admin: assigns the unassigned 3f to agent A');

select * from finish();
rollback;
