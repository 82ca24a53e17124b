-- Accepted broadcast sends recorded in bulk (migration ..._bulk_recorded_sends): one call
-- with every kind of outcome answers, in order, whether each claim was the caller's, and
-- leaves each recipient as the single-row functions would: accepted sends recorded with
-- their wamid and the statuses that overtook them applied, a held send resolved, failures
-- and retries as before, someone else's claim untouched.
begin;
\ir fixtures/queues.sql
select plan(12);

insert into auth.users (id, email, raw_app_meta_data) values
  (queue_test.id('ad01'), 'admin@test.local', '{"role":"admin"}');
insert into public.message_templates (id, name, content, wa_template_name, language_code) values
  (queue_test.id('e1'), 'Promo', 'Hola', 'promo_vip', 'es');
insert into public.broadcast_messages (id, name, content, status, scheduled_for, created_by, template_id, audience) values
  (queue_test.id('b1'), 'Promo', 'Hola', 'scheduled', now() - interval '1 minute', queue_test.id('ad01'), queue_test.id('e1'), '{"type":"explicit"}');
insert into public.contacts (id, phone, wa_id, full_name)
select queue_test.id('c' || i), '3460000000' || i, '3460000000' || i, 'Cliente ' || i from generate_series(1, 5) i;
insert into public.broadcast_recipients (broadcast_id, contact_id)
select queue_test.id('b1'), queue_test.id('c' || i) from generate_series(1, 5) i;
select svc.start_due_broadcasts();
select is(jsonb_array_length(svc.claim_broadcast_recipients('w1', 'PN1', 1000, 5, 30, null, clock_timestamp())), 5,
  'w1 claims all five');

-- c4's lease ran out (held); c5 was claimed again by w2; c1's 'delivered' came before her record.
update svc.broadcast_queue set lease_owner = null, lease_expires_at = null, held_since = now()
 where contact_id = queue_test.id('c4');
update svc.broadcast_queue set lease_owner = 'w2' where contact_id = queue_test.id('c5');
insert into svc.early_statuses (wa_message_id, status, occurred_at, errors) values ('wamid.c1', 'delivered', now(), null);

create function pg_temp.outcome(p_kind text, p_contact text, p_extra jsonb default '{}') returns jsonb language sql as $$
  select jsonb_build_object('outcome', p_kind, 'broadcast_id', queue_test.id('b1'), 'contact_id', queue_test.id(p_contact)) || p_extra
$$;
create function pg_temp.recipient(p_contact text) returns text language sql as $$
  select status || ' ' || coalesce(wa_message_id, '-') || ' ' || coalesce(split_part(error_message, ':', 1), '-')
    from public.broadcast_recipients where broadcast_id = queue_test.id('b1') and contact_id = queue_test.id(p_contact)
$$;
create function pg_temp.queued(p_contact text) returns text language sql as $$
  select coalesce((select coalesce(lease_owner, case when held_since is not null then 'held' else 'waiting' end)
                     from svc.broadcast_queue where contact_id = queue_test.id(p_contact)), 'gone')
$$;

select is(svc.record_broadcast_outcomes('w1', jsonb_build_array(
    pg_temp.outcome('sent', 'c1', '{"wamid": "wamid.c1"}'),
    pg_temp.outcome('failed', 'c2', '{"error_message": "131026: Message Undeliverable", "opted_out": false}'),
    pg_temp.outcome('retry', 'c3', '{"delay_seconds": 0, "error_message": "130429: Rate limit hit"}'),
    pg_temp.outcome('sent', 'c4', '{"wamid": "wamid.c4"}'),
    pg_temp.outcome('sent', 'c5', '{"wamid": "wamid.c5"}'))),
  '[true, true, true, true, false]'::jsonb,
  'the answer, in order: ours, ours, ours, ours (held, now known), not ours');
select is(pg_temp.recipient('c1'), 'delivered wamid.c1 -', 'c1 recorded, and her early delivered applied');
select is(pg_temp.queued('c1'), 'gone', 'c1 left the queue');
select is(pg_temp.recipient('c2'), 'failed - 131026', 'c2 failed');
select is(pg_temp.recipient('c3'), 'pending - -', 'c3 still pending');
select is(pg_temp.queued('c3'), 'waiting', 'c3 back in the queue');
select is(pg_temp.recipient('c4') || ' ' || pg_temp.queued('c4'), 'sent wamid.c4 - gone', 'the held c4 resolved as sent');
select is(pg_temp.recipient('c5') || ' ' || pg_temp.queued('c5'), 'pending - - w2', 'w2''s claim untouched');
select is((select count(*)::int from svc.early_statuses), 0, 'no status left waiting');

-- Without an owner nothing is anyone's claim: the waiting c3 is not recorded (the bulk
-- pass matches leases by key with "is not distinct from", migration ..._outcomes_by_key).
select is(svc.record_broadcast_outcomes(null, jsonb_build_array(pg_temp.outcome('sent', 'c3', '{"wamid": "wamid.c3"}'))),
  '[false]'::jsonb, 'no owner: the answer is not ours');
select is(pg_temp.recipient('c3') || ' ' || pg_temp.queued('c3'), 'pending - - waiting', 'no owner: c3 untouched, still waiting');

select * from finish();
rollback;
