-- A status that overtakes the record of its send (migration ..._status_handoff): it is
-- never lost. An early status whose wamid is recorded later is applied by the status
-- applier's next call, even when nobody calls svc.apply_early_statuses for it (a sender
-- that recorded at the same moment, before the early status committed); one whose
-- callback data names a send in its queue resolves that send when nobody is sending it
-- (held, or its lease expired), and is left to the sender otherwise; the sweep looks at
-- recent ones only, and never moves anything backwards. (That the callback path takes
-- the queue row first and never waits for a sender is shown with two sessions, in the
-- gateway's test status_handoff.rs.)
begin;
\ir fixtures/queues.sql
select plan(28);

insert into auth.users (id, email, raw_app_meta_data) values
  (queue_test.id('ad01'), 'admin@test.local', '{"role":"admin"}');
insert into public.contacts (id, phone, wa_id, full_name) values
  (queue_test.id('c1'), '34600000001', '34600000001', 'Ana'),
  (queue_test.id('c2'), '34600000002', '34600000002', 'Bea'),
  (queue_test.id('c3'), '34600000003', '34600000003', 'Carla'),
  (queue_test.id('c4'), '34600000004', '34600000004', 'Dora'),
  (queue_test.id('c5'), '34600000005', '34600000005', 'Eva');
insert into public.message_templates (id, name, content, wa_template_name, language_code) values
  (queue_test.id('e1'), 'Promo', 'Hola', 'promo_vip', 'es');
insert into public.broadcast_messages (id, name, content, status, scheduled_for, created_by, template_id, audience) values
  (queue_test.id('b1'), 'Promo', 'Hola', 'scheduled', now() - interval '1 minute', queue_test.id('ad01'), queue_test.id('e1'), '{"type":"explicit"}');
insert into public.broadcast_recipients (broadcast_id, contact_id)
select queue_test.id('b1'), queue_test.id('c' || n) from generate_series(1, 5) n;
select svc.start_due_broadcasts();

create function pg_temp.recipient(p_contact text) returns text language sql as $$
  select status || ' ' || coalesce(wa_message_id, '-')
    from public.broadcast_recipients where broadcast_id = queue_test.id('b1') and contact_id = queue_test.id(p_contact)
$$;
create function pg_temp.callback(p_contact text) returns text language sql as $$
  select 'broadcast:' || queue_test.id('b1') || ':' || queue_test.id(p_contact)
$$;

-- Callback data -------------------------------------------------------------------------------------
select is((select row(kind, message_id)::text from svc.parse_callback_data(queue_test.id('101')::text)),
  row('reply', queue_test.id('101'))::text, 'a reply''s callback data is its message id');
select is((select row(kind, broadcast_id, contact_id)::text from svc.parse_callback_data(pg_temp.callback('c1'))),
  row('broadcast', queue_test.id('b1'), queue_test.id('c1'))::text, 'a recipient''s is broadcast:<broadcast>:<contact>');
select is((select kind from svc.parse_callback_data('campaign-7')), null, 'anything else names no send of ours');
select is((select kind from svc.parse_callback_data('broadcast:not-a-uuid:' || queue_test.id('c1'))), null,
  'nor does a malformed one');

-- A sender recorded the wamid at the same moment: nobody applied the early status ----------------
select svc.claim_broadcast_recipients('w1', 'PN1', 1000, 5, 30, null, clock_timestamp());
-- The status came first and was kept (as the applier does when the send is busy).
insert into svc.early_statuses (wa_message_id, status, occurred_at, errors, callback_data)
values ('wamid.ana', 'delivered', now(), null, pg_temp.callback('c1'));
-- The sender's record, as if its svc.apply_early_statuses ran before that insert committed.
delete from svc.broadcast_queue where broadcast_id = queue_test.id('b1') and contact_id = queue_test.id('c1');
update public.broadcast_recipients set status = 'sent', sent_at = now(), wa_message_id = 'wamid.ana'
 where broadcast_id = queue_test.id('b1') and contact_id = queue_test.id('c1');
select is(svc.apply_queued_statuses(500) ->> 'early_recorded', '1',
  'the applier''s next call applies it, with no webhook pending');
select is(pg_temp.recipient('c1'), 'delivered wamid.ana', 'Ana is delivered');
select is((select count(*)::int from svc.early_statuses), 0, 'nothing is left waiting');

-- A status of a send in flight is left to its sender ---------------------------------------------
select is(svc.apply_delivery_status('wamid.bea', 'sent', now(), null, pg_temp.callback('c2')), 'unknown',
  'Bea''s sender holds a live lease: her status is kept as early, for the sender''s record');
select is(pg_temp.recipient('c2'), 'pending -', 'nothing is resolved behind the sender''s back');
select is(svc.apply_queued_statuses(500) ->> 'early_recorded', '0', 'nor by the applier''s sweep');

-- ... unless the sender never records it: once its lease expired, the status resolves it ---------
update svc.broadcast_queue set lease_expires_at = now() - interval '1 second' where contact_id = queue_test.id('c2');
select is(svc.apply_queued_statuses(500) ->> 'early_recorded', '1', 'the lease expired: taken');
select is(pg_temp.recipient('c2'), 'sent wamid.bea', 'Bea learns her wamid from the status');
select is((select count(*)::int from svc.broadcast_queue where contact_id = queue_test.id('c2')), 0,
  'and leaves the queue (the sender''s late record finds nothing to do)');
select is(svc.record_broadcast_sent(queue_test.id('b1'), queue_test.id('c2'), 'w1', 'wamid.bea'), false,
  'the sender''s record: the claim is no longer its own');

-- What the sweep leaves alone ---------------------------------------------------------------------
-- A status of a send made elsewhere (no callback of ours, wamid never recorded).
insert into svc.early_statuses (wa_message_id, status, occurred_at, errors, callback_data)
values ('wamid.elsewhere', 'delivered', now(), null, null);
-- One whose wamid was recorded, but which came more than 15 minutes ago.
insert into svc.early_statuses (wa_message_id, status, occurred_at, errors, received_at)
values ('wamid.ana', 'read', now(), null, now() - interval '16 minutes');
select is(svc.apply_queued_statuses(500) ->> 'early_recorded', '0', 'neither is taken');
select is((select count(*)::int from svc.early_statuses), 2, 'both stay (until the journal''s retention)');

-- Never backwards: a late early 'sent' is stale --------------------------------------------------------
insert into svc.early_statuses (wa_message_id, status, occurred_at, errors)
values ('wamid.ana', 'sent', now(), null);
select is(svc.apply_queued_statuses(500) ->> 'early_recorded', '1', 'a late sent of Ana''s is taken');
select is(pg_temp.recipient('c1'), 'delivered wamid.ana', 'and changes nothing');

-- Carla's send is held (her sender died); a status naming her resolves her at once.
update svc.broadcast_queue set lease_owner = null, lease_expires_at = null, held_since = now()
 where contact_id = queue_test.id('c3');
select is(svc.apply_delivery_status('wamid.carla', 'delivered', now(), null, pg_temp.callback('c3')), 'applied',
  'a status naming a held send: resolved and applied at once');
select is(pg_temp.recipient('c3'), 'delivered wamid.carla', 'Carla is delivered');

-- Dora's send: WhatsApp accepted it but the answer looked like an error, so her sender
-- lets her go to retry. The status parked while she was in flight resolves her at once,
-- before any claim could send her again.
select is(svc.apply_delivery_status('wamid.dora', 'sent', now(), null, pg_temp.callback('c4')), 'unknown',
  'Dora''s status comes while she is in flight: kept for her sender');
select is(svc.record_broadcast_retry(queue_test.id('b1'), queue_test.id('c4'), 'w1', 2, '500: no answer'), true,
  'her sender lets her go to retry');
select is(pg_temp.recipient('c4'), 'sent wamid.dora', 'the parked status resolved her in the same transaction');
select is((select count(*)::int from svc.broadcast_queue where contact_id = queue_test.id('c4')), 0,
  'so she is not in the queue to be sent twice');

-- Eva's template fails (WhatsApp's status says so); an admin retries her; the new send's
-- outcome is unknown (held). Her new status names her by callback data and resolves her:
-- the failed attempt's wamid doesn't stand in the way (it would be sent a third time).
select svc.record_broadcast_sent(queue_test.id('b1'), queue_test.id('c5'), 'w1', 'wamid.eva1');
select svc.apply_delivery_status('wamid.eva1', 'failed', now(), '[{"code": 131026, "title": "Message undeliverable"}]');
update public.broadcast_recipients set status = 'pending' where contact_id = queue_test.id('c5');
select is(pg_temp.recipient('c5'), 'pending -', 'a retried recipient forgets the failed attempt''s wamid');
select is(jsonb_array_length(svc.claim_broadcast_recipients('w2', 'PN1', 1000, 1, 30, null, clock_timestamp())), 1,
  'she is claimed again');
select svc.record_broadcast_failed(queue_test.id('b1'), queue_test.id('c5'), 'w2', 'unknown_outcome: timed out', false);
select is(svc.apply_delivery_status('wamid.eva2', 'delivered', now(), null, pg_temp.callback('c5')), 'applied',
  'the held retry is resolved by its own status');
select is(pg_temp.recipient('c5'), 'delivered wamid.eva2', 'Eva delivered, with the new wamid');

select * from finish();
rollback;
