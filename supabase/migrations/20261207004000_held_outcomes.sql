-- Held outcomes: a send whose outcome is unknown (the request left and no answer came,
-- or a sender died holding its lease) is held, not failed, and resolves itself from the
-- evidence that status webhooks bring. Nothing is ever sent twice on a guess: a held send
-- is sent again only when WhatsApp is shown to have answered sends that left after it.
--
-- States (replies: svc.outbound_jobs; broadcast recipients: svc.broadcast_queue):
--   in flight  lease_owner set, claimed_at = when the claim was taken.
--   held       lease_owner null, held_since set: the row keeps its place in the queue
--              (its seq, so a reply still blocks its contact's later replies), and is not
--              claimed. The message stays 'pending' with error_data.code
--              'checking_delivery' (title, details, since, cause); a broadcast recipient
--              stays 'pending' with error_message 'checking_delivery: ...'. The frontend
--              shows "checking whether it was delivered", not a failure.
--   resolved   a status webhook carrying its callback data (svc.apply_delivery_status), or
--              the late answer of the sender that held the lease (record_*_sent): sent,
--              with its wamid, as before; the row leaves the queue.
--   re-queued  evidence that it was never accepted (below): held_since cleared, due now,
--              same seq (first of its contact again), error_data/error_message cleared.
--   failed     no evidence either way within svc.held_outcome_policy.hold_seconds:
--              'failed' with error_data.code 'unknown_outcome' (recipients:
--              error_message 'unknown_outcome: ...') as before, saying which evidence was
--              missing (error_data.missing_evidence 'later_send': nothing sent since was
--              accepted; 'later_status': later sends were accepted but no status webhook
--              came for them, e.g. webhooks not reaching the gateway).
--
-- The evidence rule. A sender starts a claimed send within 1 second of asking for the
-- claim or not at all (sending::claim_loop::SEND_DEADLINE), so a send claimed more than
-- 2 seconds after another left after it. A send Meta accepted produces a 'sent' status
-- within seconds, and statuses of one number arrive roughly in the order of sending. So:
-- when a send is recorded as accepted (record_*_sent, or reconciled from its callback
-- data), it becomes the witness (witness_wamid) of every in-flight or held send claimed
-- more than 2 seconds before it that has none yet, in both queues (one number per
-- project). When any status webhook of the witness arrives, the held send gets
-- evidence_at. A held send whose evidence is older than evidence_grace_seconds, and
-- whose own status never came (it would have resolved it), was never accepted: it is
-- re-queued. The checks are index probes on partial indexes that are empty unless
-- something is in flight for long or held.
--
-- Where unknown outcomes come from: expired leases (the claim functions, step 1) and the
-- senders' own unknown outcomes, recorded through record_*_outcomes as 'failed' with
-- error_data.code / error_message 'unknown_outcome' (record_outbound_failed and
-- record_broadcast_failed hold those instead of failing them). Held sends are re-queued
-- or failed by the claims (step 1b), so by the senders that run.
--
-- The limit: svc.held_outcome_policy (one row), changed with SQL, read by every claim.

-- Policy and counters ---------------------------------------------------------------------

create table svc.held_outcome_policy (
    id boolean primary key default true check (id),
    -- How long a held send waits for evidence before it fails as an unknown outcome.
    hold_seconds int not null default 900 check (hold_seconds > 0),
    -- How long after its witness's status a held send is re-queued (its own status, had
    -- it been accepted, would have come by then: statuses come roughly in order, and a
    -- status Meta could not deliver at once is retried within seconds).
    evidence_grace_seconds int not null default 30 check (evidence_grace_seconds >= 0),
    -- Sends are made witnesses at most this often (one recorded send per interval looks
    -- for the sends that left 2 s or more before it): looking on every recorded send walks
    -- the index of leases past the entries of every send recorded since the last vacuum,
    -- which cost 0.5 ms per send in a 100,000-recipient broadcast at 1,000/s.
    witness_interval_ms int not null default 200 check (witness_interval_ms >= 0)
);
comment on table svc.held_outcome_policy is
  'How unknown outcomes are held (one row): hold_seconds before failing, evidence_grace_seconds before re-queueing.';
insert into svc.held_outcome_policy default values;

create table svc.witness_clock (
    id boolean primary key default true check (id),
    noted_at timestamptz not null default '-infinity'
);
comment on table svc.witness_clock is 'When sends were last made witnesses (svc.note_later_send runs at most every witness_interval_ms).';
insert into svc.witness_clock default values;
revoke all on svc.witness_clock from public, anon, authenticated;
grant select, insert, update, delete on svc.witness_clock to service_role;

create table svc.held_outcome_counts (
    queue text not null check (queue in ('replies', 'broadcasts')),
    event text not null check (event in ('held', 'resolved_sent', 'requeued', 'failed_unknown')),
    total bigint not null default 0,
    primary key (queue, event)
);
comment on table svc.held_outcome_counts is 'Totals of held-outcome events per queue, for the services'' metrics.';
insert into svc.held_outcome_counts (queue, event)
select q, e from unnest(array['replies', 'broadcasts']) q, unnest(array['held', 'resolved_sent', 'requeued', 'failed_unknown']) e;

revoke all on svc.held_outcome_policy, svc.held_outcome_counts from public, anon, authenticated;
grant select, insert, update, delete on svc.held_outcome_policy, svc.held_outcome_counts to service_role;

-- Queue columns and indexes -----------------------------------------------------------------

alter table svc.outbound_jobs
  add column claimed_at timestamptz,
  add column held_since timestamptz,
  add column witness_wamid text,
  add column evidence_at timestamptz,
  add constraint outbound_jobs_held_unleased check (held_since is null or lease_owner is null);
alter table svc.broadcast_queue
  add column claimed_at timestamptz,
  add column held_since timestamptz,
  add column witness_wamid text,
  add column evidence_at timestamptz,
  add constraint broadcast_queue_held_unleased check (held_since is null or lease_owner is null);

-- Claims walk what is neither leased nor held.
drop index svc.outbound_jobs_unleased_seq;
create index outbound_jobs_unleased_seq on svc.outbound_jobs (seq) where lease_owner is null and held_since is null;
drop index svc.broadcast_queue_due;
create index broadcast_queue_due on svc.broadcast_queue (seq) where lease_owner is null and held_since is null;
-- Held rows (step 1b of the claims), sends still wanting a witness, and witnesses.
create index outbound_jobs_held on svc.outbound_jobs (held_since) where held_since is not null;
create index broadcast_queue_held on svc.broadcast_queue (held_since) where held_since is not null;
create index outbound_jobs_witness_wanted on svc.outbound_jobs (claimed_at)
  where witness_wamid is null and (lease_owner is not null or held_since is not null);
create index broadcast_queue_witness_wanted on svc.broadcast_queue (claimed_at)
  where witness_wamid is null and (lease_owner is not null or held_since is not null);
create index outbound_jobs_witness on svc.outbound_jobs (witness_wamid) where witness_wamid is not null;
create index broadcast_queue_witness on svc.broadcast_queue (witness_wamid) where witness_wamid is not null;

-- Helpers -------------------------------------------------------------------------------------

-- Adds n to a held-outcome total.
create or replace function svc.count_held_outcomes(p_queue text, p_event text, p_n bigint)
returns void
language sql
set search_path = ''
as $$
  update svc.held_outcome_counts set total = total + p_n
   where queue = p_queue and event = p_event and p_n > 0
$$;
comment on function svc.count_held_outcomes(text, text, bigint) is 'Adds to a held-outcome total (metrics).';

-- error_data of a held message. p_cause: 'sender_stopped' (lease expired) or 'no_answer'.
create or replace function svc.checking_delivery_error(p_cause text, p_since timestamptz)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'code', 'checking_delivery',
    'title', 'Checking whether WhatsApp received it',
    'details', case p_cause
      when 'sender_stopped' then 'The sender stopped while this message was being sent. '
      else 'WhatsApp did not answer when this message was sent. ' end
      || 'It is sent again on its own only if WhatsApp''s status updates show it never arrived; nothing to do meanwhile.',
    'since', p_since,
    'source', 'sender')
$$;
comment on function svc.checking_delivery_error(text, timestamptz) is 'error_data of a held message (checking whether it was delivered).';

-- error_message of a held broadcast recipient.
create or replace function svc.checking_delivery_message(p_why text)
returns text
language sql
immutable
set search_path = ''
as $$
  select 'checking_delivery: ' || p_why || '; checking whether WhatsApp received it (sent again on its own only if it did not)'
$$;
comment on function svc.checking_delivery_message(text) is 'error_message of a held broadcast recipient.';

-- Which evidence was missing when a held send gave up.
create or replace function svc.missing_evidence(p_witness_wamid text)
returns text
language sql
immutable
set search_path = ''
as $$
  select case when p_witness_wamid is null
    then 'no status webhook for it, and no later send was accepted by WhatsApp to compare with.'
    else 'no status webhook for it, nor for the later sends WhatsApp accepted (are status webhooks reaching the gateway?).' end
$$;
comment on function svc.missing_evidence(text) is 'Why a held send failed: the evidence that never came.';

-- A send accepted with p_wamid, claimed at p_claimed_at: the witness of in-flight and held
-- sends claimed more than 2 seconds before it (so they left before it; see the header).
-- SKIP LOCKED: a row another transaction is recording or claiming is not waited for.
-- PL/pgSQL, not SQL: it runs on every recorded send, and PostgreSQL plans a SQL function's
-- body again at every call (0.3 ms here) while PL/pgSQL keeps its plans for the session.
create or replace function svc.note_later_send(p_claimed_at timestamptz, p_wamid text)
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_interval int := (select p.witness_interval_ms from svc.held_outcome_policy p);
begin
  if v_interval > 0 then
    -- One recorded send per interval does it; the others (and any while one does) skip.
    perform from svc.witness_clock c
     where c.noted_at < clock_timestamp() - v_interval * interval '1 millisecond'
       for update skip locked;
    if not found then
      return;
    end if;
    update svc.witness_clock set noted_at = clock_timestamp();
  end if;
  update svc.outbound_jobs j set witness_wamid = p_wamid
   where j.message_id in (
     select w.message_id from svc.outbound_jobs w
      where w.witness_wamid is null and (w.lease_owner is not null or w.held_since is not null)
        and w.claimed_at < p_claimed_at - interval '2 seconds'
        for update skip locked);
  update svc.broadcast_queue q set witness_wamid = p_wamid
   where (q.broadcast_id, q.contact_id) in (
     select w.broadcast_id, w.contact_id from svc.broadcast_queue w
      where w.witness_wamid is null and (w.lease_owner is not null or w.held_since is not null)
        and w.claimed_at < p_claimed_at - interval '2 seconds'
        for update skip locked);
end;
$$;
comment on function svc.note_later_send(timestamptz, text) is
  'Makes an accepted send the witness of sends that left before it (held-outcome evidence).';
-- On the hot paths (every recorded send, every status): the queues' statistics lag behind
-- bursts, and a seq scan of a full queue per call would cost more than the call.
alter function svc.note_later_send(timestamptz, text) set enable_seqscan = off;
alter function svc.note_later_send(timestamptz, text) set jit = off;

-- A status webhook of p_wamid: evidence for the sends it witnesses.
create or replace function svc.note_witness_status(p_wamid text)
returns void
language plpgsql
set search_path = ''
as $$
begin
  update svc.outbound_jobs set evidence_at = now() where witness_wamid = p_wamid and evidence_at is null;
  update svc.broadcast_queue set evidence_at = now() where witness_wamid = p_wamid and evidence_at is null;
end;
$$;
alter function svc.note_witness_status(text) set enable_seqscan = off;
alter function svc.note_witness_status(text) set jit = off;
comment on function svc.note_witness_status(text) is
  'A status of a witness send: evidence for the held sends it witnesses.';

-- Claiming ----------------------------------------------------------------------------------

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
  v_policy svc.held_outcome_policy%rowtype;
  v_count int;
begin
  -- 1. Leases that expired: the sender died after claiming; the send may have happened.
  --    Held, not failed (see the header): the row keeps its place, the message stays
  --    pending and says it is being checked. (Two statements: joined in one, a planner
  --    with stale statistics walked every message for an empty list of expired leases.)
  with expired as (
    update svc.outbound_jobs j
       set lease_owner = null, lease_expires_at = null, held_since = p_now
      from (select o.message_id, o.lease_owner from svc.outbound_jobs o
             where o.lease_owner is not null and o.lease_expires_at < p_now
               for update) o
     where j.message_id = o.message_id
    returning j.message_id, o.lease_owner
  )
  select array_agg(e.message_id), array_agg(e.lease_owner) into v_expired, v_expired_owners from expired e;
  if v_expired is not null then
    update public.messages m
       set error_data = svc.checking_delivery_error('sender_stopped', p_now) || jsonb_build_object('sender', e.owner)
      from unnest(v_expired, v_expired_owners) as e(message_id, owner)
     where m.id = e.message_id and m.status = 'pending';
    perform svc.count_held_outcomes('replies', 'held', cardinality(v_expired));
  end if;

  -- 1b. Held replies: re-queued in their place once a later send's status arrived
  --     without theirs; failed as unknown outcomes once held longer than the policy allows.
  if exists (select from svc.outbound_jobs j where j.held_since is not null) then
    select * into v_policy from svc.held_outcome_policy;
    with requeued as (
      update svc.outbound_jobs j
         set held_since = null, claimed_at = null, witness_wamid = null, evidence_at = null,
             due_at = p_now,
             last_error = jsonb_build_object('code', 'requeued_after_unknown_outcome', 'witness', j.witness_wamid, 'at', p_now)
       where j.held_since is not null
         and j.evidence_at <= p_now - make_interval(secs => v_policy.evidence_grace_seconds)
      returning j.message_id
    ), cleared as (
      update public.messages m set error_data = null
        from requeued r
       where m.id = r.message_id and m.status = 'pending'
    )
    select count(*) into v_count from requeued;
    perform svc.count_held_outcomes('replies', 'requeued', v_count);
    with given_up as (
      delete from svc.outbound_jobs j
       where j.held_since is not null
         and j.held_since <= p_now - make_interval(secs => v_policy.hold_seconds)
      returning j.message_id, j.held_since, j.witness_wamid
    ), failed as (
      update public.messages m
         set status = 'failed',
             error_data = jsonb_build_object(
               'code', 'unknown_outcome',
               'title', 'WhatsApp did not confirm this message',
               'details', 'The send was interrupted and no evidence came within '
                 || v_policy.hold_seconds || ' seconds: ' || svc.missing_evidence(g.witness_wamid)
                 || ' WhatsApp may or may not have received it. Check with the customer before sending it again.',
               'missing_evidence', case when g.witness_wamid is null then 'later_send' else 'later_status' end,
               'held_since', g.held_since,
               'cause', m.error_data -> 'cause',
               'at', p_now)
        from given_up g
       where m.id = g.message_id and m.status = 'pending'
    )
    select count(*) into v_count from given_up;
    perform svc.count_held_outcomes('replies', 'failed_unknown', v_count);
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
       where j.lease_owner is null and j.held_since is null and j.due_at <= p_now
         and j.seq = (select min(e.seq) from svc.outbound_jobs e where e.contact_id = j.contact_id)
       order by j.seq
       limit v_limit
       for update of j skip locked
    ) c;
  if v_candidates is null then
    return '[]'::jsonb;
  end if;

  -- 3b. Contacts blocked or opted out since the message was queued (or while it waited
  --     for a retry): failed now, without an API call or a token.
  with checked as (
    select j.message_id, svc.check_contact_reachable(j.contact_id, m.message_type = 'template') as refusal
      from svc.outbound_jobs j
      join public.messages m on m.id = j.message_id
     where j.message_id = any (v_candidates)
  ), refused as (
    delete from svc.outbound_jobs j
     using checked
     where j.message_id = checked.message_id and checked.refusal is not null
    returning j.message_id
  ), failed as (
    update public.messages m
       set status = 'failed', error_data = checked.refusal
      from checked
     where m.id = checked.message_id and checked.refusal is not null and m.status = 'pending'
    returning m.id
  )
  select array_agg(u.c order by u.n) into v_candidates
    from unnest(v_candidates) with ordinality as u(c, n)
   where u.c not in (select r.message_id from refused r);
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
           claimed_at = p_now, witness_wamid = null, evidence_at = null,
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
-- As before (migration ..._outbound): the planner settings the claim was tuned with.
alter function svc.claim_outbound_messages(text, text, double precision, int, int, timestamptz) set enable_seqscan = off;
alter function svc.claim_outbound_messages(text, text, double precision, int, int, timestamptz) set enable_bitmapscan = off;
alter function svc.claim_outbound_messages(text, text, double precision, int, int, timestamptz) set enable_sort = off;
alter function svc.claim_outbound_messages(text, text, double precision, int, int, timestamptz) set enable_bitmapscan = off;
alter function svc.claim_outbound_messages(text, text, double precision, int, int, timestamptz) set enable_sort = off;
alter function svc.claim_outbound_messages(text, text, double precision, int, int, timestamptz) set jit = off;
comment on function svc.claim_outbound_messages(text, text, double precision, int, int, timestamptz) is
  'Claims due replies in order per contact, within the shared rate limit, with a lease; fails closed-window free-form messages; holds, re-queues or fails unknown outcomes.';

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
  v_policy svc.held_outcome_policy%rowtype;
  v_count int;
begin
  -- 1. Expired leases: the worker died; the send may have happened. Held, as for
  --    replies. (Two statements, as for replies.)
  with expired as (
    update svc.broadcast_queue q
       set lease_owner = null, lease_expires_at = null, held_since = p_now
     where q.lease_owner is not null and q.lease_expires_at < p_now
    returning q.broadcast_id, q.contact_id
  )
  select array_agg(e.broadcast_id), array_agg(e.contact_id) into v_expired_broadcasts, v_expired_contacts from expired e;
  if v_expired_broadcasts is not null then
    update public.broadcast_recipients r
       set error_message = svc.checking_delivery_message('the worker stopped while sending')
      from unnest(v_expired_broadcasts, v_expired_contacts) as e(broadcast_id, contact_id)
     where r.broadcast_id = e.broadcast_id and r.contact_id = e.contact_id and r.status = 'pending';
    perform svc.count_held_outcomes('broadcasts', 'held', cardinality(v_expired_broadcasts));
  end if;

  -- 1b. Held recipients: re-queued (same place) or failed, as for replies.
  if exists (select from svc.broadcast_queue q where q.held_since is not null) then
    select * into v_policy from svc.held_outcome_policy;
    with requeued as (
      update svc.broadcast_queue q
         set held_since = null, claimed_at = null, witness_wamid = null, evidence_at = null,
             due_at = p_now,
             last_error = 'requeued_after_unknown_outcome: witness ' || q.witness_wamid
       where q.held_since is not null
         and q.evidence_at <= p_now - make_interval(secs => v_policy.evidence_grace_seconds)
      returning q.broadcast_id, q.contact_id
    ), cleared as (
      update public.broadcast_recipients r set error_message = null
        from requeued q
       where r.broadcast_id = q.broadcast_id and r.contact_id = q.contact_id and r.status = 'pending'
    )
    select count(*) into v_count from requeued;
    perform svc.count_held_outcomes('broadcasts', 'requeued', v_count);
    with given_up as (
      delete from svc.broadcast_queue q
       where q.held_since is not null
         and q.held_since <= p_now - make_interval(secs => v_policy.hold_seconds)
      returning q.broadcast_id, q.contact_id, q.witness_wamid
    ), failed as (
      update public.broadcast_recipients r
         set status = 'failed',
             error_message = 'unknown_outcome: the send was interrupted and no evidence came within '
               || v_policy.hold_seconds || ' seconds: ' || svc.missing_evidence(g.witness_wamid)
               || ' WhatsApp may or may not have delivered it. Set it back to pending to send again.'
        from given_up g
       where r.broadcast_id = g.broadcast_id and r.contact_id = g.contact_id and r.status = 'pending'
    )
    select count(*) into v_count from given_up;
    perform svc.count_held_outcomes('broadcasts', 'failed_unknown', v_count);
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
     where j.lease_owner is null and j.held_since is null and j.due_at <= p_now
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
       where q.lease_owner is null and q.held_since is null and q.due_at <= p_now
         and exists (select 1 from public.broadcast_messages b where b.id = q.broadcast_id and b.status = 'sending')
       order by q.seq
       limit v_limit
       for update of q skip locked
    ) q;
  if v_broadcasts is null then
    return '[]'::jsonb;
  end if;

  -- 5b. Contacts blocked or opted out since the audience was materialized (or while the
  --     recipient waited for a retry): skipped now, without an API call or a token.
  with refused as (
    delete from svc.broadcast_queue q
     using unnest(v_broadcasts, v_contacts) as c(broadcast_id, contact_id), public.contacts k
     where q.broadcast_id = c.broadcast_id and q.contact_id = c.contact_id
       and k.id = c.contact_id and (k.status = 'blocked' or k.opted_out_at is not null)
    returning q.broadcast_id, q.contact_id, k.status = 'blocked' as blocked
  ), skipped as (
    update public.broadcast_recipients r
       set status = 'failed',
           error_message = case when refused.blocked then 'skipped: contact is blocked' else 'skipped: contact opted out' end
      from refused
     where r.broadcast_id = refused.broadcast_id and r.contact_id = refused.contact_id and r.status = 'pending'
    returning r.contact_id
  )
  select array_agg(c.broadcast_id order by c.n), array_agg(c.contact_id order by c.n)
    into v_broadcasts, v_contacts
    from unnest(v_broadcasts, v_contacts) with ordinality as c(broadcast_id, contact_id, n)
   where (c.broadcast_id, c.contact_id) not in (select r.broadcast_id, r.contact_id from refused r);
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
           claimed_at = p_now, witness_wamid = null, evidence_at = null,
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
-- As before (migrations ..._broadcasts, ..._business_messages).
alter function svc.claim_broadcast_recipients(text, text, double precision, int, int, int, timestamptz) set enable_seqscan = off;
alter function svc.claim_broadcast_recipients(text, text, double precision, int, int, int, timestamptz) set jit = off;
comment on function svc.claim_broadcast_recipients(text, text, double precision, int, int, int, timestamptz) is
  'Claims recipients of sending broadcasts, leased, within the shared rate limit and the messaging limit, after replies; holds, re-queues or fails unknown outcomes.';

-- Recording outcomes -------------------------------------------------------------------------

-- Meta accepted the message: wamid and 'sent'; statuses that overtook it are applied.
create or replace function svc.record_outbound_sent(p_message_id uuid, p_owner text, p_wamid text)
returns boolean
language plpgsql
set search_path = ''
as $$
declare
  v_claimed_at timestamptz;
begin
  delete from svc.outbound_jobs where message_id = p_message_id and lease_owner = p_owner
  returning claimed_at into v_claimed_at;
  if not found then
    -- Our lease expired meanwhile: the message is held (or, past the hold, failed as an
    -- unknown outcome). Now we know.
    delete from svc.outbound_jobs where message_id = p_message_id and held_since is not null;
    if found then
      perform svc.count_held_outcomes('replies', 'resolved_sent', 1);
    else
      perform 1 from public.messages where id = p_message_id and error_data ->> 'code' = 'unknown_outcome';
      if not found then
        return false;
      end if;
    end if;
  end if;
  update public.messages
     set status = 'sent', wa_message_id = p_wamid, error_data = null
   where id = p_message_id and (status = 'pending' or error_data ->> 'code' = 'unknown_outcome');
  -- A witness for sends that left before this one (before its status webhooks come).
  perform svc.note_later_send(v_claimed_at, p_wamid);
  perform svc.apply_early_statuses(p_wamid);
  return true;
end;
$$;
comment on function svc.record_outbound_sent(uuid, text, text) is 'Records the wamid of an accepted message and marks it sent.';

-- A permanent failure: 'failed' with error_data, job done. p_opted_out marks the contact
-- (WhatsApp error 131050). An unknown outcome (error_data.code 'unknown_outcome') is held
-- instead: the job stays in its place, the message pending (see the header).
create or replace function svc.record_outbound_failed(p_message_id uuid, p_owner text, p_error jsonb, p_opted_out boolean default false)
returns boolean
language plpgsql
set search_path = ''
as $$
declare
  v_contact uuid;
begin
  if p_error ->> 'code' = 'unknown_outcome' then
    update svc.outbound_jobs
       set lease_owner = null, lease_expires_at = null, held_since = now(), last_error = p_error
     where message_id = p_message_id and lease_owner = p_owner;
    if not found then
      return false;
    end if;
    update public.messages
       set error_data = svc.checking_delivery_error('no_answer', now()) || jsonb_build_object('cause', p_error)
     where id = p_message_id and status = 'pending';
    perform svc.count_held_outcomes('replies', 'held', 1);
    return true;
  end if;
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
comment on function svc.record_outbound_failed(uuid, text, jsonb, boolean) is 'Fails a claimed message with error_data (permanent error); holds it when the outcome is unknown.';

create or replace function svc.record_broadcast_sent(p_broadcast_id uuid, p_contact_id uuid, p_owner text, p_wamid text)
returns boolean
language plpgsql
set search_path = ''
as $$
declare
  v_claimed_at timestamptz;
begin
  delete from svc.broadcast_queue
   where broadcast_id = p_broadcast_id and contact_id = p_contact_id and lease_owner = p_owner
  returning claimed_at into v_claimed_at;
  if not found then
    -- Our lease expired meanwhile: the recipient is held (or, past the hold, failed as
    -- an unknown outcome). Now we know.
    delete from svc.broadcast_queue
     where broadcast_id = p_broadcast_id and contact_id = p_contact_id and held_since is not null;
    if found then
      perform svc.count_held_outcomes('broadcasts', 'resolved_sent', 1);
    else
      perform 1 from public.broadcast_recipients
       where broadcast_id = p_broadcast_id and contact_id = p_contact_id and error_message like 'unknown_outcome:%';
      if not found then
        return false;
      end if;
    end if;
  end if;
  update public.broadcast_recipients
     set status = 'sent', sent_at = now(), wa_message_id = p_wamid, error_message = null
   where broadcast_id = p_broadcast_id and contact_id = p_contact_id;
  perform svc.note_later_send(v_claimed_at, p_wamid);
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
  if p_error_message like 'unknown_outcome:%' then
    -- Held, not failed (see the header).
    update svc.broadcast_queue
       set lease_owner = null, lease_expires_at = null, held_since = now(), last_error = p_error_message
     where broadcast_id = p_broadcast_id and contact_id = p_contact_id and lease_owner = p_owner;
    if not found then
      return false;
    end if;
    update public.broadcast_recipients
       set error_message = svc.checking_delivery_message('WhatsApp did not answer')
     where broadcast_id = p_broadcast_id and contact_id = p_contact_id and status = 'pending';
    perform svc.count_held_outcomes('broadcasts', 'held', 1);
    return true;
  end if;
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
comment on function svc.record_broadcast_failed(uuid, uuid, text, text, boolean) is 'Fails a claimed recipient (permanent error); holds it when the outcome is unknown.';

-- Statuses ------------------------------------------------------------------------------------

-- As before (migration ..._webhook_ingestion), and: a status is evidence for held sends
-- it witnesses; a held send resolved by its own status is counted.
-- Applies one delivery status to the message or broadcast recipient with that wamid.
-- Never backwards; failed only from pending/sent and final; read implies delivered.
-- Returns 'applied', 'stale' (already at or past it) or 'unknown' (no such wamid yet).
create or replace function svc.apply_delivery_status(
    p_wamid text,
    p_status text,
    p_at timestamptz,
    p_errors jsonb,
    p_callback_data text default null
)
returns text
language plpgsql
set search_path = ''
as $$
declare
  v_found boolean := false;
  v_changed int;
  v_error_code int := (p_errors -> 0 ->> 'code')::int;
  v_held_since timestamptz;
  v_claimed_at timestamptz;
begin
  if p_status not in ('sent', 'delivered', 'read', 'failed') then
    raise exception 'unknown delivery status %', p_status using errcode = '22023';
  end if;

  -- An agent's message?
  perform 1 from public.messages where wa_message_id = p_wamid;
  if found then
    v_found := true;
    if p_status = 'failed' then
      update public.messages
         set status = 'failed',
             error_data = jsonb_build_object('source', 'status_webhook', 'errors', coalesce(p_errors, '[]'::jsonb), 'failed_at', p_at)
       where wa_message_id = p_wamid and status in ('pending', 'sent');
    else
      update public.messages
         set status = p_status,
             delivered_at = case when p_status in ('delivered', 'read')
                                 then coalesce(least(delivered_at, p_at), p_at) else delivered_at end,
             read_at = case when p_status = 'read' then coalesce(read_at, p_at) else read_at end
       where wa_message_id = p_wamid
         and status <> 'failed'
         and svc.status_rank(status) < svc.status_rank(p_status);
    end if;
    get diagnostics v_changed = row_count;
    -- A late 'delivered' after 'read' still tells the true delivery time.
    if v_changed = 0 and p_status = 'delivered' then
      update public.messages set delivered_at = p_at
       where wa_message_id = p_wamid and status = 'read' and delivered_at > p_at;
    end if;
  else
    -- A broadcast's recipient? ('read' counts as delivered: recipients have no read.)
    perform 1 from public.broadcast_recipients where wa_message_id = p_wamid;
    if found then
      v_found := true;
      if p_status = 'failed' then
        update public.broadcast_recipients
           set status = 'failed',
               error_message = coalesce(
                 (p_errors -> 0 ->> 'code') || ': ' || coalesce(p_errors -> 0 -> 'error_data' ->> 'details', p_errors -> 0 ->> 'title', ''),
                 'failed')
         where wa_message_id = p_wamid and status in ('pending', 'sent');
      else
        update public.broadcast_recipients
           set status = case when p_status = 'sent' then 'sent' else 'delivered' end,
               sent_at = coalesce(sent_at, p_at),
               delivered_at = case when p_status in ('delivered', 'read')
                                   then coalesce(least(delivered_at, p_at), p_at) else delivered_at end
         where wa_message_id = p_wamid
           and status in ('pending', 'sent')
           and (status = 'pending' or p_status in ('delivered', 'read'));
      end if;
      get diagnostics v_changed = row_count;
    end if;
  end if;

  -- A status of a send that witnesses held sends which left before it (see the header).
  if v_found then
    perform svc.note_witness_status(p_wamid);
  end if;

  if not v_found and p_callback_data ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    -- Our sends carry the message id as biz_opaque_callback_data: a message whose send
    -- outcome was unknown (or not yet recorded) learns its wamid from its first status.
    update public.messages
       set wa_message_id = p_wamid, status = 'sent', error_data = null
     where id = p_callback_data::uuid and wa_message_id is null and sender_type = 'agent'
       and (status = 'pending' or error_data ->> 'code' = 'unknown_outcome');
    if found then
      delete from svc.outbound_jobs where message_id = p_callback_data::uuid
      returning held_since, claimed_at into v_held_since, v_claimed_at;
      if v_held_since is not null then
        perform svc.count_held_outcomes('replies', 'resolved_sent', 1);
      end if;
      perform svc.note_later_send(v_claimed_at, p_wamid);
      return svc.apply_delivery_status(p_wamid, p_status, p_at, p_errors, null);
    end if;
  end if;

  if not v_found and p_callback_data ~ '^broadcast:[0-9a-f-]{36}:[0-9a-f-]{36}$' then
    -- The same for a broadcast recipient (callback data broadcast:<id>:<contact>).
    update public.broadcast_recipients
       set wa_message_id = p_wamid, status = 'sent', sent_at = coalesce(sent_at, p_at), error_message = null
     where broadcast_id = split_part(p_callback_data, ':', 2)::uuid
       and contact_id = split_part(p_callback_data, ':', 3)::uuid
       and wa_message_id is null and (status = 'pending' or error_message like 'unknown_outcome:%');
    if found then
      delete from svc.broadcast_queue
       where broadcast_id = split_part(p_callback_data, ':', 2)::uuid
         and contact_id = split_part(p_callback_data, ':', 3)::uuid
      returning held_since, claimed_at into v_held_since, v_claimed_at;
      if v_held_since is not null then
        perform svc.count_held_outcomes('broadcasts', 'resolved_sent', 1);
      end if;
      perform svc.note_later_send(v_claimed_at, p_wamid);
      return svc.apply_delivery_status(p_wamid, p_status, p_at, p_errors, null);
    end if;
  end if;

  if not v_found then
    insert into svc.early_statuses (wa_message_id, status, occurred_at, errors)
    values (p_wamid, p_status, p_at, p_errors)
    on conflict (wa_message_id, status) do nothing;
    return 'unknown';
  end if;

  -- 131050: the user stopped marketing messages from this business.
  if p_status = 'failed' and v_error_code = 131050 then
    update public.contacts c
       set opted_out_at = coalesce(c.opted_out_at, p_at)
     where c.id = coalesce(
       (select cv.contact_id from public.messages m join public.conversations cv on cv.id = m.conversation_id
         where m.wa_message_id = p_wamid),
       (select r.contact_id from public.broadcast_recipients r where r.wa_message_id = p_wamid));
  end if;

  return case when v_changed > 0 then 'applied' else 'stale' end;
end;
$$;
comment on function svc.apply_delivery_status(text, text, timestamptz, jsonb, text) is
  'Applies a status webhook to a message or broadcast recipient by wamid, never backwards; keeps it for later when the wamid is unknown.';

-- For readyz and metrics.
create or replace function svc.outbound_status(p_phone_number_id text)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'queued', (select count(*) from svc.outbound_jobs where lease_owner is null and held_since is null),
    'held', (select count(*) from svc.outbound_jobs where held_since is not null),
    'in_flight', (select count(*) from svc.outbound_jobs where lease_owner is not null),
    'paused', (select jsonb_build_object('reason', reason, 'since', paused_at)
                 from svc.sending_pauses where phone_number_id = p_phone_number_id))
$$;
comment on function svc.outbound_status(text) is 'Queue depth (queued, in flight, held) and pause state of outbound sending.';

-- For metrics: held sends now, and the totals of what became of them.
create or replace function svc.held_outcomes()
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'replies', (select jsonb_object_agg(c.event, c.total) from svc.held_outcome_counts c where c.queue = 'replies')
               || jsonb_build_object('held_now', (select count(*) from svc.outbound_jobs where held_since is not null)),
    'broadcasts', (select jsonb_object_agg(c.event, c.total) from svc.held_outcome_counts c where c.queue = 'broadcasts')
               || jsonb_build_object('held_now', (select count(*) from svc.broadcast_queue where held_since is not null)))
$$;
comment on function svc.held_outcomes() is
  'Held sends now and totals (held, resolved_sent, requeued, failed_unknown) for replies and broadcasts.';
