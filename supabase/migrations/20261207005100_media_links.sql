-- Viewing media: short-lived signed links to the gateway.
--
-- Browsers cannot send an Authorization header from <img>, <audio> or <video>, so a
-- signed-in user asks the database for a link (public.media_link(message_id)), which it
-- gives only for a message the caller may read (the rule of the messages policy: the
-- conversation is assigned to them, or they are an admin) that has a stored file:
--   <MEDIA_PUBLIC_URL>/media/<message_id>?exp=<unix seconds>&sig=<hex HMAC-SHA256>
-- sig = HMAC-SHA256(key, '<message_id>.<exp>'). The gateway checks signature and expiry
-- with the same key and no database call, then streams the file.
--
-- The key: the gateway's MEDIA_LINK_SECRET, given to the database at start
-- (svc.configure_media_links) together with the gateway's public URL and the links'
-- lifetime. It lives in private.media_link_settings, a table no API role can read; only
-- the definer function below uses it.

create table private.media_link_settings (
    id boolean primary key default true,
    secret text not null,
    base_url text not null,
    ttl_seconds int not null,
    updated_at timestamptz not null default now(),
    constraint media_link_settings_one_row check (id),
    constraint media_link_settings_secret_length check (length(secret) >= 32),
    constraint media_link_settings_ttl_check check (ttl_seconds between 1 and 86400)
);
comment on table private.media_link_settings is
  'The key, public URL and lifetime of signed media links (set by the gateway at start).';
alter table private.media_link_settings enable row level security;
revoke all on private.media_link_settings from public, anon, authenticated, service_role;

-- The gateway's settings (svc) ---------------------------------------------------------------

-- Stores the key, the gateway's public URL and the links' lifetime. True when they changed.
create or replace function svc.configure_media_links(p_secret text, p_base_url text, p_ttl_seconds int)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_changed boolean;
begin
  select not exists (
    select from private.media_link_settings s
     where s.secret = p_secret and s.base_url = p_base_url and s.ttl_seconds = p_ttl_seconds)
    into v_changed;
  if v_changed then
    insert into private.media_link_settings (id, secret, base_url, ttl_seconds)
    values (true, p_secret, p_base_url, p_ttl_seconds)
    on conflict (id) do update
      set secret = excluded.secret, base_url = excluded.base_url,
          ttl_seconds = excluded.ttl_seconds, updated_at = now();
  end if;
  return v_changed;
end;
$$;
comment on function svc.configure_media_links(text, text, int) is
  'The gateway at start: the key (MEDIA_LINK_SECRET), its public URL and the lifetime of signed media links. True when they changed.';
revoke execute on function svc.configure_media_links(text, text, int) from public, anon, authenticated;
grant execute on function svc.configure_media_links(text, text, int) to service_role;

-- Minting a link (signed-in users) -------------------------------------------------------------

-- The definer half of public.media_link: reads the key. The caller must be allowed to read
-- the message (as the messages policy says); a message they can't read, one that does not
-- exist and one without a stored file all raise the same P0002, so nothing tells them apart.
create or replace function private.media_link(p_message_id uuid)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_settings private.media_link_settings%rowtype;
  v_exp bigint;
  v_sig text;
begin
  if not exists (
    select from public.messages m
      join public.conversations c on c.id = m.conversation_id
     where m.id = p_message_id
       and m.media_url is not null
       and (c.assigned_agent_id = private.active_user_id() or private.is_admin())
  ) then
    raise exception 'no media to show for message %', p_message_id
      using errcode = 'P0002';
  end if;
  select * into v_settings from private.media_link_settings where id;
  if not found then
    raise exception 'media links are not configured yet (the gateway configures them at start)'
      using errcode = '55000';
  end if;
  v_exp := floor(extract(epoch from now()))::bigint + v_settings.ttl_seconds;
  v_sig := encode(extensions.hmac(p_message_id::text || '.' || v_exp::text, v_settings.secret, 'sha256'), 'hex');
  return jsonb_build_object(
    'url', v_settings.base_url || '/media/' || p_message_id::text || '?exp=' || v_exp::text || '&sig=' || v_sig,
    'expires_at', to_timestamp(v_exp));
end;
$$;
comment on function private.media_link(uuid) is
  'The definer half of public.media_link (reads the link key).';
revoke execute on function private.media_link(uuid) from public, anon, authenticated;
grant execute on function private.media_link(uuid) to authenticated;

create or replace function public.media_link(p_message_id uuid)
returns jsonb
language sql
stable
security invoker
set search_path = ''
begin atomic
  select private.media_link(p_message_id);
end;
comment on function public.media_link(uuid) is
  'Signed-in users: a short-lived link to a message''s stored attachment, {url, expires_at}, for <img>, <audio>, <video> or a download. Only for a message the caller can read; P0002 otherwise (and for a message without a stored file), 55000 before the gateway configured links.';
revoke execute on function public.media_link(uuid) from public, anon, authenticated;
grant execute on function public.media_link(uuid) to authenticated;
