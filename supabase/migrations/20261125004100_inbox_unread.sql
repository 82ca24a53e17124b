-- The inbox, part 2: unread counts and read receipts (issue 7).
--
-- Lifecycle of a conversation (statuses of the design document):
--   active    open, being handled (a new conversation starts here)
--   pending   open, waiting (e.g. on the customer); an inbound message keeps it pending
--   archived  resolved: the agent's "resolve" is setting status = 'archived'
-- An inbound message goes to the contact's open (active or pending) conversation; when
-- all of the contact's conversations are archived it opens a NEW conversation (the
-- archived one stays the record of a resolved case): svc.open_conversation_for,
-- migration 1000. The new one is assigned by migration 4000's rule, which prefers the
-- agent who handled the contact before.
--
-- Unread: conversations.unread_count counts the inbound messages that the conversation's
-- reader has not read: its assigned agent, or, while it is unassigned, the admins who
-- handle the unassigned queue. A trigger counts every inbound message; the RPC
-- public.mark_conversation_read sets it back to zero for that reader and queues WhatsApp's
-- mark-as-read ("blue ticks") for the last inbound message in svc.read_receipts, which the
-- gateway's sender claims with a lease (svc.claim_read_receipts) and records
-- (svc.record_read_receipt_sent / _retry / _failed). Marking a message read is
-- idempotent at WhatsApp, so an expired lease simply makes the receipt claimable again.

-- Extension: the unread count, kept by the database.
alter table public.conversations add column unread_count integer not null default 0;
comment on column public.conversations.unread_count is
  'Inbound messages the assigned agent (for an unassigned conversation: the admins) has not read; reset by public.mark_conversation_read.';

-- Counting ------------------------------------------------------------------------------------

create or replace function private.count_unread_message()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.conversations
     set unread_count = unread_count + 1
   where id = new.conversation_id;
  return null;
end;
$$;
comment on function private.count_unread_message() is
  'Counts an inbound message as unread in its conversation.';

-- Only messages actually inserted: a duplicate wamid (ON CONFLICT DO NOTHING) fires nothing.
create trigger on_contact_message_inserted_count_unread
  after insert on public.messages
  for each row
  when (new.sender_type = 'contact')
  execute function private.count_unread_message();

-- Read receipts queue ---------------------------------------------------------------------------

-- One row per conversation: the last inbound message to mark as read at WhatsApp. A newer
-- one replaces an older one (marking a message read marks the earlier ones too).
create table svc.read_receipts (
    conversation_id uuid primary key references public.conversations (id) on delete cascade,
    wa_message_id text not null,
    message_created_at timestamptz not null,
    requested_at timestamptz not null default now(),
    due_at timestamptz not null default now(),
    attempts int not null default 0,
    lease_owner text,
    lease_expires_at timestamptz,
    last_error jsonb,
    sent_at timestamptz,
    failed_at timestamptz,
    constraint read_receipts_lease_complete check ((lease_owner is null) = (lease_expires_at is null)),
    constraint read_receipts_one_outcome check (sent_at is null or failed_at is null)
);
comment on table svc.read_receipts is
  'WhatsApp mark-as-read requests, one per conversation (its last inbound message): pending until sent_at or failed_at.';
create index read_receipts_pending on svc.read_receipts (due_at)
  where sent_at is null and failed_at is null;

-- Marking read ------------------------------------------------------------------------------

-- The definer half of public.mark_conversation_read: it writes what the caller may not
-- (unread_count has no grant; svc is closed), so it checks the caller itself, with the
-- rule of the conversations' select policy: an active user's assigned conversation, or
-- any conversation for an active admin. Raises 42501 otherwise (also for an unknown id).
create or replace function private.mark_conversation_read(p_conversation_id uuid)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_user uuid := private.active_user_id();
  v_agent uuid;
  v_wamid text;
  v_at timestamptz;
begin
  select c.assigned_agent_id into v_agent
    from public.conversations c
   where c.id = p_conversation_id
     and (c.assigned_agent_id = v_user or private.is_admin());
  if not found then
    raise exception 'conversation % is not visible to you', p_conversation_id
      using errcode = '42501', hint = 'Agents can mark only the conversations assigned to them.';
  end if;

  -- The count is the reader's: the assigned agent's, or the admins' while unassigned.
  if v_agent is not distinct from v_user or v_agent is null then
    update public.conversations
       set unread_count = 0
     where id = p_conversation_id and unread_count <> 0;
  end if;

  -- WhatsApp's mark-as-read for the last inbound message (unless already requested).
  select m.wa_message_id, m.created_at into v_wamid, v_at
    from public.messages m
   where m.conversation_id = p_conversation_id
     and m.sender_type = 'contact'
     and m.wa_message_id is not null
   order by m.created_at desc, m.id desc
   limit 1;
  if v_wamid is not null then
    insert into svc.read_receipts as r (conversation_id, wa_message_id, message_created_at)
    values (p_conversation_id, v_wamid, v_at)
    on conflict (conversation_id) do update
       set wa_message_id = excluded.wa_message_id,
           message_created_at = excluded.message_created_at,
           requested_at = now(), due_at = now(), attempts = 0,
           last_error = null, sent_at = null, failed_at = null
     where r.wa_message_id is distinct from excluded.wa_message_id
       and r.message_created_at <= excluded.message_created_at;
  end if;
end;
$$;
comment on function private.mark_conversation_read(uuid) is
  'For public.mark_conversation_read: checks the caller sees the conversation, resets its unread count for its reader, queues the WhatsApp read receipt.';
revoke execute on function private.mark_conversation_read(uuid) from public, anon, authenticated;
grant execute on function private.mark_conversation_read(uuid) to authenticated;

-- The RPC. SECURITY INVOKER: the row it answers is read under the caller's RLS. Written
-- as a SQL-standard body (begin atomic), parsed at creation, so that it reaches the
-- private helper by oid and callers need no USAGE on schema private; it answers the
-- whole row (`select c`), so that columns added to conversations later come along.
create or replace function public.mark_conversation_read(p_conversation_id uuid)
returns public.conversations
language sql
volatile
security invoker
set search_path = ''
begin atomic
  select private.mark_conversation_read(p_conversation_id);
  select c from public.conversations c where c.id = p_conversation_id;
end;
comment on function public.mark_conversation_read(uuid) is
  'Marks a conversation read for the caller: its unread_count goes to 0 when the caller is its reader (assigned agent; admins for unassigned ones) and WhatsApp''s mark-as-read is queued for the last inbound message. Returns the conversation. 42501 when the caller does not see it.';
revoke execute on function public.mark_conversation_read(uuid) from public, anon, authenticated;
grant execute on function public.mark_conversation_read(uuid) to authenticated;

-- The sender's side ---------------------------------------------------------------------------

-- Claims up to p_limit due receipts (oldest request first) with a lease. An expired lease
-- is claimable again: marking read twice is harmless.
-- Returns [{ "conversation_id": uuid, "wa_message_id": text, "attempts": int }].
create or replace function svc.claim_read_receipts(
    p_owner text,
    p_limit int default 50,
    p_lease_seconds int default 30,
    p_now timestamptz default clock_timestamp()
)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_claimed jsonb;
begin
  with candidates as (
    select r.conversation_id
      from svc.read_receipts r
     where r.sent_at is null and r.failed_at is null
       and r.due_at <= p_now
       and (r.lease_owner is null or r.lease_expires_at < p_now)
     order by r.due_at, r.conversation_id
     limit p_limit
       for update skip locked
  ), leased as (
    update svc.read_receipts r
       set lease_owner = p_owner,
           lease_expires_at = p_now + make_interval(secs => p_lease_seconds),
           attempts = r.attempts + 1
      from candidates c
     where r.conversation_id = c.conversation_id
    returning r.conversation_id, r.wa_message_id, r.attempts, r.due_at
  )
  select coalesce(jsonb_agg(jsonb_build_object(
           'conversation_id', l.conversation_id,
           'wa_message_id', l.wa_message_id,
           'attempts', l.attempts) order by l.due_at, l.conversation_id), '[]'::jsonb)
    into v_claimed
    from leased l;
  return v_claimed;
end;
$$;
comment on function svc.claim_read_receipts(text, int, int, timestamptz) is
  'Claims due WhatsApp read receipts with a lease: [{conversation_id, wa_message_id, attempts}].';

-- WhatsApp answered success for p_wa_message_id. When a newer message was requested
-- meanwhile, that one stays pending (only the lease is released). False when the
-- receipt is neither ours nor for that message.
create or replace function svc.record_read_receipt_sent(p_conversation_id uuid, p_owner text, p_wa_message_id text)
returns boolean
language plpgsql
set search_path = ''
as $$
begin
  update svc.read_receipts r
     set sent_at = case when r.wa_message_id = p_wa_message_id then coalesce(r.sent_at, now()) else r.sent_at end,
         failed_at = case when r.wa_message_id = p_wa_message_id then null else r.failed_at end,
         last_error = case when r.wa_message_id = p_wa_message_id then null else r.last_error end,
         lease_owner = case when r.lease_owner = p_owner then null else r.lease_owner end,
         lease_expires_at = case when r.lease_owner = p_owner then null else r.lease_expires_at end
   where r.conversation_id = p_conversation_id
     and (r.lease_owner = p_owner or r.wa_message_id = p_wa_message_id);
  return found;
end;
$$;
comment on function svc.record_read_receipt_sent(uuid, text, text) is
  'Records that WhatsApp marked the message read; releases the lease.';

-- A retryable error: due again after p_delay_seconds.
create or replace function svc.record_read_receipt_retry(
    p_conversation_id uuid,
    p_owner text,
    p_wa_message_id text,
    p_delay_seconds double precision,
    p_error jsonb
)
returns boolean
language plpgsql
set search_path = ''
as $$
begin
  update svc.read_receipts r
     set lease_owner = null, lease_expires_at = null,
         due_at = case when r.wa_message_id = p_wa_message_id
                       then clock_timestamp() + make_interval(secs => greatest(0, p_delay_seconds))
                       else r.due_at end,
         last_error = case when r.wa_message_id = p_wa_message_id then p_error else r.last_error end
   where r.conversation_id = p_conversation_id and r.lease_owner = p_owner;
  return found;
end;
$$;
comment on function svc.record_read_receipt_retry(uuid, text, text, double precision, jsonb) is
  'Puts a claimed read receipt back after a retryable error.';

-- A permanent error: the receipt is given up (a newer message can still be marked later).
create or replace function svc.record_read_receipt_failed(
    p_conversation_id uuid,
    p_owner text,
    p_wa_message_id text,
    p_error jsonb
)
returns boolean
language plpgsql
set search_path = ''
as $$
begin
  update svc.read_receipts r
     set lease_owner = null, lease_expires_at = null,
         failed_at = case when r.wa_message_id = p_wa_message_id and r.sent_at is null then now() else r.failed_at end,
         last_error = case when r.wa_message_id = p_wa_message_id then p_error else r.last_error end
   where r.conversation_id = p_conversation_id and r.lease_owner = p_owner;
  return found;
end;
$$;
comment on function svc.record_read_receipt_failed(uuid, text, text, jsonb) is
  'Gives up a claimed read receipt after a permanent error.';

-- Grants: the services only.
revoke execute on function private.count_unread_message() from public, anon, authenticated;
revoke all on svc.read_receipts from public, anon, authenticated;
grant select, insert, update, delete on svc.read_receipts to service_role;
