-- Outbound media: agents attach files.
--
-- 1. A signed-in user asks for an upload link for a conversation they may write in
--    (public.media_upload_link(conversation_id, kind)): the same rule as writing a message
--    there (assigned to them and active, or an admin; not a conversation closed for good).
--    The database records a pending upload and returns
--      <MEDIA_PUBLIC_URL>/media/uploads/<upload_id>?kind=<kind>&exp=<unix seconds>&sig=<hex>
--    sig = HMAC-SHA256(key, 'upload.<upload_id>.<kind>.<exp>') with the key of the media
--    links (private.media_link_settings); the 'upload.' prefix keeps an upload link and a
--    viewing link ('<message_id>.<exp>') from ever standing for each other.
-- 2. The gateway checks the signature and expiry, streams the body into the media store
--    while checking Meta's size and type limits for the kind, and records the stored file
--    (svc.record_media_upload): pending -> stored.
-- 3. The agent inserts a message of that kind (a document is message_type 'file') with
--    metadata.upload_id: the upload must be
--    stored, of the same kind, for the same conversation, by the same user, and unused;
--    the message takes the upload's id (the gateway stored the file under it, as an inbound
--    message's), its stored object (media_url) and facts: stored -> attached.
-- 4. Uploads never attached are deleted after a day (svc.claim_stale_media_uploads gives
--    their ids to the gateway, which deletes their objects, svc.record_media_uploads_deleted removes the rows).

create table private.media_uploads (
    id uuid primary key default gen_random_uuid(),
    conversation_id uuid not null references public.conversations (id) on delete cascade,
    uploader_id uuid not null references public.users (id) on delete cascade,
    kind text not null,
    status text not null default 'pending',
    created_at timestamptz not null default now(),
    link_expires_at timestamptz not null,
    object_key text,
    mime_type text,
    size_bytes bigint,
    sha256 text,
    file_name text,
    stored_at timestamptz,
    message_id uuid references public.messages (id) on delete set null deferrable initially deferred,
    attached_at timestamptz,
    constraint media_uploads_kind_check check (kind in ('image', 'audio', 'video', 'document', 'sticker')),
    constraint media_uploads_status_check check (status in ('pending', 'stored', 'attached')),
    constraint media_uploads_stored_facts check (
      status = 'pending'
      or (object_key is not null and mime_type is not null and size_bytes > 0
          and sha256 ~ '^[0-9a-f]{64}$' and stored_at is not null)),
    constraint media_uploads_attached_facts check ((status = 'attached') = (attached_at is not null))
);
comment on table private.media_uploads is
  'Files agents upload to attach to a message: pending (link minted) -> stored (gateway wrote it) -> attached (a message took it).';
create index media_uploads_unattached_idx on private.media_uploads (created_at) where status <> 'attached';
alter table private.media_uploads enable row level security;
revoke all on private.media_uploads from public, anon, authenticated, service_role;

-- The state machine: pending -> stored -> attached, nothing else; what a stage recorded stays.
create or replace function private.guard_media_upload_transition()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if (new.status <> old.status and (old.status, new.status) not in (('pending', 'stored'), ('stored', 'attached')))
     or new.conversation_id <> old.conversation_id or new.uploader_id <> old.uploader_id
     or new.kind <> old.kind
     or (old.status <> 'pending' and (new.object_key, new.mime_type, new.size_bytes, new.sha256, new.file_name)
                                   is distinct from (old.object_key, old.mime_type, old.size_bytes, old.sha256, old.file_name)) then
    raise exception 'an upload goes pending -> stored -> attached once (% -> % refused)', old.status, new.status
      using errcode = '55000';
  end if;
  return new;
end;
$$;
comment on function private.guard_media_upload_transition() is
  'Uploads go pending -> stored -> attached, once each; the stored facts never change.';
revoke execute on function private.guard_media_upload_transition() from public, anon, authenticated;

create trigger on_media_upload_transition
  before update on private.media_uploads
  for each row
  execute function private.guard_media_upload_transition();

-- Minting an upload link (signed-in users) ------------------------------------------------------

create or replace function private.media_upload_link(p_conversation_id uuid, p_kind text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_conversation public.conversations%rowtype;
  v_settings private.media_link_settings%rowtype;
  v_user uuid := private.active_user_id();
  v_id uuid := gen_random_uuid();
  v_exp bigint;
  v_sig text;
begin
  select * into v_conversation from public.conversations c where c.id = p_conversation_id;
  -- The rule of writing a message (private.prepare_agent_message and the insert policy):
  -- an active user to whom it is assigned, or an admin. A conversation one can't see and
  -- one that does not exist get the same answer.
  if v_user is null or not found
     or not coalesce(v_conversation.assigned_agent_id = v_user or private.is_admin(), false) then
    raise exception 'no conversation % to write in', p_conversation_id
      using errcode = 'P0002';
  end if;
  if v_conversation.status = 'archived' and private.is_superseded(v_conversation) then
    raise exception 'this conversation is closed for good: write in the customer''s latest conversation'
      using errcode = '55000';
  end if;
  if p_kind is null or p_kind not in ('image', 'audio', 'video', 'document', 'sticker') then
    raise exception 'an upload is for an image, audio, video, document or sticker (not %)', coalesce(p_kind, 'null')
      using errcode = '22023';
  end if;
  select * into v_settings from private.media_link_settings where id;
  if not found then
    raise exception 'media links are not configured yet (the gateway configures them at start)'
      using errcode = '55000';
  end if;
  v_exp := floor(extract(epoch from now()))::bigint + v_settings.ttl_seconds;
  insert into private.media_uploads (id, conversation_id, uploader_id, kind, link_expires_at)
  values (v_id, p_conversation_id, v_user, p_kind, to_timestamp(v_exp));
  v_sig := encode(extensions.hmac('upload.' || v_id::text || '.' || p_kind || '.' || v_exp::text, v_settings.secret, 'sha256'), 'hex');
  return jsonb_build_object(
    'upload_id', v_id,
    'url', v_settings.base_url || '/media/uploads/' || v_id::text || '?kind=' || p_kind || '&exp=' || v_exp::text || '&sig=' || v_sig,
    'expires_at', to_timestamp(v_exp));
end;
$$;
comment on function private.media_upload_link(uuid, text) is
  'The definer half of public.media_upload_link (reads the link key, records the pending upload).';
revoke execute on function private.media_upload_link(uuid, text) from public, anon, authenticated;
grant execute on function private.media_upload_link(uuid, text) to authenticated;

create or replace function public.media_upload_link(p_conversation_id uuid, p_kind text)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
begin atomic
  select private.media_upload_link(p_conversation_id, p_kind);
end;
comment on function public.media_upload_link(uuid, text) is
  'Signed-in users: a short-lived link to upload one file of a kind (image, audio, video, document, sticker) for a conversation they may write in, {upload_id, url, expires_at}; PUT or POST the bytes there, then insert the message with metadata.upload_id. P0002 for a conversation the caller can''t write in, 22023 for another kind, 55000 before the gateway configured links.';
revoke execute on function public.media_upload_link(uuid, text) from public, anon, authenticated;
grant execute on function public.media_upload_link(uuid, text) to authenticated;

-- The gateway records the stored file (svc) ------------------------------------------------------

-- pending -> stored. The gateway checked the link's signature and expiry and Meta's limits,
-- and wrote the file under the upload's id. False for an unknown upload, one of another
-- kind or one already stored (the gateway then deletes what it wrote).
create or replace function svc.record_media_upload(
  p_upload_id uuid, p_kind text, p_object_key text, p_mime_type text, p_size_bytes bigint,
  p_sha256 text, p_file_name text)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  update private.media_uploads u
     set status = 'stored', object_key = p_object_key, mime_type = p_mime_type, size_bytes = p_size_bytes,
         sha256 = p_sha256, file_name = nullif(btrim(p_file_name), ''), stored_at = now()
   where u.id = p_upload_id and u.kind = p_kind and u.status = 'pending';
  return found;
end;
$$;
comment on function svc.record_media_upload(uuid, text, text, text, bigint, text, text) is
  'The gateway: an uploaded file is stored (object key, mime type, size, sha256, file name). False for an unknown, other-kind or already stored upload.';
revoke execute on function svc.record_media_upload(uuid, text, text, text, bigint, text, text) from public, anon, authenticated;
grant execute on function svc.record_media_upload(uuid, text, text, text, bigint, text, text) to service_role;

-- A message takes its upload ---------------------------------------------------------------------

create or replace function private.attach_media_upload()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_upload private.media_uploads%rowtype;
  v_id uuid;
begin
  if new.metadata is null or jsonb_typeof(new.metadata) <> 'object' or not (new.metadata ? 'upload_id') then
    return new;
  end if;
  -- Writing where one may not: the insert policy refuses it (42501); say nothing here.
  if auth.uid() is not null and not exists (
       select from public.conversations c
        where c.id = new.conversation_id
          and (c.assigned_agent_id = private.active_user_id() or private.is_admin())) then
    return new;
  end if;
  if new.message_type not in ('image', 'audio', 'video', 'file', 'sticker') then
    raise exception 'metadata.upload_id belongs on an image, audio, video, file (document) or sticker message'
      using errcode = '22023';
  end if;
  begin
    v_id := (new.metadata ->> 'upload_id')::uuid;
  exception when invalid_text_representation then
    v_id := null;
  end;
  select * into v_upload from private.media_uploads u where u.id = v_id for update;
  -- Someone else's upload, another conversation's, and one that does not exist: the same answer.
  if not found or v_upload.conversation_id <> new.conversation_id
     or v_upload.uploader_id is distinct from coalesce(private.active_user_id(), new.sender_id) then
    raise exception 'metadata.upload_id names no upload of yours for this conversation'
      using errcode = '22023';
  end if;
  if v_upload.status = 'pending' then
    raise exception 'upload % has no file yet: upload it to its link first', v_id
      using errcode = '55000';
  end if;
  if v_upload.status = 'attached' then
    raise exception 'upload % is already attached to a message: upload the file again', v_id
      using errcode = '55000';
  end if;
  -- A document is a 'file' message.
  if v_upload.kind <> replace(new.message_type, 'file', 'document') then
    raise exception 'upload % is a %, not a %', v_id, v_upload.kind, new.message_type
      using errcode = '22023';
  end if;
  if new.message_type in ('audio', 'sticker') and nullif(btrim(coalesce(new.content, '')), '') is not null then
    raise exception 'a % message has no caption (WhatsApp shows captions on images, videos and documents only)', new.message_type
      using errcode = '22023';
  end if;
  update private.media_uploads
     set status = 'attached', message_id = v_id, attached_at = now()
   where id = v_id;
  -- The message takes the upload's id: the gateway stored the file under it, so viewing
  -- (public.media_link) and erasure find it as any message's file.
  new.id := v_id;
  new.media_url := v_upload.object_key;
  new.metadata := new.metadata || jsonb_build_object(
    'upload_id', v_id,
    'mime_type', v_upload.mime_type,
    'file_size', v_upload.size_bytes,
    'sha256', v_upload.sha256,
    'file_name', v_upload.file_name);
  return new;
end;
$$;
comment on function private.attach_media_upload() is
  'Before an agent''s media message is written: metadata.upload_id must name a stored, unused upload of the same kind, conversation and uploader; the message takes its object and facts.';
revoke execute on function private.attach_media_upload() from public, anon, authenticated;

-- Named to fire after on_agent_message_prepared (triggers fire in name order).
create trigger on_agent_message_upload_attached
  before insert on public.messages
  for each row
  when (new.sender_type = 'agent' and new.status = 'pending')
  execute function private.attach_media_upload();

-- Unattached uploads are deleted after a day (svc) -----------------------------------------------

-- Uploads older than p_older_than seconds that no message took: the gateway deletes their
-- objects (stored under the upload's id; pending ones have none), then their rows
-- (svc.record_media_uploads_deleted). A JSON array of upload ids, oldest first.
create or replace function svc.claim_stale_media_uploads(p_older_than_seconds int, p_limit int)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(jsonb_agg(s.id order by s.created_at), '[]'::jsonb)
    from (select u.id, u.created_at
            from private.media_uploads u
           where u.status <> 'attached' and u.created_at < now() - make_interval(secs => p_older_than_seconds)
           order by u.created_at
           limit greatest(p_limit, 0)) s;
$$;
comment on function svc.claim_stale_media_uploads(int, int) is
  'The gateway: ids of uploads no message took within p_older_than_seconds, oldest first, at most p_limit.';
revoke execute on function svc.claim_stale_media_uploads(int, int) from public, anon, authenticated;
grant execute on function svc.claim_stale_media_uploads(int, int) to service_role;

-- Removes the rows of unattached uploads whose objects the gateway deleted. The number removed.
create or replace function svc.record_media_uploads_deleted(p_upload_ids uuid[])
returns int
language sql
security definer
set search_path = ''
as $$
  with gone as (
    delete from private.media_uploads u
     where u.id = any (p_upload_ids) and u.status <> 'attached'
    returning 1)
  select count(*)::int from gone;
$$;
comment on function svc.record_media_uploads_deleted(uuid[]) is
  'The gateway: removes unattached uploads whose stored objects it deleted (attached ones stay). The number removed.';
revoke execute on function svc.record_media_uploads_deleted(uuid[]) from public, anon, authenticated;
grant execute on function svc.record_media_uploads_deleted(uuid[]) to service_role;
