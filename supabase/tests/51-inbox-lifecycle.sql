-- A conversation's lifecycle (migration 20261125004100's header): inbound messages reuse
-- the contact's open conversation (active or pending), archiving is the agent's "resolve",
-- and a message after archiving opens a NEW conversation, assigned to the same agent.
begin;
select plan(14);

create schema t;
grant usage on schema t to anon, authenticated;
create function t.id(key text) returns uuid language sql immutable
as $$ select ('00000000-0000-4000-8051-' || lpad(key, 12, '0'))::uuid $$;
create function t.act_as(p_user text) returns void language plpgsql as $$
begin
  perform set_config('role', 'none', true);
  perform set_config('request.jwt.claims', '', true);
  if p_user is not null then
    perform set_config('request.jwt.claims', json_build_object('sub', t.id(p_user), 'role', 'authenticated')::text, true);
    perform set_config('role', 'authenticated', true);
  end if;
end;
$$;
-- One inbound text message from 34611000001, as the gateway hands it over.
create function t.inbound(p_wamid text, p_ts text) returns jsonb language sql as $$
  select svc.ingest_webhook('{}'::jsonb, jsonb_build_object('messages', jsonb_build_array(jsonb_build_object(
    'wamid', p_wamid, 'from', '34611000001', 'profile_name', 'Marta', 'timestamp', p_ts,
    'message_type', 'text', 'content', 'hola'))))
$$;
create function t.conversations() returns table (id uuid, status text, agent text) language sql volatile as $$
  select c.id, c.status, right(c.assigned_agent_id::text, 2)
    from public.conversations c join public.contacts k on k.id = c.contact_id
   where k.wa_id = '34611000001' order by c.created_at, c.id
$$;
grant execute on all functions in schema t to anon, authenticated;

insert into auth.users (id, email, raw_app_meta_data) values
  (t.id('a1'), 'a1@t51.test', '{"role":"agent"}'),
  (t.id('a2'), 'a2@t51.test', '{"role":"agent"}');

-- Opening and reusing ----------------------------------------------------------------------
select t.inbound('wamid.t51.1', '2026-11-20T10:00:00Z');
select results_eq($$select status, agent from t.conversations()$$, $$values ('active'::text, 'a1'::text)$$,
  'a first message opens an active conversation, assigned to an agent');
select id as first from t.conversations() \gset
select t.inbound('wamid.t51.2', '2026-11-20T10:01:00Z');
select is((select count(*)::int from t.conversations()), 1, 'a second message reuses the open conversation');

-- Pending is still open --------------------------------------------------------------------
select t.act_as('a1');
update public.conversations set status = 'pending' where id = :'first';
select t.act_as(null);
select t.inbound('wamid.t51.3', '2026-11-20T10:02:00Z');
select results_eq($$select id, status from t.conversations()$$,
  format($$values (%L::uuid, 'pending'::text)$$, :'first'),
  'a message to a pending conversation goes into it and leaves it pending');

-- Resolving ----------------------------------------------------------------------------------
select t.act_as('a1');
select lives_ok(format('update public.conversations set status = %L where id = %L', 'archived', :'first'),
  'the assigned agent resolves (archives) the conversation');
select t.act_as('a2');
select is_empty(format('select 1 from public.conversations where id = %L', :'first'),
  'another agent does not even see it');
select t.act_as(null);
select is((select status from public.conversations where id = :'first'), 'archived', 'it is archived');
select is((select count(*)::int from public.messages m where m.conversation_id = :'first'), 3,
  'with its three messages');

-- A message after resolving opens a new conversation --------------------------------------------
-- a2 is now the least loaded agent, but the contact goes back to a1.
select t.inbound('wamid.t51.4', '2026-11-21T09:00:00Z');
select is((select count(*)::int from t.conversations()), 2, 'a message after archiving opens a new conversation');
select results_eq(format($$select status, agent from t.conversations() where id <> %L$$, :'first'),
  $$values ('active'::text, 'a1'::text)$$, 'the new one is active and assigned to the agent who handled the contact');
select is((select status from public.conversations where id = :'first'), 'archived',
  'the resolved conversation stays archived (the record of the resolved case)');
select is((select count(*)::int from public.messages m where m.conversation_id = :'first'), 3,
  'the resolved conversation gets no new messages');
select is((select unread_count from public.conversations c where c.id <> :'first'
             and c.contact_id = (select contact_id from public.conversations where id = :'first')), 1,
  'the new conversation starts with its one unread message');

-- Reopening by hand: only the contact's latest conversation (20261207000100_lifecycles) -------------
select t.act_as('a1');
select throws_ok(format('update public.conversations set status = %L where id = %L', 'active', :'first'),
  '55000', 'this conversation is closed for good: only a customer''s latest conversation can be reopened',
  'an archived conversation cannot be reopened once the contact has a newer one (and the error names no other conversation)');
select t.act_as(null);

-- Agents cannot open or delete conversations -----------------------------------------------------------
select t.act_as('a1');
select throws_ok(format('delete from public.conversations where id = %L', :'first'), '42501', null,
  'nobody deletes a conversation through the API (history)');
select t.act_as(null);

select * from finish();
rollback;
