-- Statuses of broadcast recipients applied in bulk.
--
-- A broadcast at 1,000 sends a second comes back as about 3,000 statuses a second, and the
-- queued-status applier applied each through svc.apply_delivery_status: eight statements
-- per status, about a third of the database's time in the loop benchmark. The common case
-- (the recipient's wamid is recorded, the statuses are sent, delivered or read) is now a
-- few statements per batch: lock the recipients in wamid order, work out in one query
-- which statuses move each recipient forward, update each recipient once, and note
-- witness evidence once. Everything else (agents' messages, failed statuses, wamids not
-- recorded yet, callback data) goes through svc.apply_webhook_events as before.
--
-- Same rules as svc.apply_delivery_status for a recipient: never backwards (pending, then
-- sent, then delivered; 'read' counts as delivered), nothing moves a recipient that is
-- neither pending nor sent, sent_at is the first applied status's time unless already
-- set, delivered_at the earliest delivered or read time applied. Statuses of one wamid are
-- taken in Meta's time order, so a status counts as applied exactly when it would have
-- moved the recipient one at a time, and as stale otherwise.

-- p_statuses: the statuses events ([{wamid, status, timestamp, ...}]). Applies those of
-- recorded broadcast recipients whose statuses in this batch are all sent, delivered or
-- read; returns {applied, stale, wamids} (wamids: the ones it took, for the caller to
-- leave out).
create or replace function svc.apply_recipient_statuses(p_statuses jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_result jsonb;
begin
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
       for update of r
  ),
  ranked as (
    select l.broadcast_id, l.contact_id, s.wamid, s.at, s.target,
           s.target > greatest(l.pre_rank, coalesce(max(s.target) over (
             partition by s.wamid order by s.at, s.n rows between unbounded preceding and 1 preceding), 0)) as applies
      from s join locked l on l.wa_message_id = s.wamid
  ),
  per_recipient as (
    select r.broadcast_id, r.contact_id,
           max(r.target) filter (where r.applies) as new_rank,
           min(r.at) filter (where r.applies) as first_at,
           min(r.at) filter (where r.applies and r.target = 2) as delivered_at
      from ranked r
     group by r.broadcast_id, r.contact_id
  ),
  updated as (
    update public.broadcast_recipients r
       set status = case when p.new_rank = 2 then 'delivered' else 'sent' end,
           sent_at = coalesce(r.sent_at, p.first_at),
           delivered_at = case when p.delivered_at is not null
                               then coalesce(least(r.delivered_at, p.delivered_at), p.delivered_at)
                               else r.delivered_at end
      from per_recipient p
     where r.broadcast_id = p.broadcast_id and r.contact_id = p.contact_id and p.new_rank is not null
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
  'Applies sent/delivered/read statuses of recorded broadcast recipients in bulk, never backwards; returns {applied, stale, updated, wamids}.';
alter function svc.apply_recipient_statuses(jsonb) set jit = off;
alter function svc.apply_recipient_statuses(jsonb) set enable_seqscan = off;

-- As in migration ..._business_events_applied, with the recipients' statuses applied in
-- bulk first; the rest as before.
create or replace function svc.apply_queued_webhook_events(p_ids bigint[])
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_statuses jsonb;
  v_bulk jsonb;
  v_rest jsonb;
  v_counts jsonb;
begin
  select coalesce(jsonb_agg(s order by w.id, s.n), '[]'::jsonb) into v_statuses
    from svc.webhook_journal w,
         jsonb_array_elements(coalesce(w.events -> 'statuses', '[]'::jsonb)) with ordinality as s(s, n)
   where w.id = any (p_ids);
  v_bulk := svc.apply_recipient_statuses(v_statuses);
  select coalesce(jsonb_agg(s.s order by s.n), '[]'::jsonb) into v_rest
    from jsonb_array_elements(v_statuses) with ordinality as s(s, n)
   where not coalesce((v_bulk -> 'wamids') ? (s.s ->> 'wamid'), false);
  v_counts := svc.apply_webhook_events(jsonb_build_object('statuses', v_rest));
  perform svc.record_pricing(v_statuses);
  return v_counts || jsonb_build_object(
    'statuses_applied', (v_counts ->> 'statuses_applied')::int + (v_bulk ->> 'applied')::int,
    'statuses_stale', (v_counts ->> 'statuses_stale')::int + (v_bulk ->> 'stale')::int);
end;
$$;
comment on function svc.apply_queued_webhook_events(bigint[]) is
  'Applies the events of several pending journaled webhooks in one pass (recipients'' statuses in bulk, the other statuses, then their pricing); returns apply_webhook_events'' counts.';

revoke execute on function svc.apply_recipient_statuses(jsonb) from public, anon, authenticated;
grant execute on function svc.apply_recipient_statuses(jsonb) to service_role;
