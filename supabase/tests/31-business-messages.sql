-- One rule for business-initiated messages (migration 20261207000200_business_messages):
-- agents send templates chosen by id, with parameters checked against the template's
-- layout; nothing reaches a blocked contact, no template or broadcast reaches an opted-out
-- one, checked when queued and again when claimed; a reply quotes only its own
-- conversation. The cast is the access fixture's (agent A with conversation 3a of
-- contact 2a, agent B with 3b of 2b, the admin).
begin;
\ir fixtures/access.sql
select plan(43);

-- Two approved templates: one whose parameter is filled from the contact, one with none.
select access_test.act_as('postgres');
insert into public.message_templates (id, name, content, wa_template_name, language_code, parameters) values
  (access_test.id('71'), 'Order ready', 'Hi {{1}}, your order {{2}} is ready', 'order_ready', 'es', '["contact.full_name", "order number"]'),
  (access_test.id('72'), 'Checking in', 'Are you still there?', 'checking_in', 'es', '[]'),
  (access_test.id('73'), 'Internal snippet', 'Thanks for writing', null, null, '[]');

create function pg_temp.claim(p_owner text, p_number text default 'PN-31') returns jsonb language sql as $$
  select svc.claim_outbound_messages(p_owner, p_number, 1000, 50, 30, clock_timestamp())
$$;
create function pg_temp.template(p_id text, p_template text, p_metadata jsonb default null) returns void language sql as $$
  insert into public.messages (id, conversation_id, sender_type, sender_id, message_type, status, template_id, metadata)
  values (access_test.id(p_id), access_test.id('3a'), 'agent', access_test.id('1a'), 'template', 'pending',
          access_test.id(p_template), p_metadata)
$$;
grant execute on function pg_temp.template(text, text, jsonb) to authenticated;

-- Templates by id ---------------------------------------------------------------------------------
select access_test.act_as('agent A');
select throws_ok(
  $$insert into public.messages (conversation_id, sender_type, sender_id, message_type, status, metadata)
    values (access_test.id('3a'), 'agent', access_test.id('1a'), 'template', 'pending',
            '{"template": {"name": "any_approved_template", "language": "es"}}')$$,
  '22023', 'a template message names its template by template_id',
  'agent A: a template named in metadata is refused');
select throws_ok($$select pg_temp.template('40', '73')$$,
  '22023', 'template_id is not an approved WhatsApp template',
  'agent A: a template without WhatsApp identity is refused');
select throws_ok($$select pg_temp.template('40', '71', '{"parameters": ["only one"]}')$$,
  '22023', 'template "Order ready" takes 2 parameter(s)',
  'agent A: too few parameters are refused');
select throws_ok($$select pg_temp.template('40', '71', '{"parameters": ["Ana", "  "]}')$$,
  '22023', 'template "Order ready" takes 2 parameter(s)',
  'agent A: a blank parameter is refused');
select throws_ok($$select pg_temp.template('40', '71', '{"parameters": ["Ana", 42]}')$$,
  '22023', 'template "Order ready" takes 2 parameter(s)',
  'agent A: a parameter that is not text is refused');
select throws_ok($$select pg_temp.template('40', '72', '{"parameters": ["extra"]}')$$,
  '22023', 'template "Checking in" takes 0 parameter(s)',
  'agent A: parameters for a template without any are refused');
select throws_ok(
  $$insert into public.messages (conversation_id, sender_type, sender_id, message_type, status, content, template_id)
    values (access_test.id('3a'), 'agent', access_test.id('1a'), 'text', 'pending', 'hi', access_test.id('71'))$$,
  '23514', null, 'agent A: a template id on a text message is refused');

select throws_ok($$select pg_temp.template('40', '72', '["parameters"]')$$,
  '22023', 'metadata must be a JSON object',
  'agent A: metadata that is not a JSON object is refused');
select lives_ok($$select pg_temp.template('4e', '71', '{"parameters": ["{{2}}", "#9"]}')$$,
  'agent A: a parameter may itself read like a placeholder');
select access_test.act_as('postgres');
select is((select content from public.messages where id = access_test.id('4e')), 'Hi {{2}}, your order #9 is ready',
  'placeholders are replaced in one pass: a parameter is never substituted again');
delete from svc.outbound_jobs where message_id = access_test.id('4e');
select access_test.act_as('agent A');
select lives_ok($$select pg_temp.template('41', '71', '{"parameters": ["Ana", "#1042"], "template": {"name": "forged", "language": "en"}}')$$,
  'agent A: a template with its two parameters is queued');
select access_test.act_as('postgres');
select is((select metadata -> 'template' from public.messages where id = access_test.id('41')),
  '{"name": "order_ready", "language": "es", "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "#1042"}]}]}'::jsonb,
  'what is sent comes from message_templates, whatever metadata said');
select is((select content from public.messages where id = access_test.id('41')), 'Hi Ana, your order #1042 is ready',
  'the message shows the agent the text that was sent');
select is((pg_temp.claim('s1') -> 0 -> 'metadata' -> 'template' ->> 'name'), 'order_ready',
  'the sender claims the resolved template');
select svc.record_outbound_sent(access_test.id('41'), 's1', 'wamid.31.41');

select access_test.act_as('agent A');
select lives_ok($$select pg_temp.template('42', '71', '{"parameters": null}')$$,
  'agent A: a template without parameters takes them from the layout');
select access_test.act_as('postgres');
select is((select metadata -> 'parameters' from public.messages where id = access_test.id('42')), '["Contact of A", "order number"]'::jsonb,
  'contact sources are filled from the contact, other entries stand as written');
delete from svc.outbound_jobs where message_id = access_test.id('42');

-- Quoted replies --------------------------------------------------------------------------------
-- Into a conversation the caller can't see, the policy answers (42501), whatever is quoted:
-- the quote's check must not tell which conversation a message belongs to.
select access_test.act_as('agent A');
select throws_ok(
  $$insert into public.messages (conversation_id, sender_type, sender_id, message_type, status, content, reply_to_message_id)
    values (access_test.id('3b'), 'agent', access_test.id('1a'), 'text', 'pending', 'quoting', access_test.id('4b'))$$,
  '42501', null, 'agent A: writing into agent B''s 3b quoting 4b is denied by the policy');
select throws_ok(
  $$insert into public.messages (conversation_id, sender_type, sender_id, message_type, status, content, reply_to_message_id)
    values (access_test.id('3b'), 'agent', access_test.id('1a'), 'text', 'pending', 'quoting', access_test.id('4a'))$$,
  '42501', null, 'agent A: ... and quoting 4a gets the very same answer');
select access_test.act_as('agent A');
select throws_ok(
  $$insert into public.messages (conversation_id, sender_type, sender_id, message_type, status, content, reply_to_message_id)
    values (access_test.id('3a'), 'agent', access_test.id('1a'), 'text', 'pending', 'quoting', access_test.id('4b'))$$,
  '22023', 'a reply can quote only a message of its own conversation',
  'agent A: cannot quote agent B''s message 4b');
select throws_ok(
  $$insert into public.messages (conversation_id, sender_type, sender_id, message_type, status, content, reply_to_message_id)
    values (access_test.id('3a'), 'agent', access_test.id('1a'), 'text', 'pending', 'quoting', access_test.id('4c'))$$,
  '22023', 'a reply can quote only a message of its own conversation',
  'agent A: quoting a message that does not exist gets the same answer (nothing to learn)');
select access_test.act_as('admin');
select throws_ok(
  $$insert into public.messages (conversation_id, sender_type, sender_id, message_type, status, content, reply_to_message_id)
    values (access_test.id('3a'), 'agent', access_test.id('1e'), 'text', 'pending', 'quoting', access_test.id('4b'))$$,
  '22023', 'a reply can quote only a message of its own conversation',
  'admin: cannot quote a message of another conversation either, although they see it');
select access_test.act_as('agent A');
select lives_ok(
  $$insert into public.messages (id, conversation_id, sender_type, sender_id, message_type, status, content, reply_to_message_id)
    values (access_test.id('43'), access_test.id('3a'), 'agent', access_test.id('1a'), 'text', 'pending', 'quoting', access_test.id('4a'))$$,
  'agent A: quotes the customer''s message 4a of their own conversation');
select access_test.act_as('postgres');
select is((pg_temp.claim('s2') -> 0 ->> 'reply_to_wamid'), 'wamid.fixture4a', 'and the sender quotes its wamid');
select svc.record_outbound_sent(access_test.id('43'), 's2', 'wamid.31.43');

-- Queue time: blocked and opted-out contacts -----------------------------------------------------
-- Contact 2a wrote (4a, in the fixture) and then opted out.
update public.contacts set opted_out_at = now() where id = access_test.id('2a');
select access_test.act_as('agent A');
select lives_ok($$select pg_temp.template('44', '72')$$, 'agent A: a template to an opted-out contact is written ...');
select access_test.act_as('postgres');
select is((select status || ' ' || (error_data ->> 'code') from public.messages where id = access_test.id('44')), 'failed contact_opted_out',
  '... and fails at once with error_data the frontend can show');
select is((select count(*)::int from svc.outbound_jobs where message_id = access_test.id('44')), 0, 'it is never queued (no API call)');
select access_test.act_as('agent A');
insert into public.messages (id, conversation_id, sender_type, sender_id, message_type, status, content)
values (access_test.id('45'), access_test.id('3a'), 'agent', access_test.id('1a'), 'text', 'pending', 'anything else?');
select access_test.act_as('postgres');
select is((select status || ' ' || (error_data ->> 'code') from public.messages where id = access_test.id('45')), 'failed contact_opted_out',
  'a reply to an opted-out customer who has not written since fails too');
insert into public.messages (conversation_id, sender_type, sender_id, message_type, status, content, created_at)
values (access_test.id('3a'), 'contact', access_test.id('2a'), 'text', 'delivered', 'I need help with my order', now() + interval '1 millisecond');
select access_test.act_as('agent A');
insert into public.messages (id, conversation_id, sender_type, sender_id, message_type, status, content)
values (access_test.id('46'), access_test.id('3a'), 'agent', access_test.id('1a'), 'text', 'pending', 'happy to help');
select lives_ok($$select pg_temp.template('47', '72')$$, 'agent A: writes a template after the customer wrote again');
select access_test.act_as('postgres');
select is((select string_agg(right(id::text, 2) || ' ' || status, ', ' order by id) from public.messages where id in (access_test.id('46'), access_test.id('47'))),
  '46 pending, 47 failed',
  'once the customer writes again, a reply is queued, a template still is not');

update public.contacts set status = 'blocked' where id = access_test.id('2b');
select access_test.act_as('agent B');
insert into public.messages (id, conversation_id, sender_type, sender_id, message_type, status, content)
values (access_test.id('48'), access_test.id('3b'), 'agent', access_test.id('1b'), 'text', 'pending', 'hello?');
select access_test.act_as('postgres');
select is((select status || ' ' || (error_data ->> 'code') from public.messages where id = access_test.id('48')), 'failed contact_blocked',
  'nothing is queued to a blocked contact, not even a reply');

-- Claim time: the contact opted out (or was blocked) after the message was queued ----------------
select is((select status from public.messages where id = access_test.id('46')), 'pending', 'reply 46 waits in the queue');
update public.contacts set opted_out_at = now() + interval '1 second' where id = access_test.id('2a');
select is(pg_temp.claim('s3', 'PN-31c'), '[]'::jsonb, 'the customer opted out again before it was claimed: nothing is handed out');
select is((select status || ' ' || (error_data ->> 'code') from public.messages where id = access_test.id('46')), 'failed contact_opted_out',
  'the queued reply fails with the reason');
select is((select count(*)::int from svc.outbound_jobs where message_id = access_test.id('46')), 0, 'and leaves the queue');
select is((select count(*)::int from svc.send_schedules where phone_number_id = 'PN-31c'), 0,
  'no send slot was asked for it (that number''s schedule was never touched)');

-- Broadcasts: skipped at claim time, and a retry is refused -------------------------------------------
update public.contacts set opted_out_at = null, status = 'active' where id in (access_test.id('2a'), access_test.id('2b'));
insert into public.broadcast_messages (id, name, content, status, scheduled_for, template_id, created_by)
values (access_test.id('81'), 'Promo', 'Promo', 'scheduled', now() - interval '1 minute', access_test.id('72'), access_test.id('1e'));
insert into public.broadcast_recipients (broadcast_id, contact_id) values
  (access_test.id('81'), access_test.id('2a')), (access_test.id('81'), access_test.id('2b'));
select svc.start_due_broadcasts();
select is((select count(*)::int from svc.broadcast_queue where broadcast_id = access_test.id('81')), 2, 'both recipients are queued');
update public.contacts set status = 'blocked' where id = access_test.id('2a');
update public.contacts set opted_out_at = now() where id = access_test.id('2b');
select is(svc.claim_broadcast_recipients('w1', 'PN-31b', 1000, 100, 30, null, clock_timestamp()), '[]'::jsonb,
  'a contact blocked and one opted out since the start: nothing is handed out');
select is((select string_agg(right(contact_id::text, 2) || ' ' || status || ' ' || error_message, ', ' order by contact_id)
             from public.broadcast_recipients where broadcast_id = access_test.id('81')),
  '2a failed skipped: contact is blocked, 2b failed skipped: contact opted out',
  'both are skipped with the reason, at no API call');
select is((select count(*)::int from svc.broadcast_queue where broadcast_id = access_test.id('81')), 0, 'and leave the queue');
select access_test.act_as('admin');
select throws_ok($$update public.broadcast_recipients set status = 'pending' where broadcast_id = access_test.id('81') and contact_id = access_test.id('2b')$$,
  '55000', 'this recipient can''t be sent to again: the contact opted out',
  'admin: retrying a recipient who opted out is refused with the reason');
select access_test.act_as('postgres');
update public.contacts set opted_out_at = null where id = access_test.id('2b');
select access_test.act_as('admin');
select is(access_test.dry_run($$update public.broadcast_recipients set status = 'pending' where broadcast_id = access_test.id('81') and contact_id = access_test.id('2b') returning status$$),
  'pending', 'admin: once the contact may be messaged again, the retry is taken');

-- A template can be deleted after agents sent it: their messages keep what was sent.
select access_test.act_as('admin');
select lives_ok($$delete from public.message_templates where id = access_test.id('71')$$, 'admin: deletes a template agents have sent');
select access_test.act_as('postgres');
select is((select coalesce(template_id::text, 'none') || ' ' || (metadata -> 'template' ->> 'name') || ' ' || content from public.messages where id = access_test.id('41')),
  'none order_ready Hi Ana, your order #1042 is ready', 'the sent message keeps its template''s name and text');

select * from finish();
rollback;
