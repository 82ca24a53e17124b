-- Outbound replies: queueing, metrics, claiming in order, the 24-hour window, leases,
-- the shared rate limit, pauses and outcomes.
begin;
\ir fixtures/queues.sql
select plan(43);

-- The cast (keys as in fixtures/queues.sql):
--   a001  the agent, assigned d1 and d2
--   c1, c2  two customers who wrote an hour ago; d1, d2 their conversations
--   c3    a customer who wrote 25 hours ago (outside the 24-hour window); d3 their conversation
--   f1    a message template, for d3
--   messages: 101-105 the agent's replies in d1, 201-205 in d2, 301-302 in d3
--   PN1   the business number the claims are for (PN2... rate-limit buckets of their own)
insert into auth.users (id, email, raw_app_meta_data) values
  (queue_test.id('a001'), 'agent@test.local', '{"role":"agent"}');
insert into public.contacts (id, phone, wa_id) values
  (queue_test.id('c1'), '34600000001', '34600000001'),
  (queue_test.id('c2'), '34600000002', '34600000002');
insert into public.conversations (id, contact_id, assigned_agent_id) values
  (queue_test.id('d1'), queue_test.id('c1'), queue_test.id('a001')),
  (queue_test.id('d2'), queue_test.id('c2'), queue_test.id('a001'));
-- Both customers wrote 1 hour ago (Meta's timestamps).
insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status, created_at, wa_message_id) values
  (queue_test.id('d1'), 'contact', queue_test.id('c1'), 'hola', 'text', 'delivered', now() - interval '1 hour', 'wamid.in1'),
  (queue_test.id('d2'), 'contact', queue_test.id('c2'), 'hola', 'text', 'delivered', now() - interval '1 hour', 'wamid.in2');

-- An agent's reply `p_id` (a key) in conversation `p_conv` (a key), pending: what the inbox inserts.
create function pg_temp.reply(p_id text, p_conv text, p_text text, p_type text default 'text', p_at timestamptz default now())
returns void language sql as $$
  insert into public.messages (id, conversation_id, sender_type, sender_id, content, message_type, status, created_at)
  values (queue_test.id(p_id), queue_test.id(p_conv), 'agent', queue_test.id('a001'), p_text, p_type, 'pending', p_at)
$$;
create function pg_temp.claim(p_owner text, p_limit int default 50, p_mps double precision default 1000, p_now timestamptz default clock_timestamp())
returns jsonb language sql as $$
  select svc.claim_outbound_messages(p_owner, 'PN1', p_mps, p_limit, 30, p_now)
$$;

-- Queueing and metrics -------------------------------------------------------------------------
select pg_temp.reply('101', 'd1', 'first');
select is((select count(*)::int from svc.outbound_jobs), 1, 'a pending agent message is queued');
select isnt((select first_response_time from public.conversations where id = queue_test.id('d1')), null,
  'the first agent reply sets first_response_time');
select ok((select first_response_time between interval '59 minutes' and interval '61 minutes' from public.conversations where id = queue_test.id('d1')),
  'first_response_time = first reply - first inbound message');
select isnt((select last_agent_response_at from public.conversations where id = queue_test.id('d1')), null,
  'last_agent_response_at is set');
select is((select last_message_at from public.conversations where id = queue_test.id('d1')),
  (select created_at from public.messages where id = queue_test.id('101')), 'last_message_at follows the reply');
select is((select last_contacted_at from public.contacts where id = queue_test.id('c1')),
  (select created_at from public.messages where id = queue_test.id('101')), 'contacts.last_contacted_at follows the reply');
select pg_temp.reply('102', 'd1', 'second', 'text', now() + interval '1 second');
select ok((select first_response_time < interval '61 minutes' from public.conversations where id = queue_test.id('d1')),
  'a second reply keeps the first response time');
insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status)
values (queue_test.id('d1'), 'agent', queue_test.id('a001'), 'imported', 'text', 'sent');
select is((select count(*)::int from svc.outbound_jobs), 2, 'only pending messages are queued');

-- Claiming: in order per contact ------------------------------------------------------------------
select pg_temp.reply('201', 'd2', 'other contact');
select is((select jsonb_agg(j ->> 'content' order by j ->> 'content') from jsonb_array_elements(pg_temp.claim('s1')) j),
  '["first", "other contact"]'::jsonb, 'one message per contact is claimed: the first of each');
select is(jsonb_array_length(pg_temp.claim('s2')), 0, 'the second message waits while the first is in flight');
select is((select lease_owner from svc.outbound_jobs where message_id = queue_test.id('101')), 's1', 'the claim is leased to its sender');
select is(svc.record_outbound_sent(queue_test.id('101'), 's2', 'wamid.x'), false, 'another sender cannot record it');
select is(svc.record_outbound_sent(queue_test.id('101'), 's1', 'wamid.out1'), true, 'its sender records it');
select is((select status || ' ' || wa_message_id from public.messages where id = queue_test.id('101')), 'sent wamid.out1',
  'sent with its wamid');
select is(svc.record_outbound_failed(queue_test.id('201'), 's1', '{"code":131026,"title":"undeliverable"}', false), true,
  'a permanent error fails the message');
select is((select status || ' ' || (error_data ->> 'code') from public.messages where id = queue_test.id('201')), 'failed 131026',
  'with error_data');
select is((select count(*)::int from svc.outbound_jobs where message_id = queue_test.id('201')), 0, 'and leaves the queue');
select is((select (pg_temp.claim('s2') -> 0 ->> 'content')), 'second', 'then the second message of that contact is claimable');
select is(svc.record_outbound_retry(queue_test.id('102'), 's2', 60, '{"code":130429}'), true, 'a retryable error requeues');
select is(jsonb_array_length(pg_temp.claim('s3')), 0, 'not before its delay');
select is((pg_temp.claim('s3', 50, 1000, clock_timestamp() + interval '61 seconds') -> 0 ->> 'attempts')::int, 2, 'after the delay it is claimed again, attempt 2');

-- Failures -------------------------------------------------------------------------------------------

select pg_temp.reply('202', 'd2', 'promo');
select is(jsonb_array_length(pg_temp.claim('s1')), 1, 'claim');
select svc.record_outbound_failed(queue_test.id('202'), 's1', '{"code":131050}', true);
select isnt((select opted_out_at from public.contacts where id = queue_test.id('c2')), null, '131050 opts the contact out');
-- The customer writes again after opting out: replies to them are possible again (templates
-- are not: 31-business-messages).
insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status, created_at) values
  (queue_test.id('d2'), 'contact', queue_test.id('c2'), 'one more question', 'text', 'delivered', now() + interval '1 millisecond');

-- Expired leases are unknown outcomes, never resent blindly -------------------------------------------------
select pg_temp.reply('203', 'd2', 'lost sender');
select is(jsonb_array_length(pg_temp.claim('dead')), 1, 'a sender claims and dies');
select is(jsonb_array_length(pg_temp.claim('alive', 50, 1000, clock_timestamp() + interval '31 seconds')), 0,
  'after the lease another sender does not resend it');
select is((select status || ' ' || (error_data ->> 'code') from public.messages where id = queue_test.id('203')),
  'pending checking_delivery', 'it is held: pending, checking whether it was delivered (32-held-outcomes)');
select pg_temp.claim('alive', 0, 1000, clock_timestamp() + interval '931 seconds');
select is((select status || ' ' || (error_data ->> 'code') from public.messages where id = queue_test.id('203')),
  'failed unknown_outcome', 'with no evidence within the hold it is labelled unknown_outcome for the agent');
select is(svc.record_outbound_sent(queue_test.id('203'), 'dead', 'wamid.late'), true,
  'if the first sender reports success after all');
select is((select status from public.messages where id = queue_test.id('203')), 'sent', 'the message becomes sent');

-- A status webhook carrying our callback data reconciles an unknown outcome ---------------------------
select pg_temp.reply('204', 'd2', 'lost answer');
select is(jsonb_array_length(pg_temp.claim('dead2')), 1, 'a sender claims, Meta accepts, the answer is lost');
select svc.record_outbound_failed(queue_test.id('204'), 'dead2', '{"code":"unknown_outcome"}', false);
select svc.apply_delivery_status('wamid.found', 'delivered', now(), null, queue_test.id('204')::text);
select is((select status || ' ' || wa_message_id from public.messages where id = queue_test.id('204')),
  'delivered wamid.found', 'its first status webhook (callback data = message id) tells the wamid and the status');
select is((select error_data from public.messages where id = queue_test.id('204')), null, 'and clears the unknown outcome');

-- Outcomes recorded in a batch ---------------------------------------------------------------------------
select pg_temp.reply('205', 'd2', 'batch a');
select pg_temp.reply('105', 'd1', 'batch b', 'text', now() + interval '5 seconds');
select is(svc.record_outbound_outcomes('nobody', jsonb_build_array(jsonb_build_object('message_id', queue_test.id('205'), 'outcome', 'sent', 'wamid', 'w'))),
  '[false]'::jsonb, 'a batch answers false for a claim that is not the caller''s');
select is((select jsonb_agg(j ->> 'content' order by j ->> 'content') from jsonb_array_elements(pg_temp.claim('sb')) j) ? 'batch a', true,
  'the batch message is claimed');
select is(svc.record_outbound_outcomes('sb', jsonb_build_array(jsonb_build_object('message_id', queue_test.id('205'), 'outcome', 'sent', 'wamid', 'wamid.batch.a'))),
  '[true]'::jsonb, 'and true for its own, recorded like record_outbound_sent');

-- The 24-hour window ------------------------------------------------------------------------------------
insert into public.contacts (id, phone, wa_id) values (queue_test.id('c3'), '34600000003', '34600000003');
insert into public.conversations (id, contact_id) values (queue_test.id('d3'), queue_test.id('c3'));
insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status, created_at) values
  (queue_test.id('d3'), 'contact', queue_test.id('c3'), 'old', 'text', 'delivered', now() - interval '25 hours');
select pg_temp.reply('301', 'd3', 'too late');
select is(jsonb_array_length(pg_temp.claim('s1')), 0, 'a free-form message outside the window is not handed out');
select is((select status || ' ' || (error_data ->> 'code') from public.messages where id = queue_test.id('301')),
  'failed 131047', 'it fails at once, explaining a template is needed');
insert into public.message_templates (id, name, content, wa_template_name, language_code)
values (queue_test.id('f1'), 'Follow-up', 'template', 'follow_up', 'es');
insert into public.messages (id, conversation_id, sender_type, sender_id, message_type, status, template_id)
values (queue_test.id('302'), queue_test.id('d3'), 'agent', queue_test.id('a001'),
        'template', 'pending', queue_test.id('f1'));
select is((pg_temp.claim('s1') -> 0 ->> 'message_type'), 'template', 'a template goes outside the window');
select svc.record_outbound_sent(queue_test.id('302'), 's1', 'wamid.t1');

-- Rate limit -----------------------------------------------------------------------------------------
-- (Granting, the ceiling and slow claims: 33-send-slots.sql, on exact times.)
select throws_ok($$ select svc.take_send_tokens('PN3', 1, 0) $$, '22023', 'max messages per second must be a whole number of at least 1', 'a zero limit is refused');
select throws_ok($$ select svc.take_send_tokens('PN3', 1, 1.5) $$, '22023', 'max messages per second must be a whole number of at least 1',
  'so is a fractional one (1.5/s would allow 2 grants in a second)');

-- Pauses -----------------------------------------------------------------------------------------------
select pg_temp.reply('103', 'd1', 'paused 1', 'text', now() + interval '2 seconds');
select svc.record_outbound_sent(queue_test.id('102'), 's3', 'wamid.102');
select svc.pause_sending('PN1', '{"code":190,"title":"token expired"}', 30);
select is(jsonb_array_length(pg_temp.claim('s1')), 0, 'a paused number hands out nothing');
-- (Later than every claim above, at +61 s.)
select is((pg_temp.claim('s1', 50, 1000, clock_timestamp() + interval '62 seconds') -> 0 ->> 'probe')::boolean, true,
  'after the probe interval one probe message is handed out');
select is(svc.resume_sending('PN1'), true, 'a successful probe resumes sending');

select * from finish();
rollback;
