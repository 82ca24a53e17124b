-- Template, messaging-limit and pricing events applied through the webhook path (the two
-- ways a webhook is applied), and a broadcast that waits while Meta pauses its template.
begin;
\ir fixtures/queues.sql
select plan(14);

-- The cast (keys as in fixtures/queues.sql):
--   ad01  an admin; e1 the hand-made template 'promo_vip'/es (counts as approved)
--   b1    a broadcast of e1 to the vip tag, due: c1 Ana and c2 Bea are queued
insert into auth.users (id, email, raw_app_meta_data) values
  (queue_test.id('ad01'), 'admin@test.local', '{"role":"admin"}');
insert into public.message_templates (id, name, content, wa_template_name, language_code, parameters) values
  (queue_test.id('e1'), 'VIP', 'Hola {{1}}', 'promo_vip', 'es', '["contact.full_name"]');
insert into public.contacts (id, phone, wa_id, full_name, tags, status, opted_out_at) values
  (queue_test.id('c1'), '34600000001', '34600000001', 'Ana', '{vip}', 'active', null),
  (queue_test.id('c2'), '34600000002', '34600000002', 'Bea', '{vip}', 'active', null);
insert into public.broadcast_messages (id, name, content, status, scheduled_for, created_by, template_id, audience) values
  (queue_test.id('b1'), 'VIP', 'Hola', 'scheduled', now() - interval '1 minute',
   queue_test.id('ad01'), queue_test.id('e1'), '{"type":"tags","tags":["vip"]}');
select svc.start_due_broadcasts();

create function pg_temp.claim(p_owner text) returns jsonb language sql as $$
  select svc.claim_broadcast_recipients(p_owner, 'PN1', 1000, 100, 30, null, clock_timestamp())
$$;
-- One webhook as the gateway sends it, with the given events.
create function pg_temp.webhook(p_events jsonb) returns jsonb language sql as $$
  select jsonb_build_object('payload', '{"object":"whatsapp_business_account"}'::jsonb,
    'events', jsonb_build_object('messages', '[]'::jsonb, 'statuses', '[]'::jsonb) || p_events, 'parse_error', null)
$$;
create function pg_temp.template_status(p_status text) returns jsonb language sql as $$
  select pg_temp.webhook(jsonb_build_object('templates', jsonb_build_array(jsonb_build_object(
    'kind', 'status', 'template_id', '555', 'name', 'promo_vip', 'language', 'es', 'status', p_status,
    'reason', case when p_status = 'paused' then 'LOW_QUALITY' end))))
$$;

-- A template webhook ------------------------------------------------------------------------
select is(svc.ingest_webhooks(jsonb_build_array(pg_temp.template_status('paused'))) -> 0 ->> 'outcome', 'applied',
  'a webhook with only a template event is applied before the 200, not ignored');
select is((select status from public.message_templates where id = queue_test.id('e1')), 'paused',
  'Meta''s pause reached the template');
select alike((select status_detail from public.broadcast_messages where id = queue_test.id('b1')),
  'waiting: template "promo_vip" is paused%', 'the sending broadcast says why it waits');
select is(pg_temp.claim('w1'), '[]'::jsonb, 'nothing of a broadcast whose template is paused is claimed');
select is((select count(*)::int from svc.broadcast_queue where broadcast_id = queue_test.id('b1')), 2,
  'its recipients stay queued');
select is((select count(*)::int from public.broadcast_recipients where broadcast_id = queue_test.id('b1') and status = 'failed'), 0,
  'and none failed because of the pause');

select is(svc.ingest_webhooks(jsonb_build_array(pg_temp.template_status('approved'))) -> 0 ->> 'outcome', 'applied',
  'the re-approval webhook is applied');
select is(jsonb_array_length(pg_temp.claim('w1')), 2, 'sending resumes: both recipients are claimed');
select is((select status_detail from public.broadcast_messages where id = queue_test.id('b1')), null,
  'and the broadcast no longer waits');

-- Pricing of a status-only webhook (queued, applied after the 200) -------------------------
update public.broadcast_recipients set status = 'sent', wa_message_id = 'wamid.P1'
 where broadcast_id = queue_test.id('b1') and contact_id = queue_test.id('c1');
select is(svc.ingest_webhooks(jsonb_build_array(pg_temp.webhook(jsonb_build_object('statuses', jsonb_build_array(
  jsonb_build_object('wamid', 'wamid.P1', 'status', 'delivered', 'timestamp', '2026-12-07T10:00:05Z', 'recipient_id', '34600000001',
    'errors', null, 'pricing', '{"billable":true,"pricing_model":"pmp","category":"marketing","type":"regular"}'::jsonb))))))
  -> 0 ->> 'outcome', 'queued', 'a status-only webhook with pricing is queued');
select svc.apply_queued_statuses();
select is((select status || '/' || (pricing ->> 'category') from public.broadcast_recipients where wa_message_id = 'wamid.P1'),
  'delivered/marketing', 'the queued applier applies the status and keeps its pricing');

-- A messaging limit announced by webhook ----------------------------------------------------
select is(svc.ingest_webhooks(jsonb_build_array(pg_temp.webhook(jsonb_build_object('messaging_limits',
  '[{"limit": 10000, "field": "business_capability_update"}]'::jsonb)))) -> 0 ->> 'outcome', 'applied',
  'a webhook with only a messaging limit is applied, not ignored');
select is((select messaging_limit from svc.business_portfolios where id = 'default'), 10000,
  'the portfolio learned its limit');
select is(svc.ingest_webhooks(jsonb_build_array(pg_temp.webhook('{}'::jsonb))) -> 0 ->> 'outcome', 'ignored',
  'a webhook without events is still ignored');

select * from finish();
rollback;
