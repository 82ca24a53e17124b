-- Broadcasts: an admin schedules a template for an audience; the broadcast worker moves
-- it to 'sending' exactly once (svc.start_due_broadcasts), materializes its recipients,
-- and claims them in leased batches under the same per-number token bucket as replies
-- (svc.claim_broadcast_recipients), yielding whenever a reply is waiting.
--
-- At most once per recipient: a claim whose lease expires (the worker died between the
-- API call and the record) is never resent automatically; the recipient becomes
-- 'failed' with error_message 'unknown_outcome: ...', which an admin can see and retry
-- on purpose (setting it back to 'pending' re-queues it).

-- Extension: why a broadcast waits (messaging limit, paused sending), for admins.
alter table public.broadcast_messages add column status_detail text;
comment on column public.broadcast_messages.status_detail is
  'Why a broadcast is waiting or stopped (messaging limit reached, sending paused, no template); null when all is well.';

-- Audiences by tag.
create index idx_contacts_tags on public.contacts using gin (tags);
-- The messaging limit counts unique users messaged in the last 24 hours.
create index idx_broadcast_recipients_sent_at on public.broadcast_recipients (sent_at) where sent_at is not null;

create table svc.broadcast_queue (
    broadcast_id uuid not null,
    contact_id uuid not null,
    seq bigint generated always as identity,
    due_at timestamptz not null default now(),
    attempts int not null default 0,
    first_attempt_at timestamptz,
    lease_owner text,
    lease_expires_at timestamptz,
    last_error text,
    primary key (broadcast_id, contact_id),
    -- Each row belongs to a recipient: see "The queue's recipients" below.
    constraint broadcast_queue_lease_complete check ((lease_owner is null) = (lease_expires_at is null))
);
comment on table svc.broadcast_queue is 'Recipients still to send (one row per pending recipient of a sending broadcast).';
create index broadcast_queue_due on svc.broadcast_queue (seq) where lease_owner is null;
create index broadcast_queue_lease on svc.broadcast_queue (lease_expires_at) where lease_owner is not null;

-- The queue's recipients ----------------------------------------------------------------
-- What a foreign key (broadcast_id, contact_id) -> broadcast_recipients ON DELETE CASCADE
-- would guarantee, checked once per statement: a foreign key runs one query per queued
-- row, 0.6-1 s of the 3-5 s it took to start a 100,000-contact broadcast. As a foreign
-- key check does, the referenced recipients are locked FOR KEY SHARE: a concurrent delete
-- waits for the queueing transaction (and its cascade then sees the new rows), or, if it
-- came first, makes the check fail. One difference: in REPEATABLE READ a foreign key's
-- cascade raises a serialization error on rows queued concurrently, this one misses
-- them; the worker and PostgREST use READ COMMITTED.

-- A queue row needs its recipient (insert, or a change of its keys).
create or replace function private.check_broadcast_queue_recipients()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_missing bigint;
begin
  if tg_level = 'ROW' then
    perform from public.broadcast_recipients r
     where r.broadcast_id = new.broadcast_id and r.contact_id = new.contact_id
       for key share;
    v_missing := case when found then 0 else 1 end;
  else
    -- EXECUTE: planned for this call's number of rows (one for a retry, or a whole
    -- audience), where a cached plan would keep the first call's. Recipients this
    -- transaction inserted (a tag audience, just materialized) need no lock: no one else
    -- can see them, let alone delete them; locking 100,000 of them took 0.1-0.2 s.
    execute $q$
      select (select count(*) from new_rows) - count(*)
        from public.broadcast_recipients r
        join new_rows q on q.broadcast_id = r.broadcast_id and q.contact_id = r.contact_id
       where r.xmin = pg_current_xact_id()::xid
    $q$ into v_missing;
    if v_missing > 0 then
      execute $q$
        select $1 - count(*)
          from (select from public.broadcast_recipients r
                  join new_rows q on q.broadcast_id = r.broadcast_id and q.contact_id = r.contact_id
                 where r.xmin <> pg_current_xact_id()::xid
                   for key share of r) locked
      $q$ into v_missing using v_missing;
    end if;
  end if;
  if v_missing > 0 then
    raise exception 'insert or update on table "broadcast_queue" violates its link to "broadcast_recipients"'
      using errcode = 'foreign_key_violation',
            detail = format('%s queued row(s) have no recipient (broadcast_id, contact_id).', v_missing);
  end if;
  return null;
end;
$$;
revoke execute on function private.check_broadcast_queue_recipients() from public, anon, authenticated;
create trigger broadcast_queue_recipients_inserted
  after insert on svc.broadcast_queue
  referencing new table as new_rows
  for each statement execute function private.check_broadcast_queue_recipients();
-- Per row, and only when a key changes: leases update the queue all the time.
create trigger broadcast_queue_recipient_changed
  after update of broadcast_id, contact_id on svc.broadcast_queue
  for each row
  when ((old.broadcast_id, old.contact_id) is distinct from (new.broadcast_id, new.contact_id))
  execute function private.check_broadcast_queue_recipients();

-- A deleted recipient leaves the queue; a queued one keeps its keys, and the recipients
-- are truncated only together with the queue (as a foreign key would require).
create or replace function private.cascade_broadcast_recipients_to_queue()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if tg_op = 'TRUNCATE' then
    if exists (select from svc.broadcast_queue) then
      raise exception 'cannot truncate "broadcast_recipients" while "svc.broadcast_queue" has rows'
        using errcode = 'feature_not_supported', hint = 'Truncate svc.broadcast_queue in the same command.';
    end if;
  elsif tg_op = 'DELETE' then
    -- EXECUTE: planned for this call's number of rows (see above).
    execute $q$
      delete from svc.broadcast_queue q
       using old_rows o
       where q.broadcast_id = o.broadcast_id and q.contact_id = o.contact_id
    $q$;
  elsif exists (select from svc.broadcast_queue q
                 where q.broadcast_id = old.broadcast_id and q.contact_id = old.contact_id) then
    raise exception 'update on table "broadcast_recipients" violates the link from "broadcast_queue"'
      using errcode = 'foreign_key_violation',
            detail = 'The recipient (broadcast_id, contact_id) is still queued.';
  end if;
  return null;
end;
$$;
revoke execute on function private.cascade_broadcast_recipients_to_queue() from public, anon, authenticated;
create trigger broadcast_recipients_deleted
  after delete on public.broadcast_recipients
  referencing old table as old_rows
  for each statement execute function private.cascade_broadcast_recipients_to_queue();
create trigger broadcast_recipients_truncated
  after truncate on public.broadcast_recipients
  for each statement execute function private.cascade_broadcast_recipients_to_queue();
create trigger broadcast_recipients_keys_changed
  after update of broadcast_id, contact_id on public.broadcast_recipients
  for each row
  when ((old.broadcast_id, old.contact_id) is distinct from (new.broadcast_id, new.contact_id))
  execute function private.cascade_broadcast_recipients_to_queue();

-- Starting --------------------------------------------------------------------------------

-- ANALYZE needs the table's owner: a definer function, executable by service_role only.
create or replace function svc.analyze_broadcast_queue()
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  analyze svc.broadcast_queue;
end;
$$;
comment on function svc.analyze_broadcast_queue() is 'Refreshes the queue''s statistics after a large audience was queued.';

-- Moves due scheduled broadcasts to 'sending' (each exactly once, even with several
-- workers), materializes their audience set-based, skips blocked and opted-out
-- contacts (recorded as failed with the reason) and queues the rest.
--
-- Each recipient row is written once: a tag audience's skipped contacts are inserted
-- already failed, rather than inserted pending and updated (a second pass over the
-- audience). Rows already there (added by hand, or queued before the broadcast was set
-- back to scheduled) are left out with NOT IN over a hashed subquery rather than ON
-- CONFLICT, whose speculative insertion costs 1.7 times a plain insert: the hash is built
-- once (as long as the rows already there are estimated to fit in work_mem, about a
-- million; a fresh audience has none), where a NOT EXISTS anti-join planned on stale
-- statistics can become a nested loop over the table being filled. No concurrent insert can meet these: an admin adding
-- a recipient waits for the broadcast row, locked here, in its foreign key check, and
-- nothing queues a broadcast that is not 'sending' yet. About half of the remaining time
-- is the recipients' two foreign keys (design document), checked row by row.
create or replace function svc.start_due_broadcasts(p_now timestamptz default now())
returns jsonb
language plpgsql
set search_path = ''
-- Both inserts sort the audience (and hash what is already there): 100,000 fit in memory.
set work_mem = '32MB'
as $$
declare
  b record;
  v_started jsonb := '[]'::jsonb;
  v_queued int;
  v_skipped int;
  v_tag_skipped int;
  v_tags text[];
begin
  for b in
    select * from public.broadcast_messages
     where status = 'scheduled' and scheduled_for <= p_now
     order by scheduled_for
     for update skip locked
  loop
    if b.template_id is null then
      update public.broadcast_messages
         set status = 'cancelled', status_detail = 'not sent: no WhatsApp template chosen'
       where id = b.id;
      continue;
    end if;
    update public.broadcast_messages set status = 'sending', status_detail = null where id = b.id;

    -- Recipients added before the start (an explicit audience): skip the unsendable.
    update public.broadcast_recipients r
       set status = 'failed',
           error_message = case
             when c.status = 'blocked' then 'skipped: contact is blocked'
             when c.opted_out_at is not null then 'skipped: contact opted out'
             else 'skipped: contact has no WhatsApp address' end
      from public.contacts c
     where r.broadcast_id = b.id and r.contact_id = c.id and r.status = 'pending'
       and (c.status = 'blocked' or c.opted_out_at is not null or (c.wa_id is null and c.phone is null and c.wa_user_id is null));
    get diagnostics v_skipped = row_count;

    if b.audience ->> 'type' = 'tags' then
      v_tags := array(select jsonb_array_elements_text(coalesce(b.audience -> 'tags', '[]'::jsonb)));
      -- The rest of the tag audience, each row written once with its final status (same
      -- reasons as above), in contact order (index insertion in key order).
      with added as (
        insert into public.broadcast_recipients (broadcast_id, contact_id, status, error_message)
        select b.id, c.id, case when s.reason is null then 'pending' else 'failed' end, s.reason
          from public.contacts c
          cross join lateral (select case
                   when c.status = 'blocked' then 'skipped: contact is blocked'
                   when c.opted_out_at is not null then 'skipped: contact opted out'
                   when c.wa_id is null and c.phone is null and c.wa_user_id is null
                     then 'skipped: contact has no WhatsApp address'
                 end as reason) s
         where c.tags && v_tags
           and c.id not in (select r.contact_id from public.broadcast_recipients r where r.broadcast_id = b.id)
         order by c.id
        returning status
      )
      select count(*) filter (where status = 'failed') into v_tag_skipped from added;
      v_skipped := v_skipped + v_tag_skipped;
    end if;

    -- Every pending recipient not queued yet, in contact order (seq follows it).
    insert into svc.broadcast_queue (broadcast_id, contact_id)
    select b.id, r.contact_id
      from public.broadcast_recipients r
     where r.broadcast_id = b.id and r.status = 'pending'
       and r.contact_id not in (select q.contact_id from svc.broadcast_queue q where q.broadcast_id = b.id)
     order by r.contact_id;
    get diagnostics v_queued = row_count;

    if v_queued >= 1000 then
      -- Fresh statistics, or every claim until autovacuum comes would sort the whole queue.
      perform svc.analyze_broadcast_queue();
    end if;
    v_started := v_started || jsonb_build_array(jsonb_build_object('id', b.id, 'queued', v_queued, 'skipped', v_skipped));
  end loop;
  return v_started;
end;
$$;
comment on function svc.start_due_broadcasts(timestamptz) is
  'Starts due scheduled broadcasts exactly once: sending, audience materialized, blocked/opted-out skipped, recipients queued.';

-- An admin setting a failed recipient back to 'pending' re-queues it (a deliberate retry).
create or replace function private.requeue_broadcast_recipient()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.status = 'pending' and old.status = 'failed' then
    new.error_message := null;
    -- A completed broadcast is sending again until its retried recipients are final.
    update public.broadcast_messages set status = 'sending', sent_at = null, status_detail = null
     where id = new.broadcast_id and status = 'completed';
    insert into svc.broadcast_queue (broadcast_id, contact_id)
    select new.broadcast_id, new.contact_id
     where exists (select 1 from public.broadcast_messages where id = new.broadcast_id and status = 'sending')
    on conflict do nothing;
  end if;
  return new;
end;
$$;
revoke execute on function private.requeue_broadcast_recipient() from public, anon, authenticated;
-- WHEN: other status changes (every send and delivery status) skip the function call.
create trigger on_broadcast_recipient_retried
  before update of status on public.broadcast_recipients
  for each row
  when (new.status = 'pending' and old.status = 'failed')
  execute function private.requeue_broadcast_recipient();

-- A cancelled broadcast leaves the queue (in-flight claims finish and are recorded).
create or replace function private.dequeue_cancelled_broadcast()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  delete from svc.broadcast_queue where broadcast_id = new.id and lease_owner is null;
  return new;
end;
$$;
revoke execute on function private.dequeue_cancelled_broadcast() from public, anon, authenticated;
create trigger on_broadcast_cancelled
  after update of status on public.broadcast_messages
  for each row
  when (new.status = 'cancelled' and old.status is distinct from 'cancelled')
  execute function private.dequeue_cancelled_broadcast();

-- Claiming --------------------------------------------------------------------------------

-- Unique users messaged by broadcasts in the 24 hours before p_now (plus those in flight).
create or replace function svc.broadcast_users_in_last_24h(p_now timestamptz)
returns bigint
language sql
stable
set search_path = ''
as $$
  select count(*) from (
    select contact_id from public.broadcast_recipients
     where sent_at > p_now - interval '24 hours'
    union
    select contact_id from svc.broadcast_queue where lease_owner is not null
  ) u
$$;
comment on function svc.broadcast_users_in_last_24h(timestamptz) is 'Unique users messaged by broadcasts in a rolling 24 hours (the messaging limit''s measure).';

-- Counting them takes ~100 ms at 100,000 users: too slow for every claim. Claims under a
-- messaging limit use an estimate instead, never below the exact count: the last exact
-- count (at most 5 seconds old) plus every recipient leased since. Everyone messaged
-- after the count was leased after it (and every claim under the limit adds its leases
-- to the tally), or was already leased or sent when it was counted. (Counting sends since by sent_at would
-- miss some: a status webhook may set sent_at from Meta's clock before the worker
-- records the send.) Claims under a limit run one at a time (an advisory lock), so the
-- tally needs no more. Retried and returning users are counted again until the next
-- recount: over, never under. Every worker of a number must run with the same limit.
create table svc.broadcast_limit_tally (
    singleton boolean primary key default true check (singleton),
    counted_at timestamptz not null,
    users bigint not null,
    claimed_since bigint not null default 0
);
comment on table svc.broadcast_limit_tally is
  'The last exact count of unique users messaged by broadcasts in 24 hours, and the recipients leased since.';

create or replace function svc.broadcast_users_estimate(p_now timestamptz)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
  v_tally svc.broadcast_limit_tally%rowtype;
begin
  select * into v_tally from svc.broadcast_limit_tally;
  if found and v_tally.counted_at between p_now - interval '5 seconds' and p_now then
    return v_tally.users + v_tally.claimed_since;
  end if;
  v_tally.users := svc.broadcast_users_in_last_24h(p_now);
  insert into svc.broadcast_limit_tally (counted_at, users, claimed_since) values (p_now, v_tally.users, 0)
  on conflict (singleton) do update
     set counted_at = excluded.counted_at, users = excluded.users, claimed_since = 0;
  return v_tally.users;
end;
$$;
comment on function svc.broadcast_users_estimate(timestamptz) is
  'At least the unique users messaged by broadcasts in 24 hours, cheaply (an exact count at most 5 s old plus what was leased since).';

-- Claims up to p_limit recipients of sending broadcasts, leased, within the shared rate
-- limit and the messaging limit (null = unlimited); nothing while a reply is waiting.
create or replace function svc.claim_broadcast_recipients(
    p_owner text,
    p_phone_number_id text,
    p_max_mps double precision,
    p_limit int default 100,
    p_lease_seconds int default 30,
    p_messaging_limit int default null,
    p_now timestamptz default clock_timestamp()
)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_limit int := p_limit;
  v_pause svc.sending_pauses%rowtype;
  v_remaining bigint;
  v_broadcasts uuid[];
  v_contacts uuid[];
  v_granted int;
  v_claimed jsonb;
  v_expired_broadcasts uuid[];
  v_expired_contacts uuid[];
begin
  -- 1. Expired leases: the worker died; the send may have happened. Never resent. (Two
  --    statements, as for replies: joined in one, stale statistics can walk every recipient.)
  with expired as (
    delete from svc.broadcast_queue q
     where q.lease_owner is not null and q.lease_expires_at < p_now
    returning q.broadcast_id, q.contact_id
  )
  select array_agg(e.broadcast_id), array_agg(e.contact_id) into v_expired_broadcasts, v_expired_contacts from expired e;
  if v_expired_broadcasts is not null then
    update public.broadcast_recipients r
       set status = 'failed',
           error_message = 'unknown_outcome: the worker stopped while sending; WhatsApp may or may not have delivered it. Set it back to pending to send again.'
      from unnest(v_expired_broadcasts, v_expired_contacts) as e(broadcast_id, contact_id)
     where r.broadcast_id = e.broadcast_id and r.contact_id = e.contact_id and r.status = 'pending';
  end if;

  -- 2. Paused number: one probe per interval, like replies.
  select * into v_pause from svc.sending_pauses where phone_number_id = p_phone_number_id for update;
  if found then
    if v_pause.probe_after > p_now then
      update public.broadcast_messages set status_detail = 'waiting: sending is paused (' || coalesce(v_pause.reason ->> 'title', v_pause.reason ->> 'code', 'account error') || ')'
       where status = 'sending' and status_detail is distinct from 'waiting: sending is paused (' || coalesce(v_pause.reason ->> 'title', v_pause.reason ->> 'code', 'account error') || ')';
      return '[]'::jsonb;
    end if;
    update svc.sending_pauses set probe_after = p_now + interval '30 seconds' where phone_number_id = p_phone_number_id;
    v_limit := 1;
  end if;

  -- 3. Replies first: a claimable reply waiting means broadcasts wait.
  if exists (
    select 1 from svc.outbound_jobs j
     where j.lease_owner is null and j.due_at <= p_now
       and j.seq = (select min(e.seq) from svc.outbound_jobs e where e.contact_id = j.contact_id)
  ) then
    return '[]'::jsonb;
  end if;

  -- 4. Messaging limit.
  if p_messaging_limit is not null then
    -- Concurrent claims would each see the same allowance: count one at a time.
    perform pg_advisory_xact_lock(hashtext('svc.broadcast_messaging_limit'));
    v_remaining := p_messaging_limit - svc.broadcast_users_estimate(p_now);
    if v_remaining <= 0 then
      update public.broadcast_messages
         set status_detail = format('waiting: messaging limit of %s unique users per 24 hours reached', p_messaging_limit)
       where status = 'sending' and status_detail is null;
      return '[]'::jsonb;
    end if;
    v_limit := least(v_limit, v_remaining)::int;
  end if;

  -- 5. Candidates of broadcasts still sending (a cancelled one stops here).
  select array_agg(q.broadcast_id order by q.seq), array_agg(q.contact_id order by q.seq)
    into v_broadcasts, v_contacts
    from (
      select q.broadcast_id, q.contact_id, q.seq from svc.broadcast_queue q
       where q.lease_owner is null and q.due_at <= p_now
         and exists (select 1 from public.broadcast_messages b where b.id = q.broadcast_id and b.status = 'sending')
       order by q.seq
       limit v_limit
       for update of q skip locked
    ) q;
  if v_broadcasts is null then
    return '[]'::jsonb;
  end if;

  -- Tokens on the clock of now, not of when the claim began (see svc.take_send_tokens).
  v_granted := svc.take_send_tokens(p_phone_number_id, cardinality(v_broadcasts), p_max_mps, greatest(p_now, clock_timestamp()));
  if v_granted = 0 then
    return '[]'::jsonb;
  end if;
  -- The messaging limit's estimate counts every lease (see svc.broadcast_limit_tally).
  -- Claims under a limit hold the advisory lock; unlimited ones leave the tally alone
  -- (every worker of a number runs with the same limit).
  if p_messaging_limit is not null then
    update svc.broadcast_limit_tally set claimed_since = claimed_since + v_granted;
  end if;

  with chosen as (
    select c.broadcast_id, c.contact_id
      from unnest(v_broadcasts[1:v_granted], v_contacts[1:v_granted]) as c(broadcast_id, contact_id)
  ), leased as (
    update svc.broadcast_queue q
       set lease_owner = p_owner,
           lease_expires_at = p_now + make_interval(secs => p_lease_seconds),
           attempts = q.attempts + 1,
           first_attempt_at = coalesce(q.first_attempt_at, p_now)
      from chosen c
     where q.broadcast_id = c.broadcast_id and q.contact_id = c.contact_id
    returning q.*
  )
  select coalesce(jsonb_agg(jsonb_build_object(
           'broadcast_id', l.broadcast_id,
           'contact_id', l.contact_id,
           'to', coalesce(k.wa_id, k.phone, k.wa_user_id),
           'template', t.wa_template_name,
           'language', t.language_code,
           'parameters', (
             select coalesce(jsonb_agg(
                      case p.source
                        when 'contact.full_name' then coalesce(nullif(k.full_name, ''), 'cliente')
                        when 'contact.phone' then coalesce(k.phone, '')
                        when 'contact.email' then coalesce(k.email, '')
                        else p.source
                      end order by p.ord), '[]'::jsonb)
               from jsonb_array_elements_text(t.parameters) with ordinality as p(source, ord)),
           'attempts', l.attempts,
           'first_attempt_at', l.first_attempt_at,
           'probe', v_pause.phone_number_id is not null
         ) order by l.seq), '[]'::jsonb)
    into v_claimed
    from leased l
    join public.broadcast_messages b on b.id = l.broadcast_id
    join public.message_templates t on t.id = b.template_id
    join public.contacts k on k.id = l.contact_id;

  update public.broadcast_messages set status_detail = null
   where status = 'sending' and status_detail is not null
     and id in (select (c ->> 'broadcast_id')::uuid from jsonb_array_elements(v_claimed) c);
  return v_claimed;
end;
$$;
-- As for replies (migration 2000): statistics lag behind a freshly materialized audience.
alter function svc.claim_broadcast_recipients(text, text, double precision, int, int, int, timestamptz) set enable_seqscan = off;
-- A seq scan disabled this way still costs 10^10, far above jit_above_cost: the status
-- updates of broadcast_messages (no index on status) were JIT-compiled, 120 ms per claim
-- while waiting on the messaging limit. Short OLTP queries never gain from JIT.
alter function svc.claim_broadcast_recipients(text, text, double precision, int, int, int, timestamptz) set jit = off;
comment on function svc.claim_broadcast_recipients(text, text, double precision, int, int, int, timestamptz) is
  'Claims recipients of sending broadcasts, leased, within the shared rate limit and the messaging limit, after replies.';

-- Recording -------------------------------------------------------------------------------

create or replace function svc.record_broadcast_sent(p_broadcast_id uuid, p_contact_id uuid, p_owner text, p_wamid text)
returns boolean
language plpgsql
set search_path = ''
as $$
begin
  delete from svc.broadcast_queue
   where broadcast_id = p_broadcast_id and contact_id = p_contact_id and lease_owner = p_owner;
  if not found then
    -- Our lease expired meanwhile and the recipient became unknown_outcome: now we know.
    perform 1 from public.broadcast_recipients
     where broadcast_id = p_broadcast_id and contact_id = p_contact_id and error_message like 'unknown_outcome:%';
    if not found then
      return false;
    end if;
  end if;
  update public.broadcast_recipients
     set status = 'sent', sent_at = now(), wa_message_id = p_wamid, error_message = null
   where broadcast_id = p_broadcast_id and contact_id = p_contact_id;
  perform svc.apply_early_statuses(p_wamid);
  return true;
end;
$$;
comment on function svc.record_broadcast_sent(uuid, uuid, text, text) is 'Records the wamid of a recipient''s accepted template.';

create or replace function svc.record_broadcast_failed(p_broadcast_id uuid, p_contact_id uuid, p_owner text, p_error_message text, p_opted_out boolean default false)
returns boolean
language plpgsql
set search_path = ''
as $$
begin
  delete from svc.broadcast_queue
   where broadcast_id = p_broadcast_id and contact_id = p_contact_id and lease_owner = p_owner;
  if not found then
    return false;
  end if;
  update public.broadcast_recipients set status = 'failed', error_message = p_error_message
   where broadcast_id = p_broadcast_id and contact_id = p_contact_id and status = 'pending';
  if p_opted_out then
    update public.contacts set opted_out_at = coalesce(opted_out_at, now()) where id = p_contact_id;
  end if;
  return true;
end;
$$;
comment on function svc.record_broadcast_failed(uuid, uuid, text, text, boolean) is 'Fails a claimed recipient (permanent error or unknown outcome).';

create or replace function svc.record_broadcast_retry(p_broadcast_id uuid, p_contact_id uuid, p_owner text, p_delay_seconds double precision, p_error text)
returns boolean
language plpgsql
set search_path = ''
as $$
begin
  update svc.broadcast_queue
     set lease_owner = null, lease_expires_at = null,
         due_at = clock_timestamp() + make_interval(secs => greatest(0, p_delay_seconds)),
         last_error = p_error
   where broadcast_id = p_broadcast_id and contact_id = p_contact_id and lease_owner = p_owner;
  return found;
end;
$$;
comment on function svc.record_broadcast_retry(uuid, uuid, text, double precision, text) is 'Puts a claimed recipient back in the queue after a retryable error.';

create or replace function svc.release_broadcast_claims(p_owner text)
returns int
language plpgsql
set search_path = ''
as $$
declare
  v_count int;
begin
  update svc.broadcast_queue
     set lease_owner = null, lease_expires_at = null, attempts = greatest(0, attempts - 1)
   where lease_owner = p_owner;
  get diagnostics v_count = row_count;
  return v_count;
end;
$$;
comment on function svc.release_broadcast_claims(text) is 'Returns a worker''s unsent claims to the queue (graceful shutdown).';

-- Completing ------------------------------------------------------------------------------

-- A sending broadcast with nothing left to send is completed (sent_at = now).
create or replace function svc.complete_finished_broadcasts(p_now timestamptz default now())
returns int
language plpgsql
set search_path = ''
as $$
declare
  v_count int;
begin
  update public.broadcast_messages b
     set status = 'completed', sent_at = p_now, status_detail = null
   where b.status = 'sending'
     and not exists (select 1 from svc.broadcast_queue q where q.broadcast_id = b.id);
  get diagnostics v_count = row_count;
  return v_count;
end;
$$;
comment on function svc.complete_finished_broadcasts(timestamptz) is 'Completes sending broadcasts whose every recipient is sent or failed.';

-- For metrics: recipients by status of each sending broadcast.
create or replace function svc.broadcast_progress()
returns jsonb
language sql
stable
set search_path = ''
as $$
  select coalesce(jsonb_agg(jsonb_build_object('id', b.id, 'name', b.name, 'status_detail', b.status_detail,
           'counts', (select jsonb_object_agg(s.status, s.n) from (
                        select r.status, count(*) as n from public.broadcast_recipients r
                         where r.broadcast_id = b.id group by r.status) s),
           'queued', (select count(*) from svc.broadcast_queue q where q.broadcast_id = b.id))), '[]'::jsonb)
    from public.broadcast_messages b
   where b.status = 'sending'
$$;
comment on function svc.broadcast_progress() is 'Recipients by status and queue depth of each sending broadcast.';

-- Grants: the services only.
revoke all on svc.broadcast_queue, svc.broadcast_limit_tally from public, anon, authenticated;
grant select, insert, update, delete on svc.broadcast_queue, svc.broadcast_limit_tally to service_role;
