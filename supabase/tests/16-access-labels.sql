-- Access matrix: public.labels and public.conversation_labels. Admins manage labels,
-- every active user reads them; users attach and detach labels on the conversations
-- they see.
begin;
\ir fixtures/access.sql
select plan(48);

-- labels ===============================================================================
-- The delete cells delete 6b, the label no conversation carries.

-- anon: no grant at all
select access_test.act_as('anon');
select throws_ok($$select * from public.labels$$, '42501', null, 'anon: select labels is denied');
select throws_ok($$insert into public.labels (name) values ('new')$$, '42501', null, 'anon: insert labels is denied');
select throws_ok($$update public.labels set color = 'red'$$, '42501', null, 'anon: update labels is denied');
select throws_ok($$delete from public.labels$$, '42501', null, 'anon: delete labels is denied');

-- agent A
select access_test.act_as('agent A');
select is(access_test.seen('public.labels'), '6a,6b', 'agent A: reads every label');
select throws_ok($$insert into public.labels (name, created_by) values ('new', access_test.id('1a'))$$, '42501', null, 'agent A: cannot create a label');
select is(access_test.dry_run($$update public.labels set color = 'red' returning right(id::text, 2)$$), '', 'agent A: update reaches no label');
select is(access_test.dry_run($$delete from public.labels where id = access_test.id('6b') returning right(id::text, 2)$$), '', 'agent A: delete reaches no label');

-- agent B
select access_test.act_as('agent B');
select is(access_test.seen('public.labels'), '6a,6b', 'agent B: reads every label');
select throws_ok($$insert into public.labels (name, created_by) values ('new', access_test.id('1b'))$$, '42501', null, 'agent B: cannot create a label');
select is(access_test.dry_run($$update public.labels set color = 'red' returning right(id::text, 2)$$), '', 'agent B: update reaches no label');
select is(access_test.dry_run($$delete from public.labels where id = access_test.id('6b') returning right(id::text, 2)$$), '', 'agent B: delete reaches no label');

-- admin
select access_test.act_as('admin');
select is(access_test.seen('public.labels'), '6a,6b', 'admin: reads every label');
select is(access_test.dry_run($$insert into public.labels (id, name, color) values (access_test.id('6c'), 'new', 'green') returning right(id::text, 2) || right(created_by::text, 2)$$), '6c1e', 'admin: creates a label, as themselves');
select is(access_test.dry_run($$update public.labels set color = 'red' returning right(id::text, 2)$$), '6a,6b', 'admin: update reaches every label');
select is(access_test.dry_run($$delete from public.labels where id = access_test.id('6b') returning right(id::text, 2)$$), '6b', 'admin: deletes a label');

-- inactive agent
select access_test.act_as('inactive agent');
select is(access_test.seen('public.labels'), '', 'inactive agent: reads no label');
select throws_ok($$insert into public.labels (name, created_by) values ('new', access_test.id('1d'))$$, '42501', null, 'inactive agent: cannot create a label');
select is(access_test.dry_run($$update public.labels set color = 'red' returning right(id::text, 2)$$), '', 'inactive agent: update reaches no label');
select is(access_test.dry_run($$delete from public.labels where id = access_test.id('6b') returning right(id::text, 2)$$), '', 'inactive agent: delete reaches no label');

-- labels: protected columns
select access_test.act_as('admin');
select throws_ok($$insert into public.labels (name, created_by) values ('new', access_test.id('1a'))$$, '42501', null, 'admin: cannot create a label in agent A''s name');
select throws_ok($$update public.labels set created_by = access_test.id('1a') where id = access_test.id('6a')$$, '42501', null, 'admin: cannot re-attribute a label');
select throws_ok($$delete from public.labels where id = access_test.id('6a')$$, '23503', null, 'admin: cannot delete a label still on conversations (foreign key)');

-- conversation_labels ==================================================================
-- Rows read as <conversation><label>: 3a6a is label 6a on conversation 3a.
-- The insert cells attach 6b to agent A's conversation 3a, as the caller.
\set cl_key '''right(conversation_id::text, 2) || right(label_id::text, 2)'''

-- anon: no grant at all
select access_test.act_as('anon');
select throws_ok($$select * from public.conversation_labels$$, '42501', null, 'anon: select conversation_labels is denied');
select throws_ok($$insert into public.conversation_labels (conversation_id, label_id) values (access_test.id('3a'), access_test.id('6b'))$$, '42501', null, 'anon: insert conversation_labels is denied');
select throws_ok($$update public.conversation_labels set created_by = null$$, '42501', null, 'anon: update conversation_labels is denied');
select throws_ok($$delete from public.conversation_labels$$, '42501', null, 'anon: delete conversation_labels is denied');

-- agent A
select access_test.act_as('agent A');
select is(access_test.seen('public.conversation_labels', :cl_key), '3a6a', 'agent A: reads the labels of 3a only');
select is(access_test.dry_run($$insert into public.conversation_labels (conversation_id, label_id, created_by) values (access_test.id('3a'), access_test.id('6b'), access_test.id('1a')) returning right(conversation_id::text, 2) || right(label_id::text, 2)$$), '3a6b', 'agent A: attaches a label to 3a');
select throws_ok($$update public.conversation_labels set created_by = access_test.id('1a')$$, '42501', null, 'agent A: update conversation_labels is denied');
select is(access_test.dry_run($$delete from public.conversation_labels returning right(conversation_id::text, 2) || right(label_id::text, 2)$$), '3a6a', 'agent A: detaches only from 3a');

-- agent B
select access_test.act_as('agent B');
select is(access_test.seen('public.conversation_labels', :cl_key), '3b6a', 'agent B: reads the labels of 3b only');
select throws_ok($$insert into public.conversation_labels (conversation_id, label_id, created_by) values (access_test.id('3a'), access_test.id('6b'), access_test.id('1b'))$$, '42501', null, 'agent B: cannot label agent A''s 3a');
select throws_ok($$update public.conversation_labels set created_by = access_test.id('1b')$$, '42501', null, 'agent B: update conversation_labels is denied');
select is(access_test.dry_run($$delete from public.conversation_labels returning right(conversation_id::text, 2) || right(label_id::text, 2)$$), '3b6a', 'agent B: detaches only from 3b');

-- admin
select access_test.act_as('admin');
select is(access_test.seen('public.conversation_labels', :cl_key), '3a6a,3b6a,3d6a', 'admin: reads the labels of every conversation');
select is(access_test.dry_run($$insert into public.conversation_labels (conversation_id, label_id, created_by) values (access_test.id('3a'), access_test.id('6b'), access_test.id('1e')) returning right(conversation_id::text, 2) || right(label_id::text, 2)$$), '3a6b', 'admin: attaches a label to 3a');
select throws_ok($$update public.conversation_labels set created_by = access_test.id('1e')$$, '42501', null, 'admin: update conversation_labels is denied');
select is(access_test.dry_run($$delete from public.conversation_labels returning right(conversation_id::text, 2) || right(label_id::text, 2)$$), '3a6a,3b6a,3d6a', 'admin: detaches from every conversation');

-- inactive agent
select access_test.act_as('inactive agent');
select is(access_test.seen('public.conversation_labels', :cl_key), '', 'inactive agent: reads nothing, not even the labels of 3d');
select throws_ok($$insert into public.conversation_labels (conversation_id, label_id, created_by) values (access_test.id('3d'), access_test.id('6b'), access_test.id('1d'))$$, '42501', null, 'inactive agent: cannot label, not even 3d');
select throws_ok($$update public.conversation_labels set created_by = access_test.id('1d')$$, '42501', null, 'inactive agent: update conversation_labels is denied');
select is(access_test.dry_run($$delete from public.conversation_labels returning right(conversation_id::text, 2) || right(label_id::text, 2)$$), '', 'inactive agent: detaches nothing, not even from 3d');

-- conversation_labels: protected values
select access_test.act_as('agent A');
select throws_ok($$insert into public.conversation_labels (conversation_id, label_id, created_by) values (access_test.id('3a'), access_test.id('6b'), access_test.id('1b'))$$,
  '42501', null, 'agent A: cannot attach a label in agent B''s name');
select is(access_test.dry_run($$insert into public.conversation_labels (conversation_id, label_id) values (access_test.id('3a'), access_test.id('6b')) returning right(created_by::text, 2)$$),
  '1a', 'agent A: an attachment without created_by is theirs');
select throws_ok($$insert into public.conversation_labels (conversation_id, label_id, created_by) values (access_test.id('3f'), access_test.id('6b'), access_test.id('1a'))$$,
  '42501', null, 'agent A: cannot label an unassigned conversation');
select throws_ok($$insert into public.conversation_labels (conversation_id, label_id, created_by, created_at) values (access_test.id('3a'), access_test.id('6b'), access_test.id('1a'), now())$$,
  '42501', null, 'agent A: cannot set created_at');
select is(access_test.dry_run($$delete from public.conversation_labels where conversation_id = access_test.id('3b') returning right(conversation_id::text, 2)$$),
  '', 'agent A: cannot detach a label from agent B''s 3b');

select * from finish();
rollback;
