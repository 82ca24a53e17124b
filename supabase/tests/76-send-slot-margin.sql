-- The send schedule keeps one and a half sends a second free at low limits
-- (svc.send_schedule_policy.spare_sends_per_second), so a second sender a few
-- milliseconds off can't put one send too many into a 1-s window.
begin;
select plan(4);

create function pg_temp.spacing_us(p_phone text, p_mps int) returns bigint language plpgsql as $$
begin
  perform svc.take_send_tokens(p_phone, 100, p_mps, '2099-01-01T00:00:00Z');
  return (current_setting('svc.send_slots')::jsonb ->> 'spacing_us')::bigint;
end;
$$;

select is(pg_temp.spacing_us('PN-m40', 40), 25975::bigint,
  'at 40/s the slots are 1/38.5 s apart (98.5% would be 39.4/s: 40 slots fit in one second)');
select is(pg_temp.spacing_us('PN-m80', 80), 12739::bigint, 'at 80/s, 1/78.5 s apart: 98.1% of the limit');
select is(pg_temp.spacing_us('PN-m1000', 1000), 1016::bigint, 'at 1,000/s the share is the lesser: 1/985 s apart, as before');
update svc.send_schedule_policy set spare_sends_per_second = 2;
select is(pg_temp.spacing_us('PN-m80b', 80), 12821::bigint, 'the spare sends are policy: two give 1/78 s at 80/s');

select * from finish();
rollback;
