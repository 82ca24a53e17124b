-- The send schedule keeps two whole sends a second free at low limits, so a second
-- sender a few milliseconds off can't put one send too many into a 1-s window.
begin;
select plan(3);

create function pg_temp.spacing_us(p_phone text, p_mps int) returns bigint language plpgsql as $$
begin
  perform svc.take_send_tokens(p_phone, 100, p_mps, '2099-01-01T00:00:00Z');
  return (current_setting('svc.send_slots')::jsonb ->> 'spacing_us')::bigint;
end;
$$;

select is(pg_temp.spacing_us('PN-m40', 40), 26316::bigint,
  'at 40/s the slots are 1/38 s apart (98.5% would be 39.4/s: 40 slots fit in one second)');
select is(pg_temp.spacing_us('PN-m80', 80), 12821::bigint, 'at 80/s, 1/78 s apart');
select is(pg_temp.spacing_us('PN-m1000', 1000), 1016::bigint, 'at 1,000/s the share is the lesser: 1/985 s apart, as before');

select * from finish();
rollback;
