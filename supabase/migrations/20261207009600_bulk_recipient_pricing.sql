-- A broadcast recipient's pricing is written by the same update as its status.
--
-- Meta's `sent` status carries the conversation's pricing. The queued-status applier
-- moved each recipient forward in bulk (migration ..._bulk_recipient_statuses) and then
-- ran svc.record_pricing over the whole batch, which looked every wamid up again and wrote
-- each newly priced recipient a second time: in the loop benchmark about an eighth of the
-- applier's database time, and a second row version per recipient. Now the bulk pass
-- also works out each recipient's pricing and writes it in its one update;
-- svc.record_pricing is left the statuses the bulk pass did not take (agents' messages,
-- failed statuses, wamids not recorded yet).
--
-- The recipients are locked FOR NO KEY UPDATE, as svc.lock_status_targets locked them
-- first (FOR UPDATE took a stronger lock on each row again, a second write per row).
--
-- One rule for both (svc.pricing_by_wamid, which svc.record_pricing now calls too): of a
-- wamid's statuses in the batch with a pricing object (billable a boolean, a category),
-- the earliest by its timestamp gives the pricing; it is written when it differs from the
-- recipient's (the time aside), keeping the time of the pricing first recorded.

-- The pricing p_statuses give each wamid.
create or replace function svc.pricing_by_wamid(p_statuses jsonb)
returns table (wamid text, pricing jsonb)
language sql
immutable
set search_path = ''
as $$
  select distinct on (s ->> 'wamid') s ->> 'wamid',
         jsonb_build_object(
           'billable', (s -> 'pricing' ->> 'billable')::boolean,
           'pricing_model', s -> 'pricing' ->> 'pricing_model',
           'category', s -> 'pricing' ->> 'category',
           'type', s -> 'pricing' ->> 'type',
           'at', s ->> 'timestamp')
    from jsonb_array_elements(coalesce(p_statuses, '[]'::jsonb)) s
   where jsonb_typeof(s -> 'pricing') = 'object'
     and jsonb_typeof(s -> 'pricing' -> 'billable') = 'boolean'
     and s -> 'pricing' ->> 'category' is not null
     and s ->> 'wamid' is not null
   order by s ->> 'wamid', s ->> 'timestamp'
$$;
comment on function svc.pricing_by_wamid(jsonb) is
  'Per wamid, the pricing its statuses give: of those with a pricing object in Meta''s shape, the earliest by timestamp.';
revoke execute on function svc.pricing_by_wamid(jsonb) from public, anon, authenticated;
grant execute on function svc.pricing_by_wamid(jsonb) to service_role;

-- As in migration ..._pricing, the pricing chosen by svc.pricing_by_wamid.
create or replace function svc.record_pricing(p_statuses jsonb)
returns int
language plpgsql
set search_path = ''
as $$
declare
  v_messages int;
  v_recipients int;
begin
  if jsonb_typeof(coalesce(p_statuses, '[]'::jsonb)) <> 'array' then
    raise exception 'p_statuses must be a JSON array' using errcode = '22023';
  end if;
  with priced as (
    select * from svc.pricing_by_wamid(p_statuses)
  ), on_messages as (
    update public.messages m
       set pricing = p.pricing || jsonb_build_object('at', coalesce(m.pricing ->> 'at', p.pricing ->> 'at'))
      from priced p
     where m.wa_message_id = p.wamid
       and (m.pricing - 'at') is distinct from (p.pricing - 'at')
    returning 1
  ), on_recipients as (
    update public.broadcast_recipients r
       set pricing = p.pricing || jsonb_build_object('at', coalesce(r.pricing ->> 'at', p.pricing ->> 'at'))
      from priced p
     where r.wa_message_id = p.wamid
       and (r.pricing - 'at') is distinct from (p.pricing - 'at')
    returning 1
  )
  select (select count(*) from on_messages), (select count(*) from on_recipients)
    into v_messages, v_recipients;
  return v_messages + v_recipients;
end;
$$;

-- As in migration ..._bulk_recipient_statuses, with pricing.
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
       -- (The lock svc.lock_status_targets took already: no second lock on each row.)
       for no key update of r
  ),
  ranked as (
    select l.broadcast_id, l.contact_id, s.wamid, s.at, s.target,
           s.target > greatest(l.pre_rank, coalesce(max(s.target) over (
             partition by s.wamid order by s.at, s.n rows between unbounded preceding and 1 preceding), 0)) as applies
      from s join locked l on l.wa_message_id = s.wamid
  ),
  priced as (
    select p.wamid, p.pricing from svc.pricing_by_wamid(p_statuses) p
     where p.wamid in (select l.wa_message_id from locked l)
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
    select p.*, pr.pricing
      from per_recipient p left join priced pr on pr.wamid = p.wamid
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

-- As in migration ..._bulk_recipient_statuses, with svc.record_pricing given only the
-- statuses the bulk pass left.
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
  perform svc.record_pricing(v_rest);
  return v_counts || jsonb_build_object(
    'statuses_applied', (v_counts ->> 'statuses_applied')::int + (v_bulk ->> 'applied')::int,
    'statuses_stale', (v_counts ->> 'statuses_stale')::int + (v_bulk ->> 'stale')::int);
end;
$$;
comment on function svc.apply_queued_webhook_events(bigint[]) is
  'Applies the events of several pending journaled webhooks in one pass (recipients'' statuses and pricing in bulk, then the other statuses and their pricing); returns apply_webhook_events'' counts.';
