-- Cluster-wide roles of a Supabase project, created once per cluster by
-- `cargo xtask stack start` as the cluster's superuser (supabase_admin).
-- Mirrors the supabase/postgres image: postgres is NOT a superuser.
do $$
begin
  if not exists (select from pg_roles where rolname = 'postgres') then
    create role postgres login;
  end if;
  if not exists (select from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticator') then
    create role authenticator login noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'supabase_auth_admin') then
    create role supabase_auth_admin nologin noinherit createrole;
  end if;
end
$$;

alter role postgres with login nosuperuser createdb createrole replication bypassrls password 'postgres';
alter role authenticator with login noinherit password 'postgres';
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';
alter role postgres set search_path = "$user", public, extensions;

grant anon, authenticated, service_role to postgres;
grant anon, authenticated, service_role to authenticator;
grant supabase_auth_admin to postgres;
