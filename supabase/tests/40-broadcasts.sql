-- Broadcasts: starting exactly once, audiences, skipping, claiming under the limits,
-- at most once per recipient, completion and cancellation.
begin;
\ir fixtures/queues.sql
select plan(49);

-- The cast (keys as in fixtures/queues.sql):
--   ad01  the admin who schedules the broadcasts
--   e1    the 'VIP' template, its parameter filled from the contact's name
--   contacts  c1 Ana (vip), c2 Bea (vip, nuevo), c3 Carla (vip, blocked),
--             c4 Dani (vip, opted out), c5 Eva (mayorista); d5 is Eva's conversation
--   broadcasts  b1 due, to the vip tag; b2 scheduled in an hour, explicit;
--               later: b3 without a template, b4 explicit (c1, c3), b5 mayorista tag plus c1, c5
insert into auth.users (id, email, raw_app_meta_data) values
  (queue_test.id('ad01'), 'admin@test.local', '{"role":"admin"}');
insert into public.message_templates (id, name, content, wa_template_name, language_code, parameters) values
  (queue_test.id('e1'), 'VIP', 'Hola {{1}}', 'promo_vip', 'es', '["contact.full_name"]');
insert into public.contacts (id, phone, wa_id, full_name, tags, status, opted_out_at) values
  (queue_test.id('c1'), '34600000001', '34600000001', 'Ana', '{vip}', 'active', null),
  (queue_test.id('c2'), '34600000002', '34600000002', 'Bea', '{vip,nuevo}', 'active', null),
  (queue_test.id('c3'), '34600000003', '34600000003', 'Carla', '{vip}', 'blocked', null),
  (queue_test.id('c4'), '34600000004', '34600000004', 'Dani', '{vip}', 'active', now()),
  (queue_test.id('c5'), '34600000005', '34600000005', 'Eva', '{mayorista}', 'active', null);
insert into public.broadcast_messages (id, name, content, status, scheduled_for, created_by, template_id, audience) values
  (queue_test.id('b1'), 'VIP', 'Hola', 'scheduled', now() - interval '1 minute',
   queue_test.id('ad01'), queue_test.id('e1'), '{"type":"tags","tags":["vip"]}'),
  (queue_test.id('b2'), 'Later', 'Hola', 'scheduled', now() + interval '1 hour',
   queue_test.id('ad01'), queue_test.id('e1'), '{"type":"explicit"}');

create function pg_temp.claim(p_owner text, p_limit int default 100, p_now timestamptz default clock_timestamp(), p_messaging_limit int default null)
returns jsonb language sql as $$
  select svc.claim_broadcast_recipients(p_owner, 'PN1', 1000, p_limit, 30, p_messaging_limit, p_now)
$$;

-- Starting --------------------------------------------------------------------------------
select is(jsonb_array_length(svc.start_due_broadcasts()), 1, 'only the due broadcast starts');
select is((select status from public.broadcast_messages where id = queue_test.id('b1')), 'sending', 'it is sending');
select is(jsonb_array_length(svc.start_due_broadcasts()), 0, 'and starts only once');
select is((select count(*)::int from public.broadcast_recipients where broadcast_id = queue_test.id('b1')), 4,
  'the tag audience is materialized (4 vip contacts)');
select is((select error_message from public.broadcast_recipients where contact_id = queue_test.id('c3')),
  'skipped: contact is blocked', 'a blocked contact is recorded as skipped');
select is((select error_message from public.broadcast_recipients where contact_id = queue_test.id('c4')),
  'skipped: contact opted out', 'an opted-out contact is recorded as skipped');
select is((select count(*)::int from svc.broadcast_queue), 2, 'the two others are queued');

-- Claiming ---------------------------------------------------------------------------------
select is((select jsonb_agg(c -> 'parameters' ->> 0 order by c ->> 'to') from jsonb_array_elements(pg_temp.claim('w1', 1)) c),
  '["Ana"]'::jsonb, 'a claim carries the template parameters filled from the contact');
select is(jsonb_array_length(pg_temp.claim('w2')), 1, 'a second worker gets only what is left');
select is(jsonb_array_length(pg_temp.claim('w3')), 0, 'nothing is claimed twice');

-- Replies come first.
insert into public.conversations (id, contact_id) values (queue_test.id('d5'), queue_test.id('c5'));
insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status, created_at)
values (queue_test.id('d5'), 'contact', queue_test.id('c5'), 'hola', 'text', 'delivered', now());
insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status)
values (queue_test.id('d5'), 'agent', queue_test.id('ad01'), 'respuesta', 'text', 'pending');
update public.broadcast_recipients set status = 'pending' where false;
select svc.record_broadcast_retry(queue_test.id('b1'), queue_test.id('c2'), 'w2', 0, 'throttled');
select is(jsonb_array_length(pg_temp.claim('w3')), 0, 'a waiting reply holds broadcasts back');
delete from svc.outbound_jobs;
select is(jsonb_array_length(pg_temp.claim('w3')), 1, 'once the reply is gone the retried recipient is claimed again');

-- Recording ---------------------------------------------------------------------------------
select is(svc.record_broadcast_sent(queue_test.id('b1'), queue_test.id('c1'), 'w1', 'wamid.b1'), true,
  'the claiming worker records a send');
select is((select status || ' ' || wa_message_id from public.broadcast_recipients where contact_id = queue_test.id('c1')),
  'sent wamid.b1', 'the recipient is sent with its wamid');
select is(svc.record_broadcast_sent(queue_test.id('b1'), queue_test.id('c2'), 'w1', 'wamid.x'), false,
  'a worker cannot record another''s claim');

-- A worker that dies: unknown outcome, never resent ------------------------------------------
select is(jsonb_array_length(pg_temp.claim('w4', 100, clock_timestamp() + interval '31 seconds')), 0, 'an expired lease is not handed out again');
select alike((select status || ' ' || error_message from public.broadcast_recipients where contact_id = queue_test.id('c2')),
  'pending checking_delivery:%', 'it is held: pending, checking whether it was delivered (32-held-outcomes)');
select pg_temp.claim('w4', 0, clock_timestamp() + interval '931 seconds');
select alike((select error_message from public.broadcast_recipients where contact_id = queue_test.id('c2')),
  'unknown_outcome:%', 'with no evidence within the hold the recipient is labelled unknown_outcome');
select is((select status from public.broadcast_messages where id = queue_test.id('b1')), 'sending', 'still sending before completion runs');
select is(svc.complete_finished_broadcasts(), 1, 'with nothing left the broadcast completes');
select isnt((select sent_at from public.broadcast_messages where id = queue_test.id('b1')), null, 'with sent_at');

-- Status webhooks reach recipients ------------------------------------------------------------
select svc.apply_delivery_status('wamid.b1', 'delivered', now(), null);
select is((select status from public.broadcast_recipients where wa_message_id = 'wamid.b1'), 'delivered', 'a delivered status reaches the recipient');

-- Admin retry of an unknown outcome re-queues it (while the broadcast is sending) ------------
update public.broadcast_recipients set status = 'pending' where contact_id = queue_test.id('c2');
select is((select status || ' ' || (sent_at is not null)::text from public.broadcast_messages where id = queue_test.id('b1')), 'sending true',
  'retrying a recipient of a completed broadcast reopens it until the recipient is final (keeping when it first completed)');
select is((select count(*)::int from svc.broadcast_queue), 1, 'setting a failed recipient back to pending queues it again');
select is((select error_message from public.broadcast_recipients where contact_id = queue_test.id('c2')), null, 'and clears the error');

-- Messaging limit -------------------------------------------------------------------------------
select is(jsonb_array_length(pg_temp.claim('w6', 100, clock_timestamp(), 1)), 0, 'with the messaging limit used up nothing is claimed');
select alike((select status_detail from public.broadcast_messages where id = queue_test.id('b1')),
  'waiting: messaging limit of 1 %', 'and the broadcast says why');
select is(jsonb_array_length(pg_temp.claim('w6', 100, clock_timestamp(), 2)), 1, 'a higher limit lets it go on');
-- The estimate claims use: an exact count at most 5 s old, plus every lease since.
select svc.record_broadcast_retry(queue_test.id('b1'), queue_test.id('c2'), 'w6', 0, 'later');
update svc.broadcast_limit_tally set counted_at = counted_at - interval '1 hour';
select is(svc.broadcast_users_estimate(clock_timestamp()), svc.broadcast_users_in_last_24h(clock_timestamp()),
  'a stale tally is replaced by an exact count');
select is((select claimed_since from svc.broadcast_limit_tally), 0::bigint, 'which starts with nothing leased since');
select is(jsonb_array_length(pg_temp.claim('w7', 100, clock_timestamp(), 1000)), 1, 'a claim under the limit');
select is((select claimed_since from svc.broadcast_limit_tally), 1::bigint, 'adds what it leased to the tally');
select is(svc.broadcast_users_estimate(clock_timestamp()), (select users + 1 from svc.broadcast_limit_tally),
  'within 5 seconds the estimate is the count plus the leases since, without counting again');
select cmp_ok(svc.broadcast_users_estimate(clock_timestamp()), '>=', svc.broadcast_users_in_last_24h(clock_timestamp()),
  'the estimate is never below the exact count');
select is(svc.broadcast_users_estimate(clock_timestamp() + interval '6 seconds'), svc.broadcast_users_in_last_24h(clock_timestamp() + interval '6 seconds'),
  'after 5 seconds it counts again');
select is((select claimed_since from svc.broadcast_limit_tally), 0::bigint, 'and starts the leases over');
select svc.record_broadcast_retry(queue_test.id('b1'), queue_test.id('c2'), 'w7', 0, 'later');

-- Cancelling stops claiming ------------------------------------------------------------------
update public.broadcast_messages set status = 'cancelled' where id = queue_test.id('b1');
select is((select count(*)::int from svc.broadcast_queue where lease_owner is null), 0, 'cancelling takes the waiting recipients out of the queue');
select is(jsonb_array_length(pg_temp.claim('w5')), 0, 'a cancelled broadcast is not claimed');

-- A status webhook carrying the broadcast callback data reconciles an unknown outcome --------
insert into public.broadcast_recipients (broadcast_id, contact_id, status, error_message)
values (queue_test.id('b1'), queue_test.id('c5'), 'failed', 'unknown_outcome: the worker stopped');
select svc.apply_delivery_status('wamid.found.b', 'delivered', now(), null,
  'broadcast:' || queue_test.id('b1') || ':' || queue_test.id('c5'));
select is((select status || ' ' || wa_message_id from public.broadcast_recipients where contact_id = queue_test.id('c5')),
  'delivered wamid.found.b', 'its status webhook tells the wamid and the status');

-- No template: never sent --------------------------------------------------------------------------
insert into public.broadcast_messages (id, name, content, status, scheduled_for, audience)
values (queue_test.id('b3'), 'No template', 'x', 'scheduled', now() - interval '1 minute', '{"type":"explicit"}');
select svc.start_due_broadcasts();
select is((select status from public.broadcast_messages where id = queue_test.id('b3')), 'cancelled',
  'a broadcast without a template is not sent');

-- Recipients added by hand: an explicit audience, and a tag audience on top of them ------------
insert into public.broadcast_messages (id, name, content, status, scheduled_for, template_id, audience) values
  (queue_test.id('b4'), 'Explicit', 'Hola', 'scheduled', now() - interval '1 minute',
   queue_test.id('e1'), '{"type":"explicit"}'),
  (queue_test.id('b5'), 'Tags plus', 'Hola', 'scheduled', now() - interval '1 minute',
   queue_test.id('e1'), '{"type":"tags","tags":["mayorista"]}');
insert into public.broadcast_recipients (broadcast_id, contact_id) values
  (queue_test.id('b4'), queue_test.id('c1')),
  (queue_test.id('b4'), queue_test.id('c3')),
  (queue_test.id('b5'), queue_test.id('c5')),
  (queue_test.id('b5'), queue_test.id('c1'));
select is((select jsonb_object_agg(right(e ->> 'id', 2), jsonb_build_array(e -> 'queued', e -> 'skipped'))
             from jsonb_array_elements(svc.start_due_broadcasts()) e),
  '{"b4": [1, 1], "b5": [2, 0]}'::jsonb,
  'explicit recipients are queued or skipped; a tag audience adds to those already there without duplicates');
select is((select error_message from public.broadcast_recipients
            where broadcast_id = queue_test.id('b4') and contact_id = queue_test.id('c3')),
  'skipped: contact is blocked', 'a blocked explicit recipient is recorded as skipped');
select is((select array_agg(right(contact_id::text, 2) order by seq) from svc.broadcast_queue
            where broadcast_id = queue_test.id('b5')),
  array['c1', 'c5'], 'recipients are queued in contact order');

-- The queue's link to its recipients (per-statement triggers, in place of a foreign key) -------
select throws_ok($$insert into svc.broadcast_queue (broadcast_id, contact_id)
                   values (queue_test.id('b4'), queue_test.id('c2'))$$,
  '23503', null, 'a queue row needs its recipient');
select throws_ok($$update svc.broadcast_queue set contact_id = queue_test.id('c2')
                    where broadcast_id = queue_test.id('b4')$$,
  '23503', null, 'and keeps one when its keys change');
select throws_ok($$update public.broadcast_recipients set contact_id = queue_test.id('c2')
                    where broadcast_id = queue_test.id('b5') and contact_id = queue_test.id('c1')$$,
  '23503', null, 'a queued recipient keeps its keys');
delete from public.broadcast_recipients
 where broadcast_id = queue_test.id('b5') and contact_id = queue_test.id('c5');
select is((select array_agg(right(contact_id::text, 2)) from svc.broadcast_queue where broadcast_id = queue_test.id('b5')),
  array['c1'], 'deleting a recipient takes it out of the queue');
select throws_ok('truncate public.broadcast_recipients', '0A000', null, 'the recipients are not truncated without the queue');
select lives_ok('truncate public.broadcast_recipients, svc.broadcast_queue', 'but with it');

select * from finish();
rollback;
