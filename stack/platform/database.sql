-- What a Supabase project holds before its first migration runs, per database.
-- Run by `cargo xtask stack reset` and by the test harness's template build, as the
-- cluster's superuser, on an empty database (created with owner postgres).
-- Kept out of supabase/migrations on purpose: on hosted Supabase this exists already.

-- Schema for extensions, usable by every API role.
create schema if not exists extensions;
grant usage on schema extensions to postgres, anon, authenticated, service_role;
alter default privileges in schema extensions grant execute on functions to postgres, anon, authenticated, service_role;

create extension if not exists "uuid-ossp" with schema extensions;
create extension if not exists pgcrypto with schema extensions;
-- Untrusted extensions need the superuser: created here, used by tests and `db lint`.
create extension if not exists pgtap with schema extensions;
create extension if not exists plpgsql_check with schema extensions;

-- public belongs to postgres (as on Supabase), usable by the API roles.
alter schema public owner to postgres;
grant usage on schema public to anon, authenticated, service_role;
grant all on schema public to postgres;

-- Today's Supabase: new tables are NOT exposed to the API roles by default
-- ([api] auto_expose_new_tables = false). Functions still default to PUBLIC execute as in
-- plain PostgreSQL; migrations lock that down themselves.

-- ---------------------------------------------------------------------------------
-- auth: the slice of Supabase Auth's schema that migrations and policies rely on.
create schema if not exists auth authorization supabase_auth_admin;
grant usage on schema auth to postgres, anon, authenticated, service_role;

create table if not exists auth.users (
  instance_id uuid,
  id uuid primary key,
  aud varchar(255),
  role varchar(255),
  email varchar(255),
  encrypted_password varchar(255),
  email_confirmed_at timestamptz,
  phone text unique,
  raw_app_meta_data jsonb,
  raw_user_meta_data jsonb,
  is_super_admin boolean,
  is_anonymous boolean not null default false,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  last_sign_in_at timestamptz,
  banned_until timestamptz,
  deleted_at timestamptz
);
alter table auth.users owner to supabase_auth_admin;
-- As on Supabase, postgres may manage auth users (tests and seeds create them).
grant select, insert, update, delete, references, trigger on auth.users to postgres;
grant all on auth.users to service_role;

create or replace function auth.uid() returns uuid
language sql stable set search_path = ''
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;

create or replace function auth.role() returns text
language sql stable set search_path = ''
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

create or replace function auth.jwt() returns jsonb
language sql stable set search_path = ''
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

alter function auth.uid() owner to supabase_auth_admin;
alter function auth.role() owner to supabase_auth_admin;
alter function auth.jwt() owner to supabase_auth_admin;
grant execute on function auth.uid(), auth.role(), auth.jwt() to postgres, anon, authenticated, service_role;

-- ---------------------------------------------------------------------------------
-- Realtime: the publication exists, empty, owned by postgres.
do $$
begin
  if not exists (select from pg_publication where pubname = 'supabase_realtime') then
    create publication supabase_realtime;
  end if;
end
$$;
alter publication supabase_realtime owner to postgres;

-- PostgREST reloads its schema cache on this channel after migrations.
grant usage on schema extensions to authenticator;
