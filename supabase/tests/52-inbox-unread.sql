-- Unread counts and read receipts (migration 20261125004100): the count kept by the
-- database, public.mark_conversation_read and who may call it, and the queue of WhatsApp
-- mark-as-read requests the gateway's sender works through (svc.claim_read_receipts,
-- svc.record_read_receipt_sent / _retry / _failed).
begin;
select plan(50);

create schema t;
grant usage on schema t to anon, authenticated;
create function t.id(key text) returns uuid language sql immutable
as $$ select ('00000000-0000-4000-8052-' || lpad(key, 12, '0'))::uuid $$;
create function t.act_as(p_user text) returns void language plpgsql as $$
begin
  perform set_config('role', 'none', true);
  perform set_config('request.jwt.claims', '', true);
  if p_user = 'anon' then
    perform set_config('role', 'anon', true);
  elsif p_user is not null then
    perform set_config('request.jwt.claims', json_build_object('sub', t.id(p_user), 'role', 'authenticated')::text, true);
    perform set_config('role', 'authenticated', true);
  end if;
end;
$$;
create function t.inbound(p_from text, p_wamid text, p_ts text) returns jsonb language sql as $$
  select svc.ingest_webhook('{}'::jsonb, jsonb_build_object('messages', jsonb_build_array(jsonb_build_object(
    'wamid', p_wamid, 'from', p_from, 'profile_name', 'Cliente', 'timestamp', p_ts,
    'message_type', 'text', 'content', 'hola'))))
$$;
create function t.unread(p_conversation text) returns int language sql volatile as $$
  select unread_count from public.conversations where id = t.id(p_conversation)
$$;
grant execute on all functions in schema t to anon, authenticated;

-- Agents a1 and a2, inactive agent a3, admin e1; conversations d1 (a1), d2 (a2), d3 (nobody).
insert into auth.users (id, email, raw_app_meta_data) values
  (t.id('a1'), 'a1@t52.test', '{"role":"agent"}'),
  (t.id('a2'), 'a2@t52.test', '{"role":"agent"}'),
  (t.id('a3'), 'a3@t52.test', '{"role":"agent"}'),
  (t.id('e1'), 'e1@t52.test', '{"role":"admin"}');
update public.users set status = 'inactive' where id = t.id('a3');
insert into public.contacts (id, phone, wa_id) values
  (t.id('c1'), '34622000001', '34622000001'), (t.id('c2'), '34622000002', '34622000002'), (t.id('c3'), '34622000003', '34622000003');
insert into public.conversations (id, contact_id, assigned_agent_id) values
  (t.id('d1'), t.id('c1'), t.id('a1')), (t.id('d2'), t.id('c2'), t.id('a2'));
update public.inbox_settings set auto_assign = false;
insert into public.conversations (id, contact_id) values (t.id('d3'), t.id('c3'));
update public.inbox_settings set auto_assign = true;

-- Counting -------------------------------------------------------------------------------------
select is(t.unread(('d1')), 0, 'a new conversation has nothing unread');
select t.inbound('34622000001', 'wamid.t52.1', '2026-11-20T10:00:00Z');
select t.inbound('34622000001', 'wamid.t52.2', '2026-11-20T10:01:00Z');
select is(t.unread('d1'), 2, 'every inbound message counts as unread');
select t.inbound('34622000001', 'wamid.t52.2', '2026-11-20T10:01:00Z');
select is(t.unread('d1'), 2, 'a duplicate webhook does not count twice');
-- An earlier message arriving late (Meta's order is not guaranteed).
select t.inbound('34622000001', 'wamid.t52.0', '2026-11-20T09:59:00Z');
select is(t.unread('d1'), 3, 'a late, earlier message counts too');
insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status)
values (t.id('d1'), 'agent', t.id('a1'), 'respuesta', 'text', 'pending');
select is(t.unread('d1'), 3, 'the agent''s own messages do not count');
select t.inbound('34622000002', 'wamid.t52.b1', '2026-11-20T10:00:00Z');
select t.inbound('34622000003', 'wamid.t52.f1', '2026-11-20T10:00:00Z');
select is(t.unread('d2'), 1, 'each conversation counts its own');

-- Marking read: the assigned agent ------------------------------------------------------------------
select t.act_as('a1');
select is((select unread_count from public.conversations where id = t.id('d1')), 3, 'the agent sees the count on the conversation row');
select results_eq(
  format('select id, unread_count from public.mark_conversation_read(%L)', t.id('d1')),
  format('values (%L::uuid, 0)', t.id('d1')),
  'mark_conversation_read answers the conversation, now with nothing unread');
select t.act_as(null);
select is(t.unread('d1'), 0, 'the count is reset');
select results_eq(
  $$select conversation_id, wa_message_id, sent_at is null, failed_at is null from svc.read_receipts$$,
  format($$values (%L::uuid, 'wamid.t52.2'::text, true, true)$$, t.id('d1')),
  'a read receipt is queued for the newest inbound message (by Meta''s time, not arrival)');

-- Who may mark what ----------------------------------------------------------------------------------
select t.act_as('a2');
select throws_ok(format('select public.mark_conversation_read(%L)', t.id('d1')), '42501', null,
  'an agent cannot mark another agent''s conversation');
select throws_ok(format('select public.mark_conversation_read(%L)', t.id('d3')), '42501', null,
  'nor an unassigned one');
select throws_ok(format('select public.mark_conversation_read(%L)', t.id('ff')), '42501', null,
  'an unknown conversation gives the same answer');
select t.act_as('a3');
select throws_ok(format('select public.mark_conversation_read(%L)', t.id('d1')), '42501', null,
  'an inactive agent marks nothing');
select t.act_as('anon');
select throws_ok(format('select public.mark_conversation_read(%L)', t.id('d2')), '42501', null,
  'anon cannot call it');
select t.act_as(null);
select is(t.unread('d2'), 1, 'the other agent''s count is untouched');
select is((select count(*)::int from svc.read_receipts where conversation_id <> t.id('d1')), 0, 'and nothing was queued for it');

-- Admins: they read everything, but the count is the assignee's --------------------------------------
select t.act_as('e1');
select is((select unread_count from public.mark_conversation_read(t.id('d2'))), 1,
  'an admin reading an agent''s conversation leaves the agent''s count');
select is((select unread_count from public.mark_conversation_read(t.id('d3'))), 0,
  'an admin reading an unassigned conversation resets its count (admins handle the unassigned queue)');
select t.act_as(null);
select is((select count(*)::int from svc.read_receipts where conversation_id in (t.id('d2'), t.id('d3'))), 2,
  'both queue the customer''s read receipt (the business has read it)');

-- Marking again ------------------------------------------------------------------------------------------
update svc.read_receipts set sent_at = now() where conversation_id = t.id('d1');
select t.act_as('a1');
select lives_ok(format('select public.mark_conversation_read(%L)', t.id('d1')), 'marking again');
select t.act_as(null);
select isnt((select sent_at from svc.read_receipts where conversation_id = t.id('d1')), null,
  'with no newer inbound message nothing is queued again');
select t.inbound('34622000001', 'wamid.t52.3', '2026-11-20T10:05:00Z');
select is(t.unread('d1'), 1, 'a new message is unread again');
select t.act_as('a1');
select lives_ok(format('select public.mark_conversation_read(%L)', t.id('d1')), 'the agent reads it');
select t.act_as(null);
select results_eq(
  format('select wa_message_id, sent_at is null, attempts from svc.read_receipts where conversation_id = %L', t.id('d1')),
  $$values ('wamid.t52.3'::text, true, 0)$$, 'the newer message is queued in place of the sent one');

-- The sender: claiming, leases, outcomes ------------------------------------------------------------------
delete from svc.read_receipts where conversation_id in (t.id('d2'), t.id('d3'));
select is(svc.claim_read_receipts('s1', 10, 30, now()),
  jsonb_build_array(jsonb_build_object('conversation_id', t.id('d1'), 'wa_message_id', 'wamid.t52.3', 'attempts', 1)),
  'claim_read_receipts answers [{conversation_id, wa_message_id, attempts}]');
select is(svc.claim_read_receipts('s2', 10, 30, now()), '[]'::jsonb, 'a leased receipt is not claimed twice');
select is(jsonb_array_length(svc.claim_read_receipts('s2', 10, 30, now() + interval '31 seconds')), 1,
  'after the lease expires it is claimable again (marking read twice is harmless)');
select is(svc.record_read_receipt_sent(t.id('d1'), 's2', 'wamid.t52.3'), true, 'the sender records success');
select isnt((select sent_at from svc.read_receipts where conversation_id = t.id('d1')), null, 'the receipt is sent');
select is((select lease_owner from svc.read_receipts where conversation_id = t.id('d1')), null, 'and its lease released');
select is(svc.claim_read_receipts('s1', 10, 30, now() + interval '1 hour'), '[]'::jsonb, 'a sent receipt is not claimed again');
select is(svc.record_read_receipt_sent(t.id('d1'), 's1', 'wamid.t52.3'), true,
  'a late success of the first sender for the same message changes nothing harmful');

-- A newer message requested while the older one is in flight.
select t.inbound('34622000001', 'wamid.t52.4', '2026-11-20T10:10:00Z');
select t.act_as('a1');
select lives_ok(format('select public.mark_conversation_read(%L)', t.id('d1')), 'read again');
select t.act_as(null);
select is(svc.claim_read_receipts('s1', 10, 30, now()) -> 0 ->> 'wa_message_id', 'wamid.t52.4', 'claimed');
select t.inbound('34622000001', 'wamid.t52.5', '2026-11-20T10:11:00Z');
select t.act_as('a1');
select lives_ok(format('select public.mark_conversation_read(%L)', t.id('d1')), 'and again while in flight');
select t.act_as(null);
select is(svc.record_read_receipt_sent(t.id('d1'), 's1', 'wamid.t52.4'), true, 'the in-flight one succeeds');
select results_eq(
  format('select wa_message_id, sent_at is null, lease_owner is null from svc.read_receipts where conversation_id = %L', t.id('d1')),
  $$values ('wamid.t52.5'::text, true, true)$$, 'the newer request stays pending, unleased');

-- Retry and failure.
select is(svc.claim_read_receipts('s1', 10, 30, now()) -> 0 ->> 'wa_message_id', 'wamid.t52.5', 'the newer one is claimed');
select is(svc.record_read_receipt_retry(t.id('d1'), 's1', 'wamid.t52.5', 60, '{"code": 130429}'), true, 'a retryable error');
select is(svc.claim_read_receipts('s1', 10, 30, now()), '[]'::jsonb, 'it waits for its retry time');
select is(svc.claim_read_receipts('s1', 10, 30, clock_timestamp() + interval '61 seconds') -> 0 ->> 'attempts', '2',
  'then it is claimed again, second attempt');
select is(svc.record_read_receipt_failed(t.id('d1'), 's2', 'wamid.t52.5', '{"code": 100}'), false, 'only the lease owner records an outcome');
select is(svc.record_read_receipt_failed(t.id('d1'), 's1', 'wamid.t52.5', '{"code": 100}'), true, 'a permanent error');
select results_eq(
  format('select failed_at is not null, sent_at is null, last_error from svc.read_receipts where conversation_id = %L', t.id('d1')),
  $$values (true, true, '{"code": 100}'::jsonb)$$, 'the receipt is given up with its error');
select is(svc.claim_read_receipts('s1', 10, 30, now() + interval '1 day'), '[]'::jsonb, 'and never claimed again');

-- Grants ----------------------------------------------------------------------------------------------------
select ok(has_function_privilege('authenticated', 'public.mark_conversation_read(uuid)', 'EXECUTE')
          and not has_function_privilege('anon', 'public.mark_conversation_read(uuid)', 'EXECUTE')
          and not has_function_privilege('service_role', 'public.mark_conversation_read(uuid)', 'EXECUTE'),
  'mark_conversation_read is executable by authenticated only');
select ok(not (select prosecdef from pg_proc where oid = 'public.mark_conversation_read(uuid)'::regprocedure),
  'mark_conversation_read is SECURITY INVOKER');
select ok(not has_function_privilege('authenticated', 'svc.claim_read_receipts(text, int, int, timestamptz)', 'EXECUTE')
          and has_function_privilege('service_role', 'svc.claim_read_receipts(text, int, int, timestamptz)', 'EXECUTE'),
  'the queue''s functions are the service role''s');
select ok(not has_column_privilege('authenticated', 'public.conversations', 'unread_count', 'UPDATE'),
  'nobody sets unread_count through the API');

select * from finish();
rollback;
