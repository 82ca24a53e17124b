-- Parameters from the template itself: an agent's template message and a broadcast are
-- checked against the template's layout when queued, with errors that name what is
-- missing; what is sent is built from the layout.
begin;
\ir fixtures/access.sql
select plan(19);

-- The cast (besides fixtures/access.sql: agent A and conversation 3a):
--   7c  'shipping'/en_US: header text {{1}}, body {{1}} {{2}}, URL button (index 1) {{1}}
--   7d  'promo_named'/es: image header, named body {{first_name}} {{code}}, copy-code button (index 0)
--   7f  'welcome_back'/es: body {{1}}, parameter source contact.full_name; paused later
select access_test.act_as('postgres');
insert into public.message_templates (id, name, content, wa_template_name, language_code, wa_template_id,
                                      status, components, parameter_format, parameters) values
  (access_test.id('7c'), 'shipping', 'Hi {{1}}, order {{2}} ships', 'shipping', 'en_US', '9001', 'approved',
   '[{"type":"HEADER","format":"TEXT","text":"Order {{1}}"},
     {"type":"BODY","text":"Hi {{1}}, order {{2}} ships"},
     {"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"Stop"},{"type":"URL","text":"Track","url":"https://x.test/t/{{1}}"}]}]',
   'positional', '[]'),
  (access_test.id('7d'), 'promo_named', 'Hola {{first_name}}, usa {{ code }}', 'promo_named', 'es', '9002', 'approved',
   '[{"type":"HEADER","format":"IMAGE"},
     {"type":"BODY","text":"Hola {{first_name}}, usa {{ code }}"},
     {"type":"BUTTONS","buttons":[{"type":"COPY_CODE","example":"SAVE10"}]}]',
   'named', '[]'),
  (access_test.id('7f'), 'welcome_back', 'Hola {{1}}', 'welcome_back', 'es', '9003', 'approved',
   '[{"type":"BODY","text":"Hola {{1}}"}]', 'positional', '["contact.full_name"]');

create function pg_temp.template(p_id text, p_template text, p_metadata jsonb default null) returns void language sql as $$
  insert into public.messages (id, conversation_id, sender_type, sender_id, message_type, status, template_id, metadata)
  values (access_test.id(p_id), access_test.id('3a'), 'agent', access_test.id('1a'), 'template', 'pending',
          access_test.id(p_template), p_metadata)
$$;
grant execute on function pg_temp.template(text, text, jsonb) to authenticated;

-- Agents -----------------------------------------------------------------------------------------
select access_test.act_as('agent A');
select throws_ok($$select pg_temp.template('40', '7c', '{"parameters": ["A-1", "Ana"]}')$$,
  '22023', 'template "shipping" takes 4 parameter(s)',
  'agent A: too few parameters are refused');
select throws_ok($$select pg_temp.template('40', '7c')$$,
  '22023', 'template "shipping" takes 4 parameter(s)',
  'agent A: a template with header and button parameters can''t be filled from the contact');
select lives_ok($$select pg_temp.template('41', '7c', '{"parameters": ["A-1", "Ana", "A-1", "trk/A-1"]}')$$,
  'agent A: a template with all four parameters in layout order is queued');
select throws_ok($$select pg_temp.template('40', '7d', '{"parameters": ["not a link", "Ana", "SAVE10", "SAVE10"]}')$$,
  '22023', 'template "promo_named" has a media header: its parameter is an https:// link to the file',
  'agent A: a media header needs a link');
select lives_ok($$select pg_temp.template('42', '7d', '{"parameters": ["https://cdn.test/p.jpg", "Ana", "SAVE10", "SAVE10"]}')$$,
  'agent A: the named template with its image, body and coupon');
select lives_ok($$select pg_temp.template('43', '7f')$$,
  'agent A: a body-only template is filled from its sources');

select access_test.act_as('postgres');
select is((select metadata -> 'template' -> 'components' from public.messages where id = access_test.id('41')),
  '[{"type":"header","parameters":[{"type":"text","text":"A-1"}]},
    {"type":"body","parameters":[{"type":"text","text":"Ana"},{"type":"text","text":"A-1"}]},
    {"type":"button","sub_type":"url","index":"1","parameters":[{"type":"text","text":"trk/A-1"}]}]'::jsonb,
  'the components sent: header, body and the URL button at its index');
select is((select content from public.messages where id = access_test.id('41')), 'Hi Ana, order A-1 ships',
  'the body the agent sees has its parameters');
select is((select metadata -> 'template' -> 'components' from public.messages where id = access_test.id('42')),
  '[{"type":"header","parameters":[{"type":"image","image":{"link":"https://cdn.test/p.jpg"}}]},
    {"type":"body","parameters":[{"type":"text","parameter_name":"first_name","text":"Ana"},{"type":"text","parameter_name":"code","text":"SAVE10"}]},
    {"type":"button","sub_type":"copy_code","index":"0","parameters":[{"type":"coupon_code","coupon_code":"SAVE10"}]}]'::jsonb,
  'named parameters carry their names; the image header its link; the coupon its code');
select is((select content from public.messages where id = access_test.id('42')), 'Hola Ana, usa SAVE10',
  'named placeholders are replaced in the body');
select is((select metadata -> 'template' -> 'components' from public.messages where id = access_test.id('43')),
  '[{"type":"body","parameters":[{"type":"text","text":"Contact of A"}]}]'::jsonb,
  'a body parameter filled from its source');
delete from svc.outbound_jobs;

update public.message_templates set status = 'paused' where id = access_test.id('7f');
select access_test.act_as('agent A');
select throws_ok($$select pg_temp.template('44', '7f')$$,
  '22023', 'template "welcome_back" is paused in WhatsApp: it can''t be sent now',
  'agent A: a paused template is refused (even by a remembered id)');
select access_test.act_as('postgres');
update public.message_templates set status = 'approved' where id = access_test.id('7f');

-- The hint names what is missing ------------------------------------------------------------------
select is(private.describe_template_layout((select parameter_layout from public.message_templates where id = access_test.id('7c'))),
  'header {{1}}, body {{1}}, body {{2}}, button 1 (url) {{1}}', 'the layout in words, in the order parameters are given');
select is(private.describe_template_layout((select parameter_layout from public.message_templates where id = access_test.id('7d'))),
  'header image link, body {{first_name}}, body {{code}}, button 0 (copy code) coupon code', 'a named layout in words');

-- Broadcasts -------------------------------------------------------------------------------------
insert into public.broadcast_messages (id, name, content, status, created_by, template_id) values
  (access_test.id('8b'), 'Shipping news', 'x', 'draft', access_test.id('1e'), access_test.id('7c')),
  (access_test.id('8d'), 'Promo', 'x', 'draft', access_test.id('1e'), access_test.id('7d')),
  (access_test.id('8f'), 'Welcome back', 'x', 'draft', access_test.id('1e'), access_test.id('7f'));
select throws_ok($$update public.broadcast_messages set status = 'scheduled', scheduled_for = now() where id = access_test.id('8b')$$,
  '22023', 'this broadcast can''t be scheduled: template "shipping" has parameters broadcasts can''t fill yet: header {{1}}, button 1 (url) {{1}} (broadcasts fill body parameters only)',
  'a broadcast of a template with header and button parameters can''t be scheduled, and the error names them');
select throws_ok($$update public.broadcast_messages set status = 'scheduled', scheduled_for = now() where id = access_test.id('8d')$$,
  '22023', null, 'nor one of a template with named parameters and a media header');
update public.message_templates set parameters = '[]' where id = access_test.id('7f');
select throws_ok($$update public.broadcast_messages set status = 'scheduled', scheduled_for = now() where id = access_test.id('8f')$$,
  '22023', 'this broadcast can''t be scheduled: template "welcome_back" has 1 body parameter(s) (body {{1}}) but 0 parameter source(s): message_templates.parameters needs one per parameter (contact.full_name, contact.phone, contact.email or a fixed text)',
  'a body parameter without a source is named');
update public.message_templates set parameters = '["contact.full_name"]' where id = access_test.id('7f');
select lives_ok($$update public.broadcast_messages set status = 'scheduled', scheduled_for = now() where id = access_test.id('8f')$$,
  'with a source per body parameter it is scheduled');
select throws_ok($$update public.broadcast_messages set template_id = access_test.id('7c') where id = access_test.id('8f')$$,
  '22023', null, 'a scheduled broadcast can''t switch to a template it can''t fill');

select * from finish();
rollback;
