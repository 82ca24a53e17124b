-- Recording send outcomes and applying queued statuses no longer deadlock.
--
-- Under a broadcast's own status storm, the worker's svc.record_broadcast_outcomes (queue
-- row, then recipient, in the order the sends finished) and the gateway's
-- svc.apply_queued_statuses (recipients in wamid order, then the held sends they witness)
-- locked the same rows in opposite orders: dozens of deadlocks a minute in `bench loop`,
-- each rolling back a batch of recorded sends, whose leases then expired and whose
-- recipients were held until their status arrived. Now both take one advisory lock first:
-- outcome recorders share it (they touch disjoint claims, so they still run side by
-- side), the queued-status applier takes it alone (it waits for the recorders in flight,
-- and recorders arriving later wait for it: PostgreSQL queues lock requests in order).
-- One lock order, no cycle. The applier works in batches of at most 500 statuses, so a
-- recorder waits at most one batch.

create or replace function svc.outcomes_lock_key()
returns bigint
language sql
immutable
set search_path = ''
as $$
  select 727274280271736001::bigint
$$;
comment on function svc.outcomes_lock_key() is
  'The advisory lock that orders recording send outcomes (shared) before or after applying queued statuses (exclusive).';

create or replace function svc.record_outbound_outcomes(p_owner text, p_outcomes jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  o jsonb;
  v_results jsonb := '[]'::jsonb;
  v_ok boolean;
begin
  perform pg_advisory_xact_lock_shared(svc.outcomes_lock_key());
  for o in select value from jsonb_array_elements(p_outcomes) loop
    v_ok := case o ->> 'outcome'
      when 'sent' then svc.record_outbound_sent((o ->> 'message_id')::uuid, p_owner, o ->> 'wamid')
      when 'failed' then svc.record_outbound_failed((o ->> 'message_id')::uuid, p_owner, o -> 'error',
                                                    coalesce((o ->> 'opted_out')::boolean, false))
      when 'retry' then svc.record_outbound_retry((o ->> 'message_id')::uuid, p_owner,
                                                  coalesce((o ->> 'delay_seconds')::double precision, 0), o -> 'error')
    end;
    if v_ok is null then
      raise exception 'unknown outcome %', o ->> 'outcome' using errcode = '22023';
    end if;
    v_results := v_results || to_jsonb(v_ok);
  end loop;
  return v_results;
end;
$$;
comment on function svc.record_outbound_outcomes(text, jsonb) is
  'Records several reply outcomes (sent, failed, retry) in one call; answers per outcome whether the claim was still ours.';

create or replace function svc.record_broadcast_outcomes(p_owner text, p_outcomes jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  o jsonb;
  v_results jsonb := '[]'::jsonb;
  v_ok boolean;
begin
  perform pg_advisory_xact_lock_shared(svc.outcomes_lock_key());
  for o in select value from jsonb_array_elements(p_outcomes) loop
    v_ok := case o ->> 'outcome'
      when 'sent' then svc.record_broadcast_sent((o ->> 'broadcast_id')::uuid, (o ->> 'contact_id')::uuid, p_owner, o ->> 'wamid')
      when 'failed' then svc.record_broadcast_failed((o ->> 'broadcast_id')::uuid, (o ->> 'contact_id')::uuid, p_owner,
                                                     o ->> 'error_message', coalesce((o ->> 'opted_out')::boolean, false))
      when 'retry' then svc.record_broadcast_retry((o ->> 'broadcast_id')::uuid, (o ->> 'contact_id')::uuid, p_owner,
                                                   coalesce((o ->> 'delay_seconds')::double precision, 0), o ->> 'error_message')
    end;
    if v_ok is null then
      raise exception 'unknown outcome %', o ->> 'outcome' using errcode = '22023';
    end if;
    v_results := v_results || to_jsonb(v_ok);
  end loop;
  return v_results;
end;
$$;
comment on function svc.record_broadcast_outcomes(text, jsonb) is
  'Records several broadcast recipient outcomes in one call; answers per outcome whether the claim was still ours.';

create or replace function svc.apply_queued_webhook_events(p_ids bigint[])
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_statuses jsonb;
  v_counts jsonb;
begin
  perform pg_advisory_xact_lock(svc.outcomes_lock_key());
  select coalesce(jsonb_agg(s order by w.id, s.n), '[]'::jsonb) into v_statuses
    from svc.webhook_journal w,
         jsonb_array_elements(coalesce(w.events -> 'statuses', '[]'::jsonb)) with ordinality as s(s, n)
   where w.id = any (p_ids);
  v_counts := svc.apply_webhook_events(jsonb_build_object('statuses', v_statuses));
  perform svc.record_pricing(v_statuses);
  return v_counts;
end;
$$;
comment on function svc.apply_queued_webhook_events(bigint[]) is
  'Applies the events of several pending journaled webhooks in one pass (statuses, then their pricing), alone against outcome recorders; returns apply_webhook_events'' counts.';
