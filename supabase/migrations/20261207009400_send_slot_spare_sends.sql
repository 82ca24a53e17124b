-- The send schedule's spare sends are a policy, one and a half a second.
--
-- Migration ..._send_slot_margin kept two whole sends a second free at low limits (the
-- rate is the lesser of 98.5% of the limit and the limit minus two), so that a second
-- sender a few milliseconds off can't put one send too many into a 1-s window. At 80/s
-- that is 78/s, 97.5% of the limit, below the broadcasts' target of 98% (bench broadcast
-- and bench outbound at 80/s, 2026-12-07 22:52). One and a half spare sends keep the
-- protection (at 40/s a second window holds at most 39 slots unless two senders disagree
-- by more than 50 ms; the failure seen was 40 slots and 41 attempts) and give 78.5/s at
-- 80/s. The number is now a column of svc.send_schedule_policy (spare_sends_per_second),
-- beside rate_share, and the spacing is one function (svc.send_slot_spacing_us) that
-- svc.take_send_tokens calls.

alter table svc.send_schedule_policy
  add column spare_sends_per_second double precision not null default 1.5
    check (spare_sends_per_second >= 0);
comment on column svc.send_schedule_policy.spare_sends_per_second is
  'Whole sends a second the schedule keeps free at low limits (the rate is the lesser of rate_share of the limit and the limit minus these, at least half the limit).';

-- Microseconds between two send slots at p_max_mps, rounded up (slots are never closer
-- than the policy allows).
create or replace function svc.send_slot_spacing_us(p_max_mps double precision)
returns bigint
language sql
stable
set search_path = ''
as $$
  select ceil(1e6 / least(p_max_mps * p.rate_share,
                          greatest(p_max_mps - p.spare_sends_per_second, p_max_mps / 2)))::bigint
    from svc.send_schedule_policy p
$$;
comment on function svc.send_slot_spacing_us(double precision) is
  'Microseconds between send slots at a limit: 1/(the lesser of rate_share of it and it minus spare_sends_per_second).';

-- As in migration ..._send_slot_margin, with the spacing from svc.send_slot_spacing_us.
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
  v_spacing_us := svc.send_slot_spacing_us(p_max_mps);
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
  'Reserves up to p_wanted consecutive send slots of the number''s shared schedule, spaced svc.send_slot_spacing_us apart, within the horizon; leaves their times in svc.send_slots.';

revoke execute on function svc.send_slot_spacing_us(double precision) from public, anon, authenticated;
grant execute on function svc.send_slot_spacing_us(double precision) to service_role;
