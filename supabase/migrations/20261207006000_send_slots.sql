-- Send slots: the shared rate limit as exact send times reserved in advance.
--
-- Before: a token bucket per number holding 0.8% of a second (8 ms at 1,000/s), so any
-- claim slower than that wasted tokens and the send rate fell with the database's load.
-- Now: generic cell-rate / virtual scheduling (GCRA). Each number has a schedule whose
-- next free slot is svc.send_schedules.next_slot_at; a claim reserves consecutive slots
-- spaced 1/(98.5% of the limit) apart, starting at the later of that slot and now, as
-- long as they start within svc.send_schedule_policy.horizon_ms (250) of now. Every
-- sending process reserves from the same row under its lock, so slots never overlap:
-- any 1-second window holds at most 98.5% of the limit plus one, whoever sends, and a
-- slow claim costs no throughput (its slots were reserved; it sends at their times).
-- Senders send each item within 5 ms after its slot or not at all (it goes back to the
-- queue): the 1.5% between the slots' rate and the limit (15 ms a second) covers that and
-- 10 ms of jitter on the way, so no 1-second window of sends holds more than the limit. Senders time slots from the
-- claim's answer (send_in_us), not from their own clocks, which may differ from the
-- database's.
-- The claim functions keep their rules (replies first, order per contact, leases,
-- held outcomes) and call svc.take_send_tokens as before; what changed is how it grants,
-- and that it leaves the reserved times in the transaction (setting svc.send_slots) for
-- svc.claim_scheduled_outbound_messages / svc.claim_scheduled_broadcast_recipients,
-- which return each claimed item with its send_at.

-- Schedules -------------------------------------------------------------------------------------

create table svc.send_schedules (
    phone_number_id text primary key,
    next_slot_at timestamptz not null
);
comment on table svc.send_schedules is
  'Per sending phone number, the next free send slot (virtual scheduling), shared by every sender.';
alter table svc.send_schedules enable row level security;
revoke all on svc.send_schedules from public, anon, authenticated;
grant select, insert, update, delete on svc.send_schedules to service_role;

create table svc.send_schedule_policy (
    singleton boolean primary key default true check (singleton),
    horizon_ms int not null default 250 check (horizon_ms between 1 and 900),
    lead_ms int not null default 50 check (lead_ms >= 0),
    rate_share double precision not null default 0.985 check (rate_share > 0 and rate_share <= 1)
);
comment on table svc.send_schedule_policy is
  'How far ahead a claim may reserve send slots (below the senders'' 1-second send deadline), how far ahead of now the first slot of an idle schedule is (the claim''s answer reaches its sender before it), and the share of the limit slots are spaced at.';
alter table svc.send_schedule_policy add constraint lead_below_horizon check (lead_ms < horizon_ms);
insert into svc.send_schedule_policy default values;
alter table svc.send_schedule_policy enable row level security;
revoke all on svc.send_schedule_policy from public, anon, authenticated;
grant select, update on svc.send_schedule_policy to service_role;

-- Reserving slots --------------------------------------------------------------------------------

-- Reserves up to p_wanted consecutive send slots of the number; returns how many. The
-- first is at the later of the schedule's next free slot and now + lead_ms (so the claim's
-- answer reaches its sender before its first slot), the others follow
-- 1/(rate_share * limit) apart; only slots starting within horizon_ms of now are
-- granted. The reserved times are left in the transaction-local setting svc.send_slots
-- as {"first": <timestamptz>, "spacing_us": <µs>, "n": <count>}. Now is the later of
-- p_now and the time the schedule's row lock was obtained (a claim that waited for
-- another does not reserve on the clock of before its wait).
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
  v_policy svc.send_schedule_policy%rowtype;
  v_spacing_us bigint;
  v_now timestamptz;
  v_first timestamptz;
  v_granted int;
begin
  if p_max_mps < 1 or p_max_mps <> floor(p_max_mps) then
    raise exception 'max messages per second must be a whole number of at least 1' using errcode = '22023';
  end if;
  perform set_config('svc.send_slots', '', true);
  if p_wanted <= 0 then
    return 0;
  end if;
  select * into v_policy from svc.send_schedule_policy;
  -- Whole microseconds, rounded up: slots are never closer than the share allows.
  v_spacing_us := ceil(1e6 / (p_max_mps * v_policy.rate_share))::bigint;
  insert into svc.send_schedules (phone_number_id, next_slot_at)
  values (p_phone_number_id, '-infinity')
  on conflict (phone_number_id) do nothing;
  select next_slot_at into v_first from svc.send_schedules
   where phone_number_id = p_phone_number_id for update;
  v_now := greatest(p_now, clock_timestamp());
  -- A next slot further ahead than any claim reserves was reserved on another clock (the
  -- server's clock stepped back, or a test's time): those slots are past in real time.
  if v_first > v_now + make_interval(secs => v_policy.horizon_ms / 1000.0 + 1) then
    v_first := '-infinity';
  end if;
  v_first := greatest(v_first, v_now + make_interval(secs => v_policy.lead_ms / 1000.0));
  v_granted := least(
    p_wanted,
    floor(extract(epoch from (v_now + make_interval(secs => v_policy.horizon_ms / 1000.0) - v_first)) * 1e6
          / v_spacing_us)::int + 1);
  if v_granted <= 0 then
    return 0;
  end if;
  update svc.send_schedules
     set next_slot_at = v_first + make_interval(secs => v_granted * v_spacing_us / 1e6)
   where phone_number_id = p_phone_number_id;
  perform set_config('svc.send_slots',
    jsonb_build_object('first', v_first, 'spacing_us', v_spacing_us, 'n', v_granted)::text, true);
  return v_granted;
end;
$$;
comment on function svc.take_send_tokens(text, int, double precision, timestamptz) is
  'Reserves up to p_wanted consecutive send slots of the number''s shared schedule, spaced 1/(98.5% of the limit), within the horizon; leaves their times in svc.send_slots.';

-- The slots the last svc.take_send_tokens of this transaction reserved, as send times in
-- order (empty if it reserved none).
create or replace function svc.reserved_send_slots()
returns timestamptz[]
language sql
stable
set search_path = ''
as $$
  select coalesce(array_agg((p ->> 'first')::timestamptz + make_interval(secs => g * (p ->> 'spacing_us')::bigint / 1e6) order by g),
                  '{}')
    from (select nullif(current_setting('svc.send_slots', true), '')::jsonb as p) s,
         generate_series(0, coalesce((s.p ->> 'n')::int, 0) - 1) g
   where s.p is not null;
$$;
comment on function svc.reserved_send_slots() is
  'The send times the last svc.take_send_tokens of this transaction reserved, in order.';

-- Claims with their send times ----------------------------------------------------------------------

-- Adds to each claimed item (in claim order) send_at, the slot reserved for it, and
-- send_in_us, the microseconds from now (the database's clock as it answers) until then:
-- negative when the slot has passed.
create or replace function svc.with_send_times(p_claimed jsonb)
returns jsonb
language sql
volatile
set search_path = ''
as $$
  select coalesce(jsonb_agg(c.item || jsonb_build_object(
           'send_at', s.slots[c.n],
           'send_in_us', floor(extract(epoch from (s.slots[c.n] - s.answered_at)) * 1e6)::bigint
         ) order by c.n), '[]'::jsonb)
    from jsonb_array_elements(p_claimed) with ordinality as c(item, n),
         (select svc.reserved_send_slots() as slots, clock_timestamp() as answered_at) s;
$$;
comment on function svc.with_send_times(jsonb) is
  'Each claimed item with send_at, the send slot reserved for it by the claim, and send_in_us, how long from now until then.';

-- svc.claim_outbound_messages, each reply with the time it is to be sent.
create or replace function svc.claim_scheduled_outbound_messages(
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
begin
  perform set_config('svc.send_slots', '', true);
  return svc.with_send_times(
    svc.claim_outbound_messages(p_owner, p_phone_number_id, p_max_mps, p_limit, p_lease_seconds, p_now));
end;
$$;
comment on function svc.claim_scheduled_outbound_messages(text, text, double precision, int, int, timestamptz) is
  'Claims replies as svc.claim_outbound_messages does, each with send_at: the shared send slot reserved for it.';

-- svc.claim_broadcast_recipients, each recipient with the time it is to be sent.
create or replace function svc.claim_scheduled_broadcast_recipients(
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
begin
  perform set_config('svc.send_slots', '', true);
  return svc.with_send_times(
    svc.claim_broadcast_recipients(p_owner, p_phone_number_id, p_max_mps, p_limit, p_lease_seconds,
                                   p_messaging_limit, p_now));
end;
$$;
comment on function svc.claim_scheduled_broadcast_recipients(text, text, double precision, int, int, int, timestamptz) is
  'Claims broadcast recipients as svc.claim_broadcast_recipients does, each with send_at: the shared send slot reserved for it.';
