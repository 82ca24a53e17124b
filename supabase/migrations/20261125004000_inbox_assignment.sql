-- The inbox, part 1: automatic assignment (issue 7).
--
-- Agents see only the conversations assigned to them, so a conversation nobody assigns is
-- invisible to every agent. A new conversation (svc.open_conversation_for, or any other
-- insert without an agent) is therefore assigned on insert, by one rule:
--
--   1. the returning contact's previous agent (the agent of their latest earlier
--      conversation), when that user is still an active agent;
--   2. otherwise the active agent with the fewest open (not archived) conversations,
--      ties broken by the one whose last automatic assignment is longest ago;
--   3. nobody when automatic assignment is off (public.inbox_settings.auto_assign) or no
--      agent is active: the conversation waits for an admin (admins see every conversation
--      and assign through the conversations' update policy, migration 0700).
--
-- When an agent is deactivated, their open conversations go through the same rule (or
-- back to the unassigned pool), so that no customer waits on someone who left.
--
-- Concurrency: conversations opened at the same moment must not all land on one agent,
-- and the pick must never wait on a lock. Ingestion locks contacts in one global order
-- (migration 1000); a transaction-wide lock taken in the middle of that order (a global
-- advisory lock, or agents' rows locked and waited for) would deadlock two batches that
-- share a contact. So each agent has a row in svc.agent_assignments, and the pick locks
-- the best candidate's row FOR UPDATE SKIP LOCKED: concurrent transactions take different
-- agents, in order of load, and never wait. The row is held to the end of the
-- transaction, when the new conversation becomes visible in the counts. Only when every
-- candidate is being assigned by another transaction at that very moment (more
-- simultaneous openings than agents) does the pick fall back to the best candidate
-- without its lock.

-- Settings ------------------------------------------------------------------------------

-- Extension: the inbox's settings, one row.
create table public.inbox_settings (
    id boolean primary key default true,
    auto_assign boolean not null default true
);
comment on table public.inbox_settings is
  'The team inbox''s settings (one row). auto_assign: new conversations are assigned to an agent automatically; off, they wait for an admin.';
-- One row: the key is a constant.
create unique index inbox_settings_one_row on public.inbox_settings ((true));
insert into public.inbox_settings (id, auto_assign) values (true, true);

alter table public.inbox_settings enable row level security;

-- Every active user reads it; admins switch auto_assign; the row itself is the migration's.
revoke all on public.inbox_settings from anon, authenticated;
grant select on public.inbox_settings to authenticated;
grant update (auto_assign) on public.inbox_settings to authenticated;
grant select, insert, update, delete on public.inbox_settings to service_role;

-- ====================================================================================
-- supabase/policies/inbox_settings.sql
-- ====================================================================================

-- public.inbox_settings: the team inbox's settings, one row (migration 20261125004000).
--
-- read    every active user (the frontend shows whether conversations are assigned
--         automatically)
-- update  admins: auto_assign (grant in migration 20261125004000)
-- insert  nobody through the API: the one row comes with the migration
-- delete  nobody through the API

create policy "Active users can read the inbox settings"
  on public.inbox_settings
  for select
  to authenticated
  using ((select private.is_active_user()));

create policy "Admins can change the inbox settings"
  on public.inbox_settings
  for update
  to authenticated
  using ((select private.is_admin()))
  with check ((select private.is_admin()));

-- Assignment state ---------------------------------------------------------------------------

-- One row per user: when they were last assigned a conversation automatically (the
-- tie-breaker), and the row the pick locks (see the header).
create table svc.agent_assignments (
    user_id uuid primary key references public.users (id) on delete cascade,
    last_assigned_at timestamptz
);
comment on table svc.agent_assignments is
  'Per user: the last automatic assignment (tie-breaker of the least-loaded rule); its row is locked while a transaction assigns to that user.';

insert into svc.agent_assignments (user_id) select id from public.users on conflict do nothing;

create or replace function private.track_new_user_for_assignment()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into svc.agent_assignments (user_id) values (new.id) on conflict do nothing;
  return new;
end;
$$;
comment on function private.track_new_user_for_assignment() is
  'Gives every new user their svc.agent_assignments row.';

create trigger on_user_created_track_assignments
  after insert on public.users
  for each row execute function private.track_new_user_for_assignment();

-- The load count: open conversations per agent, from the index alone.
create index idx_conversations_open_by_agent on public.conversations (assigned_agent_id)
  where status is distinct from 'archived';

-- The pick -------------------------------------------------------------------------------

-- The agent a conversation of p_contact_id should go to (p_conversation_id: the
-- conversation being assigned, left out of the contact's history), or null when
-- automatic assignment is off or no agent is active. Records the assignment time of the
-- agent it picks. Never waits on a lock (see the header).
create or replace function private.pick_agent_for(p_contact_id uuid, p_conversation_id uuid)
returns uuid
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_agent uuid;
  v_candidates uuid[];
begin
  if not coalesce((select s.auto_assign from public.inbox_settings s limit 1), true) then
    return null;
  end if;

  -- 1. The returning contact's previous agent, when still an active agent.
  select c.assigned_agent_id into v_agent
    from public.conversations c
   where c.contact_id = p_contact_id
     and c.id is distinct from p_conversation_id
     and c.assigned_agent_id is not null
   order by c.created_at desc nulls last, c.id desc
   limit 1;
  if v_agent is not null and exists (
       select from public.users u where u.id = v_agent and u.status = 'active' and u.role = 'agent') then
    v_candidates := array[v_agent];
  else
    -- 2. The active agents, least loaded first, then the one assigned longest ago.
    v_candidates := array(
      select a.user_id
        from svc.agent_assignments a
        join public.users u on u.id = a.user_id
       where u.status = 'active' and u.role = 'agent'
       order by (select count(*) from public.conversations c
                  where c.assigned_agent_id = a.user_id and c.status is distinct from 'archived'),
                a.last_assigned_at nulls first,
                a.user_id);
  end if;

  -- The first candidate no other transaction is assigning to right now; its row stays
  -- locked until this transaction ends, when the new conversation shows in the counts.
  foreach v_agent in array v_candidates loop
    perform from svc.agent_assignments a where a.user_id = v_agent for update skip locked;
    if found then
      update svc.agent_assignments set last_assigned_at = clock_timestamp() where user_id = v_agent;
      return v_agent;
    end if;
  end loop;
  -- All of them are (more simultaneous openings than agents): the best one all the same;
  -- the transaction holding its row records the time.
  return v_candidates[1];
end;
$$;
comment on function private.pick_agent_for(uuid, uuid) is
  'The agent for a conversation of this contact: previous agent if active, else least loaded (ties: assigned longest ago); null when auto-assign is off or nobody is active.';

-- New conversations -----------------------------------------------------------------------

create or replace function private.assign_new_conversation()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  new.assigned_agent_id := private.pick_agent_for(new.contact_id, new.id);
  return new;
end;
$$;
comment on function private.assign_new_conversation() is
  'Assigns a conversation inserted without an agent (private.pick_agent_for).';

-- Also on svc.open_conversation_for's INSERT ... ON CONFLICT DO NOTHING: BEFORE triggers
-- run before the conflict check, so a lost race only records an assignment time.
create trigger on_conversation_opened_assign
  before insert on public.conversations
  for each row
  when (new.assigned_agent_id is null and new.status is distinct from 'archived')
  execute function private.assign_new_conversation();

-- Deactivated agents -------------------------------------------------------------------------

create or replace function private.reassign_conversations_of_inactive_user()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  c record;
begin
  for c in
    select cv.id, cv.contact_id
      from public.conversations cv
     where cv.assigned_agent_id = new.id and cv.status is distinct from 'archived'
     order by cv.created_at, cv.id
       for update
  loop
    update public.conversations
       set assigned_agent_id = private.pick_agent_for(c.contact_id, c.id)
     where id = c.id;
  end loop;
  return null;
end;
$$;
comment on function private.reassign_conversations_of_inactive_user() is
  'When a user is deactivated, their open conversations are assigned again by the same rule (or left unassigned).';

create trigger on_user_deactivated_reassign
  after update of status on public.users
  for each row
  when (old.status is distinct from 'inactive' and new.status = 'inactive')
  execute function private.reassign_conversations_of_inactive_user();

revoke execute on function private.track_new_user_for_assignment() from public, anon, authenticated;
revoke execute on function private.pick_agent_for(uuid, uuid) from public, anon, authenticated;
revoke execute on function private.assign_new_conversation() from public, anon, authenticated;
revoke execute on function private.reassign_conversations_of_inactive_user() from public, anon, authenticated;

revoke all on svc.agent_assignments from public, anon, authenticated;
grant select, insert, update, delete on svc.agent_assignments to service_role;
