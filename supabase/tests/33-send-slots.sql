-- Send slots: the shared rate limit as exact send times reserved in advance (virtual
-- scheduling, migration ..._send_slots). Slots are 1/(98.5% of the limit) apart, whole
-- microseconds rounded up (1,016 µs at 1,000/s, 12,691 µs at 80/s), the first of an idle
-- schedule 50 ms after now, none starting more than 250 ms after now.
--
-- Time: every call passes its now in 2099, later than the clock, so the figures are exact
-- whatever the machine's load (the function takes the later of p_now and the clock).
-- Each number (PN-s...) has a schedule of its own.
begin;
select plan(15);

create temporary table slots (phone text, t timestamptz);
-- Calls take_send_tokens at each of p_times and keeps the slots each reserved.
create function pg_temp.reserve_at(p_phone text, p_wanted int, p_mps int, p_times timestamptz[])
returns int
language plpgsql
as $$
declare
  v_at timestamptz;
  v_total int := 0;
begin
  foreach v_at in array p_times loop
    v_total := v_total + svc.take_send_tokens(p_phone, p_wanted, p_mps, v_at);
    insert into slots select p_phone, unnest(svc.reserved_send_slots());
  end loop;
  return v_total;
end;
$$;
-- Most slots of p_phone in any 1-second window [t, t + 1 s).
create function pg_temp.max_in_any_second(p_phone text)
returns bigint
language sql
as $$
  select max(n) from (
    select count(*) over (order by t range between current row and interval '999999 microseconds' following) n
      from slots where phone = p_phone) w;
$$;

-- Granting ------------------------------------------------------------------------------------
select is(svc.take_send_tokens('PN-s1', 100, 80, '2099-01-01T00:00:00Z'), 16,
  'a new schedule at 80/s grants the slots starting within 250 ms: from 50 ms, 12.691 ms apart (16)');
select is(svc.take_send_tokens('PN-s1', 100, 80, '2099-01-01T00:00:00Z'), 0,
  'asked again at once: the next slot starts beyond the horizon, nothing');
select is(svc.take_send_tokens('PN-s1', 100, 80, '2099-01-01T00:00:00.010Z'), 1,
  '10 ms later one more slot starts within the horizon');
select is(svc.take_send_tokens('PN-s2', 3, 1000, '2099-01-01T00:00:00Z'), 3, 'fewer wanted, fewer granted');
select is(svc.reserved_send_slots(),
  array['2099-01-01T00:00:00.050Z', '2099-01-01T00:00:00.051016Z', '2099-01-01T00:00:00.052032Z']::timestamptz[],
  'the reserved times are left for the claim: 50 ms ahead, then 1,016 µs apart at 1,000/s');
select is((select array_agg((e ->> 'id') || ' ' || ((e ->> 'send_at')::timestamptz - '2099-01-01T00:00:00Z')::text order by n)
             from jsonb_array_elements(svc.with_send_times('[{"id": "a"}, {"id": "b"}]')) with ordinality x(e, n)),
  array['a 00:00:00.05', 'b 00:00:00.051016'],
  'claimed items get their slots in claim order');
select is((select (w -> 1 ->> 'send_in_us')::bigint - (w -> 0 ->> 'send_in_us')::bigint
             from svc.with_send_times('[{"id": "a"}, {"id": "b"}]') w),
  1016::bigint, 'and how long after the answer each is due, on the database''s clock');
select is(svc.take_send_tokens('PN-s2', 0, 1000, '2099-01-01T00:00:00Z'), 0, 'nothing wanted, nothing granted');
select is(svc.reserved_send_slots(), '{}'::timestamptz[], 'and no slots left over from the call before');

-- The ceiling ---------------------------------------------------------------------------------
-- Asked every millisecond for two seconds, by as many claimers as you like (one schedule):
select pg_temp.reserve_at('PN-s3', 100, 1000,
  array(select '2099-01-01T00:00:00Z'::timestamptz + g * interval '1 ms' from generate_series(0, 1999) g));
select is(pg_temp.max_in_any_second('PN-s3'), 985::bigint,
  'at 1,000/s no 1-second window holds more than 985 slots (98.5%): the ceiling is exact, not statistical');
select is((select min(gap) from (select t - lag(t) over (order by t) gap from slots where phone = 'PN-s3') g),
  interval '1016 microseconds', 'no two slots are closer than 1/(98.5% of the limit)');
select pg_temp.reserve_at('PN-s4', 100, 80,
  array(select '2099-01-01T00:00:00Z'::timestamptz + g * interval '1 ms' from generate_series(0, 2999) g));
select ok(pg_temp.max_in_any_second('PN-s4') <= 80, 'nor at 80/s more than 80');

-- Slow claims ---------------------------------------------------------------------------------
-- A claimer that comes back only every 200 ms (a loaded database) still keeps the
-- schedule full: its slots were reserved ahead. (The old token bucket, 8 ms deep at
-- 1,000/s, granted 8 per call: 40/s.)
select pg_temp.reserve_at('PN-s5', 1000, 1000,
  array(select '2099-01-01T00:00:00Z'::timestamptz + g * interval '200 ms' from generate_series(0, 10) g));
select ok((select count(*) from slots where phone = 'PN-s5'
            and t >= '2099-01-01T00:00:01Z' and t < '2099-01-01T00:00:02Z') >= 984,
  'a claimer coming every 200 ms gets 98.5% of 1,000/s');

-- The clock ------------------------------------------------------------------------------------
select svc.take_send_tokens('PN-s6', 100, 1000, '2099-01-01T01:00:00Z');
select is(svc.take_send_tokens('PN-s6', 10, 1000, '2099-01-01T00:00:00Z'), 10,
  'slots reserved on a later clock (the server''s clock stepped back) do not stall sending');

select throws_ok($$ select svc.take_send_tokens('PN-s7', 1, 0) $$, '22023',
  'max messages per second must be a whole number of at least 1', 'a zero limit is refused');

select * from finish();
rollback;
