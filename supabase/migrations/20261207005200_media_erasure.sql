-- Stored media leave with their message: whenever messages are deleted (public.erase_contact
-- deletes a customer's conversations with their messages), their stored files are queued
-- in svc.media_deletions and the gateway deletes the objects (svc.claim_media_deletions,
-- svc.record_media_deleted). Each is deleted twice: at once, and again 15 minutes later,
-- so that a fetch that was downloading when the message went (and writes its object after)
-- leaves nothing behind either.

create table svc.media_deletions (
    message_id uuid primary key,
    due_at timestamptz not null default now(),
    passes int not null default 0,
    lease_owner text,
    lease_expires_at timestamptz,
    constraint media_deletions_lease_complete check ((lease_owner is null) = (lease_expires_at is null))
);
comment on table svc.media_deletions is
  'Stored media of deleted messages, for the gateway to delete from the media store.';
create index media_deletions_due on svc.media_deletions (due_at);
grant select, insert, update, delete on svc.media_deletions to service_role;

create or replace function private.queue_media_deletions()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into svc.media_deletions (message_id)
  select d.id
    from deleted d
   where d.media_url is not null
      or d.message_type in ('image', 'audio', 'video', 'file', 'sticker')
  on conflict (message_id) do nothing;
  return null;
end;
$$;
comment on function private.queue_media_deletions() is
  'Statement trigger: queues the deletion of the stored media of deleted messages.';
revoke execute on function private.queue_media_deletions() from public, anon, authenticated;

create trigger on_messages_deleted_queue_media_deletions
  after delete on public.messages
  referencing old table as deleted
  for each statement
  execute function private.queue_media_deletions();

-- Claims up to p_limit due deletions, leased to p_owner: [message_id, ...].
create or replace function svc.claim_media_deletions(
    p_owner text,
    p_limit int default 100,
    p_lease_seconds int default 60,
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
    select d.message_id
      from svc.media_deletions d
     where d.due_at <= p_now
       and (d.lease_owner is null or d.lease_expires_at < p_now)
     order by d.due_at, d.message_id
     limit p_limit
       for update skip locked
  ), leased as (
    update svc.media_deletions d
       set lease_owner = p_owner,
           lease_expires_at = p_now + make_interval(secs => p_lease_seconds)
      from candidates c
     where d.message_id = c.message_id
    returning d.message_id
  )
  select coalesce(jsonb_agg(l.message_id order by l.message_id), '[]'::jsonb)
    into v_claimed
    from leased l;
  return v_claimed;
end;
$$;
comment on function svc.claim_media_deletions(text, int, int, timestamptz) is
  'Claims due media deletions with a lease: [message_id, ...].';

-- The objects of these messages are deleted: after the first pass, due once more in 15
-- minutes; after the second, done. Answers how many were recorded.
create or replace function svc.record_media_deleted(p_message_ids uuid[], p_owner text, p_now timestamptz default now())
returns int
language plpgsql
set search_path = ''
as $$
declare
  v_done int;
  v_again int;
begin
  delete from svc.media_deletions d
   where d.message_id = any (p_message_ids) and d.lease_owner = p_owner and d.passes >= 1;
  get diagnostics v_done = row_count;
  update svc.media_deletions d
     set passes = d.passes + 1, due_at = p_now + interval '15 minutes',
         lease_owner = null, lease_expires_at = null
   where d.message_id = any (p_message_ids) and d.lease_owner = p_owner;
  get diagnostics v_again = row_count;
  return v_done + v_again;
end;
$$;
comment on function svc.record_media_deleted(uuid[], text, timestamptz) is
  'Records deleted media objects: due once more after 15 minutes, then done. Answers how many were recorded.';

revoke execute on function svc.claim_media_deletions(text, int, int, timestamptz) from public, anon, authenticated;
revoke execute on function svc.record_media_deleted(uuid[], text, timestamptz) from public, anon, authenticated;
grant execute on function svc.claim_media_deletions(text, int, int, timestamptz) to service_role;
grant execute on function svc.record_media_deleted(uuid[], text, timestamptz) to service_role;
