-- Access matrix: public.messages. Users read the messages of the conversations they see
-- and queue outbound replies as themselves (sender_type 'agent', status 'pending');
-- nobody but the services changes or deletes a message afterwards.
begin;
\ir fixtures/access.sql
select plan(35);

-- The insert cells queue a reply as the caller into agent A's conversation 3a.

-- anon: no grant at all --------------------------------------------------------------
select access_test.act_as('anon');
select throws_ok($$select * from public.messages$$, '42501', null, 'anon: select messages is denied');
select throws_ok($$insert into public.messages (conversation_id, sender_type, sender_id, message_type, status, content) values (access_test.id('3a'), 'agent', access_test.id('1a'), 'text', 'pending', 'hi')$$, '42501', null, 'anon: insert messages is denied');
select throws_ok($$update public.messages set status = 'read'$$, '42501', null, 'anon: update messages is denied');
select throws_ok($$delete from public.messages$$, '42501', null, 'anon: delete messages is denied');

-- agent A ----------------------------------------------------------------------------
select access_test.act_as('agent A');
select is(access_test.seen('public.messages'), '4a', 'agent A: reads only the messages of 3a');
select is(access_test.dry_run($$insert into public.messages (conversation_id, sender_type, sender_id, message_type, status, content) values (access_test.id('3a'), 'agent', access_test.id('1a'), 'text', 'pending', 'hi') returning right(conversation_id::text, 2)$$), '3a', 'agent A: queues a reply in 3a');
select throws_ok($$update public.messages set status = 'read'$$, '42501', null, 'agent A: update messages is denied');
select throws_ok($$delete from public.messages$$, '42501', null, 'agent A: delete messages is denied');

-- agent B ----------------------------------------------------------------------------
select access_test.act_as('agent B');
select is(access_test.seen('public.messages'), '4b', 'agent B: reads only the messages of 3b');
select throws_ok($$insert into public.messages (conversation_id, sender_type, sender_id, message_type, status, content) values (access_test.id('3a'), 'agent', access_test.id('1b'), 'text', 'pending', 'hi')$$, '42501', null, 'agent B: cannot queue a reply in agent A''s 3a');
select throws_ok($$update public.messages set status = 'read'$$, '42501', null, 'agent B: update messages is denied');
select throws_ok($$delete from public.messages$$, '42501', null, 'agent B: delete messages is denied');

-- admin ------------------------------------------------------------------------------
select access_test.act_as('admin');
select is(access_test.seen('public.messages'), '4a,4b,4d,4f', 'admin: reads every message');
select is(access_test.dry_run($$insert into public.messages (conversation_id, sender_type, sender_id, message_type, status, content) values (access_test.id('3a'), 'agent', access_test.id('1e'), 'text', 'pending', 'hi') returning right(conversation_id::text, 2)$$), '3a', 'admin: queues a reply in 3a');
select throws_ok($$update public.messages set status = 'read'$$, '42501', null, 'admin: update messages is denied (statuses are the services'')');
select throws_ok($$delete from public.messages$$, '42501', null, 'admin: delete messages is denied');

-- inactive agent ---------------------------------------------------------------------
select access_test.act_as('inactive agent');
select is(access_test.seen('public.messages'), '', 'inactive agent: reads nothing, not even the messages of 3d');
select throws_ok($$insert into public.messages (conversation_id, sender_type, sender_id, message_type, status, content) values (access_test.id('3d'), 'agent', access_test.id('1d'), 'text', 'pending', 'hi')$$, '42501', null, 'inactive agent: cannot queue a reply, not even in 3d');
select throws_ok($$update public.messages set status = 'read'$$, '42501', null, 'inactive agent: update messages is denied');
select throws_ok($$delete from public.messages$$, '42501', null, 'inactive agent: delete messages is denied');

-- Protected columns and values -------------------------------------------------------
select access_test.act_as('agent A');
select throws_ok($$insert into public.messages (conversation_id, sender_type, sender_id, message_type, status, content) values (access_test.id('3a'), 'contact', access_test.id('2a'), 'text', 'pending', 'I am the customer')$$,
  '42501', null, 'agent A: cannot insert a message as the contact');
select throws_ok($$insert into public.messages (conversation_id, sender_type, sender_id, message_type, status, content) values (access_test.id('3a'), 'agent', access_test.id('1b'), 'text', 'pending', 'I am B')$$,
  '42501', null, 'agent A: cannot insert a message as agent B');
select throws_ok($$insert into public.messages (conversation_id, sender_type, sender_id, message_type, status, content) values (access_test.id('3a'), 'agent', access_test.id('1a'), 'text', 'read', 'already read')$$,
  '42501', null, 'agent A: cannot insert a message with status read');
select throws_ok($$insert into public.messages (conversation_id, sender_type, sender_id, message_type, status, content) values (access_test.id('3a'), 'agent', access_test.id('1a'), 'text', 'sent', 'already sent')$$,
  '42501', null, 'agent A: cannot insert a message with status sent');
select throws_ok($$insert into public.messages (conversation_id, sender_type, sender_id, message_type, status, content) values (access_test.id('3f'), 'agent', access_test.id('1a'), 'text', 'pending', 'hi')$$,
  '42501', null, 'agent A: cannot queue a reply in an unassigned conversation');
select throws_ok($$insert into public.messages (conversation_id, sender_type, sender_id, message_type, status, content, wa_message_id) values (access_test.id('3a'), 'agent', access_test.id('1a'), 'text', 'pending', 'hi', 'wamid.forged')$$,
  '42501', null, 'agent A: cannot set wa_message_id');
select throws_ok($$insert into public.messages (conversation_id, sender_type, sender_id, message_type, status, content, delivered_at, read_at) values (access_test.id('3a'), 'agent', access_test.id('1a'), 'text', 'pending', 'hi', now(), now())$$,
  '42501', null, 'agent A: cannot set delivered_at or read_at');
select throws_ok($$insert into public.messages (conversation_id, sender_type, sender_id, message_type, status, content, error_data) values (access_test.id('3a'), 'agent', access_test.id('1a'), 'text', 'pending', 'hi', '{}')$$,
  '42501', null, 'agent A: cannot set error_data');
select throws_ok($$insert into public.messages (conversation_id, sender_type, sender_id, message_type, status, content, created_at) values (access_test.id('3a'), 'agent', access_test.id('1a'), 'text', 'pending', 'hi', now() - interval '1 day')$$,
  '42501', null, 'agent A: cannot backdate created_at');
select is(access_test.dry_run($$insert into public.messages (id, conversation_id, sender_type, sender_id, message_type, status, content, media_url, metadata, reply_to_message_id) values (access_test.id('4c'), access_test.id('3a'), 'agent', access_test.id('1a'), 'image', 'pending', 'see this', 'https://example.test/p.png', '{"caption": true}', access_test.id('4a')) returning right(id::text, 2)$$),
  '4c', 'agent A: queues a reply with every column the grant allows (id, media, metadata, reply_to)');
select is(access_test.dry_run($$insert into public.messages (conversation_id, sender_type, sender_id, message_type, status, content) values (access_test.id('3a'), 'agent', access_test.id('1a'), 'text', 'pending', 'x'), (access_test.id('3a'), 'agent', access_test.id('1a'), 'text', 'pending', 'y') returning right(conversation_id::text, 2)$$),
  '3a,3a', 'agent A: queues several replies at once');
select throws_ok($$update public.messages set content = 'edited' where id = access_test.id('4a')$$,
  '42501', null, 'agent A: cannot edit a message of their conversation');
select throws_ok($$delete from public.messages where id = access_test.id('4a')$$,
  '42501', null, 'agent A: cannot delete a message of their conversation');

select access_test.act_as('admin');
select throws_ok($$insert into public.messages (conversation_id, sender_type, sender_id, message_type, status, content) values (access_test.id('3b'), 'contact', access_test.id('2b'), 'text', 'delivered', 'forged inbound')$$,
  '42501', null, 'admin: cannot forge an inbound message either');
select is(access_test.dry_run($$insert into public.messages (conversation_id, sender_type, sender_id, message_type, status, content) values (access_test.id('3f'), 'agent', access_test.id('1e'), 'text', 'pending', 'hi') returning right(conversation_id::text, 2)$$),
  '3f', 'admin: queues a reply in an unassigned conversation');

select * from finish();
rollback;
