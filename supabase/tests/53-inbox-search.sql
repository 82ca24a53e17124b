-- Search (migration 20261125004200): public.search_contacts and public.search_messages.
-- What matches, in which order, pages, and above all RLS: an agent's search never returns
-- another agent's contacts or messages, an admin's finds everything, nobody else anything.
begin;
select plan(36);

create schema t;
grant usage on schema t to anon, authenticated;
create function t.id(key text) returns uuid language sql immutable
as $$ select ('00000000-0000-4000-8053-' || lpad(key, 12, '0'))::uuid $$;
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
-- The keys (last two characters of the id) of what a search returns, in its order.
create function t.contacts(p_query text, p_limit int default 20, p_offset int default 0) returns text
language sql volatile as $$
  select coalesce(string_agg(right(k.id::text, 2), ',' order by s.ordinality), '')
    from public.search_contacts(p_query, p_limit, p_offset) with ordinality as s
    join public.contacts k on k.id = s.id
$$;
create function t.messages(p_query text, p_limit int default 20, p_offset int default 0) returns text
language sql volatile as $$
  select coalesce(string_agg(right(s.id::text, 2), ',' order by s.ordinality), '')
    from public.search_messages(p_query, p_limit, p_offset) with ordinality as s
$$;
grant execute on all functions in schema t to anon, authenticated;

-- Agents a1, a2, inactive a3 (who had d1 before), admin e1.
insert into auth.users (id, email, raw_app_meta_data) values
  (t.id('a1'), 'a1@t53.test', '{"role":"agent"}'),
  (t.id('a2'), 'a2@t53.test', '{"role":"agent"}'),
  (t.id('a3'), 'a3@t53.test', '{"role":"agent"}'),
  (t.id('e1'), 'e1@t53.test', '{"role":"admin"}');
update public.users set status = 'inactive' where id = t.id('a3');
update public.inbox_settings set auto_assign = false;

-- Contacts: c1, c2 of a1; c3, c4 of a2; c5 unassigned; c6 without any conversation.
insert into public.contacts (id, phone, wa_id, full_name, email, last_contacted_at) values
  (t.id('c1'), '34633000001', '34633000001', 'María González', 'maria.gonzalez@example.com', now() - interval '1 hour'),
  (t.id('c2'), '34633000002', '34633000002', 'Pedro Gómez', null, now() - interval '2 hours'),
  (t.id('c3'), '34633000003', '34633000003', 'María García', 'mgarcia@example.com', now() - interval '3 hours'),
  (t.id('c4'), '34633000004', '34633000004', 'Lucía Gonzalo', null, now() - interval '4 hours'),
  (t.id('c5'), '34633000005', '34633000005', 'Gonzalo Pérez', null, now() - interval '5 hours'),
  (t.id('c6'), '34633000006', '34633000006', 'Ana Gonzalez', 'ana@example.com', now() - interval '6 hours');
insert into public.conversations (id, contact_id, assigned_agent_id, last_message_at) values
  (t.id('d1'), t.id('c1'), t.id('a1'), now() - interval '1 day'),
  (t.id('d2'), t.id('c2'), t.id('a1'), now()),
  (t.id('d3'), t.id('c3'), t.id('a2'), now()),
  (t.id('d4'), t.id('c4'), t.id('a2'), now()),
  (t.id('d5'), t.id('c5'), null, now());
insert into public.messages (id, conversation_id, sender_type, sender_id, content, message_type, status, created_at) values
  (t.id('b1'), t.id('d1'), 'contact', t.id('c1'), 'Quiero un reembolso del pedido 4821', 'text', 'delivered', now() - interval '1 day'),
  (t.id('b2'), t.id('d2'), 'contact', t.id('c2'), 'Reembolsos: ¿cuánto tardan?', 'text', 'delivered', now() - interval '1 day'),
  (t.id('b3'), t.id('d3'), 'contact', t.id('c3'), 'reembolso parcial del pedido 4821 medioraro', 'text', 'delivered', now()),
  (t.id('b4'), t.id('d4'), 'contact', t.id('c4'), 'hola, 50% de descuento?', 'text', 'delivered', now()),
  (t.id('b5'), t.id('d5'), 'contact', t.id('c5'), 'un reembolso, por favor', 'text', 'delivered', now());
-- 1,200 newer messages in d2 (more than the first look at the agent's newest 1,000):
-- every one says "relleno", every 33rd also "medioraro".
insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status, created_at)
select t.id('d2'), 'contact', t.id('c2'),
       'mensaje de relleno ' || g || case when g % 33 = 0 then ' medioraro' else '' end,
       'text', 'delivered', now() - make_interval(secs => g)
  from generate_series(1, 1200) g;

-- Contacts ------------------------------------------------------------------------------------------
select t.act_as('a1');
select is(t.contacts('gonz'), 'c1', 'an agent finds a fragment of a name among their own contacts only');
select is(t.contacts('pedor'), 'c2', 'a misspelt name is found by similarity ("pedor" finds Pedro)');
select is(t.contacts('maria.gonz'), 'c1', 'an email fragment');
select is(t.contacts('+34 633-000 001'), 'c1', 'a phone as people type it (digits only are compared)');
select is(t.contacts('0000'), 'c1,c2', 'a phone fragment finds every own contact with it, none of the others');
select is(t.contacts('ma'), '', 'fewer than 3 characters find nothing');
select is(t.contacts('%%%'), '', 'LIKE wildcards in the query are taken literally');
select is(t.contacts('garcía'), '', 'another agent''s contact is never found');
select t.act_as('a2');
select is(t.contacts('gonz'), 'c4', 'the other agent finds only theirs');
select t.act_as('e1');
select is(t.contacts('gonz'), 'c1,c4,c5,c6',
  'an admin finds every contact, also unassigned ones and those without conversation (equal matches: most recently contacted first)');
select is(t.contacts('gonz', 2) || '|' || t.contacts('gonz', 2, 2) || '|' || t.contacts('gonz', 2, 4), 'c1,c4|c5,c6|',
  'pages of p_limit from p_offset');
select is(t.contacts('gonzalez'), 'c1,c6,c4,c5',
  'best match first: "gonzalez" in the email or name before the similar "Gonzalo" (contacted more recently than c6)');
select t.act_as('a3');
select is(t.contacts('gonz'), '', 'an inactive agent finds nothing');
select t.act_as('anon');
select throws_ok($$select * from public.search_contacts('gonz')$$, '42501', null, 'anon cannot search');
select t.act_as(null);
select is((select count(*)::int from public.search_contacts('gonz')), 0, 'a caller who is no user finds nothing (not even as owner)');

-- Messages ------------------------------------------------------------------------------------------
select t.act_as('a1');
select is(t.messages('reembolso'), 'b1,b2', 'an agent finds their messages only, the whole word before a longer one');
select is(t.messages('REEMBOLSO'), 'b1,b2', 'case does not matter');
select is(t.messages('pedido 4821'), 'b1', 'a rare phrase older than the agent''s 1,000 newest messages (index path)');
select is((select count(*)::int from public.search_messages('medioraro', 100)), 36,
  'a fragment in 3% of the agent''s messages: all 36, none of the other agent''s');
select is((select count(*)::int from public.search_messages('relleno', 100)), 100, 'a frequent fragment: its 100 newest matches');
select is((select count(*)::int from public.search_messages('relleno', 100, 100)), 0, 'pages end with the 100 newest matches');
select is((select count(*)::int from public.search_messages('relleno', 1000)), 100, 'a page holds at most 100');
select is((select string_agg(content, '|') from public.search_messages('relleno', 2)),
  'mensaje de relleno 1|mensaje de relleno 2', 'whole rows come back; equal matches newest first');
select is(t.messages('50%'), '', 'another agent''s message is never found');
select is(t.messages('re'), '', 'fewer than 3 characters find nothing');
select ok(
  (select bool_and(m.conversation_id in (t.id('d1'), t.id('d2'))) from public.search_messages('mensaje', 100) m),
  'every result is in the agent''s conversations');
select t.act_as('a2');
select is(t.messages('reembolso'), 'b3', 'the other agent finds only theirs');
select is(t.messages('50%'), 'b4', 'a % in the query is a literal %');
select is((select count(*)::int from public.search_messages('medioraro', 100)), 1, 'and never the first agent''s');
select t.act_as('e1');
select is(t.messages('reembolso'), 'b3,b5,b1,b2',
  'an admin finds every message, unassigned conversations too (equal matches: most recently active conversation first)');
select is((select count(*)::int from public.search_messages('medioraro', 100)), 37, 'all of them');
select t.act_as('a3');
select is(t.messages('reembolso'), '', 'an inactive agent finds nothing');
select t.act_as('anon');
select throws_ok($$select * from public.search_messages('reembolso')$$, '42501', null, 'anon cannot search messages');
select t.act_as(null);

-- Shape ------------------------------------------------------------------------------------------------
select ok(
  not (select bool_or(prosecdef) from pg_proc where oid in ('public.search_contacts(text, int, int)'::regprocedure, 'public.search_messages(text, int, int)'::regprocedure)),
  'both RPCs are SECURITY INVOKER');
select ok(
  (select bool_and(has_function_privilege('authenticated', oid, 'EXECUTE') and not has_function_privilege('anon', oid, 'EXECUTE')
                   and not has_function_privilege('service_role', oid, 'EXECUTE'))
     from pg_proc where oid in ('public.search_contacts(text, int, int)'::regprocedure, 'public.search_messages(text, int, int)'::regprocedure)),
  'both are executable by authenticated only');
select is(
  (select array_agg(indexrelid::regclass::text order by indexrelid::regclass::text) from pg_index
    where indexrelid::regclass::text in ('idx_contacts_search_trgm', 'idx_contacts_full_name_trgm', 'idx_messages_content_trgm')
      and (select amname from pg_am where oid = (select relam from pg_class where oid = indexrelid)) = 'gin'),
  array['idx_contacts_full_name_trgm', 'idx_contacts_search_trgm', 'idx_messages_content_trgm'],
  'GIN trigram indexes back the search');

select * from finish();
rollback;
