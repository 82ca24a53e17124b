-- Templates as Meta knows them: identity and state, the parameter layout derived from the
-- components, who sees which template, and the sync (new, changed, removed, referenced).
begin;
\ir fixtures/access.sql
select plan(42);

-- The cast (besides fixtures/access.sql, whose 7a is a hand-made template 'welcome'/es):
--   7c  'shipping'/en_US, synced: header text {{1}}, body {{1}} {{2}}, URL button {{1}}
--   7d  'promo_named'/es, synced, named body parameters, image header, copy-code button
--   7e  'gone'/es, synced, a broadcast (8e, sending) refers to it; Meta deletes it later
--   7f  'paused_one'/es, synced and paused
select access_test.act_as('postgres');
insert into public.message_templates (id, name, content, wa_template_name, language_code, wa_template_id,
                                      status, wa_category, components, parameter_format) values
  (access_test.id('7c'), 'shipping', 'Hi {{1}}, order {{2}}', 'shipping', 'en_US', '9001', 'approved', 'utility',
   '[{"type":"HEADER","format":"TEXT","text":"Order {{1}}"},
     {"type":"BODY","text":"Hi {{2}}, {{1}} again: order {{2}}"},
     {"type":"FOOTER","text":"Thanks"},
     {"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"Stop"},{"type":"URL","text":"Track","url":"https://x.test/t/{{1}}"}]}]',
   'positional'),
  (access_test.id('7d'), 'promo_named', 'Hola {{first_name}}', 'promo_named', 'es', '9002', 'approved', 'marketing',
   '[{"type":"HEADER","format":"IMAGE"},
     {"type":"BODY","text":"Hola {{first_name}}, tu código {{ code }} vence el {{first_name}}"},
     {"type":"BUTTONS","buttons":[{"type":"COPY_CODE","example":"SAVE10"}]}]',
   'named'),
  (access_test.id('7e'), 'gone', 'Bye', 'gone', 'es', '9003', 'approved', 'utility', '[{"type":"BODY","text":"Bye"}]', 'positional'),
  (access_test.id('7f'), 'paused_one', 'Hey', 'paused_one', 'es', '9004', 'paused', 'marketing', '[{"type":"BODY","text":"Hey"}]', 'positional');
insert into public.broadcast_messages (id, name, content, status, created_by, template_id) values
  (access_test.id('8e'), 'Bye all', 'Bye', 'draft', access_test.id('1e'), access_test.id('7e'));
update public.broadcast_messages set status = 'scheduled', scheduled_for = now() where id = access_test.id('8e');
update public.broadcast_messages set status = 'sending' where id = access_test.id('8e');

-- Parameter layout --------------------------------------------------------------------------
select is((select parameter_layout from public.message_templates where id = access_test.id('7c')),
  '[{"component":"header","type":"text","name":"1"},
    {"component":"body","type":"text","name":"1"},{"component":"body","type":"text","name":"2"},
    {"component":"button","sub_type":"url","index":1,"type":"text","name":"1"}]'::jsonb,
  'layout: header text, positional body parameters by number (each once), the URL button''s suffix at its index');
select is((select parameter_layout from public.message_templates where id = access_test.id('7d')),
  '[{"component":"header","type":"image","name":"image"},
    {"component":"body","type":"text","name":"first_name"},{"component":"body","type":"text","name":"code"},
    {"component":"button","sub_type":"copy_code","index":0,"type":"coupon_code","name":"coupon_code"}]'::jsonb,
  'layout: media header, named body parameters in order of appearance, a copy-code button');
select is((select parameter_layout from public.message_templates where id = access_test.id('7a')), '[]'::jsonb,
  'layout of a hand-made template without parameter sources: none');
update public.message_templates set parameters = '["contact.full_name"]' where id = access_test.id('7a');
select is((select parameter_layout from public.message_templates where id = access_test.id('7a')),
  '[{"component":"body","type":"text","name":"1"}]'::jsonb,
  'layout of a hand-made template: one body parameter per source, following the sources');
select is((select status from public.message_templates where id = access_test.id('7a')), 'approved',
  'a hand-made template counts as approved until a sync says otherwise');
update public.message_templates set parameter_layout = '[]' where id = access_test.id('7c');
select isnt((select parameter_layout from public.message_templates where id = access_test.id('7c')), '[]'::jsonb,
  'the layout can''t be written: it is derived again');
select throws_ok($$update public.message_templates set status = 'enabled' where id = access_test.id('7c')$$, '23514', null,
  'status is one of Meta''s template statuses');
select throws_ok($$update public.message_templates set removed_at = now() where id = access_test.id('7c')$$, '23514', null,
  'a removed template is a deleted one');

-- Sendable ----------------------------------------------------------------------------------
select ok(svc.template_sendable(access_test.id('7c')), 'an approved template is sendable');
select ok(not svc.template_sendable(access_test.id('7f')), 'a paused template is not sendable');

-- Who sees which template -------------------------------------------------------------------
select access_test.act_as('agent A');
select is(access_test.seen('public.message_templates'), '7a,7c,7d,7e', 'agent A: reads the sendable templates only (not the paused one)');
select throws_ok($$update public.message_templates set status = 'approved'$$, '42501', null, 'agent A: cannot write a status');
select access_test.act_as('admin');
select is(access_test.seen('public.message_templates'), '7a,7c,7d,7e,7f', 'admin: reads every template, paused ones too');
select throws_ok($$update public.message_templates set status = 'approved' where id = access_test.id('7f')$$, '42501', null,
  'admin: cannot approve a template (Meta does)');
select throws_ok($$update public.message_templates set wa_template_id = '1'$$, '42501', null, 'admin: cannot write Meta''s id');
select throws_ok($$update public.message_templates set components = '[]'$$, '42501', null, 'admin: cannot write the components');
select lives_ok($$update public.message_templates set parameters = '["contact.full_name", "contact.phone"]' where id = access_test.id('7c')$$,
  'admin: chooses the parameter sources of a synced template');

-- Requests ----------------------------------------------------------------------------------
select access_test.act_as('agent A');
select throws_ok($$select public.request_template_sync()$$, '42501', null, 'agent A: cannot request a sync');
select access_test.act_as('anon');
select throws_ok($$select public.request_template_sync()$$, '42501', null, 'anon: cannot request a sync');
select access_test.act_as('admin');
create temporary table first_request as select public.request_template_sync() as id;
select ok((select id from first_request) is not null, 'admin: requests a sync');
select is(public.request_template_sync(), (select id from first_request),
  'admin: asking again while it waits is the same request');
select throws_ok($$select * from svc.template_syncs$$, '42501', null, 'admin: the sync queue itself is the services''');
select access_test.act_as('postgres');

-- Claiming ----------------------------------------------------------------------------------
select is((svc.claim_template_sync('w1') ->> 'reason'), 'admin', 'w1 claims the admin''s request');
select is(svc.claim_template_sync('w2', true), null, 'one sync at a time: w2 gets nothing while w1 holds its lease (its start request waits)');
select is((select count(*)::int from svc.template_syncs where reason = 'start' and started_at is null), 1,
  'the start request waits for its turn');
select throws_ok($$select svc.upsert_templates((select id from svc.template_syncs where reason = 'admin'), 'w2', '[]')$$,
  '55000', null, 'a page from a worker without the lease is refused');

-- A page: new, changed, unchanged, and the hand-made 7a adopted -----------------------------------
select is(svc.upsert_templates((select id from svc.template_syncs where reason = 'admin'), 'w1', $$[
  {"id":"9001","name":"shipping","language":"en_US","status":"approved","category":"marketing","quality_score":"yellow",
   "parameter_format":"positional",
   "components":[{"type":"HEADER","format":"TEXT","text":"Order {{1}}"},{"type":"BODY","text":"Hi {{2}}, {{1}} again: order {{2}}"},
                 {"type":"FOOTER","text":"Thanks"},
                 {"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"Stop"},{"type":"URL","text":"Track","url":"https://x.test/t/{{1}}"}]}]},
  {"id":"9002","name":"promo_named","language":"es","status":"approved","category":"marketing","quality_score":null,
   "parameter_format":"named",
   "components":[{"type":"HEADER","format":"IMAGE"},{"type":"BODY","text":"Hola {{first_name}}, tu código {{ code }} vence el {{first_name}}"},
                 {"type":"BUTTONS","buttons":[{"type":"COPY_CODE","example":"SAVE10"}]}]},
  {"id":"9005","name":"welcome","language":"es","status":"approved","category":"utility","quality_score":"green",
   "components":[{"type":"BODY","text":"Hola {{1}}, bienvenido"}]},
  {"id":"9006","name":"brand_new","language":"pt_BR","status":"pending","category":"utility",
   "components":[{"type":"BODY","text":"Olá {{1}}"}]}
]$$::jsonb), '{"created":1,"changed":2,"unchanged":1}'::jsonb,
  'a page: one new template, two changed (one recategorized, the adopted hand-made one), one unchanged');
select is((select jsonb_build_object('category', wa_category, 'quality', quality_score) from public.message_templates where id = access_test.id('7c')),
  '{"category":"marketing","quality":"yellow"}'::jsonb, 'a changed template: Meta''s category and quality');
select is((select jsonb_build_object('id', wa_template_id, 'content', content, 'synced', synced_at is not null) from public.message_templates where id = access_test.id('7a')),
  '{"id":"9005","content":"Hola {{1}}, bienvenido","synced":true}'::jsonb, 'the hand-made template is adopted by name and language: Meta''s id and body');
select is((select jsonb_build_object('name', name, 'status', status, 'content', content, 'layout', parameter_layout) from public.message_templates where wa_template_id = '9006'),
  '{"name":"brand_new","status":"pending","content":"Olá {{1}}","layout":[{"component":"body","type":"text","name":"1"}]}'::jsonb,
  'a new template appears with its status, body and layout');
select throws_ok($$select svc.upsert_templates((select id from svc.template_syncs where reason = 'admin'), 'w1', '[{"id":"1","name":"x"}]')$$,
  '22023', null, 'a template without language or status is refused with a clear error');

-- The end of the sync: not listed = removed (marked, kept) -------------------------------------
select is(svc.finish_template_sync((select id from svc.template_syncs where reason = 'admin'), 'w1') ->> 'removed', '2',
  'finishing: the two templates not listed (7e, 7f) are marked removed');
select is((select status || ' ' || (removed_at is not null)::text from public.message_templates where id = access_test.id('7e')),
  'deleted true', 'a template Meta no longer has is marked deleted');
select ok(exists (select from public.broadcast_messages where id = access_test.id('8e') and template_id = access_test.id('7e')),
  'the broadcast that referred to it still does (the row is kept)');
select ok(not svc.template_sendable(access_test.id('7e')), 'a removed template is not sendable');
select access_test.act_as('agent A');
select is(access_test.seen('public.message_templates'), '7a,7c,7d', 'agent A: removed and pending templates are hidden');
select access_test.act_as('postgres');

-- A failed sync marks nothing; a template listed again is no longer removed ------------------------
select is((svc.claim_template_sync('w1') ->> 'reason'), 'start', 'the waiting start request is claimed next');
select is(svc.upsert_templates((select id from svc.template_syncs where reason = 'start'), 'w1',
  '[{"id":"9003","name":"gone","language":"es","status":"approved","category":"utility","components":[{"type":"BODY","text":"Bye"}]}]'::jsonb) ->> 'changed',
  '1', 'a removed template listed again changes');
select is(svc.finish_template_sync((select id from svc.template_syncs where reason = 'start'), 'w1', 'Graph API: HTTP 500') ->> 'removed', '0',
  'a sync that failed part-way marks nothing removed');
select is((select status || ' ' || (removed_at is not null)::text from public.message_templates where id = access_test.id('7e')),
  'approved false', 'the template listed again is approved and not removed');
select is(svc.claim_template_sync('w1'), null, 'nothing to do until the schedule comes');
select is((svc.claim_template_sync('w1', false, 60, 300, now() + interval '61 seconds') ->> 'reason'), 'schedule',
  'the schedule queues and claims the next sync');

select * from finish();
rollback;
