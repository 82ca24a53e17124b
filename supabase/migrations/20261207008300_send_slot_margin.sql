-- A margin of whole sends in the send schedule.
--
-- Slots were 1/(98.5% of the limit) apart. At a low limit that share is less than one
-- send: at 40/s the slots are 25.4 ms apart, a 1-s window can hold 40 of them, and a
-- second sender whose clock offset to the database differs by a few milliseconds puts a
-- 41st into the same window (seen: two workers at 40/s, 41 attempts in one second). Now
-- the schedule also keeps two whole sends per second free: the rate is the lesser of
-- 98.5% of the limit and the limit minus two (at least half the limit). From 134/s up
-- the share is the lesser and nothing changes; at 40/s the slots are 26.3 ms apart.

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
  -- Whole microseconds, rounded up: slots are never closer than the share allows, and
  -- two whole sends a second stay free (see the header).
  v_spacing_us := ceil(1e6 / least(p_max_mps * v_policy.rate_share,
                                   greatest(p_max_mps - 2, p_max_mps / 2)))::bigint;
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
  'Reserves up to p_wanted consecutive send slots of the number''s shared schedule, spaced 1/(the lesser of 98.5% of the limit and the limit minus two), within the horizon; leaves their times in svc.send_slots.';
