-- Access matrix: public.notes. Everyone who sees a conversation reads all its notes;
-- users add, edit and delete only their own, only where they see the conversation, and
-- never move or re-attribute a note.
begin;
\ir fixtures/access.sql
select plan(42);

-- The insert cells add a note as the caller to agent A's conversation 3a.

-- anon: no grant at all --------------------------------------------------------------
select access_test.act_as('anon');
select throws_ok($$select * from public.notes$$, '42501', null, 'anon: select notes is denied');
select throws_ok($$insert into public.notes (conversation_id, content) values (access_test.id('3a'), 'x')$$, '42501', null, 'anon: insert notes is denied');
select throws_ok($$update public.notes set content = 'edited'$$, '42501', null, 'anon: update notes is denied');
select throws_ok($$delete from public.notes$$, '42501', null, 'anon: delete notes is denied');

-- agent A ----------------------------------------------------------------------------
select access_test.act_as('agent A');
select is(access_test.seen('public.notes'), '5a,5e', 'agent A: reads every note on 3a, the admin''s too');
select is(access_test.dry_run($$insert into public.notes (conversation_id, content, created_by) values (access_test.id('3a'), 'x', access_test.id('1a')) returning right(conversation_id::text, 2)$$), '3a', 'agent A: adds a note to 3a');
select is(access_test.dry_run($$update public.notes set content = 'edited' returning right(id::text, 2)$$), '5a', 'agent A: update reaches only their own note 5a');
select is(access_test.dry_run($$update public.notes set deleted_at = now() returning right(id::text, 2)$$), '5a', 'agent A: deleting reaches only their own note 5a');

-- agent B ----------------------------------------------------------------------------
select access_test.act_as('agent B');
select is(access_test.seen('public.notes'), '5b', 'agent B: reads only the note on 3b');
select throws_ok($$insert into public.notes (conversation_id, content, created_by) values (access_test.id('3a'), 'x', access_test.id('1b'))$$, '42501', null, 'agent B: cannot add a note to agent A''s 3a');
select is(access_test.dry_run($$update public.notes set content = 'edited' returning right(id::text, 2)$$), '5b', 'agent B: update reaches only their own note 5b');
select is(access_test.dry_run($$update public.notes set deleted_at = now() returning right(id::text, 2)$$), '5b', 'agent B: deleting reaches only their own note 5b');

-- admin ------------------------------------------------------------------------------
select access_test.act_as('admin');
select is(access_test.seen('public.notes'), '5a,5b,5d,5e', 'admin: reads every note');
select is(access_test.dry_run($$insert into public.notes (conversation_id, content, created_by) values (access_test.id('3a'), 'x', access_test.id('1e')) returning right(conversation_id::text, 2)$$), '3a', 'admin: adds a note to 3a');
select is(access_test.dry_run($$update public.notes set content = 'edited' returning right(id::text, 2)$$), '5e', 'admin: update reaches only their own note 5e');
select is(access_test.dry_run($$update public.notes set deleted_at = now() returning right(id::text, 2)$$), '5e', 'admin: deleting reaches only their own note 5e');

-- inactive agent ---------------------------------------------------------------------
select access_test.act_as('inactive agent');
select is(access_test.seen('public.notes'), '', 'inactive agent: reads nothing, not even their own note 5d');
select throws_ok($$insert into public.notes (conversation_id, content, created_by) values (access_test.id('3d'), 'x', access_test.id('1d'))$$, '42501', null, 'inactive agent: cannot add a note, not even to 3d');
select is(access_test.dry_run($$update public.notes set content = 'edited' returning right(id::text, 2)$$), '', 'inactive agent: update reaches nothing, not even 5d');
select is(access_test.dry_run($$update public.notes set deleted_at = now() returning right(id::text, 2)$$), '', 'inactive agent: deleting reaches nothing, not even 5d');

-- Deleting is soft: a tombstone the same people still read (so that Realtime announces the
-- deletion to them alone); a hard DELETE is the services' only.
select access_test.act_as('agent A');
select throws_ok($$delete from public.notes where id = access_test.id('5a')$$, '42501', null, 'agent A: a hard delete of their own note is denied');
select access_test.act_as('admin');
select throws_ok($$delete from public.notes where id = access_test.id('5e')$$, '42501', null, 'admin: a hard delete of their own note is denied');
-- Note 50: a second note by agent A on 3a, deleted here and removed again afterwards.
select access_test.act_as('postgres');
insert into public.notes (id, conversation_id, content, created_by)
values (access_test.id('50'), access_test.id('3a'), 'a note A will delete', access_test.id('1a'));
select access_test.act_as('agent A');
update public.notes set deleted_at = '2001-01-01' where id = access_test.id('50');
select access_test.act_as('postgres');
select is((select content from public.notes where id = access_test.id('50')), '', 'a deleted note keeps no content');
select ok((select deleted_at > now() - interval '1 minute' from public.notes where id = access_test.id('50')), 'a deleted note is stamped with the server''s time, not the caller''s');
select access_test.act_as('agent A');
select is(access_test.seen('public.notes', $$right(id::text, 2) || case when deleted_at is null then '' else '-deleted' end$$), '50-deleted,5a,5e', 'agent A: still reads their deleted note, as a tombstone');
select access_test.act_as('admin');
select is(access_test.seen('public.notes', $$right(id::text, 2) || case when deleted_at is null then '' else '-deleted' end$$), '50-deleted,5a,5b,5d,5e', 'admin: reads the tombstone too (they see 3a)');
select access_test.act_as('agent B');
select is(access_test.seen('public.notes'), '5b', 'agent B: does not read the tombstone of a conversation they don''t see');
select access_test.act_as('agent A');
select throws_ok($$update public.notes set content = 'back' where id = access_test.id('50')$$, '55000', 'a deleted note can''t be changed', 'agent A: cannot edit a deleted note');
select throws_ok($$update public.notes set deleted_at = null where id = access_test.id('50')$$, '55000', 'a deleted note can''t be changed', 'agent A: cannot undelete a note');
select access_test.act_as('postgres');
delete from public.notes where id = access_test.id('50');

-- Protected columns and other people's notes ------------------------------------------
select access_test.act_as('agent A');
select is(access_test.dry_run($$update public.notes set content = 'mine now' where id = access_test.id('5e') returning right(id::text, 2)$$),
  '', 'agent A: cannot edit the admin''s note on their own conversation');
select is(access_test.dry_run($$update public.notes set deleted_at = now() where id = access_test.id('5e') returning right(id::text, 2)$$),
  '', 'agent A: cannot delete the admin''s note on their own conversation');
select is(access_test.dry_run($$update public.notes set content = 'edited', updated_at = now() where id = access_test.id('5a') returning right(id::text, 2)$$),
  '5a', 'agent A: edits their own note and its updated_at');
select throws_ok($$update public.notes set conversation_id = access_test.id('3f') where id = access_test.id('5a')$$,
  '42501', null, 'agent A: cannot move their note to another conversation');
select throws_ok($$update public.notes set created_by = access_test.id('1b') where id = access_test.id('5a')$$,
  '42501', null, 'agent A: cannot hand their note to agent B');
select throws_ok($$update public.notes set created_at = now() where id = access_test.id('5a')$$,
  '42501', null, 'agent A: cannot change created_at');
select throws_ok($$insert into public.notes (conversation_id, content, created_by) values (access_test.id('3a'), 'signed B', access_test.id('1b'))$$,
  '42501', null, 'agent A: cannot add a note in agent B''s name');
select is(access_test.dry_run($$insert into public.notes (conversation_id, content) values (access_test.id('3a'), 'created_by left out') returning right(created_by::text, 2)$$),
  '1a', 'agent A: a note without created_by is theirs');
select throws_ok($$insert into public.notes (conversation_id, content, created_by) values (access_test.id('3f'), 'x', access_test.id('1a'))$$,
  '42501', null, 'agent A: cannot add a note to an unassigned conversation');

select access_test.act_as('admin');
select is(access_test.dry_run($$update public.notes set content = 'admin was here' where id = access_test.id('5a') returning right(id::text, 2)$$),
  '', 'admin: cannot edit agent A''s note');
select is(access_test.dry_run($$update public.notes set deleted_at = now() where id = access_test.id('5b') returning right(id::text, 2)$$),
  '', 'admin: cannot delete agent B''s note');

-- A note stays its author's only while they see the conversation.
select access_test.act_as('admin');
update public.conversations set assigned_agent_id = access_test.id('1b') where id = access_test.id('3a');
select access_test.act_as('agent A');
select is(access_test.dry_run($$update public.notes set content = 'edited' where id = access_test.id('5a') returning right(id::text, 2)$$),
  '', 'agent A: once 3a is reassigned, cannot edit their note on it');
select access_test.act_as('agent B');
select is(access_test.seen('public.notes'), '5a,5b,5e', 'agent B: once 3a is theirs, reads its notes');

select * from finish();
rollback;
