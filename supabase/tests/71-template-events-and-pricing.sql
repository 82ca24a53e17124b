-- Template webhooks applied, broadcasts following their template's status (paused:
-- waiting and why; approved again: resumed), pricing kept from status webhooks and read
-- by admins only.
begin;
\ir fixtures/access.sql
select plan(27);

-- The cast (besides fixtures/access.sql):
--   7c  'promo'/es, synced (Meta id 9001), approved, utility
--   8e  a sending broadcast of 7c with recipients 2a (sent, wamid.b.2a) and 2b (sent, wamid.b.2b)
--   8f  a scheduled broadcast of 7c
--   4a  (fixture) agent A's conversation message, given wamid.m.4a
select access_test.act_as('postgres');
insert into public.message_templates (id, name, content, wa_template_name, language_code, wa_template_id, status, wa_category,
                                      components) values
  (access_test.id('7c'), 'promo', 'Hola', 'promo', 'es', '9001', 'approved', 'utility', '[{"type":"BODY","text":"Hola"}]');
insert into public.broadcast_messages (id, name, content, status, created_by, template_id) values
  (access_test.id('8e'), 'Promo now', 'Hola', 'draft', access_test.id('1e'), access_test.id('7c')),
  (access_test.id('8f'), 'Promo later', 'Hola', 'draft', access_test.id('1e'), access_test.id('7c'));
update public.broadcast_messages set status = 'scheduled', scheduled_for = now() + interval '1 day'
 where id in (access_test.id('8e'), access_test.id('8f'));
update public.broadcast_messages set status = 'sending' where id = access_test.id('8e');
insert into public.broadcast_recipients (broadcast_id, contact_id, status, wa_message_id) values
  (access_test.id('8e'), access_test.id('2a'), 'sent', 'wamid.b.2a'),
  (access_test.id('8e'), access_test.id('2b'), 'sent', 'wamid.b.2b');
update public.messages set wa_message_id = 'wamid.m.4a' where id = access_test.id('4a');

-- Template webhooks -------------------------------------------------------------------------
select is(svc.apply_template_events($$[
  {"kind":"status","template_id":"9001","name":"promo","language":"es","status":"paused","reason":"LOW_QUALITY"}
]$$), '{"applied":1,"unknown":0}'::jsonb, 'a status webhook is applied');
select is((select status || '/' || status_reason from public.message_templates where id = access_test.id('7c')), 'paused/LOW_QUALITY',
  'the template is paused, with Meta''s reason');
select is((select status_detail from public.broadcast_messages where id = access_test.id('8e')),
  'waiting: template "promo" is paused in WhatsApp (LOW_QUALITY); sending resumes when Meta approves it again',
  'the sending broadcast says why it waits');
select is((select status_detail from public.broadcast_messages where id = access_test.id('8f')),
  'waiting: template "promo" is paused in WhatsApp (LOW_QUALITY); sending resumes when Meta approves it again',
  'so does the scheduled one');
select ok(not svc.template_sendable(access_test.id('7c')), 'the claim''s predicate: the paused template is not sendable');
update public.broadcast_messages set status_detail = null where id = access_test.id('8f');
update public.broadcast_messages set status = 'sending' where id = access_test.id('8f');
select alike((select status_detail from public.broadcast_messages where id = access_test.id('8f')),
  'waiting: template "promo" is paused%', 'a broadcast that starts while its template is paused says so from the start');

select is(svc.apply_template_events($$[
  {"kind":"category","template_id":"9001","category":"marketing"},
  {"kind":"quality","template_id":"9001","quality_score":"red"},
  {"kind":"category","template_id":"9001","category":null,"impending_category":"authentication"}
]$$), '{"applied":3,"unknown":0}'::jsonb, 'category, quality and an impending category change are applied');
select is((select wa_category || '/' || quality_score from public.message_templates where id = access_test.id('7c')), 'marketing/red',
  'recategorized to marketing (it costs more now), quality red; the impending change changes nothing yet');
select is((select status_detail from public.broadcast_messages where id = access_test.id('8e')),
  'waiting: template "promo" is paused in WhatsApp (LOW_QUALITY); sending resumes when Meta approves it again',
  'quality and category leave the broadcast''s wait as it was');

select is(svc.apply_template_events($$[
  {"kind":"status","template_id":"9001","name":"promo","language":"es","status":"approved","reason":null}
]$$), '{"applied":1,"unknown":0}'::jsonb, 're-approval is applied');
select is((select status_detail from public.broadcast_messages where id = access_test.id('8e')), null,
  'approved again: the broadcast no longer waits');
select is((select count(*)::int from public.broadcast_messages where template_id = access_test.id('7c') and status_detail is null and status = 'sending'), 2,
  'both broadcasts resume');
select ok(svc.template_sendable(access_test.id('7c')), 'the template is sendable again');

select is(svc.apply_template_events($$[
  {"kind":"status","template_id":"9001","status":"disabled","reason":null}
]$$) ->> 'applied', '1', 'disabled');
select alike((select status_detail from public.broadcast_messages where id = access_test.id('8e')),
  'waiting: template "promo" is disabled in WhatsApp; %', 'a disabled template stops its broadcasts too (no reason given)');

select is(svc.apply_template_events($$[
  {"kind":"status","template_id":"7777","name":"unknown_one","language":"en","status":"approved","reason":null},
  {"kind":"status","template_id":"9001","status":null}
]$$), '{"applied":0,"unknown":2}'::jsonb, 'a template we don''t have, and a status we can''t store, are not applied');
select is((select reason from svc.template_syncs where finished_at is null), 'webhook', '... and queue a sync');
select throws_ok($$select svc.apply_template_events('{}')$$, '22023', null, 'events must be an array');

-- Pricing -----------------------------------------------------------------------------------
select is(svc.record_pricing($$[
  {"wamid":"wamid.b.2a","status":"sent","timestamp":"2026-12-07T10:00:00Z",
   "pricing":{"billable":true,"pricing_model":"pmp","category":"marketing","type":"regular"}},
  {"wamid":"wamid.b.2a","status":"delivered","timestamp":"2026-12-07T10:00:05Z",
   "pricing":{"billable":true,"pricing_model":"pmp","category":"marketing","type":"regular"}},
  {"wamid":"wamid.b.2b","status":"sent","timestamp":"2026-12-07T10:00:01Z",
   "pricing":{"billable":false,"pricing_model":"pmp","category":"marketing","type":"free_entry_point"}},
  {"wamid":"wamid.m.4a","status":"sent","timestamp":"2026-12-08T09:00:00Z",
   "pricing":{"billable":false,"pricing_model":"pmp","category":"service","type":"free_customer_service"}},
  {"wamid":"wamid.m.4a","status":"read","timestamp":"2026-12-08T09:01:00Z"},
  {"wamid":"wamid.unknown","status":"sent","timestamp":"2026-12-08T09:00:00Z",
   "pricing":{"billable":true,"category":"utility"}}
]$$), 3, 'pricing is kept on two recipients and one message (statuses without pricing, or of unknown messages, change nothing)');
select is((select pricing from public.broadcast_recipients where wa_message_id = 'wamid.b.2a'),
  '{"billable":true,"pricing_model":"pmp","category":"marketing","type":"regular","at":"2026-12-07T10:00:00Z"}'::jsonb,
  'a recipient''s pricing, with the time of the first status that carried it');
select is(svc.record_pricing($$[
  {"wamid":"wamid.b.2a","status":"read","timestamp":"2026-12-07T11:00:00Z",
   "pricing":{"billable":true,"pricing_model":"pmp","category":"marketing","type":"regular"}}
]$$), 0, 'the same pricing again changes nothing');

select access_test.act_as('admin');
select results_eq($$select day::text, category, billable, free from public.billing_by_day('2026-12-07', '2026-12-08')$$,
  $$values ('2026-12-07', 'marketing', 1::bigint, 1::bigint), ('2026-12-08', 'service', 0::bigint, 1::bigint)$$,
  'admin: billable and free messages per day and category, broadcasts and replies together');
select results_eq($$select category, billable, free, unpriced from public.billing_by_broadcast(access_test.id('8e'))$$,
  $$values ('marketing'::text, 1::bigint, 1::bigint, 0::bigint)$$,
  'admin: a broadcast''s cost by category');

select access_test.act_as('agent A');
select throws_ok($$select * from public.billing_by_day('2026-12-01', '2026-12-31')$$, '42501', null, 'agent A: cannot read the billing per day');
select throws_ok($$select * from public.billing_by_broadcast(access_test.id('8e'))$$, '42501', null, 'agent A: cannot read a broadcast''s billing');
select access_test.act_as('anon');
select throws_ok($$select * from public.billing_by_day('2026-12-01', '2026-12-31')$$, '42501', null, 'anon: cannot read the billing');
select access_test.act_as('agent A');
select throws_ok($$select svc.record_pricing('[]')$$, '42501', null, 'agent A: cannot record pricing (svc is the services'')');

select * from finish();
rollback;
