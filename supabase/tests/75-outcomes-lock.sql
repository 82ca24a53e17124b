-- Recording send outcomes and applying queued statuses take one advisory lock first
-- (recorders shared, the queued-status applier alone), so they can't deadlock on the
-- recipients and queue rows they both lock.
begin;
select plan(4);

create function pg_temp.held(p_mode text) returns int language sql as $$
  select count(*)::int from pg_locks
   where locktype = 'advisory' and pid = pg_backend_pid() and mode = p_mode
     and ((classid::bigint << 32) | objid::bigint) = svc.outcomes_lock_key()
$$;

select is(pg_temp.held('ShareLock'), 0, 'nothing is held before');
select svc.record_broadcast_outcomes('w1', '[]');
select is(pg_temp.held('ShareLock'), 1, 'recording broadcast outcomes shares the lock');
select svc.record_outbound_outcomes('w1', '[]');
select is(pg_temp.held('ShareLock'), 1, 'so does recording reply outcomes (the same lock)');
select svc.apply_queued_webhook_events(array[]::bigint[]);
select is(pg_temp.held('ExclusiveLock'), 1, 'applying queued statuses takes it alone');

select * from finish();
rollback;
