-- Acknowledge fast, apply in bulk, customers first (migration ..._queued_statuses):
-- svc.ingest_webhooks journals a status-only webhook as pending (durable, not applied)
-- and applies webhooks with customers' messages at once; svc.apply_queued_statuses
-- applies pending ones oldest first, many per call, never backwards, duplicates stale,
-- bad ones journaled as failed without losing the others.
begin;
select plan(21);

create function pg_temp.msg(p_wamid text, p_from text, p_ts text)
returns jsonb language sql as $$
  select jsonb_build_object('wamid', p_wamid, 'from', p_from, 'user_id', null, 'profile_name', 'Lucía',
    'timestamp', p_ts, 'message_type', 'text', 'content', 'hola', 'metadata', '{}'::jsonb, 'context_wamid', null)
$$;
create function pg_temp.status(p_wamid text, p_status text, p_ts text)
returns jsonb language sql as $$
  select jsonb_build_object('wamid', p_wamid, 'status', p_status, 'timestamp', p_ts,
    'recipient_id', '34611000001', 'errors', null)
$$;
-- One webhook as the gateway sends it.
create function pg_temp.webhook(p_messages jsonb default '[]', p_statuses jsonb default '[]')
returns jsonb language sql as $$
  select jsonb_build_object('payload', '{"object":"whatsapp_business_account"}'::jsonb,
    'events', jsonb_build_object('messages', p_messages, 'statuses', p_statuses), 'parse_error', null)
$$;
create function pg_temp.status_of(p_wamid text) returns text language sql as $$
  select status from public.messages where wa_message_id = p_wamid
$$;

-- The cast: Lucía (34611000001) wrote; an agent's reply to her went out as wamid.Q1, another as wamid.Q2.
select svc.ingest_webhook('{}', jsonb_build_object('messages', jsonb_build_array(
  pg_temp.msg('wamid.QIN', '34611000001', '2026-11-20T10:00:00Z')), 'statuses', '[]'::jsonb));
insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status, wa_message_id)
select c.id, 'agent', gen_random_uuid(), 'respuesta ' || w, 'text', 'sent', w
  from public.conversations c join public.contacts k on k.id = c.contact_id, unnest(array['wamid.Q1', 'wamid.Q2']) w
 where k.wa_id = '34611000001';

-- Acknowledging ----------------------------------------------------------------------------------
create temporary table acked as
select svc.ingest_webhooks(jsonb_build_array(
  pg_temp.webhook('[]', jsonb_build_array(pg_temp.status('wamid.Q1', 'read', '2026-11-20T10:02:00Z'))),
  pg_temp.webhook(jsonb_build_array(pg_temp.msg('wamid.QIN2', '34611000002', '2026-11-20T10:01:00Z'))),
  pg_temp.webhook('[]', jsonb_build_array(pg_temp.status('wamid.Q1', 'delivered', '2026-11-20T10:01:00Z'))),
  pg_temp.webhook('[]', jsonb_build_array(pg_temp.status('wamid.Q1', 'read', '2026-11-20T10:02:00Z')))
)) as r;
select is((select jsonb_path_query_array(r, '$[*].outcome') from acked), '["queued", "applied", "queued", "queued"]'::jsonb,
  'status-only webhooks are queued, a customer''s message is applied');
select is((select w.events -> 'statuses' -> 0 ->> 'status' from svc.webhook_journal w, acked a
            where w.id = (a.r -> 2 ->> 'journal_id')::bigint), 'delivered',
  'each answer names its own webhook''s journal row');
select is((select count(*)::int from svc.webhook_journal where outcome = 'pending'), 3,
  'the queued ones are in the journal (durable once the transaction commits), pending');
select is((select count(*)::int from public.messages where wa_message_id = 'wamid.QIN2'), 1,
  'the customer''s message is visible at once');
select is(pg_temp.status_of('wamid.Q1'), 'sent', 'the queued statuses are not applied yet');
select is((select count(*)::int from svc.webhook_journal w, acked a
            where w.id in (select (x ->> 'journal_id')::bigint from jsonb_array_elements(a.r) x)), 4,
  'every webhook has its journal row (the ids answered)');

-- Applying ------------------------------------------------------------------------------------------
select is(svc.apply_queued_statuses(500),
  '{"webhooks": 3, "failed": 0, "statuses_applied": 2, "statuses_stale": 1, "statuses_early": 0, "early_recorded": 0}'::jsonb,
  'one call applies every pending webhook, in Meta''s time order: delivered, then read; the duplicate read is stale');
select is(pg_temp.status_of('wamid.Q1'), 'read', 'read, whatever order the statuses came in (never backwards)');
select is((select count(*)::int from svc.webhook_journal where outcome = 'pending'), 0, 'nothing is left pending');
select is((select count(*)::int from svc.webhook_journal where outcome = 'applied' and applied_at is not null
            and events -> 'statuses' -> 0 ->> 'wamid' = 'wamid.Q1'), 3, 'they are journaled as applied');
select is(svc.apply_queued_statuses(500) ->> 'webhooks', '0', 'nothing pending: nothing to do');

-- Oldest first, in bounded calls ---------------------------------------------------------------------
select svc.ingest_webhooks(jsonb_build_array(
  pg_temp.webhook('[]', jsonb_build_array(pg_temp.status('wamid.Q2', 'delivered', '2026-11-20T10:03:00Z'))),
  pg_temp.webhook('[]', jsonb_build_array(pg_temp.status('wamid.Q2', 'read', '2026-11-20T10:04:00Z')))));
select is(svc.apply_queued_statuses(1) ->> 'statuses_applied', '1', 'a call takes at most p_limit webhooks');
select is(pg_temp.status_of('wamid.Q2'), 'delivered', 'the oldest first');
select is(svc.apply_queued_statuses(1) ->> 'statuses_applied', '1', 'then the next');
select is(pg_temp.status_of('wamid.Q2'), 'read', 'in the order they came');

-- A bad webhook does not take the others with it ------------------------------------------------------
insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status, wa_message_id)
select c.id, 'agent', gen_random_uuid(), 'otra', 'text', 'sent', 'wamid.Q3'
  from public.conversations c join public.contacts k on k.id = c.contact_id where k.wa_id = '34611000001';
select svc.ingest_webhooks(jsonb_build_array(
  pg_temp.webhook('[]', jsonb_build_array(pg_temp.status('wamid.Q3', 'delivered', '2026-11-20T10:05:00Z'))),
  pg_temp.webhook('[]', jsonb_build_array(jsonb_build_object('wamid', 'wamid.Q3', 'status', 'read', 'timestamp', null))),
  pg_temp.webhook('[]', jsonb_build_array(pg_temp.status('wamid.Q3', 'read', '2026-11-20T10:06:00Z')))));
select is(svc.apply_queued_statuses(500) - 'statuses_stale' - 'statuses_early' - 'early_recorded',
  '{"webhooks": 3, "failed": 1, "statuses_applied": 2}'::jsonb,
  'a webhook whose statuses can''t be applied is set apart; the others are applied');
select is(pg_temp.status_of('wamid.Q3'), 'read', 'the good ones are applied');
select is((select outcome from svc.webhook_journal where events -> 'statuses' -> 0 -> 'timestamp' = 'null'::jsonb),
  'failed', 'the bad one is journaled as failed (replayable after a fix)');
select ok((select error from svc.webhook_journal where outcome = 'failed') like '22023:%', 'with the reason');

-- A status for a message nobody recorded yet waits, as before -------------------------------------------
select svc.ingest_webhooks(jsonb_build_array(
  pg_temp.webhook('[]', jsonb_build_array(pg_temp.status('wamid.Q-unknown', 'delivered', '2026-11-20T10:07:00Z')))));
select is(svc.apply_queued_statuses(500) ->> 'statuses_early', '1', 'a status for an unknown wamid is kept as early');
select is((select count(*)::int from svc.early_statuses where wa_message_id = 'wamid.Q-unknown'), 1,
  'in svc.early_statuses, applied when its message appears');

select * from finish();
rollback;
