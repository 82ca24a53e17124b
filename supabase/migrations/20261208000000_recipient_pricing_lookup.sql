-- The bulk status pass looks each recipient's pricing up instead of joining it.
--
-- Migration ..._bulk_recipient_pricing joined svc.pricing_by_wamid (a set-returning
-- function) to the recipients of the batch. The planner, which expects one recipient,
-- chose a nested loop that read every pricing row of the batch again for each recipient,
-- so a batch's cost grew with the square of its size (450 recipients with three statuses
-- each: 202,050 rows read and thrown away, by EXPLAIN ANALYZE most of the statement's
-- time). Now the pricing of the batch is worked out
-- once, as an object keyed by wamid, and each recipient looks its own up. Same rule, same
-- result (pgTAP 23 compares it with svc.record_pricing).

create or replace function svc.apply_recipient_statuses(p_statuses jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_result jsonb;
  v_pricing jsonb;
begin
  -- Each wamid's pricing, as an object keyed by wamid: looked up per recipient below.
  select jsonb_object_agg(p.wamid, p.pricing) into v_pricing
    from svc.pricing_by_wamid(p_statuses) p;
  with s as (
    select x.s ->> 'wamid' as wamid,
           x.s ->> 'status' as status,
           (x.s ->> 'timestamp')::timestamptz as at,
           x.n,
           case x.s ->> 'status' when 'sent' then 1 else 2 end as target
      from jsonb_array_elements(p_statuses) with ordinality as x(s, n)
  ),
  -- (A status without a wamid or time is left to svc.apply_webhook_events, which refuses
  -- its webhook; so are the other statuses of its wamid.)
  -- (An agent's message with the same wamid takes the statuses, as one by one.)
  eligible as (
    select s.wamid from s where s.wamid is not null group by s.wamid
    having bool_and(coalesce(s.status in ('sent', 'delivered', 'read') and s.at is not null, false))
       and not exists (select 1 from public.messages m where m.wa_message_id = s.wamid)
  ),
  locked as (
    select r.broadcast_id, r.contact_id, r.wa_message_id,
           case r.status when 'pending' then 0 when 'sent' then 1 when 'delivered' then 2 else 3 end as pre_rank
      from public.broadcast_recipients r
     where r.wa_message_id in (select e.wamid from eligible e)
     order by r.wa_message_id
       -- (The lock svc.lock_status_targets took already: no second lock on each row.)
       for no key update of r
  ),
  ranked as (
    select l.broadcast_id, l.contact_id, s.wamid, s.at, s.target,
           s.target > greatest(l.pre_rank, coalesce(max(s.target) over (
             partition by s.wamid order by s.at, s.n rows between unbounded preceding and 1 preceding), 0)) as applies
      from s join locked l on l.wa_message_id = s.wamid
  ),
  per_recipient as (
    select r.broadcast_id, r.contact_id, r.wamid,
           max(r.target) filter (where r.applies) as new_rank,
           min(r.at) filter (where r.applies) as first_at,
           min(r.at) filter (where r.applies and r.target = 2) as delivered_at
      from ranked r
     group by r.broadcast_id, r.contact_id, r.wamid
  ),
  changes as (
    select p.*, v_pricing -> p.wamid as pricing from per_recipient p
  ),
  updated as (
    update public.broadcast_recipients r
       set status = case when c.new_rank is null then r.status
                         when c.new_rank = 2 then 'delivered' else 'sent' end,
           sent_at = coalesce(r.sent_at, c.first_at),
           delivered_at = case when c.delivered_at is not null
                               then coalesce(least(r.delivered_at, c.delivered_at), c.delivered_at)
                               else r.delivered_at end,
           pricing = case when c.pricing is not null and (r.pricing - 'at') is distinct from (c.pricing - 'at')
                          then c.pricing || jsonb_build_object('at', coalesce(r.pricing ->> 'at', c.pricing ->> 'at'))
                          else r.pricing end
      from changes c
     where r.broadcast_id = c.broadcast_id and r.contact_id = c.contact_id
       and (c.new_rank is not null
            or (c.pricing is not null and (r.pricing - 'at') is distinct from (c.pricing - 'at')))
    returning 1
  )
  select jsonb_build_object(
           'applied', (select count(*) from ranked where applies),
           'stale', (select count(*) from ranked where not applies),
           'updated', (select count(*) from updated),
           'wamids', (select coalesce(jsonb_agg(distinct l.wa_message_id), '[]'::jsonb) from locked l))
    into v_result;

  -- Witness evidence, once for the batch (rows someone holds are skipped, as in
  -- svc.note_witness_status).
  update svc.outbound_jobs j set evidence_at = now()
   where j.message_id in (
     select w.message_id from svc.outbound_jobs w
      where w.witness_wamid in (select jsonb_array_elements_text(v_result -> 'wamids')) and w.evidence_at is null
        for update skip locked);
  update svc.broadcast_queue q set evidence_at = now()
   where (q.broadcast_id, q.contact_id) in (
     select w.broadcast_id, w.contact_id from svc.broadcast_queue w
      where w.witness_wamid in (select jsonb_array_elements_text(v_result -> 'wamids')) and w.evidence_at is null
        for update skip locked);
  return v_result;
end;
$$;
comment on function svc.apply_recipient_statuses(jsonb) is
  'Applies sent/delivered/read statuses of recorded broadcast recipients in bulk, never backwards, with their pricing; returns {applied, stale, updated, wamids}.';
-- (create or replace resets a function's settings: these are restated.)
alter function svc.apply_recipient_statuses(jsonb) set jit = off;
alter function svc.apply_recipient_statuses(jsonb) set enable_seqscan = off;
