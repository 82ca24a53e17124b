-- Webhook ingestion: svc.ingest_webhook / svc.ingest_webhooks / svc.apply_delivery_status.
begin;
select plan(49);

create function pg_temp.msg(p_wamid text, p_from text, p_ts text, p_text text default 'hola',
                            p_name text default 'Lucía', p_context text default null, p_user_id text default null)
returns jsonb language sql as $$
  select jsonb_build_object('wamid', p_wamid, 'from', p_from, 'user_id', p_user_id, 'profile_name', p_name,
    'timestamp', p_ts, 'message_type', 'text', 'content', p_text, 'metadata', '{}'::jsonb,
    'context_wamid', p_context)
$$;
create function pg_temp.ingest(p_messages jsonb default '[]', p_statuses jsonb default '[]')
returns jsonb language sql as $$
  select svc.ingest_webhook('{"object":"whatsapp_business_account"}'::jsonb,
    jsonb_build_object('messages', p_messages, 'statuses', p_statuses))
$$;
create function pg_temp.status(p_wamid text, p_status text, p_ts text, p_errors jsonb default null)
returns jsonb language sql as $$
  select jsonb_build_object('wamid', p_wamid, 'status', p_status, 'timestamp', p_ts, 'recipient_id', '34600111222', 'errors', p_errors)
$$;

-- A first message creates the contact, opens a conversation and stores the message ------
select is(
  pg_temp.ingest(jsonb_build_array(pg_temp.msg('wamid.A1', '34600111222', '2026-11-20T10:00:00Z'))) ->> 'messages_inserted',
  '1', 'a new message is inserted');
select is((select count(*)::int from public.contacts where wa_id = '34600111222'), 1, 'the contact is created by wa_id');
select is((select phone from public.contacts where wa_id = '34600111222'), '34600111222', 'the phone is the wa_id');
select is((select full_name from public.contacts where wa_id = '34600111222'), 'Lucía', 'the profile name fills full_name');
select is((select count(*)::int from public.conversations c join public.contacts k on k.id = c.contact_id where k.wa_id = '34600111222'), 1,
  'one conversation is opened');
select is((select created_at from public.messages where wa_message_id = 'wamid.A1'), '2026-11-20T10:00:00Z'::timestamptz,
  'the message time is Meta''s timestamp, not the arrival');
select is((select sender_type || '/' || status || '/' || message_type from public.messages where wa_message_id = 'wamid.A1'),
  'contact/delivered/text', 'an inbound message is from the contact, delivered, of its type');
select is((select m.sender_id = k.id from public.messages m join public.contacts k on k.wa_id = '34600111222' where m.wa_message_id = 'wamid.A1'),
  true, 'sender_id is the contact');
select is((select last_message_at from public.conversations c join public.contacts k on k.id = c.contact_id where k.wa_id = '34600111222'),
  '2026-11-20T10:00:00Z'::timestamptz, 'last_message_at follows Meta''s timestamp');
select is((select last_contacted_at from public.contacts where wa_id = '34600111222'), '2026-11-20T10:00:00Z'::timestamptz,
  'last_contacted_at follows Meta''s timestamp');

-- Idempotency ------------------------------------------------------------------------------
select is(
  pg_temp.ingest(jsonb_build_array(pg_temp.msg('wamid.A1', '34600111222', '2026-11-20T10:00:00Z'))) ->> 'duplicates',
  '1', 'the same message delivered twice is a duplicate');
select is((select count(*)::int from public.messages where wa_message_id = 'wamid.A1'), 1, 'and is stored once');
select is((select count(*)::int from svc.webhook_journal), 2, 'every delivery is journaled');

-- A later message reuses the open conversation; an earlier one does not move time back ---
select pg_temp.ingest(jsonb_build_array(
  pg_temp.msg('wamid.A3', '34600111222', '2026-11-20T10:05:00Z', 'otra', 'Lucía G.'),
  pg_temp.msg('wamid.A2', '34600111222', '2026-11-20T10:02:00Z', 'respuesta', 'Lucía G.', 'wamid.A1')));
select is((select count(*)::int from public.conversations c join public.contacts k on k.id = c.contact_id where k.wa_id = '34600111222'), 1,
  'the open conversation is reused');
select is((select last_message_at from public.conversations c join public.contacts k on k.id = c.contact_id where k.wa_id = '34600111222'),
  '2026-11-20T10:05:00Z'::timestamptz, 'last_message_at is the latest Meta timestamp, whatever the order');
select is((select r.wa_message_id from public.messages m join public.messages r on r.id = m.reply_to_message_id where m.wa_message_id = 'wamid.A2'),
  'wamid.A1', 'context.id becomes reply_to_message_id');
select is((select full_name from public.contacts where wa_id = '34600111222'), 'Lucía',
  'a later profile name does not overwrite the name');
select is((select metadata ->> 'wa_profile_name' from public.contacts where wa_id = '34600111222'), 'Lucía G.',
  'the latest profile name is kept in metadata');

-- A reply to an unknown message keeps its context in metadata only -----------------------
select pg_temp.ingest(jsonb_build_array(pg_temp.msg('wamid.A4', '34600111222', '2026-11-20T10:06:00Z', 'x', null, 'wamid.unknown')));
select is((select reply_to_message_id from public.messages where wa_message_id = 'wamid.A4'), null, 'an unknown context leaves reply_to empty');

-- An agent-set name is never overwritten --------------------------------------------------
insert into public.contacts (phone, wa_id, full_name) values ('34600333444', '34600333444', 'Cliente VIP (agente)');
select pg_temp.ingest(jsonb_build_array(pg_temp.msg('wamid.B1', '34600333444', '2026-11-20T11:00:00Z', 'hola', 'Pepe')));
select is((select full_name from public.contacts where wa_id = '34600333444'), 'Cliente VIP (agente)', 'the agent''s name stays');

-- A contact without a phone number (only the business-scoped user id) ---------------------
select pg_temp.ingest(jsonb_build_array(pg_temp.msg('wamid.U1', null, '2026-11-20T12:00:00Z', 'hi', 'Ann', null, 'US.1349120865')));
select is((select phone from public.contacts where wa_user_id = 'US.1349120865'), null, 'a contact can arrive without a phone');
select is((select count(*)::int from public.messages m join public.conversations c on c.id = m.conversation_id
            join public.contacts k on k.id = c.contact_id where k.wa_user_id = 'US.1349120865'), 1, 'and its message is stored');

select pg_temp.ingest(jsonb_build_array(pg_temp.msg('wamid.U2', '14155550000', '2026-11-20T12:05:00Z', 'my number', 'Ann', null, 'US.1349120865')));
select is((select count(*)::int from public.contacts where wa_user_id = 'US.1349120865'), 1, 'the same user later sharing a phone stays one contact');
select is((select phone from public.contacts where wa_user_id = 'US.1349120865'), '14155550000', 'and the phone is filled in');

-- Archived conversations stay archived: a new message opens a new conversation -----------
update public.conversations set status = 'archived'
 where contact_id = (select id from public.contacts where wa_id = '34600333444');
select pg_temp.ingest(jsonb_build_array(pg_temp.msg('wamid.B2', '34600333444', '2026-11-21T09:00:00Z')));
select is((select count(*)::int from public.conversations where contact_id = (select id from public.contacts where wa_id = '34600333444')), 2,
  'a message after archiving opens a new conversation');
select is((select c.status from public.messages m join public.conversations c on c.id = m.conversation_id where m.wa_message_id = 'wamid.B2'),
  'active', 'the new one is active');

-- Statuses on an agent's message: never backwards -------------------------------------------
insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status, wa_message_id)
select c.id, 'agent', gen_random_uuid(), 'respuesta', 'text', 'sent', 'wamid.OUT1'
  from public.conversations c join public.contacts k on k.id = c.contact_id where k.wa_id = '34600111222';
select pg_temp.ingest('[]', jsonb_build_array(pg_temp.status('wamid.OUT1', 'read', '2026-11-20T10:10:00Z')));
select is((select status from public.messages where wa_message_id = 'wamid.OUT1'), 'read', 'read applies');
select is((select delivered_at from public.messages where wa_message_id = 'wamid.OUT1'), '2026-11-20T10:10:00Z'::timestamptz,
  'read implies delivered (delivered_at filled)');
select is(pg_temp.ingest('[]', jsonb_build_array(pg_temp.status('wamid.OUT1', 'delivered', '2026-11-20T10:09:00Z'))) ->> 'statuses_stale',
  '1', 'delivered after read is stale');
select is((select status || ' ' || read_at::text from public.messages where wa_message_id = 'wamid.OUT1'),
  'read ' || '2026-11-20T10:10:00Z'::timestamptz::text, 'and does not move the status back');
select is((select delivered_at from public.messages where wa_message_id = 'wamid.OUT1'), '2026-11-20T10:09:00Z'::timestamptz,
  'but the earlier delivery time is kept');

-- Failed is final; delivered after failed changes nothing ----------------------------------
insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status, wa_message_id)
select c.id, 'agent', gen_random_uuid(), 'x', 'text', 'sent', 'wamid.OUT2'
  from public.conversations c join public.contacts k on k.id = c.contact_id where k.wa_id = '34600111222';
select pg_temp.ingest('[]', jsonb_build_array(pg_temp.status('wamid.OUT2', 'failed', '2026-11-20T10:11:00Z',
  '[{"code":131026,"title":"Message undeliverable","error_data":{"details":"not on WhatsApp"}}]')));
select is((select status from public.messages where wa_message_id = 'wamid.OUT2'), 'failed', 'failed applies to a sent message');
select is((select error_data -> 'errors' -> 0 ->> 'code' from public.messages where wa_message_id = 'wamid.OUT2'), '131026',
  'failed keeps error_data');
select pg_temp.ingest('[]', jsonb_build_array(pg_temp.status('wamid.OUT2', 'delivered', '2026-11-20T10:12:00Z')));
select is((select status from public.messages where wa_message_id = 'wamid.OUT2'), 'failed', 'delivered after failed changes nothing');
select pg_temp.ingest('[]', jsonb_build_array(pg_temp.status('wamid.OUT1', 'failed', '2026-11-20T10:13:00Z')));
select is((select status from public.messages where wa_message_id = 'wamid.OUT1'), 'read', 'failed after read changes nothing');

-- 131050: the user stopped marketing messages ------------------------------------------------
insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status, wa_message_id)
select c.id, 'agent', gen_random_uuid(), 'promo', 'template', 'sent', 'wamid.OUT3'
  from public.conversations c join public.contacts k on k.id = c.contact_id where k.wa_id = '34600111222' and c.status = 'active';
select pg_temp.ingest('[]', jsonb_build_array(pg_temp.status('wamid.OUT3', 'failed', '2026-11-20T10:14:00Z', '[{"code":131050,"title":"User opted out"}]')));
select isnt((select opted_out_at from public.contacts where wa_id = '34600111222'), null, '131050 sets opted_out_at');

-- The STOP keyword opts out too ---------------------------------------------------------------
select pg_temp.ingest(jsonb_build_array(pg_temp.msg('wamid.B3', '34600333444', '2026-11-21T09:05:00Z', ' stop ')));
select isnt((select opted_out_at from public.contacts where wa_id = '34600333444'), null, 'STOP sets opted_out_at');

-- A status before its message is kept and applied when the wamid appears ---------------------
select is(pg_temp.ingest('[]', jsonb_build_array(pg_temp.status('wamid.LATE', 'delivered', '2026-11-20T10:20:00Z'))) ->> 'statuses_early',
  '1', 'a status for an unknown wamid is kept');
select is((select count(*)::int from svc.early_statuses where wa_message_id = 'wamid.LATE'), 1, 'in early_statuses');
insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status, wa_message_id)
select c.id, 'agent', gen_random_uuid(), 'x', 'text', 'sent', 'wamid.LATE'
  from public.conversations c join public.contacts k on k.id = c.contact_id where k.wa_id = '34600111222' and c.status = 'active';
select is(svc.apply_early_statuses('wamid.LATE'), 1, 'applying early statuses applies it');
select is((select status from public.messages where wa_message_id = 'wamid.LATE'), 'delivered', 'the message is now delivered');
select is((select count(*)::int from svc.early_statuses), 0, 'and it is forgotten');

-- Broadcast recipients take statuses too --------------------------------------------------------
insert into public.broadcast_messages (id, name, content) values ('00000000-0000-0000-0000-0000000000b1', 'promo', 'x');
insert into public.broadcast_recipients (broadcast_id, contact_id, status, wa_message_id)
select '00000000-0000-0000-0000-0000000000b1', id, 'sent', 'wamid.BR1' from public.contacts where wa_id = '34600333444';
select pg_temp.ingest('[]', jsonb_build_array(pg_temp.status('wamid.BR1', 'read', '2026-11-21T10:00:00Z')));
select is((select status || ' ' || delivered_at::text from public.broadcast_recipients where wa_message_id = 'wamid.BR1'),
  'delivered ' || '2026-11-21T10:00:00Z'::timestamptz::text, 'read marks a recipient delivered');

-- Bad events: journaled as failed, acknowledged, replayable ------------------------------------
select is(pg_temp.ingest(jsonb_build_array(jsonb_build_object('wamid', 'wamid.BAD', 'from', '34600111222', 'timestamp', '2026-11-20T10:00:00Z',
  'message_type', 'hologram'))) ->> 'outcome', 'failed', 'events that violate the schema are journaled as failed');
select is((select count(*)::int from public.messages where wa_message_id = 'wamid.BAD'), 0, 'and nothing of them is applied');
update svc.webhook_journal set events = jsonb_set(events, '{messages,0,message_type}', '"unsupported"') where outcome = 'failed';
select is(svc.replay_failed_webhooks() ->> 'applied', '1', 'a failed webhook can be replayed after a fix');
select is((select count(*)::int from public.messages where wa_message_id = 'wamid.BAD'), 1, 'and is then applied');

select is(svc.ingest_webhook('{"raw":"x"}', null, 'not a webhook envelope') ->> 'outcome', 'failed', 'a parse error is journaled as failed');

-- Batches: several webhooks in one call, results in order ---------------------------------------
select is(jsonb_array_length(svc.ingest_webhooks(jsonb_build_array(
  jsonb_build_object('payload', '{}'::jsonb, 'events', jsonb_build_object('messages', jsonb_build_array(pg_temp.msg('wamid.C1', '34600555666', '2026-11-22T08:00:00Z')))),
  jsonb_build_object('payload', '{}'::jsonb, 'events', jsonb_build_object('messages', jsonb_build_array(pg_temp.msg('wamid.C1', '34600555666', '2026-11-22T08:00:00Z'))))))),
  2, 'a batch answers one result per webhook');

select * from finish();
rollback;
