-- Statuses of broadcast recipients applied in bulk (migration ..._bulk_recipient_statuses)
-- end exactly where applying them one at a time would: two identical sets of recipients
-- in every starting state get the same random statuses (duplicates, out of order, read
-- before delivered, with and without pricing); one set through svc.apply_recipient_statuses, the other through
-- svc.apply_delivery_status one by one in Meta's time order (and svc.record_pricing). And the applier's batches
-- take the bulk path for recipients and the old path for everything else.
begin;
\ir fixtures/queues.sql
select plan(16);

select setseed(0.42);
insert into auth.users (id, email, raw_app_meta_data) values
  (queue_test.id('ad01'), 'admin@test.local', '{"role":"admin"}');
insert into public.message_templates (id, name, content, wa_template_name, language_code) values
  (queue_test.id('e1'), 'Promo', 'Hola', 'promo_vip', 'es');
insert into public.broadcast_messages (id, name, content, status, scheduled_for, created_by, template_id, audience) values
  (queue_test.id('b1'), 'Promo', 'Hola', 'scheduled', now() - interval '1 minute', queue_test.id('ad01'), queue_test.id('e1'), '{"type":"explicit"}');
insert into public.contacts (id, phone, wa_id, full_name)
select queue_test.id('c' || i), '3460' || lpad(i::text, 7, '0'), '3460' || lpad(i::text, 7, '0'), 'Cliente ' || i
  from generate_series(1, 400) i;
insert into public.broadcast_recipients (broadcast_id, contact_id)
select queue_test.id('b1'), queue_test.id('c' || i) from generate_series(1, 400) i;

-- Recipient i (1-200, bulk) and i + 200 (one by one) start alike: pending, sent, delivered
-- or failed, some with times already set.
create temporary table start_state as
select i, (array['pending', 'sent', 'delivered', 'failed'])[1 + floor(random() * 4)::int] as status,
       case when random() < 0.5 then timestamptz '2026-12-01 10:00:00' + random() * interval '1 hour' end as sent_at,
       timestamptz '2026-12-01 10:30:00' + random() * interval '1 hour' as delivered_at,
       (array[null, '{"billable": true, "pricing_model": "PMP", "category": "marketing", "type": "regular", "at": "1764583200"}',
              '{"billable": false, "pricing_model": "PMP", "category": "utility", "type": "free_customer_service", "at": "1764583200"}'])
         [1 + floor(random() * 3)::int]::jsonb as pricing
  from generate_series(1, 200) i;
update public.broadcast_recipients r
   set status = s.status,
       wa_message_id = 'wamid.' || (case when k.twin then 'b' else 'a' end) || s.i,
       sent_at = case when s.status = 'pending' then null else s.sent_at end,
       delivered_at = case when s.status = 'delivered' then s.delivered_at end,
       pricing = s.pricing
  from start_state s, (values (false, 0), (true, 200)) k(twin, shift)
 where r.contact_id = queue_test.id('c' || (s.i + k.shift));

-- Up to five statuses each (sent, delivered, read, duplicates), random times, random order.
create temporary table events as
select i, n, (array['sent', 'delivered', 'read'])[1 + floor(random() * 3)::int] as status,
       timestamptz '2026-12-01 10:00:00' + random() * interval '2 hours' as at,
       -- No pricing, pricing that is not Meta's shape (billable not a boolean), or one of two.
       (array[null, '{"billable": "yes", "category": "marketing"}',
              '{"billable": true, "pricing_model": "PMP", "category": "marketing", "type": "regular"}',
              '{"billable": false, "pricing_model": "PMP", "category": "utility", "type": "free_customer_service"}'])
         [1 + floor(random() * 4)::int]::jsonb as pricing
  from generate_series(1, 200) i, generate_series(1, 1 + floor(random() * 5)::int) n;

create function pg_temp.statuses(p_prefix text) returns jsonb language sql as $$
  select jsonb_agg(jsonb_build_object('wamid', 'wamid.' || p_prefix || e.i, 'status', e.status,
           'timestamp', e.at, 'recipient_id', '34600000000', 'errors', null, 'pricing', e.pricing) order by random())
    from events e
$$;

create temporary table bulk_result as select svc.apply_recipient_statuses(pg_temp.statuses('a')) as r;
create temporary table one_by_one as
select svc.apply_delivery_status('wamid.b' || e.i, e.status, e.at, null) as outcome
  from (select * from events order by i, at, n) e;
select svc.record_pricing(pg_temp.statuses('b'));

select is((select (r ->> 'applied')::int from bulk_result),
          (select count(*)::int from one_by_one where outcome = 'applied'),
  'as many statuses applied as one at a time');
select is((select (r ->> 'stale')::int from bulk_result),
          (select count(*)::int from one_by_one where outcome = 'stale'),
  'as many stale');
select is((select jsonb_array_length(r -> 'wamids') from bulk_result), 200, 'every recipient taken');
select ok((select count(*) from one_by_one where outcome = 'applied') > 100, 'a good share of statuses moved someone');
select is(
  (select count(*)::int from public.broadcast_recipients a
     join public.broadcast_recipients b on b.wa_message_id = replace(a.wa_message_id, 'wamid.a', 'wamid.b')
    where a.wa_message_id like 'wamid.a%'
      and (a.status, a.sent_at, a.delivered_at) is not distinct from (b.status, b.sent_at, b.delivered_at)),
  200, 'every recipient ends in the same status, with the same sent_at and delivered_at');
select is(
  (select count(*)::int from public.broadcast_recipients a
     join public.broadcast_recipients b on b.wa_message_id = replace(a.wa_message_id, 'wamid.a', 'wamid.b')
    where a.wa_message_id like 'wamid.a%' and a.pricing is not distinct from b.pricing),
  200, 'every recipient ends with the same pricing as svc.record_pricing gives');
select ok((select count(*) from public.broadcast_recipients r join start_state s on r.wa_message_id = 'wamid.a' || s.i
            where s.pricing is null and r.pricing is not null) > 20, 'recipients without pricing got the batch''s');
select ok((select count(*) from public.broadcast_recipients r join start_state s on r.wa_message_id = 'wamid.a' || s.i
            where s.pricing is not null and r.pricing - 'at' <> s.pricing - 'at' and r.pricing ->> 'at' = '1764583200') > 5,
  'a changed pricing keeps the time it was first recorded');
select is((select count(*)::int from public.broadcast_recipients r join start_state s on r.wa_message_id = 'wamid.a' || s.i
            where s.status in ('delivered', 'failed') and r.status <> s.status), 0,
  'nothing moved a delivered or failed recipient');
select ok((select bool_and(status = 'delivered') from public.broadcast_recipients r
            where r.wa_message_id like 'wamid.a%'
              and exists (select 1 from events e where 'wamid.a' || e.i = r.wa_message_id and e.status <> 'sent')
              and exists (select 1 from start_state s where 'wamid.a' || s.i = r.wa_message_id and s.status in ('pending', 'sent'))),
  'a delivered or read status delivers a pending or sent recipient');

-- Through the applier: a batch mixing recipients, an agent's message and a failed status ------
insert into public.contacts (id, phone, wa_id, full_name) values (queue_test.id('c900'), '34611000001', '34611000001', 'Lucía');
insert into public.conversations (id, contact_id) values (queue_test.id('d900'), queue_test.id('c900'));
insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status, wa_message_id)
values (queue_test.id('d900'), 'agent', queue_test.id('ad01'), 'respuesta', 'text', 'sent', 'wamid.reply');
insert into public.contacts (id, phone, wa_id, full_name) values
  (queue_test.id('c901'), '34611000002', '34611000002', 'Ana'), (queue_test.id('c902'), '34611000003', '34611000003', 'Bea');
insert into public.broadcast_recipients (broadcast_id, contact_id, status, wa_message_id, sent_at) values
  (queue_test.id('b1'), queue_test.id('c901'), 'sent', 'wamid.ana', now()),
  (queue_test.id('b1'), queue_test.id('c902'), 'sent', 'wamid.bea', now());
-- Ana's send witnesses a held send of Carla's (a queue row of the broadcast).
insert into svc.broadcast_queue (broadcast_id, contact_id, held_since, witness_wamid, claimed_at)
values (queue_test.id('b1'), queue_test.id('c1'), now(), 'wamid.ana', now() - interval '1 minute');

create function pg_temp.webhook(p_wamid text, p_status text, p_errors jsonb default null) returns jsonb language sql as $$
  select jsonb_build_object('payload', '{}'::jsonb, 'events', jsonb_build_object('messages', '[]'::jsonb,
    'statuses', jsonb_build_array(jsonb_build_object('wamid', p_wamid, 'status', p_status, 'timestamp', now(),
      'recipient_id', '34611000001', 'errors', p_errors,
      'pricing', '{"billable": true, "pricing_model": "PMP", "category": "marketing", "type": "regular"}'::jsonb))),
    'parse_error', null)
$$;
select svc.ingest_webhooks(jsonb_build_array(
  pg_temp.webhook('wamid.ana', 'delivered'),
  pg_temp.webhook('wamid.reply', 'read'),
  pg_temp.webhook('wamid.bea', 'failed', '[{"code": 131026, "title": "Message undeliverable"}]'),
  pg_temp.webhook('wamid.nobody', 'delivered')));
select is(svc.apply_queued_statuses(500) - 'early_recorded',
  '{"webhooks": 4, "failed": 0, "statuses_applied": 3, "statuses_stale": 0, "statuses_early": 1}'::jsonb,
  'one batch: the recipient in bulk, the message, the failed recipient and the unknown wamid as before');
select is((select status from public.broadcast_recipients where wa_message_id = 'wamid.ana'), 'delivered', 'Ana delivered');
select is((select status from public.messages where wa_message_id = 'wamid.reply'), 'read', 'the reply read');
select is((select array[(select pricing ->> 'category' from public.broadcast_recipients where wa_message_id = 'wamid.ana'),
                        (select pricing ->> 'category' from public.messages where wa_message_id = 'wamid.reply')]),
          array['marketing', 'marketing'], 'the pricing of the bulk recipient and of the reply are both recorded');
select is((select status from public.broadcast_recipients where wa_message_id = 'wamid.bea'), 'failed', 'Bea failed');
select isnt((select evidence_at from svc.broadcast_queue where contact_id = queue_test.id('c1')), null,
  'Ana''s status is evidence for the held send she witnesses');

select * from finish();
rollback;
