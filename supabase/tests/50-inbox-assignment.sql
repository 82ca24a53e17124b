-- Automatic assignment (migration 20261125004000): the settings row and who may change it,
-- the rule (previous agent, fewest open, longest ago), auto-assign off, deactivation,
-- manual reassignment by admins, and an even spread when many conversations open at once.
begin;
select plan(51);

-- Helpers: ids of this file (t.id('a1') = ...-8050-0000000000a1) and acting as a caller.
create schema t;
grant usage on schema t to anon, authenticated;
create function t.id(key text) returns uuid language sql immutable
as $$ select ('00000000-0000-4000-8050-' || lpad(key, 12, '0'))::uuid $$;
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
-- A contact (key c<n>) and svc.open_conversation_for it, as ingestion does.
create function t.open(p_contact text) returns uuid language plpgsql as $$
begin
  insert into public.contacts (id, phone, wa_id) values (t.id(p_contact), '3460' || p_contact, '3460' || p_contact)
  on conflict do nothing;
  return svc.open_conversation_for(t.id(p_contact), now());
end;
$$;
create function t.agent_of(p_conversation uuid) returns text language sql volatile as $$
  select right(assigned_agent_id::text, 2) from public.conversations where id = p_conversation
$$;
-- Open conversations per active agent: max - min.
create function t.spread() returns int language sql volatile as $$
  select max(n) - min(n) from (
    select u.id, count(c.id)::int as n from public.users u
      left join public.conversations c on c.assigned_agent_id = u.id and c.status is distinct from 'archived'
     where u.role = 'agent' and u.status = 'active' group by u.id) s
$$;
-- Rows a statement changed (as the current caller).
create function t.changed(p_sql text) returns int language plpgsql as $$
declare
  n int;
begin
  execute p_sql;
  get diagnostics n = row_count;
  return n;
end;
$$;
grant execute on all functions in schema t to anon, authenticated;

-- The cast: agents a1, a2, a3 (ids in that order), admin e1.
insert into auth.users (id, email, raw_app_meta_data) values
  (t.id('a1'), 'a1@t50.test', '{"role":"agent"}'),
  (t.id('a2'), 'a2@t50.test', '{"role":"agent"}'),
  (t.id('a3'), 'a3@t50.test', '{"role":"agent"}'),
  (t.id('e1'), 'e1@t50.test', '{"role":"admin"}');

-- Settings ---------------------------------------------------------------------------------
select is((select count(*)::int from public.inbox_settings), 1, 'inbox_settings has its one row');
select is((select auto_assign from public.inbox_settings), true, 'automatic assignment is on by default');
select throws_ok($$insert into public.inbox_settings (id, auto_assign) values (false, false)$$, '23505', null,
  'inbox_settings holds one row only');
select is((select count(*)::int from svc.agent_assignments where user_id in (t.id('a1'), t.id('a2'), t.id('a3'), t.id('e1'))), 4,
  'every new user gets an svc.agent_assignments row');

select t.act_as('a1');
select is((select auto_assign from public.inbox_settings), true, 'an agent reads the settings');
select is_empty($$update public.inbox_settings set auto_assign = false returning id$$, 'an agent''s update of the settings reaches no row');
select throws_ok($$insert into public.inbox_settings (id) values (false)$$, '42501', null, 'an agent cannot insert settings');
select throws_ok($$delete from public.inbox_settings$$, '42501', null, 'an agent cannot delete the settings');
select t.act_as('e1');
select throws_ok($$update public.inbox_settings set id = false$$, '42501', null, 'only auto_assign is updatable, even for an admin');
select throws_ok($$delete from public.inbox_settings$$, '42501', null, 'an admin cannot delete the settings row');
select t.act_as('anon');
select throws_ok($$select * from public.inbox_settings$$, '42501', null, 'anon cannot read the settings');
select t.act_as(null);

-- Fewest open, ties by the one assigned longest ago -------------------------------------------
-- Nobody has been assigned yet: equal load, never assigned, so user id order.
select is(t.agent_of(t.open('c01')), 'a1', 'a new conversation goes to an active agent (all equal: the first)');
select is(t.agent_of(t.open('c02')), 'a2', 'the next one to an agent with fewer open conversations');
select is(t.agent_of(t.open('c03')), 'a3', 'and the next one to the last agent without any');
select is(t.agent_of(t.open('c04')), 'a1', 'all equal again: the agent assigned longest ago');
select isnt((select last_assigned_at from svc.agent_assignments where user_id = t.id('a1')), null,
  'the assignment time is recorded');

-- a2 gets two more open conversations by hand (an admin's manual assignment).
insert into public.contacts (id, phone) values (t.id('c90'), '346090'), (t.id('c91'), '346091');
insert into public.conversations (contact_id, assigned_agent_id) values (t.id('c90'), t.id('a2')), (t.id('c91'), t.id('a2'));
-- Now a1 2 open, a2 3, a3 1.
select is(t.agent_of(t.open('c05')), 'a3', 'the agent with the fewest open conversations gets it');
-- a1 2, a2 3, a3 2: a1 and a3 tie; a1 was assigned before a3's last.
select is(t.agent_of(t.open('c06')), 'a1', 'on equal load, the one assigned longest ago gets it');
update svc.agent_assignments set last_assigned_at = now() - interval '1 hour' where user_id = t.id('a1');
update svc.agent_assignments set last_assigned_at = now() - interval '2 hours' where user_id = t.id('a3');
update public.conversations set status = 'archived' where contact_id = t.id('c06');
-- a1 2, a2 3, a3 2; a3 assigned 2 hours ago, a1 1 hour ago.
select is(t.agent_of(t.open('c07')), 'a3', 'the tie goes to whoever was assigned longest ago, not to the first id');
-- c07 waits on the customer (pending); a3 is made the longest-ago again: if pending did
-- not count, a3 (2 open) would win the tie with a1 (2 open).
update public.conversations set status = 'pending' where contact_id = t.id('c07');
update svc.agent_assignments set last_assigned_at = now() - interval '3 hours' where user_id = t.id('a3');
select is(t.agent_of(t.open('c08')), 'a1', 'pending conversations count as open');
-- a1 3, a2 3, a3 3. a2 also has three archived ones and was assigned longest ago.
insert into public.contacts (id, phone) values (t.id('c92'), '346092'), (t.id('c93'), '346093'), (t.id('c94'), '346094');
insert into public.conversations (contact_id, assigned_agent_id, status)
values (t.id('c92'), t.id('a2'), 'archived'), (t.id('c93'), t.id('a2'), 'archived'), (t.id('c94'), t.id('a2'), 'archived');
update svc.agent_assignments set last_assigned_at = now() - interval '10 hours' where user_id = t.id('a2');
select is(t.agent_of(t.open('c09')), 'a2', 'archived conversations do not count as load');

-- The returning contact's previous agent ---------------------------------------------------------
-- c02's conversation (a2) is resolved; c02 writes again; a2 has the most open conversations.
update public.conversations set status = 'archived' where contact_id = t.id('c02');
update svc.agent_assignments set last_assigned_at = now() where user_id = t.id('a2');
select is(t.agent_of(t.open('c02')), 'a2', 'a returning contact goes back to their previous agent (not the least loaded, assigned just now)');
select is((select count(*)::int from public.conversations where contact_id = t.id('c02')), 2,
  'after an archived conversation, a new one was opened');

-- Inactive agents are skipped -------------------------------------------------------------------
update public.conversations set status = 'archived' where contact_id = t.id('c03');
update public.users set status = 'inactive' where id = t.id('a3');
select isnt(t.agent_of(t.open('c03')), 'a3', 'a previous agent who was deactivated is not chosen');
select is(
  (select count(*)::int from public.conversations c
     where c.assigned_agent_id = t.id('a3') and c.status is distinct from 'archived'), 0,
  'a deactivated agent keeps no open conversation');
select ok(
  (select bool_and(t.agent_of(t.open(k)) in ('a1', 'a2')) from unnest(array['c10', 'c11', 'c12', 'c13']) k),
  'an inactive agent gets no new conversations');
select is(
  (select count(*)::int from public.conversations where assigned_agent_id = t.id('a3') and status = 'archived'), 1,
  'the deactivated agent''s archived conversation stays theirs (history)');

-- An admin as previous "agent" (they assigned it to themselves): not an agent, the rule goes on.
insert into public.contacts (id, phone) values (t.id('c20'), '346020');
insert into public.conversations (contact_id, assigned_agent_id, status) values (t.id('c20'), t.id('e1'), 'archived');
select isnt(t.agent_of(t.open('c20')), 'e1', 'admins are never assigned automatically');

-- Deactivation hands the open conversations over by the same rule --------------------------------
update public.users set status = 'active' where id = t.id('a3');
-- c30 was a1's customer before; its open conversation is with a3.
insert into public.contacts (id, phone) values (t.id('c30'), '346030');
insert into public.conversations (contact_id, assigned_agent_id, status, created_at)
values (t.id('c30'), t.id('a1'), 'archived', now() - interval '1 day');
insert into public.conversations (id, contact_id, assigned_agent_id) values (t.id('d30'), t.id('c30'), t.id('a3'));
insert into public.contacts (id, phone) values (t.id('c31'), '346031');
insert into public.conversations (id, contact_id, assigned_agent_id) values (t.id('d31'), t.id('c31'), t.id('a3'));
insert into public.conversations (id, contact_id, assigned_agent_id, status) values (t.id('d32'), t.id('c31'), t.id('a3'), 'archived');
select t.act_as('e1');
update public.users set status = 'inactive' where id = t.id('a3');
select t.act_as(null);
select is(t.agent_of(t.id('d30')), 'a1', 'when an admin deactivates an agent, a conversation goes to the contact''s previous agent');
select ok(t.agent_of(t.id('d31')) in ('a1', 'a2'), 'and one without history to an active agent');
select is(t.agent_of(t.id('d32')), 'a3', 'archived conversations stay with the deactivated agent');

-- Auto-assign off --------------------------------------------------------------------------------
select t.act_as('e1');
select is(t.changed('update public.inbox_settings set auto_assign = false'), 1, 'an admin switches automatic assignment off');
select t.act_as(null);
select is(t.agent_of(t.open('c40')), null, 'with auto-assign off a new conversation waits unassigned');
update public.conversations set status = 'archived' where contact_id = t.id('c02');
select is(t.agent_of(t.open('c02')), null, 'even for a returning contact');
update public.users set status = 'active' where id = t.id('a3');
insert into public.contacts (id, phone) values (t.id('c42'), '346042');
insert into public.conversations (id, contact_id, assigned_agent_id) values (t.id('d42'), t.id('c42'), t.id('a3'));
update public.users set status = 'inactive' where id = t.id('a3');
select is(t.agent_of(t.id('d42')), null, 'with auto-assign off a deactivated agent''s conversations go back to the unassigned pool');

-- Admins assign by hand (the conversations' update policy); agents cannot ---------------------------
select t.act_as('a1');
select is_empty($$select 1 from public.conversations where id = (select id from public.conversations where contact_id = t.id('c40'))$$,
  'an agent does not see an unassigned conversation');
select throws_ok(
  format('update public.conversations set assigned_agent_id = %L where assigned_agent_id = %L and status = %L',
         t.id('a2'), t.id('a1'), 'active'),
  '42501', null, 'an agent cannot hand a conversation to another agent');
select t.act_as('e1');
select is(
  t.changed(format('update public.conversations set assigned_agent_id = %L where contact_id = %L and status = %L',
                   t.id('a1'), t.id('c40'), 'active')), 1,
  'an admin assigns a waiting conversation');
select t.act_as('a1');
select isnt_empty($$select 1 from public.conversations where contact_id = t.id('c40')$$, 'the agent now sees it');
select t.act_as('e1');
update public.inbox_settings set auto_assign = true;
select t.act_as(null);

-- Explicit agents and archived inserts are left alone ----------------------------------------------
insert into public.contacts (id, phone) values (t.id('c50'), '346050'), (t.id('c51'), '346051');
insert into public.conversations (id, contact_id, assigned_agent_id) values (t.id('d50'), t.id('c50'), t.id('a2'));
select is(t.agent_of(t.id('d50')), 'a2', 'a conversation inserted with an agent keeps that agent');
insert into public.conversations (id, contact_id, status) values (t.id('d51'), t.id('c51'), 'archived');
select is(t.agent_of(t.id('d51')), null, 'an archived conversation inserted without an agent is not assigned');

-- Nobody active ----------------------------------------------------------------------------------
update public.users set status = 'inactive' where role = 'agent';
select is(t.agent_of(t.open('c60')), null, 'with no active agent a conversation waits unassigned');
update public.users set status = 'active' where id in (t.id('a1'), t.id('a2'), t.id('a3'));

-- Many conversations at once spread evenly -----------------------------------------------------------
-- Start from an even load: everything so far archived.
update public.conversations set status = 'archived' where status is distinct from 'archived';
insert into public.contacts (id, phone)
select t.id('f' || lpad(g::text, 4, '0')), '3470' || g from generate_series(1, 300) g;
-- One statement opening 31 conversations.
insert into public.conversations (contact_id)
select t.id('f' || lpad(g::text, 4, '0')) from generate_series(1, 31) g;
select is(t.spread(), 1, '31 conversations opened by one statement: 11/10/10 (max - min = 1)');
select is((select count(*)::int from public.conversations where contact_id in (select t.id('f' || lpad(g::text, 4, '0')) from generate_series(1, 31) g)
             and assigned_agent_id is null), 0, 'and every one is assigned');
-- Statement after statement.
insert into public.conversations (contact_id) values (t.id('f0032'));
insert into public.conversations (contact_id) values (t.id('f0033'));
insert into public.conversations (contact_id) values (t.id('f0034'));
insert into public.conversations (contact_id) values (t.id('f0035'));
insert into public.conversations (contact_id) values (t.id('f0036'));
select cmp_ok(t.spread(), '<=', 1, 'five more, one statement each: still even');
-- Ingestion: one batch of 40 webhooks from new customers (svc.ingest_webhooks, one transaction).
select svc.ingest_webhooks((
  select jsonb_agg(jsonb_build_object(
    'payload', '{}'::jsonb,
    'events', jsonb_build_object('messages', jsonb_build_array(jsonb_build_object(
      'wamid', 'wamid.t50.' || g, 'from', '3480' || g, 'profile_name', 'Cliente ' || g,
      'timestamp', '2026-11-20T10:00:00Z', 'message_type', 'text', 'content', 'hola')))))
  from generate_series(1, 40) g));
select is((select count(*)::int from public.conversations c join public.contacts k on k.id = c.contact_id
            where k.wa_id like '3480%' and c.assigned_agent_id is not null), 40,
  'a batch of 40 webhooks from new customers opens 40 assigned conversations');
select cmp_ok(t.spread(), '<=', 1, 'spread evenly over the agents (max - min <= 1)');
-- Separate transactions in turn (savepoints stand in for them: each commits its pick).
savepoint s1;
insert into public.conversations (contact_id) select t.id('f' || lpad(g::text, 4, '0')) from generate_series(37, 46) g;
release savepoint s1;
savepoint s2;
insert into public.conversations (contact_id) select t.id('f' || lpad(g::text, 4, '0')) from generate_series(47, 58) g;
release savepoint s2;
select cmp_ok(t.spread(), '<=', 1, 'batches in turn keep the spread even');
-- A returning contact still goes to their agent even when that unbalances.
update public.conversations set status = 'archived' where contact_id = t.id('f0001');
select is(t.agent_of(t.open('f0001')),
  (select right(assigned_agent_id::text, 2) from public.conversations where contact_id = t.id('f0001') and status = 'archived'),
  'the previous-agent rule still wins over balance');

-- Grants -----------------------------------------------------------------------------------------
select ok(not has_function_privilege('authenticated', 'private.pick_agent_for(uuid, uuid)', 'EXECUTE')
          and not has_function_privilege('anon', 'private.pick_agent_for(uuid, uuid)', 'EXECUTE'),
  'the API roles cannot call the pick');
select ok(not has_table_privilege('authenticated', 'svc.agent_assignments', 'SELECT'),
  'authenticated cannot read svc.agent_assignments');

select * from finish();
rollback;
