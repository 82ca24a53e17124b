-- Access matrix: public.broadcast_messages and public.broadcast_recipients. Admins only;
-- the statuses 'sending' and 'completed' and every recipient row are the worker's.
begin;
\ir fixtures/access.sql
select plan(52);

-- broadcast_messages ===================================================================
-- The update cells rename the drafts; the delete cells delete whatever they reach.

-- anon: no grant at all
select access_test.act_as('anon');
select throws_ok($$select * from public.broadcast_messages$$, '42501', null, 'anon: select broadcasts is denied');
select throws_ok($$insert into public.broadcast_messages (name, content) values ('New', 'x')$$, '42501', null, 'anon: insert broadcasts is denied');
select throws_ok($$update public.broadcast_messages set name = 'Renamed' where status = 'draft'$$, '42501', null, 'anon: update broadcasts is denied');
select throws_ok($$delete from public.broadcast_messages$$, '42501', null, 'anon: delete broadcasts is denied');

-- agent A
select access_test.act_as('agent A');
select is(access_test.seen('public.broadcast_messages'), '', 'agent A: reads no broadcast');
select throws_ok($$insert into public.broadcast_messages (name, content, created_by) values ('New', 'x', access_test.id('1a'))$$, '42501', null, 'agent A: cannot create a broadcast');
select is(access_test.dry_run($$update public.broadcast_messages set name = 'Renamed' where status = 'draft' returning right(id::text, 2)$$), '', 'agent A: update reaches no broadcast');
select is(access_test.dry_run($$delete from public.broadcast_messages returning right(id::text, 2)$$), '', 'agent A: delete reaches no broadcast');

-- agent B
select access_test.act_as('agent B');
select is(access_test.seen('public.broadcast_messages'), '', 'agent B: reads no broadcast');
select throws_ok($$insert into public.broadcast_messages (name, content, created_by) values ('New', 'x', access_test.id('1b'))$$, '42501', null, 'agent B: cannot create a broadcast');
select is(access_test.dry_run($$update public.broadcast_messages set name = 'Renamed' where status = 'draft' returning right(id::text, 2)$$), '', 'agent B: update reaches no broadcast');
select is(access_test.dry_run($$delete from public.broadcast_messages returning right(id::text, 2)$$), '', 'agent B: delete reaches no broadcast');

-- admin
select access_test.act_as('admin');
select is(access_test.seen('public.broadcast_messages'), '8a,8c', 'admin: reads every broadcast');
select is(access_test.dry_run($$insert into public.broadcast_messages (id, name, content, template_id, audience) values (access_test.id('8b'), 'New', 'x', access_test.id('7a'), '{"type": "tags", "tags": ["vip"]}') returning right(id::text, 2) || right(created_by::text, 2) || status$$), '8b1edraft', 'admin: drafts a broadcast, as themselves');
select is(access_test.dry_run($$update public.broadcast_messages set name = 'Renamed' where status = 'draft' returning right(id::text, 2)$$), '8a', 'admin: renames the draft');
select is(access_test.dry_run($$delete from public.broadcast_messages returning right(id::text, 2)$$), '8a', 'admin: delete reaches only the draft 8a');

-- inactive agent
select access_test.act_as('inactive agent');
select is(access_test.seen('public.broadcast_messages'), '', 'inactive agent: reads no broadcast');
select throws_ok($$insert into public.broadcast_messages (name, content, created_by) values ('New', 'x', access_test.id('1d'))$$, '42501', null, 'inactive agent: cannot create a broadcast');
select is(access_test.dry_run($$update public.broadcast_messages set name = 'Renamed' where status = 'draft' returning right(id::text, 2)$$), '', 'inactive agent: update reaches no broadcast');
select is(access_test.dry_run($$delete from public.broadcast_messages returning right(id::text, 2)$$), '', 'inactive agent: delete reaches no broadcast');

-- broadcast_messages: protected columns and statuses
select access_test.act_as('admin');
select is(access_test.dry_run($$update public.broadcast_messages set status = 'scheduled', scheduled_for = now() + interval '1 hour' where id = access_test.id('8a') returning status$$),
  'scheduled', 'admin: schedules a draft');
select is(access_test.dry_run($$update public.broadcast_messages set status = 'cancelled' where id = access_test.id('8a') returning status$$),
  'cancelled', 'admin: cancels a broadcast');
select throws_ok($$update public.broadcast_messages set status = 'sending' where id = access_test.id('8a')$$,
  '55000', 'a broadcast cannot go from draft to sending', 'admin: cannot set status sending on a draft (the lifecycle; on a scheduled one the policy: 41-broadcast-lifecycle)');
select throws_ok($$update public.broadcast_messages set status = 'completed' where id = access_test.id('8a')$$,
  '55000', 'a broadcast cannot go from draft to completed', 'admin: cannot set status completed (the worker''s)');
select throws_ok($$update public.broadcast_messages set name = 'Rewritten history' where id = access_test.id('8c')$$,
  '55000', 'a completed broadcast keeps its name, content, template, audience and schedule', 'admin: cannot edit a completed broadcast');
select throws_ok($$update public.broadcast_messages set sent_at = now() where id = access_test.id('8a')$$,
  '42501', null, 'admin: cannot set sent_at');
select throws_ok($$update public.broadcast_messages set created_by = access_test.id('1a') where id = access_test.id('8a')$$,
  '42501', null, 'admin: cannot re-attribute a broadcast');
select throws_ok($$insert into public.broadcast_messages (name, content, status) values ('Now', 'x', 'sending')$$,
  '42501', null, 'admin: cannot create a broadcast that is already sending');
select throws_ok($$insert into public.broadcast_messages (name, content, created_by) values ('New', 'x', access_test.id('1a'))$$,
  '42501', null, 'admin: cannot create a broadcast in agent A''s name');
select is(access_test.dry_run($$delete from public.broadcast_messages where id = access_test.id('8c') returning right(id::text, 2)$$),
  '', 'admin: cannot delete a completed broadcast');

-- broadcast_recipients =================================================================
-- Rows read as <broadcast><contact>: 8c2a is contact 2a of broadcast 8c.
\set br_key '''right(broadcast_id::text, 2) || right(contact_id::text, 2)'''

-- anon: no grant at all
select access_test.act_as('anon');
select throws_ok($$select * from public.broadcast_recipients$$, '42501', null, 'anon: select broadcast recipients is denied');
select throws_ok($$insert into public.broadcast_recipients (broadcast_id, contact_id) values (access_test.id('8a'), access_test.id('2b'))$$, '42501', null, 'anon: insert broadcast recipients is denied');
select throws_ok($$update public.broadcast_recipients set status = 'failed'$$, '42501', null, 'anon: update broadcast recipients is denied');
select throws_ok($$delete from public.broadcast_recipients$$, '42501', null, 'anon: delete broadcast recipients is denied');

-- agent A
select access_test.act_as('agent A');
select is(access_test.seen('public.broadcast_recipients', :br_key), '', 'agent A: reads no broadcast recipient, not even their own contact 2a');
select throws_ok($$insert into public.broadcast_recipients (broadcast_id, contact_id) values (access_test.id('8a'), access_test.id('2a'))$$, '42501', null, 'agent A: insert broadcast recipients is denied');
select is(access_test.dry_run($$update public.broadcast_recipients set status = 'pending' returning right(broadcast_id::text, 2) || right(contact_id::text, 2)$$), '', 'agent A: updates no broadcast recipient');
select is(access_test.dry_run($$delete from public.broadcast_recipients returning right(broadcast_id::text, 2) || right(contact_id::text, 2)$$), '', 'agent A: deletes no broadcast recipient');

-- agent B
select access_test.act_as('agent B');
select is(access_test.seen('public.broadcast_recipients', :br_key), '', 'agent B: reads no broadcast recipient');
select throws_ok($$insert into public.broadcast_recipients (broadcast_id, contact_id) values (access_test.id('8a'), access_test.id('2b'))$$, '42501', null, 'agent B: insert broadcast recipients is denied');
select is(access_test.dry_run($$update public.broadcast_recipients set status = 'pending' returning right(broadcast_id::text, 2) || right(contact_id::text, 2)$$), '', 'agent B: updates no broadcast recipient');
select is(access_test.dry_run($$delete from public.broadcast_recipients returning right(broadcast_id::text, 2) || right(contact_id::text, 2)$$), '', 'agent B: deletes no broadcast recipient');

-- admin
select access_test.act_as('admin');
select is(access_test.seen('public.broadcast_recipients', :br_key), '8c2a', 'admin: reads every broadcast recipient');
select is(access_test.dry_run($$insert into public.broadcast_recipients (broadcast_id, contact_id) values (access_test.id('8a'), access_test.id('2b')) returning right(broadcast_id::text, 2) || right(contact_id::text, 2)$$), '8a2b', 'admin: adds a recipient to a draft broadcast (explicit audience)');
select throws_ok($$insert into public.broadcast_recipients (broadcast_id, contact_id) values (access_test.id('8c'), access_test.id('2b'))$$, '42501', null, 'admin: cannot add a recipient to a completed broadcast');
select throws_ok($$insert into public.broadcast_recipients (broadcast_id, contact_id, status) values (access_test.id('8a'), access_test.id('2b'), 'sent')$$, '42501', null, 'admin: cannot add a recipient as already sent (column not granted)');
select is(access_test.dry_run($$update public.broadcast_recipients set status = 'failed' returning right(broadcast_id::text, 2) || right(contact_id::text, 2)$$), '', 'admin: cannot change a recipient''s delivery status (only failed -> pending)');
select is(access_test.dry_run($$delete from public.broadcast_recipients returning right(broadcast_id::text, 2) || right(contact_id::text, 2)$$), '', 'admin: cannot remove a recipient of a completed broadcast');

-- inactive agent
select access_test.act_as('inactive agent');
select is(access_test.seen('public.broadcast_recipients', :br_key), '', 'inactive agent: reads no broadcast recipient');
select throws_ok($$insert into public.broadcast_recipients (broadcast_id, contact_id) values (access_test.id('8a'), access_test.id('2d'))$$, '42501', null, 'inactive agent: insert broadcast recipients is denied');
select is(access_test.dry_run($$update public.broadcast_recipients set status = 'pending' returning right(broadcast_id::text, 2) || right(contact_id::text, 2)$$), '', 'inactive agent: updates no broadcast recipient');
select is(access_test.dry_run($$delete from public.broadcast_recipients returning right(broadcast_id::text, 2) || right(contact_id::text, 2)$$), '', 'inactive agent: deletes no broadcast recipient');

select * from finish();
rollback;
