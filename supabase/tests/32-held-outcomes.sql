-- Held outcomes: an unknown outcome (a lease that expired, a send WhatsApp never answered)
-- is held, not failed; its own status webhook resolves it as sent; a status of a later
-- send re-queues it in its place; with no evidence it fails as unknown_outcome after the
-- hold, saying which evidence was missing. Replies and broadcast recipients alike.
--
-- Time: claims take their time as p_now (clock_timestamp() plus the seconds named in
-- pg_temp.at); the record functions and status webhooks use the transaction's now().
begin;
\ir fixtures/queues.sql
select plan(43);

-- The cast (keys as in fixtures/queues.sql):
--   a001  the agent; c1 Ana, c2 Bea, c3 Carla, who wrote an hour ago; d1-d3 their conversations
--   replies: 101, 102 to Ana (in that order), 201, 202 to Bea, 301 to Carla
--   e1    the broadcast template; b1 a broadcast to Ana, Bea and Carla
insert into auth.users (id, email, raw_app_meta_data) values
  (queue_test.id('a001'), 'agent@test.local', '{"role":"agent"}'),
  (queue_test.id('ad01'), 'admin@test.local', '{"role":"admin"}');
insert into public.contacts (id, phone, wa_id, full_name) values
  (queue_test.id('c1'), '34600000001', '34600000001', 'Ana'),
  (queue_test.id('c2'), '34600000002', '34600000002', 'Bea'),
  (queue_test.id('c3'), '34600000003', '34600000003', 'Carla');
insert into public.conversations (id, contact_id, assigned_agent_id) values
  (queue_test.id('d1'), queue_test.id('c1'), queue_test.id('a001')),
  (queue_test.id('d2'), queue_test.id('c2'), queue_test.id('a001')),
  (queue_test.id('d3'), queue_test.id('c3'), queue_test.id('a001'));
insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status, created_at, wa_message_id)
select queue_test.id('d' || n), 'contact', queue_test.id('c' || n), 'hola', 'text', 'delivered', now() - interval '1 hour', 'wamid.in' || n
  from generate_series(1, 3) n;

-- Re-queue 5 s after the witness's status (the default waits longer), hold 900 s.
-- Every recorded send looks for the sends it witnesses (in production: one per 200 ms).
update svc.held_outcome_policy set hold_seconds = 900, evidence_grace_seconds = 5, witness_interval_ms = 0;

create function pg_temp.reply(p_id text, p_conv text, p_text text)
returns void language sql as $$
  insert into public.messages (id, conversation_id, sender_type, sender_id, content, message_type, status)
  values (queue_test.id(p_id), queue_test.id(p_conv), 'agent', queue_test.id('a001'), p_text, 'text', 'pending')
$$;
create function pg_temp.at(p_seconds int) returns timestamptz language sql as $$
  select clock_timestamp() + make_interval(secs => p_seconds)
$$;
-- What a claim handed out: the contents (replies) or contact keys (recipients), in order.
create function pg_temp.claim(p_owner text, p_seconds int, p_limit int default 50)
returns text language sql as $$
  select coalesce(string_agg(j ->> 'content', ',' order by n), '')
    from jsonb_array_elements(svc.claim_outbound_messages(p_owner, 'PN1', 1000, p_limit, 30, pg_temp.at(p_seconds))) with ordinality as c(j, n)
$$;
create function pg_temp.claim_recipients(p_owner text, p_seconds int, p_limit int default 1)
returns text language sql as $$
  select coalesce(string_agg(k.full_name, ',' order by n), '')
    from jsonb_array_elements(svc.claim_broadcast_recipients(p_owner, 'PN1', 1000, p_limit, 30, null, pg_temp.at(p_seconds))) with ordinality as c(j, n)
    join public.contacts k on k.id = (j ->> 'contact_id')::uuid
$$;
create function pg_temp.message(p_id text) returns text language sql as $$
  select status || ' ' || coalesce(error_data ->> 'code', '-') from public.messages where id = queue_test.id(p_id)
$$;
create function pg_temp.recipient(p_contact text) returns text language sql as $$
  select status || ' ' || coalesce(split_part(error_message, ':', 1), '-')
    from public.broadcast_recipients where broadcast_id = queue_test.id('b1') and contact_id = queue_test.id(p_contact)
$$;
create function pg_temp.total(p_queue text, p_event text) returns bigint language sql as $$
  select total from svc.held_outcome_counts where queue = p_queue and event = p_event
$$;

-- A sender dies holding a reply: held, in its place ------------------------------------------
select pg_temp.reply('101', 'd1', 'first');
select pg_temp.reply('102', 'd1', 'second');
select is(pg_temp.claim('dead', 0), 'first', 'a sender claims Ana''s first reply and dies');
select pg_temp.reply('201', 'd2', 'bea one');
select is(pg_temp.claim('alive', 40), 'bea one',
  'after the lease another sender sends neither the held reply nor Ana''s next one (order kept)');
select is(pg_temp.message('101'), 'pending checking_delivery', 'the held reply is pending, checking whether it was delivered');
select isnt((select held_since from svc.outbound_jobs where message_id = queue_test.id('101')), null, 'its job stays queued, held');
select is((select error_data ->> 'sender' from public.messages where id = queue_test.id('101')), 'dead', 'error_data names the sender that stopped');
select is((select (svc.outbound_status('PN1') ->> 'held')::int), 1, 'outbound_status counts it as held');

-- A later send accepted, its status arrived: the held reply was never accepted ----------------
select is(svc.record_outbound_sent(queue_test.id('201'), 'alive', 'wamid.w1'), true, 'a send claimed 40 s later is accepted');
select is((select witness_wamid from svc.outbound_jobs where message_id = queue_test.id('101')), 'wamid.w1',
  'it witnesses the held reply (it left after it)');
select is(pg_temp.claim('alive', 41), '', 'without the witness''s status nothing changes');
select svc.apply_delivery_status('wamid.w1', 'sent', now(), null, queue_test.id('201')::text);
select isnt((select evidence_at from svc.outbound_jobs where message_id = queue_test.id('101')), null, 'the witness''s status is evidence');
select is(pg_temp.claim('alive', 2), '', 'within the grace (its own status may still come) it stays held');
select is(pg_temp.claim('alive', 42), 'first', 'after the grace it is re-queued and sent first, before Ana''s next reply');
select is((select attempts from svc.outbound_jobs where message_id = queue_test.id('101')), 2, 'as a second attempt');
select is(pg_temp.message('101'), 'pending -', 'no longer checking');
select is(svc.record_outbound_sent(queue_test.id('101'), 'alive', 'wamid.101'), true, 'recorded sent');
select is(pg_temp.claim('alive', 43), 'second', 'then Ana''s next reply');
select svc.record_outbound_sent(queue_test.id('102'), 'alive', 'wamid.102');

-- Its own status resolves a held reply as sent -------------------------------------------------
select pg_temp.reply('202', 'd2', 'bea two');
select is(pg_temp.claim('dead2', 100), 'bea two', 'a sender claims, WhatsApp accepts, the sender dies');
select is(pg_temp.claim('alive', 140), '', 'after the lease it is held');
select svc.apply_delivery_status('wamid.own', 'delivered', now(), null, queue_test.id('202')::text);
select is((select status || ' ' || wa_message_id from public.messages where id = queue_test.id('202')), 'delivered wamid.own',
  'its status webhook (callback data) resolves it with its wamid');
select is((select count(*)::int from svc.outbound_jobs where message_id = queue_test.id('202')), 0, 'and takes it off the queue');

-- The sender's own unknown outcome: held; no status for it nor for the later send: fails ---
select pg_temp.reply('301', 'd3', 'carla one');
select is(pg_temp.claim('s3', 200), 'carla one', 'claimed');
select is(svc.record_outbound_failed(queue_test.id('301'), 's3', '{"code":"unknown_outcome","reason":"timed out"}', false), true,
  'the sender records an unknown outcome (WhatsApp never answered)');
select is(pg_temp.message('301'), 'pending checking_delivery', 'it is held, not failed');
select is((select error_data -> 'cause' ->> 'reason' from public.messages where id = queue_test.id('301')), 'timed out', 'with the sender''s reason');
select pg_temp.reply('103', 'd1', 'third');
select is(pg_temp.claim('s3', 205), 'third', 'a later send');
select svc.record_outbound_sent(queue_test.id('103'), 's3', 'wamid.103');
select is(pg_temp.claim('s3', 890), '', 'no status comes for either: still held before the limit');

-- Broadcast recipients: the same rule -----------------------------------------------------------
insert into public.message_templates (id, name, content, wa_template_name, language_code) values
  (queue_test.id('e1'), 'Promo', 'Hola', 'promo_vip', 'es');
insert into public.broadcast_messages (id, name, content, status, scheduled_for, created_by, template_id, audience) values
  (queue_test.id('b1'), 'Promo', 'Hola', 'scheduled', now() - interval '1 minute', queue_test.id('ad01'), queue_test.id('e1'), '{"type":"explicit"}');
insert into public.broadcast_recipients (broadcast_id, contact_id)
select queue_test.id('b1'), queue_test.id('c' || n) from generate_series(1, 3) n;
select svc.start_due_broadcasts();
select is(pg_temp.claim_recipients('wdead', 300), 'Ana', 'a worker claims Ana and dies (a held reply does not hold broadcasts back)');
select is(pg_temp.claim_recipients('w2', 340), 'Bea', 'after the lease Ana is held and Bea is sent');
select is(pg_temp.recipient('c1'), 'pending checking_delivery', 'the held recipient is pending, checking');
select svc.record_broadcast_sent(queue_test.id('b1'), queue_test.id('c2'), 'w2', 'wamid.bea');
select svc.apply_delivery_status('wamid.bea', 'delivered', now(), null);
select is(pg_temp.claim_recipients('w3', 346), 'Ana', 'a later recipient''s status re-queues Ana in her place');
select is(pg_temp.recipient('c1'), 'pending -', 'no longer checking');
select svc.record_broadcast_sent(queue_test.id('b1'), queue_test.id('c1'), 'w3', 'wamid.ana');
select is(pg_temp.claim_recipients('w3', 350), 'Carla', 'Carla');
select svc.record_broadcast_failed(queue_test.id('b1'), queue_test.id('c3'), 'w3', 'unknown_outcome: timed out', false);
select is(pg_temp.recipient('c3'), 'pending checking_delivery', 'an unknown outcome the worker records is held');
select is(svc.complete_finished_broadcasts(), 0, 'a held recipient keeps the broadcast sending');

-- No evidence within the hold: failed as unknown outcomes, saying what was missing --------------
select pg_temp.claim('s3', 901);
select is((select error_data ->> 'code' || ' ' || (error_data ->> 'missing_evidence') from public.messages where id = queue_test.id('301')),
  'unknown_outcome later_status', 'the reply fails as unknown_outcome: later sends were accepted but no status came');
select pg_temp.claim_recipients('w3', 901);
select alike((select error_message from public.broadcast_recipients where broadcast_id = queue_test.id('b1') and contact_id = queue_test.id('c3')),
  'unknown_outcome: %no later send was accepted%', 'the recipient fails: nothing sent after it to compare with');
select is(svc.complete_finished_broadcasts(), 1, 'then the broadcast completes');

-- Totals for the services' metrics ---------------------------------------------------------------
select is(svc.held_outcomes() -> 'replies',
  '{"held": 3, "resolved_sent": 1, "requeued": 1, "failed_unknown": 1, "held_now": 0}'::jsonb, 'reply totals');
select is(svc.held_outcomes() -> 'broadcasts',
  '{"held": 2, "resolved_sent": 0, "requeued": 1, "failed_unknown": 1, "held_now": 0}'::jsonb, 'broadcast totals');

-- Witnesses are looked for at most every witness_interval_ms ------------------------------------
-- Reply 109 to Ana is in flight; sends recorded 10 s after its claim witness it, but only one
-- recorded send per interval looks (the others return at once).
update svc.held_outcome_policy set witness_interval_ms = 200;
update svc.witness_clock set noted_at = '-infinity';
select pg_temp.reply('109', 'd1', 'in flight');
select is(pg_temp.claim('s9', 2000), 'in flight', 'reply 109 is claimed and in flight');
create function pg_temp.witness_of_109() returns text language sql as $$
  select coalesce(witness_wamid, 'none') from svc.outbound_jobs where message_id = queue_test.id('109')
$$;
create function pg_temp.record_later_send(p_wamid text) returns void language sql as $$
  select svc.note_later_send((select claimed_at + interval '10 seconds' from svc.outbound_jobs where message_id = queue_test.id('109')), p_wamid)
$$;
select pg_temp.record_later_send('wamid.first');
select is(pg_temp.witness_of_109(), 'wamid.first', 'the first later send recorded makes it a witness');
update svc.outbound_jobs set witness_wamid = null where message_id = queue_test.id('109');
select pg_temp.record_later_send('wamid.second');
select is(pg_temp.witness_of_109(), 'none', 'another recorded within the interval does not look');
update svc.witness_clock set noted_at = noted_at - interval '1 second';
select pg_temp.record_later_send('wamid.third');
select is(pg_temp.witness_of_109(), 'wamid.third', 'one recorded after the interval does');

select * from finish();
rollback;
