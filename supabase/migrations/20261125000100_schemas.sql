-- Schemas, extensions and the default-privilege lockdown every later migration relies on.
--
-- public  : the design document's tables (RLS on every one, explicit grants)
-- private : SECURITY DEFINER helpers for policies; never exposed to the API
-- svc     : the services' RPC functions and private tables; service_role only

create extension if not exists "uuid-ossp" with schema extensions;
create extension if not exists pg_trgm with schema extensions;

create schema if not exists private;
create schema if not exists svc;

revoke all on schema private from public;
revoke all on schema svc from public;
grant usage on schema svc to service_role;

-- Nothing postgres creates from here on is executable by PUBLIC unless granted by name.
alter default privileges for role postgres revoke execute on functions from public;
alter default privileges for role postgres in schema public revoke execute on functions from anon, authenticated;
alter default privileges for role postgres in schema svc revoke all on tables from anon, authenticated;
alter default privileges for role postgres in schema svc revoke all on sequences from anon, authenticated;
-- The services' functions: executable by service_role alone, said once for every function
-- postgres creates in svc (anon and authenticated get nothing there, PUBLIC nothing anywhere).
alter default privileges for role postgres in schema svc revoke execute on functions from anon, authenticated;
alter default privileges for role postgres in schema svc grant execute on functions to service_role;
