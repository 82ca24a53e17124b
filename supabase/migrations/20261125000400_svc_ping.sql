-- svc.ping(): the cheapest proof that PostgREST, the database and the service-role
-- grant on schema svc all work. Used by the services' readiness checks.

create or replace function svc.ping()
returns text
language sql
stable
set search_path = ''
as $$
  select 'pong'::text
$$;

comment on function svc.ping() is 'Readiness probe of the services: answers pong.';
revoke execute on function svc.ping() from public, anon, authenticated;
grant execute on function svc.ping() to service_role;
