-- Access matrix: public.message_templates. Agents only read (and use) templates; admins
-- manage them.
begin;
\ir fixtures/access.sql
select plan(24);

-- anon: no grant at all --------------------------------------------------------------
select access_test.act_as('anon');
select throws_ok($$select * from public.message_templates$$, '42501', null, 'anon: select templates is denied');
select throws_ok($$insert into public.message_templates (name, content) values ('New', 'x')$$, '42501', null, 'anon: insert templates is denied');
select throws_ok($$update public.message_templates set category = 'sales'$$, '42501', null, 'anon: update templates is denied');
select throws_ok($$delete from public.message_templates$$, '42501', null, 'anon: delete templates is denied');

-- agent A ----------------------------------------------------------------------------
select access_test.act_as('agent A');
select is(access_test.seen('public.message_templates'), '7a', 'agent A: reads every template');
select throws_ok($$insert into public.message_templates (name, content, created_by) values ('New', 'x', access_test.id('1a'))$$, '42501', null, 'agent A: cannot create a template');
select is(access_test.dry_run($$update public.message_templates set category = 'sales' returning right(id::text, 2)$$), '', 'agent A: update reaches no template');
select is(access_test.dry_run($$delete from public.message_templates returning right(id::text, 2)$$), '', 'agent A: delete reaches no template');

-- agent B ----------------------------------------------------------------------------
select access_test.act_as('agent B');
select is(access_test.seen('public.message_templates'), '7a', 'agent B: reads every template');
select throws_ok($$insert into public.message_templates (name, content, created_by) values ('New', 'x', access_test.id('1b'))$$, '42501', null, 'agent B: cannot create a template');
select is(access_test.dry_run($$update public.message_templates set category = 'sales' returning right(id::text, 2)$$), '', 'agent B: update reaches no template');
select is(access_test.dry_run($$delete from public.message_templates returning right(id::text, 2)$$), '', 'agent B: delete reaches no template');

-- admin ------------------------------------------------------------------------------
select access_test.act_as('admin');
select is(access_test.seen('public.message_templates'), '7a', 'admin: reads every template');
select is(access_test.dry_run($$insert into public.message_templates (id, name, content, wa_template_name, language_code, parameters) values (access_test.id('7b'), 'Order update', 'Your order {{1}}', 'order_update', 'es', '["contact.full_name"]') returning right(id::text, 2) || right(created_by::text, 2)$$), '7b1e', 'admin: creates a template, as themselves');
select is(access_test.dry_run($$update public.message_templates set category = 'sales' returning right(id::text, 2)$$), '7a', 'admin: update reaches every template');
select is(access_test.dry_run($$delete from public.message_templates returning right(id::text, 2)$$), '7a', 'admin: delete reaches every template');

-- inactive agent ---------------------------------------------------------------------
select access_test.act_as('inactive agent');
select is(access_test.seen('public.message_templates'), '', 'inactive agent: reads no template');
select throws_ok($$insert into public.message_templates (name, content, created_by) values ('New', 'x', access_test.id('1d'))$$, '42501', null, 'inactive agent: cannot create a template');
select is(access_test.dry_run($$update public.message_templates set category = 'sales' returning right(id::text, 2)$$), '', 'inactive agent: update reaches no template');
select is(access_test.dry_run($$delete from public.message_templates returning right(id::text, 2)$$), '', 'inactive agent: delete reaches no template');

-- Protected columns ------------------------------------------------------------------
select access_test.act_as('admin');
select is(access_test.dry_run($$update public.message_templates set name = 'Hi', content = 'Hi {{1}}', updated_at = now(), wa_template_name = 'hi', language_code = 'en', parameters = '[]' returning right(id::text, 2)$$),
  '7a', 'admin: edits every template field');
select throws_ok($$update public.message_templates set created_by = access_test.id('1a')$$, '42501', null, 'admin: cannot re-attribute a template');
select throws_ok($$update public.message_templates set created_at = now()$$, '42501', null, 'admin: cannot change created_at');
select throws_ok($$insert into public.message_templates (name, content, created_by) values ('New', 'x', access_test.id('1a'))$$, '42501', null, 'admin: cannot create a template in agent A''s name');

select * from finish();
rollback;
