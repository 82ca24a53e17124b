-- Extension 1: a public.users profile for every auth.users row.
-- The role comes from raw_app_meta_data (set by the service role or an admin), never from
-- raw_user_meta_data, which the user can edit through Auth. Default: agent.

create or replace function private.sync_profile_from_auth_user()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_role text := new.raw_app_meta_data ->> 'role';
begin
  if tg_op = 'INSERT' then
    insert into public.users (id, email, full_name, role)
    values (
      new.id,
      coalesce(new.email, new.id::text || '@users.invalid'),
      coalesce(nullif(new.raw_user_meta_data ->> 'full_name', ''), split_part(coalesce(new.email, ''), '@', 1), ''),
      case when v_role in ('admin', 'agent') then v_role else 'agent' end
    );
  elsif new.email is distinct from old.email and new.email is not null then
    update public.users set email = new.email where id = new.id;
  end if;
  return new;
end;
$$;

comment on function private.sync_profile_from_auth_user() is
  'Creates the public.users profile of a new auth user (role from app metadata only) and keeps its email in sync.';

create trigger on_auth_user_changed
  after insert or update of email on auth.users
  for each row execute function private.sync_profile_from_auth_user();
