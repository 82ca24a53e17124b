-- Accepted broadcast sends are found by their key, whatever the queue's statistics say.
--
-- svc.record_broadcast_outcomes (migration ..._bulk_recorded_sends) deletes the queue rows
-- of a batch's accepted sends where the lease is still the caller's. A queue is empty
-- when it is analyzed and thousands of rows long a minute later, so its statistics are
-- mostly wrong; with those of an empty queue the planner read every row leased to the
-- caller through the partial index broadcast_queue_lease (about 1,500 rows in flight at
-- 1,000 sends a second) and matched them against the batch, instead of looking each
-- sent row up by its primary key: in the loop benchmark 2.6 ms a call for 13 outcomes,
-- the largest single statement of the database's time. The lease is now compared with
-- "is not distinct from", which the partial index can't serve, and sequential scans are
-- off for the function (as for svc.apply_recipient_statuses): the rows are found by key.
-- (A null owner still matches no row, as with "=".)

create or replace function svc.record_broadcast_outcomes(p_owner text, p_outcomes jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_ns bigint[];
  v_wamids text[];
  v_claimed timestamptz[];
  v_witness record;
  v_wamid text;
  v_results jsonb := '[]'::jsonb;
  o record;
  v_ok boolean;
begin
  -- 1. Accepted sends whose claim is still the caller's, all at once.
  -- (A recipient named twice in one call goes one by one, in order.)
  with outcomes as (
    select x.n, x.o, count(*) over (partition by x.o ->> 'broadcast_id', x.o ->> 'contact_id') as mentions
      from jsonb_array_elements(p_outcomes) with ordinality as x(o, n)
  ),
  sent as (
    select y.n, (y.o ->> 'broadcast_id')::uuid as broadcast_id, (y.o ->> 'contact_id')::uuid as contact_id,
           y.o ->> 'wamid' as wamid
      from outcomes y
     where y.o ->> 'outcome' = 'sent' and y.o ->> 'wamid' is not null and y.mentions = 1
  ),
  taken as (
    delete from svc.broadcast_queue q
     using sent s
     where q.broadcast_id = s.broadcast_id and q.contact_id = s.contact_id
       -- (Not "= p_owner", which would let the planner read every lease through the
       -- broadcast_queue_lease index instead of each row by its key: see above.)
       and q.lease_owner is not distinct from p_owner and p_owner is not null
    returning q.broadcast_id, q.contact_id, q.claimed_at
  ),
  recorded as (
    update public.broadcast_recipients r
       set status = 'sent', sent_at = now(), wa_message_id = s.wamid, error_message = null
      from taken t join sent s on s.broadcast_id = t.broadcast_id and s.contact_id = t.contact_id
     where r.broadcast_id = t.broadcast_id and r.contact_id = t.contact_id
    returning s.n, s.wamid, t.claimed_at
  )
  select array_agg(r.n), array_agg(r.wamid), array_agg(r.claimed_at)
    into v_ns, v_wamids, v_claimed
    from recorded r;

  if v_ns is not null then
    -- 2. The latest-claimed of them witnesses the sends that left before it.
    select w.wamid, w.claimed_at into v_witness
      from unnest(v_wamids, v_claimed) as w(wamid, claimed_at)
     order by w.claimed_at desc nulls last
     limit 1;
    perform svc.note_later_send(v_witness.claimed_at, v_witness.wamid);
    -- 3. Statuses that overtook these records.
    for v_wamid in
      select distinct e.wa_message_id from svc.early_statuses e where e.wa_message_id = any (v_wamids)
    loop
      perform svc.apply_early_statuses(v_wamid);
    end loop;
  end if;

  -- 4. The others one by one, and the answer in the order given.
  for o in select x.o, x.n from jsonb_array_elements(p_outcomes) with ordinality as x(o, n) loop
    if o.n = any (coalesce(v_ns, '{}')) then
      v_ok := true;
    else
      v_ok := case o.o ->> 'outcome'
        when 'sent' then svc.record_broadcast_sent((o.o ->> 'broadcast_id')::uuid, (o.o ->> 'contact_id')::uuid, p_owner, o.o ->> 'wamid')
        when 'failed' then svc.record_broadcast_failed((o.o ->> 'broadcast_id')::uuid, (o.o ->> 'contact_id')::uuid, p_owner,
                                                       o.o ->> 'error_message', coalesce((o.o ->> 'opted_out')::boolean, false))
        when 'retry' then svc.record_broadcast_retry((o.o ->> 'broadcast_id')::uuid, (o.o ->> 'contact_id')::uuid, p_owner,
                                                     coalesce((o.o ->> 'delay_seconds')::double precision, 0), o.o ->> 'error_message')
      end;
    end if;
    if v_ok is null then
      raise exception 'unknown outcome %', o.o ->> 'outcome' using errcode = '22023';
    end if;
    v_results := v_results || to_jsonb(v_ok);
  end loop;
  return v_results;
end;
$$;
comment on function svc.record_broadcast_outcomes(text, jsonb) is
  'Records several broadcast recipient outcomes in one call (accepted sends in bulk); answers per outcome whether the claim was still ours.';
alter function svc.record_broadcast_outcomes(text, jsonb) set enable_seqscan = off;
