-- Outbound replies: an agent inserts a 'pending' message under RLS; a trigger queues it;
-- the gateway's sender claims due jobs with a lease (svc.claim_outbound_messages), calls
-- the Graph API with no transaction open, and records the outcome in a second call.
--
-- Order: per contact, a job is claimable only when no earlier job of that contact is
-- still queued or in flight, so messages leave in the order agents wrote them.
-- Rate: one token bucket per phone number in svc.send_rate_buckets, shared by every
-- sending process and by broadcasts (which yield to due replies).
-- Duplicates: the Graph API has no idempotency key, so a send whose outcome is unknown
-- (timeout after the request left, or a sender that died holding the lease) is never
-- retried automatically: the message fails with error_data.code = 'unknown_outcome' and
-- is reconciled if a status webhook for it arrives (the send carries the message id as
-- biz_opaque_callback_data). At most once, never silently lost.

-- Tables ----------------------------------------------------------------------------------

create table svc.outbound_jobs (
    message_id uuid primary key references public.messages (id) on delete cascade,
    contact_id uuid not null references public.contacts (id),
    seq bigint generated always as identity,
    due_at timestamptz not null default now(),
    attempts int not null default 0,
    first_attempt_at timestamptz,
    lease_owner text,
    lease_expires_at timestamptz,
    last_error jsonb,
    constraint outbound_jobs_lease_complete check ((lease_owner is null) = (lease_expires_at is null))
);
comment on table svc.outbound_jobs is 'Agents'' messages waiting to be sent (one row per pending message).';
-- Claims walk unleased jobs in queue order and stop after a few.
create index outbound_jobs_unleased_seq on svc.outbound_jobs (seq) where lease_owner is null;
create index outbound_jobs_contact_seq on svc.outbound_jobs (contact_id, seq);
create index outbound_jobs_lease on svc.outbound_jobs (lease_expires_at) where lease_owner is not null;

create table svc.send_rate_buckets (
    phone_number_id text primary key,
    tokens double precision not null,
    capacity double precision not null,
    refill_per_second double precision not null,
    refilled_at timestamptz not null
);
comment on table svc.send_rate_buckets is 'Token bucket per sending phone number, shared by all senders.';

create table svc.sending_pauses (
    phone_number_id text primary key,
    reason jsonb not null,
    paused_at timestamptz not null default now(),
    probe_after timestamptz not null
);
comment on table svc.sending_pauses is 'Sending stopped for a number (token, permission or account errors) until a probe succeeds.';

-- Conversation metrics on agent messages --------------------------------------------------

create or replace function private.track_agent_message()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_first_inbound timestamptz;
begin
  if new.sender_type <> 'agent' then
    return new;
  end if;
  select min(m.created_at) into v_first_inbound
    from public.messages m
   where m.conversation_id = new.conversation_id and m.sender_type = 'contact';
  update public.conversations c
     set last_message_at = greatest(coalesce(c.last_message_at, new.created_at), new.created_at),
         last_agent_response_at = greatest(coalesce(c.last_agent_response_at, new.created_at), new.created_at),
         first_response_time = coalesce(c.first_response_time,
           case when v_first_inbound is not null and new.created_at >= v_first_inbound
                then new.created_at - v_first_inbound end)
   where c.id = new.conversation_id;
  update public.contacts k
     set last_contacted_at = greatest(coalesce(k.last_contacted_at, new.created_at), new.created_at)
   where k.id = (select contact_id from public.conversations where id = new.conversation_id);
  if new.status = 'pending' then
    insert into svc.outbound_jobs (message_id, contact_id)
    select new.id, c.contact_id from public.conversations c where c.id = new.conversation_id;
  end if;
  return new;
end;
$$;
comment on function private.track_agent_message() is
  'On an agent message: conversation metrics, contact last_contacted_at, and the send queue for pending ones.';

create trigger on_agent_message_inserted
  after insert on public.messages
  for each row
  when (new.sender_type = 'agent')
  execute function private.track_agent_message();

-- Rate limit ----------------------------------------------------------------------------------

-- Takes up to p_wanted tokens from the number's bucket; returns how many were granted.
-- The bucket refills at 99% of the limit and holds 0.8% of a second's worth, at least
-- 1.5 tokens (a claim a little late then loses nothing at low limits) but never so much
-- that a one-second window of grants could exceed the limit (below 1.8% of it, and at
-- least one token). So a second of grants holds at most the limit (at 1000/s: 998). Each
-- sending process also spaces its requests 1/(99.8% of the limit) apart (graph_api::claim_loop), so
-- claims answered together don't reach WhatsApp as a burst.
create or replace function svc.take_send_tokens(
    p_phone_number_id text,
    p_wanted int,
    p_max_mps double precision,
    p_now timestamptz default clock_timestamp()
)
returns int
language plpgsql
set search_path = ''
as $$
declare
  v_capacity double precision := greatest(1, least(p_max_mps * 0.018, greatest(1.5, p_max_mps * 0.008)));
  v_refill double precision := p_max_mps * 0.99;
  v_tokens double precision;
  v_granted int;
  v_entered timestamptz := clock_timestamp();
  v_now timestamptz;
begin
  if p_max_mps < 1 or p_max_mps <> floor(p_max_mps) then
    raise exception 'max messages per second must be a whole number of at least 1' using errcode = '22023';
  end if;
  if p_wanted <= 0 then
    return 0;
  end if;
  -- The grant's time is when the bucket is ours: a claim that waited for the lock must not
  -- grant on the clock of before the wait, behind the grant it waited for.
  perform from svc.send_rate_buckets where phone_number_id = p_phone_number_id for update;
  v_now := p_now + (clock_timestamp() - v_entered);
  insert into svc.send_rate_buckets as b (phone_number_id, tokens, capacity, refill_per_second, refilled_at)
  values (p_phone_number_id, v_capacity, v_capacity, v_refill, v_now)
  on conflict (phone_number_id) do update
     set tokens = least(excluded.capacity,
                        b.tokens + greatest(0, extract(epoch from (v_now - b.refilled_at))) * excluded.refill_per_second),
         capacity = excluded.capacity,
         refill_per_second = excluded.refill_per_second,
         refilled_at = greatest(b.refilled_at, v_now)
  returning tokens into v_tokens;
  v_granted := least(p_wanted, floor(v_tokens)::int);
  if v_granted > 0 then
    update svc.send_rate_buckets set tokens = tokens - v_granted where phone_number_id = p_phone_number_id;
  end if;
  return v_granted;
end;
$$;
comment on function svc.take_send_tokens(text, int, double precision, timestamptz) is
  'Grants up to p_wanted send tokens from the number''s shared bucket (never above the limit in any second).';

-- Pauses ----------------------------------------------------------------------------------------

create or replace function svc.pause_sending(p_phone_number_id text, p_reason jsonb, p_probe_seconds int default 30)
returns void
language sql
set search_path = ''
as $$
  insert into svc.sending_pauses (phone_number_id, reason, probe_after)
  values (p_phone_number_id, p_reason, now() + make_interval(secs => p_probe_seconds))
  on conflict (phone_number_id) do update
     set reason = excluded.reason, probe_after = excluded.probe_after
$$;
comment on function svc.pause_sending(text, jsonb, int) is 'Stops sending for a number (keeps messages pending) until a probe succeeds.';

create or replace function svc.resume_sending(p_phone_number_id text)
returns boolean
language sql
set search_path = ''
as $$
  with d as (delete from svc.sending_pauses where phone_number_id = p_phone_number_id returning 1)
  select exists (select 1 from d)
$$;
comment on function svc.resume_sending(text) is 'Resumes sending for a number; true when it was paused.';

-- Claiming ----------------------------------------------------------------------------------------

-- Claims up to p_limit due jobs (oldest first, one per contact in order), within the rate
-- limit, leased to p_owner. Free-form messages outside the 24-hour window fail here
-- without an API call. Expired leases become unknown outcomes (see the header).
-- While the number is paused only one probe job is handed out per probe interval.
create or replace function svc.claim_outbound_messages(
    p_owner text,
    p_phone_number_id text,
    p_max_mps double precision,
    p_limit int default 50,
    p_lease_seconds int default 30,
    p_now timestamptz default clock_timestamp()
)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_limit int := p_limit;
  v_pause svc.sending_pauses%rowtype;
  v_candidates uuid[];
  v_granted int;
  v_claimed jsonb;
  v_expired uuid[];
  v_expired_owners text[];
begin
  -- 1. Leases that expired: the sender died after claiming; the send may have happened.
  --    (Two statements: joined in one, a planner with stale statistics walked every
  --    message for an empty list of expired leases.)
  with expired as (
    delete from svc.outbound_jobs j
     where j.lease_owner is not null and j.lease_expires_at < p_now
    returning j.message_id, j.lease_owner
  )
  select array_agg(e.message_id), array_agg(e.lease_owner) into v_expired, v_expired_owners from expired e;
  if v_expired is not null then
    update public.messages m
       set status = 'failed',
           error_data = jsonb_build_object(
             'code', 'unknown_outcome',
             'title', 'Sending was interrupted',
             'details', 'The sender stopped while this message was being sent; WhatsApp may or may not have received it. Check with the customer before sending it again.',
             'sender', e.owner, 'at', p_now)
      from unnest(v_expired, v_expired_owners) as e(message_id, owner)
     where m.id = e.message_id and m.status = 'pending';
  end if;

  -- 2. Paused number: at most one probe per interval.
  select * into v_pause from svc.sending_pauses where phone_number_id = p_phone_number_id for update;
  if found then
    if v_pause.probe_after > p_now then
      return '[]'::jsonb;
    end if;
    update svc.sending_pauses set probe_after = p_now + interval '30 seconds'
     where phone_number_id = p_phone_number_id;
    v_limit := 1;
  end if;

  -- 3. Candidates: due, unleased, first of their contact. "First" is a correlated
  --    min() (a parameterized index probe per row, whatever the statistics say): a NOT
  --    EXISTS anti join planned while the queue was empty scanned it whole per row.
  select array_agg(message_id order by seq) into v_candidates
    from (
      select j.message_id, j.seq
        from svc.outbound_jobs j
       where j.lease_owner is null and j.due_at <= p_now
         and j.seq = (select min(e.seq) from svc.outbound_jobs e where e.contact_id = j.contact_id)
       order by j.seq
       limit v_limit
       for update of j skip locked
    ) c;
  if v_candidates is null then
    return '[]'::jsonb;
  end if;

  -- 4. Free-form candidates outside the 24-hour window (counted from Meta's timestamp
  --    of the customer's last message) fail now, without an API call or a token.
  with closed as (
    delete from svc.outbound_jobs j
     using public.messages m
     where j.message_id = any (v_candidates)
       and m.id = j.message_id
       and m.message_type <> 'template'
       and coalesce((select max(i.created_at)
                       from public.messages i
                       join public.conversations c on c.id = i.conversation_id
                      where c.contact_id = j.contact_id and i.sender_type = 'contact'), '-infinity') < p_now - interval '24 hours'
    returning j.message_id
  ), failed as (
    update public.messages m
       set status = 'failed',
           error_data = jsonb_build_object(
             'code', 131047,
             'title', 'Outside the 24-hour customer service window',
             'details', 'The customer last wrote more than 24 hours ago; only an approved template can be sent now.',
             'source', 'sender', 'at', p_now)
      from closed
     where m.id = closed.message_id
    returning m.id
  )
  select array_agg(u.c order by u.n) into v_candidates
    from unnest(v_candidates) with ordinality as u(c, n)
   where u.c not in (select f.id from failed f);
  if v_candidates is null then
    return '[]'::jsonb;
  end if;

  -- 5. Tokens for as many as we send now; the rest stay queued.
  -- Tokens on the clock of now, not of when the claim began (see svc.take_send_tokens).
  v_granted := svc.take_send_tokens(p_phone_number_id, cardinality(v_candidates), p_max_mps, greatest(p_now, clock_timestamp()));
  if v_granted = 0 then
    return '[]'::jsonb;
  end if;

  with leased as (
    update svc.outbound_jobs j
       set lease_owner = p_owner,
           lease_expires_at = p_now + make_interval(secs => p_lease_seconds),
           attempts = j.attempts + 1,
           first_attempt_at = coalesce(j.first_attempt_at, p_now)
     where j.message_id = any (v_candidates[1:v_granted])
    returning j.*
  )
  select coalesce(jsonb_agg(jsonb_build_object(
           'message_id', m.id,
           'conversation_id', m.conversation_id,
           'to', coalesce(k.wa_id, k.phone),
           'recipient_user_id', k.wa_user_id,
           'message_type', m.message_type,
           'content', m.content,
           'media_url', m.media_url,
           'metadata', m.metadata,
           'reply_to_wamid', r.wa_message_id,
           'attempts', l.attempts,
           'first_attempt_at', l.first_attempt_at,
           'probe', v_pause.phone_number_id is not null
         ) order by l.seq), '[]'::jsonb)
    into v_claimed
    from leased l
    join public.messages m on m.id = l.message_id
    join public.contacts k on k.id = l.contact_id
    left join public.messages r on r.id = m.reply_to_message_id;
  return v_claimed;
end;
$$;
-- The queue's statistics lag behind bursts (an empty table that just got thousands of
-- rows): without this the planner may scan the whole queue per candidate, for every claim,
-- until autovacuum analyzes it. Every query here has an index to use.
alter function svc.claim_outbound_messages(text, text, double precision, int, int, timestamptz) set enable_seqscan = off;
-- Likewise a queue that just filled looks nearly empty: the candidates were read whole
-- (bitmap scan) and sorted, 30 ms per claim for 20,000 queued, instead of walking the
-- queue's index in order and stopping at the limit.
alter function svc.claim_outbound_messages(text, text, double precision, int, int, timestamptz) set enable_bitmapscan = off;
alter function svc.claim_outbound_messages(text, text, double precision, int, int, timestamptz) set enable_sort = off;
-- Disabled plans cost 10^10, above jit_above_cost: without this a plan left with a
-- disabled node would be JIT-compiled (~100 ms) on every claim.
alter function svc.claim_outbound_messages(text, text, double precision, int, int, timestamptz) set jit = off;
comment on function svc.claim_outbound_messages(text, text, double precision, int, int, timestamptz) is
  'Claims due replies in order per contact, within the shared rate limit, with a lease; fails closed-window free-form messages.';

-- Recording outcomes ------------------------------------------------------------------------------

-- Meta accepted the message: wamid and 'sent'; statuses that overtook it are applied.
create or replace function svc.record_outbound_sent(p_message_id uuid, p_owner text, p_wamid text)
returns boolean
language plpgsql
set search_path = ''
as $$
begin
  delete from svc.outbound_jobs where message_id = p_message_id and lease_owner = p_owner;
  if not found then
    -- Our lease expired and the message was marked unknown_outcome meanwhile: we now know.
    perform 1 from public.messages where id = p_message_id and error_data ->> 'code' = 'unknown_outcome';
    if not found then
      return false;
    end if;
  end if;
  update public.messages
     set status = 'sent', wa_message_id = p_wamid, error_data = null
   where id = p_message_id and (status = 'pending' or error_data ->> 'code' = 'unknown_outcome');
  perform svc.apply_early_statuses(p_wamid);
  return true;
end;
$$;
comment on function svc.record_outbound_sent(uuid, text, text) is 'Records the wamid of an accepted message and marks it sent.';

-- A permanent failure (or an unknown outcome): 'failed' with error_data, job done.
-- p_opted_out marks the contact (WhatsApp error 131050).
create or replace function svc.record_outbound_failed(p_message_id uuid, p_owner text, p_error jsonb, p_opted_out boolean default false)
returns boolean
language plpgsql
set search_path = ''
as $$
declare
  v_contact uuid;
begin
  delete from svc.outbound_jobs where message_id = p_message_id and lease_owner = p_owner
  returning contact_id into v_contact;
  if not found then
    return false;
  end if;
  update public.messages set status = 'failed', error_data = p_error
   where id = p_message_id and status = 'pending';
  if p_opted_out then
    update public.contacts set opted_out_at = coalesce(opted_out_at, now()) where id = v_contact;
  end if;
  return true;
end;
$$;
comment on function svc.record_outbound_failed(uuid, text, jsonb, boolean) is 'Fails a claimed message with error_data (permanent error or unknown outcome).';

-- A retryable failure: back in the queue after p_delay_seconds, still first of its contact.
create or replace function svc.record_outbound_retry(p_message_id uuid, p_owner text, p_delay_seconds double precision, p_error jsonb)
returns boolean
language plpgsql
set search_path = ''
as $$
begin
  update svc.outbound_jobs
     set lease_owner = null, lease_expires_at = null,
         due_at = clock_timestamp() + make_interval(secs => greatest(0, p_delay_seconds)),
         last_error = p_error
   where message_id = p_message_id and lease_owner = p_owner;
  return found;
end;
$$;
comment on function svc.record_outbound_retry(uuid, text, double precision, jsonb) is 'Puts a claimed message back in the queue after a retryable error.';

-- Graceful shutdown: hands back claims that were never sent.
create or replace function svc.release_outbound_jobs(p_owner text, p_message_ids uuid[])
returns int
language plpgsql
set search_path = ''
as $$
declare
  v_count int;
begin
  update svc.outbound_jobs
     set lease_owner = null, lease_expires_at = null, attempts = greatest(0, attempts - 1)
   where lease_owner = p_owner and message_id = any (p_message_ids);
  get diagnostics v_count = row_count;
  return v_count;
end;
$$;
comment on function svc.release_outbound_jobs(text, uuid[]) is 'Returns unsent claims to the queue (graceful shutdown).';

-- For readyz and metrics.
create or replace function svc.outbound_status(p_phone_number_id text)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'queued', (select count(*) from svc.outbound_jobs where lease_owner is null),
    'in_flight', (select count(*) from svc.outbound_jobs where lease_owner is not null),
    'paused', (select jsonb_build_object('reason', reason, 'since', paused_at)
                 from svc.sending_pauses where phone_number_id = p_phone_number_id))
$$;
comment on function svc.outbound_status(text) is 'Queue depth and pause state of outbound sending.';

-- Grants: the services only.
revoke all on svc.outbound_jobs, svc.send_rate_buckets, svc.sending_pauses from public, anon, authenticated;
grant select, insert, update, delete on svc.outbound_jobs, svc.send_rate_buckets, svc.sending_pauses to service_role;
revoke execute on function private.track_agent_message() from public, anon, authenticated;
