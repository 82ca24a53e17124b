-- Inbound media: fetched from the Graph API into the media store by a leased queue.
--
-- A customer's image, audio, video, document or sticker arrives as a message whose
-- metadata.content.media.id names it at Meta (downloadable for about 7 days). A statement
-- trigger on public.messages queues every such message in svc.media_fetches (the webhook's
-- transaction only inserts a row; nothing is fetched there). The webhook gateway claims due
-- fetches with a lease (svc.claim_media_fetches), asks the Graph API for the short-lived URL,
-- downloads the bytes with the bearer token, checks sha256 and size, writes the object and
-- records the outcome:
--   stored   svc.record_media_stored: messages.media_url names the object, and
--            metadata.media = {status: 'stored', mime_type, file_size, file_name, sha256}
--   retry    svc.record_media_retry: due again after a backoff; once the next attempt would
--            fall after give_up_at (the message's time + 7 days, Meta's retention) the fetch
--            fails with code media_expired instead. A temporary failure never loses the file
--            while Meta still has it.
--   failed   svc.record_media_failed: metadata.media = {status: 'failed', error: {code,
--            title, details}} for the frontend to show.
-- A message whose metadata.media is absent and whose media_url is null is still being fetched.

-- Tables ----------------------------------------------------------------------------------

create table svc.media_fetches (
    message_id uuid primary key references public.messages (id) on delete cascade,
    -- Meta's media id (GET /{media-id}).
    media_id text not null,
    -- WhatsApp's kind: image, audio, video, document or sticker (Meta's limits differ).
    kind text not null,
    -- What the webhook said; the Graph API's answer is checked against the bytes.
    mime_type text,
    sha256 text,
    file_name text,
    animated boolean not null default false,
    status text not null default 'pending',
    attempts int not null default 0,
    next_attempt_at timestamptz not null default now(),
    give_up_at timestamptz not null,
    lease_owner text,
    lease_expires_at timestamptz,
    last_error text,
    constraint media_fetches_kind_check check (kind in ('image', 'audio', 'video', 'document', 'sticker')),
    constraint media_fetches_status_check check (status in ('pending', 'stored', 'failed')),
    constraint media_fetches_lease_complete check ((lease_owner is null) = (lease_expires_at is null)),
    constraint media_fetches_only_pending_leased check (status = 'pending' or lease_owner is null)
);
comment on table svc.media_fetches is
  'Inbound media to fetch from the Graph API into the media store (one row per message with media).';
create index media_fetches_due on svc.media_fetches (next_attempt_at) where status = 'pending';

grant select, insert, update, delete on svc.media_fetches to service_role;

-- Queueing: one statement trigger per insert on public.messages ---------------------------

create or replace function private.queue_media_fetches()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into svc.media_fetches (message_id, media_id, kind, mime_type, sha256, file_name, animated, give_up_at)
  select n.id,
         n.metadata -> 'content' -> 'media' ->> 'id',
         n.metadata -> 'content' ->> 'type',
         n.metadata -> 'content' -> 'media' ->> 'mime_type',
         n.metadata -> 'content' -> 'media' ->> 'sha256',
         n.metadata -> 'content' -> 'media' ->> 'filename',
         coalesce((n.metadata -> 'content' ->> 'animated')::boolean, false),
         coalesce(n.created_at, now()) + interval '7 days'
    from inserted n
   where n.sender_type = 'contact'
     and n.media_url is null
     and n.metadata -> 'content' ->> 'type' in ('image', 'audio', 'video', 'document', 'sticker')
     and nullif(n.metadata -> 'content' -> 'media' ->> 'id', '') is not null
  on conflict (message_id) do nothing;
  return null;
end;
$$;
comment on function private.queue_media_fetches() is
  'Statement trigger: queues a media fetch for every inserted customer message carrying a media id.';
revoke execute on function private.queue_media_fetches() from public, anon, authenticated;

create trigger on_messages_inserted_queue_media
  after insert on public.messages
  referencing new table as inserted
  for each statement
  execute function private.queue_media_fetches();

-- The gateway's fetcher (svc) ---------------------------------------------------------------

-- Claims up to p_limit due pending fetches, leased to p_owner for p_lease_seconds. A lease
-- that expired (a fetcher that died) makes the fetch claimable again: fetching twice is
-- harmless (the object is written whole or not at all), losing it is not.
create or replace function svc.claim_media_fetches(
    p_owner text,
    p_limit int default 10,
    p_lease_seconds int default 300,
    p_now timestamptz default now()
)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_claimed jsonb;
begin
  with candidates as (
    select f.message_id
      from svc.media_fetches f
     where f.status = 'pending'
       and f.next_attempt_at <= p_now
       and (f.lease_owner is null or f.lease_expires_at < p_now)
     order by f.next_attempt_at, f.message_id
     limit p_limit
       for update skip locked
  ), leased as (
    update svc.media_fetches f
       set lease_owner = p_owner,
           lease_expires_at = p_now + make_interval(secs => p_lease_seconds),
           attempts = f.attempts + 1
      from candidates c
     where f.message_id = c.message_id
    returning f.*
  )
  select coalesce(jsonb_agg(jsonb_build_object(
           'message_id', l.message_id, 'media_id', l.media_id, 'kind', l.kind,
           'mime_type', l.mime_type, 'sha256', l.sha256, 'file_name', l.file_name,
           'animated', l.animated, 'attempts', l.attempts, 'give_up_at', l.give_up_at)
           order by l.next_attempt_at, l.message_id), '[]'::jsonb)
    into v_claimed
    from leased l;
  return v_claimed;
end;
$$;
comment on function svc.claim_media_fetches(text, int, int, timestamptz) is
  'Claims due media fetches with a lease: [{message_id, media_id, kind, mime_type, sha256, file_name, animated, attempts, give_up_at}].';

-- The bytes are in the store under p_object_key: the message names the object and keeps
-- what the frontend needs. False when the lease is no longer ours.
create or replace function svc.record_media_stored(
    p_message_id uuid,
    p_owner text,
    p_object_key text,
    p_mime_type text,
    p_file_size bigint,
    p_sha256 text,
    p_file_name text
)
returns boolean
language plpgsql
set search_path = ''
as $$
begin
  update svc.media_fetches
     set status = 'stored', last_error = null, lease_owner = null, lease_expires_at = null
   where message_id = p_message_id and lease_owner = p_owner and status = 'pending';
  if not found then
    return false;
  end if;
  update public.messages m
     set media_url = p_object_key,
         metadata = coalesce(m.metadata, '{}'::jsonb) || jsonb_build_object('media', jsonb_strip_nulls(jsonb_build_object(
           'status', 'stored', 'mime_type', p_mime_type, 'file_size', p_file_size,
           'sha256', p_sha256, 'file_name', p_file_name)))
   where m.id = p_message_id;
  return true;
end;
$$;
comment on function svc.record_media_stored(uuid, text, text, text, bigint, text, text) is
  'A claimed fetch was stored: messages.media_url = the object key, metadata.media = {status: stored, mime_type, file_size, sha256, file_name}.';

-- Marks the fetch and its message failed (the message shows why). Used by the two below.
create or replace function svc.fail_media_fetch(
    p_message_id uuid,
    p_code text,
    p_title text,
    p_details text
)
returns void
language sql
set search_path = ''
begin atomic
  update svc.media_fetches
     set status = 'failed', last_error = p_code || ': ' || p_details,
         lease_owner = null, lease_expires_at = null
   where message_id = p_message_id;
  update public.messages m
     set metadata = coalesce(m.metadata, '{}'::jsonb) || jsonb_build_object('media', jsonb_build_object(
           'status', 'failed',
           'error', jsonb_build_object('code', p_code, 'title', p_title, 'details', p_details)))
   where m.id = p_message_id;
end;
comment on function svc.fail_media_fetch(uuid, text, text, text) is
  'Fails a media fetch: metadata.media = {status: failed, error: {code, title, details}} on the message.';

-- A temporary failure (Graph API 5xx or unreachable, expired download URL, a short or wrong
-- download): due again after p_delay_seconds, unless that falls after Meta's retention,
-- then failed with code media_expired. Answers 'retrying', 'failed' or 'not_leased'.
create or replace function svc.record_media_retry(
    p_message_id uuid,
    p_owner text,
    p_delay_seconds double precision,
    p_error text,
    p_now timestamptz default now()
)
returns text
language plpgsql
set search_path = ''
as $$
declare
  v_give_up_at timestamptz;
  v_attempts int;
begin
  select f.give_up_at, f.attempts into v_give_up_at, v_attempts
    from svc.media_fetches f
   where f.message_id = p_message_id and f.lease_owner = p_owner and f.status = 'pending'
     for update;
  if not found then
    return 'not_leased';
  end if;
  if p_now + make_interval(secs => greatest(0, p_delay_seconds)) > v_give_up_at then
    perform svc.fail_media_fetch(p_message_id, 'media_expired',
      'The attachment could not be downloaded',
      format('WhatsApp keeps media for 7 days and every attempt failed (%s attempts); last error: %s',
             v_attempts, p_error));
    return 'failed';
  end if;
  update svc.media_fetches
     set next_attempt_at = p_now + make_interval(secs => greatest(0, p_delay_seconds)),
         last_error = p_error, lease_owner = null, lease_expires_at = null
   where message_id = p_message_id;
  return 'retrying';
end;
$$;
comment on function svc.record_media_retry(uuid, text, double precision, text, timestamptz) is
  'A claimed fetch failed temporarily: due again after the delay, or failed (media_expired) past Meta''s 7-day retention. Answers retrying, failed or not_leased.';

-- A permanent failure (the media is gone at Meta, breaks WhatsApp's limits for its kind,
-- or never matched its hash): failed, with a code, title and details for the frontend.
create or replace function svc.record_media_failed(
    p_message_id uuid,
    p_owner text,
    p_code text,
    p_title text,
    p_details text
)
returns boolean
language plpgsql
set search_path = ''
as $$
begin
  perform from svc.media_fetches f
   where f.message_id = p_message_id and f.lease_owner = p_owner and f.status = 'pending'
     for update;
  if not found then
    return false;
  end if;
  perform svc.fail_media_fetch(p_message_id, p_code, p_title, p_details);
  return true;
end;
$$;
comment on function svc.record_media_failed(uuid, text, text, text, text) is
  'A claimed fetch failed for good: metadata.media = {status: failed, error: {code, title, details}}.';

revoke execute on function svc.claim_media_fetches(text, int, int, timestamptz) from public, anon, authenticated;
revoke execute on function svc.record_media_stored(uuid, text, text, text, bigint, text, text) from public, anon, authenticated;
revoke execute on function svc.fail_media_fetch(uuid, text, text, text) from public, anon, authenticated;
revoke execute on function svc.record_media_retry(uuid, text, double precision, text, timestamptz) from public, anon, authenticated;
revoke execute on function svc.record_media_failed(uuid, text, text, text, text) from public, anon, authenticated;
grant execute on function svc.claim_media_fetches(text, int, int, timestamptz) to service_role;
grant execute on function svc.record_media_stored(uuid, text, text, text, bigint, text, text) to service_role;
grant execute on function svc.fail_media_fetch(uuid, text, text, text) to service_role;
grant execute on function svc.record_media_retry(uuid, text, double precision, text, timestamptz) to service_role;
grant execute on function svc.record_media_failed(uuid, text, text, text, text) to service_role;
