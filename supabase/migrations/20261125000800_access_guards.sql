-- Access control, part 4: what policies can't say.
--
-- A policy sees only the new row, and agents and admins share the role authenticated,
-- so "only admins may change this column" and "only the owner may change that one" are
-- guard triggers. Each raises 42501 (insufficient_privilege, as a denied grant or policy
-- does) with a message a frontend can show.
--
-- The whole decision sits in each trigger's WHEN clause, which runs as the caller and,
-- like a policy, is stored parsed (functions by oid): the callers need EXECUTE on the
-- helpers, not USAGE on schema private. The trigger functions only raise.
-- Roles that bypass RLS (service_role, postgres: the services, their svc functions and
-- migrations) bypass the guards as well.

-- Whether the current role bypasses RLS (the services and the owner do, API users don't).
create or replace function private.current_role_bypasses_rls()
returns boolean
language sql
stable
set search_path = ''
as $$
  select coalesce(
    (select r.rolbypassrls or r.rolsuper from pg_catalog.pg_roles r where r.rolname = current_user),
    false
  )
$$;

comment on function private.current_role_bypasses_rls() is
  'True for roles that bypass RLS (service_role, postgres); the guard triggers let them through.';
revoke execute on function private.current_role_bypasses_rls() from public, anon, authenticated;
grant execute on function private.current_role_bypasses_rls() to authenticated;

-- EXECUTE on every function of a WHEN clause is checked when the trigger fires, for
-- whoever writes the row, before any of them runs: the services (service_role) write
-- these tables too, so they need it although the clause stops at the bypass test.
grant execute on function private.current_role_bypasses_rls() to service_role;
grant execute on function private.is_admin() to service_role;

-- One raising function per message (trigger functions are never called directly, and
-- need no grant to fire).
create or replace function private.deny_role_status_change()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'only an admin can change a user''s role or status'
    using errcode = '42501';
end;
$$;

create or replace function private.deny_own_role_status_change()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'admins cannot change their own role or status'
    using errcode = '42501', hint = 'Another admin can.';
end;
$$;

create or replace function private.deny_others_profile_change()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'users can change only their own profile'
    using errcode = '42501';
end;
$$;

create or replace function private.deny_contact_status_change()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'only an admin can block or unblock a contact'
    using errcode = '42501';
end;
$$;

create or replace function private.deny_assignment_change()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'only an admin can assign a conversation'
    using errcode = '42501';
end;
$$;

comment on function private.deny_role_status_change() is 'Guard trigger: raises 42501, only admins change role or status.';
comment on function private.deny_own_role_status_change() is 'Guard trigger: raises 42501, an admin never changes their own role or status.';
comment on function private.deny_others_profile_change() is 'Guard trigger: raises 42501, profile fields belong to their owner.';
comment on function private.deny_contact_status_change() is 'Guard trigger: raises 42501, only admins block or unblock contacts.';
comment on function private.deny_assignment_change() is 'Guard trigger: raises 42501, only admins assign conversations.';

revoke execute on function private.deny_role_status_change() from public, anon, authenticated;
revoke execute on function private.deny_own_role_status_change() from public, anon, authenticated;
revoke execute on function private.deny_others_profile_change() from public, anon, authenticated;
revoke execute on function private.deny_contact_status_change() from public, anon, authenticated;
revoke execute on function private.deny_assignment_change() from public, anon, authenticated;

-- users -----------------------------------------------------------------------------
-- Role and status: admins only (triggers fire in name order: this one first) ...
create trigger guard_users_role_status
  before update of role, status on public.users
  for each row
  when ((old.role, old.status) is distinct from (new.role, new.status)
        and not private.current_role_bypasses_rls()
        and not private.is_admin())
  execute function private.deny_role_status_change();

-- ... and never their own: an admin who demoted or deactivated themselves could leave the
-- team without any admin.
create trigger guard_users_role_status_self
  before update of role, status on public.users
  for each row
  when ((old.role, old.status) is distinct from (new.role, new.status)
        and not private.current_role_bypasses_rls()
        and new.id = auth.uid())
  execute function private.deny_own_role_status_change();

-- Profile fields: their owner only (the update policy lets admins reach every row, for
-- role and status).
create trigger guard_users_profile
  before update of full_name, avatar_url, preferences, phone, last_seen_at on public.users
  for each row
  when ((old.full_name, old.avatar_url, old.preferences, old.phone, old.last_seen_at)
          is distinct from (new.full_name, new.avatar_url, new.preferences, new.phone, new.last_seen_at)
        and not private.current_role_bypasses_rls()
        and new.id is distinct from auth.uid())
  execute function private.deny_others_profile_change();

-- contacts --------------------------------------------------------------------------
-- Blocking and unblocking is for admins.
create trigger guard_contacts_status
  before update of status on public.contacts
  for each row
  when (old.status is distinct from new.status
        and not private.current_role_bypasses_rls()
        and not private.is_admin())
  execute function private.deny_contact_status_change();

-- conversations ---------------------------------------------------------------------
-- Assigning and reassigning is for admins. (The update policy's with check stops an
-- agent too; this says why.)
create trigger guard_conversations_assignment
  before update of assigned_agent_id on public.conversations
  for each row
  when (old.assigned_agent_id is distinct from new.assigned_agent_id
        and not private.current_role_bypasses_rls()
        and not private.is_admin())
  execute function private.deny_assignment_change();

-- Ownership defaults ----------------------------------------------------------------
-- The insert policies require created_by to be the caller; defaulting it to the caller
-- lets the frontend leave it out. (The services insert with no user: null, as before.)
alter table public.notes alter column created_by set default auth.uid();
alter table public.labels alter column created_by set default auth.uid();
alter table public.conversation_labels alter column created_by set default auth.uid();
alter table public.message_templates alter column created_by set default auth.uid();
alter table public.broadcast_messages alter column created_by set default auth.uid();
