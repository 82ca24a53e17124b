-- A status that overtakes the record of its send: no lock cycle, nothing left behind.
--
-- The sender records an accepted send (svc.record_broadcast_sent / record_outbound_sent,
-- several per transaction) by deleting its queue row and then setting the recipient's or
-- message's wamid. Under load its 'sent' status can reach the database first, through the
-- gateway's applier (svc.apply_queued_statuses, hundreds of statuses per transaction).
-- The wamid is not known yet, so the status resolves the send by its callback data, and
-- that path used to lock in the other order: the recipient or message, then the queue
-- row. Two such transactions deadlocked; each deadlock held both for PostgreSQL's
-- deadlock_timeout (a second) before one was cancelled, and at 1,000 sends a second with
-- one status per webhook that cost a third of the send rate.
--
-- Now the callback path leaves a send in flight to its sender: a queue row under a live
-- lease will be recorded by the sender that holds it, so the status is kept as early
-- (svc.early_statuses) and applied when the wamid is recorded. Only a send nobody is
-- sending (held, or its lease expired: the sender died) is resolved by its status, and
-- then its queue row is taken first and not waited for: a row another transaction holds
-- (a claim holding it, a late sender recording it) means the same, the status is kept as
-- early. The status applier never waits for a sender's rows, so it can't be part of a
-- cycle with one, and a sender's record no longer waits for the applier's transaction.
--
-- The hand-off of early statuses had a gap of its own: a sender applies the early
-- statuses of its wamid (svc.apply_early_statuses) in its transaction, and an early
-- status inserted by a transaction that commits after that statement was never applied
-- (a 'delivered' could be lost that way). svc.apply_recorded_early_statuses applies every
-- early status whose wamid is now recorded; the gateway's status applier runs it on every
-- call of svc.apply_queued_statuses, busy or idle.
--
-- Witness evidence (svc.note_witness_status) no longer waits for queue rows either: a row
-- someone holds is being recorded or claimed, and the witness's next status notes it.

-- A status parked because its send was busy keeps its callback data, so that it can
-- resolve the send if its sender never records it (the sender died: its lease expires
-- into a hold).
alter table svc.early_statuses add column callback_data text;
-- The sweep looks only at recent early statuses (the gap is milliseconds wide; older ones
-- are statuses of sends made elsewhere, kept 7 days by svc.prune_webhook_journal).
create index early_statuses_received_at on svc.early_statuses (received_at);

-- How a status's callback data resolved its send.
--   resolved  the send was pending (or an unknown outcome): it now has the wamid, and
--             its queue row is gone.
--   busy      its sender holds a live lease on it, or another transaction holds its
--             queue row: the caller keeps the status as early.
--   none      nothing to resolve (not ours, already resolved, or failed).

-- A reply's callback data is its message id.
create or replace function svc.resolve_reply_by_callback(p_message_id uuid, p_wamid text)
returns text
language plpgsql
set search_path = ''
as $$
declare
  v_queued boolean := false;
  v_held_since timestamptz;
  v_claimed_at timestamptz;
begin
  -- In flight under a live lease: its sender records it (and applies this status then).
  perform 1 from svc.outbound_jobs j
   where j.message_id = p_message_id and j.lease_owner is not null and j.lease_expires_at > now();
  if found then
    return 'busy';
  end if;
  select true, j.held_since, j.claimed_at into v_queued, v_held_since, v_claimed_at
    from svc.outbound_jobs j
   where j.message_id = p_message_id
     for update skip locked;
  if not found then
    perform 1 from svc.outbound_jobs j where j.message_id = p_message_id;
    if found then
      return 'busy';
    end if;
    v_queued := false;
  end if;
  update public.messages
     set wa_message_id = p_wamid, status = 'sent', error_data = null
   where id = p_message_id and wa_message_id is null and sender_type = 'agent'
     and (status = 'pending' or error_data ->> 'code' = 'unknown_outcome');
  if not found then
    return 'none';
  end if;
  if v_queued then
    delete from svc.outbound_jobs where message_id = p_message_id;
    if v_held_since is not null then
      perform svc.count_held_outcomes('replies', 'resolved_sent', 1);
    end if;
    perform svc.note_later_send(v_claimed_at, p_wamid);
  end if;
  return 'resolved';
end;
$$;
comment on function svc.resolve_reply_by_callback(uuid, text) is
  'A status''s callback data names a reply not yet recorded: gives it the wamid (resolved), or busy when its sender is recording it, or none.';

-- A broadcast recipient's callback data is broadcast:<broadcast id>:<contact id>.
create or replace function svc.resolve_recipient_by_callback(p_broadcast_id uuid, p_contact_id uuid, p_wamid text, p_at timestamptz)
returns text
language plpgsql
set search_path = ''
as $$
declare
  v_queued boolean := false;
  v_held_since timestamptz;
  v_claimed_at timestamptz;
begin
  -- In flight under a live lease: its sender records it (and applies this status then).
  perform 1 from svc.broadcast_queue q
   where q.broadcast_id = p_broadcast_id and q.contact_id = p_contact_id
     and q.lease_owner is not null and q.lease_expires_at > now();
  if found then
    return 'busy';
  end if;
  select true, q.held_since, q.claimed_at into v_queued, v_held_since, v_claimed_at
    from svc.broadcast_queue q
   where q.broadcast_id = p_broadcast_id and q.contact_id = p_contact_id
     for update skip locked;
  if not found then
    perform 1 from svc.broadcast_queue q where q.broadcast_id = p_broadcast_id and q.contact_id = p_contact_id;
    if found then
      return 'busy';
    end if;
    v_queued := false;
  end if;
  update public.broadcast_recipients
     set wa_message_id = p_wamid, status = 'sent', sent_at = coalesce(sent_at, p_at), error_message = null
   where broadcast_id = p_broadcast_id and contact_id = p_contact_id
     and wa_message_id is null and (status = 'pending' or error_message like 'unknown_outcome:%');
  if not found then
    return 'none';
  end if;
  if v_queued then
    delete from svc.broadcast_queue where broadcast_id = p_broadcast_id and contact_id = p_contact_id;
    if v_held_since is not null then
      perform svc.count_held_outcomes('broadcasts', 'resolved_sent', 1);
    end if;
    perform svc.note_later_send(v_claimed_at, p_wamid);
  end if;
  return 'resolved';
end;
$$;
comment on function svc.resolve_recipient_by_callback(uuid, uuid, text, timestamptz) is
  'A status''s callback data names a broadcast recipient not yet recorded: gives it the wamid (resolved), or busy when its sender is recording it, or none.';

-- Which send a callback data names, if it is ours: (kind, message id | broadcast id, contact id).
create or replace function svc.parse_callback_data(p_callback_data text,
    out kind text, out message_id uuid, out broadcast_id uuid, out contact_id uuid)
language sql
immutable
set search_path = ''
as $$
  select case when m.reply is not null then 'reply' when m.recipient is not null then 'broadcast' end,
         m.reply[1]::uuid, m.recipient[1]::uuid, m.recipient[2]::uuid
    from (select regexp_match(p_callback_data, '^(' || x.uuid || ')$') as reply,
                 regexp_match(p_callback_data, '^broadcast:(' || x.uuid || '):(' || x.uuid || ')$') as recipient
            from (select '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}' as uuid) x) m
$$;
comment on function svc.parse_callback_data(text) is
  'The send a status''s biz_opaque_callback_data names: kind reply (message_id) or broadcast (broadcast_id, contact_id), else kind null.';

-- A status of p_wamid: evidence for the held sends it witnesses (rows someone holds are
-- skipped: they are being recorded or claimed).
create or replace function svc.note_witness_status(p_wamid text)
returns void
language plpgsql
set search_path = ''
as $$
begin
  update svc.outbound_jobs j set evidence_at = now()
   where j.message_id in (
     select w.message_id from svc.outbound_jobs w
      where w.witness_wamid = p_wamid and w.evidence_at is null
        for update skip locked);
  update svc.broadcast_queue q set evidence_at = now()
   where (q.broadcast_id, q.contact_id) in (
     select w.broadcast_id, w.contact_id from svc.broadcast_queue w
      where w.witness_wamid = p_wamid and w.evidence_at is null
        for update skip locked);
end;
$$;
comment on function svc.note_witness_status(text) is
  'A status of a witness send: evidence for the held sends it witnesses (skipping rows being recorded or claimed).';
-- (Replacing a function drops its settings: those of migration ..._held_outcomes again.)
alter function svc.note_witness_status(text) set enable_seqscan = off;
alter function svc.note_witness_status(text) set jit = off;

-- As in migration ..._held_outcomes, except the callback path (header above).
-- Applies one delivery status to the message or broadcast recipient with that wamid.
-- Never backwards; failed only from pending/sent and final; read implies delivered.
-- Returns 'applied', 'stale' (already at or past it) or 'unknown' (no such wamid yet:
-- kept in svc.early_statuses and applied when the wamid is recorded).
create or replace function svc.apply_delivery_status(
    p_wamid text,
    p_status text,
    p_at timestamptz,
    p_errors jsonb,
    p_callback_data text default null
)
returns text
language plpgsql
set search_path = ''
as $$
declare
  v_found boolean := false;
  v_changed int;
  v_error_code int := (p_errors -> 0 ->> 'code')::int;
  v_send record;
  v_resolution text;
begin
  if p_status not in ('sent', 'delivered', 'read', 'failed') then
    raise exception 'unknown delivery status %', p_status using errcode = '22023';
  end if;

  -- An agent's message?
  perform 1 from public.messages where wa_message_id = p_wamid;
  if found then
    v_found := true;
    if p_status = 'failed' then
      update public.messages
         set status = 'failed',
             error_data = jsonb_build_object('source', 'status_webhook', 'errors', coalesce(p_errors, '[]'::jsonb), 'failed_at', p_at)
       where wa_message_id = p_wamid and status in ('pending', 'sent');
    else
      update public.messages
         set status = p_status,
             delivered_at = case when p_status in ('delivered', 'read')
                                 then coalesce(least(delivered_at, p_at), p_at) else delivered_at end,
             read_at = case when p_status = 'read' then coalesce(read_at, p_at) else read_at end
       where wa_message_id = p_wamid
         and status <> 'failed'
         and svc.status_rank(status) < svc.status_rank(p_status);
    end if;
    get diagnostics v_changed = row_count;
    -- A late 'delivered' after 'read' still tells the true delivery time.
    if v_changed = 0 and p_status = 'delivered' then
      update public.messages set delivered_at = p_at
       where wa_message_id = p_wamid and status = 'read' and delivered_at > p_at;
    end if;
  else
    -- A broadcast's recipient? ('read' counts as delivered: recipients have no read.)
    perform 1 from public.broadcast_recipients where wa_message_id = p_wamid;
    if found then
      v_found := true;
      if p_status = 'failed' then
        update public.broadcast_recipients
           set status = 'failed',
               error_message = coalesce(
                 (p_errors -> 0 ->> 'code') || ': ' || coalesce(p_errors -> 0 -> 'error_data' ->> 'details', p_errors -> 0 ->> 'title', ''),
                 'failed')
         where wa_message_id = p_wamid and status in ('pending', 'sent');
      else
        update public.broadcast_recipients
           set status = case when p_status = 'sent' then 'sent' else 'delivered' end,
               sent_at = coalesce(sent_at, p_at),
               delivered_at = case when p_status in ('delivered', 'read')
                                   then coalesce(least(delivered_at, p_at), p_at) else delivered_at end
         where wa_message_id = p_wamid
           and status in ('pending', 'sent')
           and (status = 'pending' or p_status in ('delivered', 'read'));
      end if;
      get diagnostics v_changed = row_count;
    end if;
  end if;

  -- A status of a send that witnesses held sends which left before it.
  if v_found then
    perform svc.note_witness_status(p_wamid);
  end if;

  if not v_found then
    -- Our sends carry biz_opaque_callback_data naming them: a send whose outcome was
    -- unknown (or not yet recorded) learns its wamid from its first status.
    v_send := svc.parse_callback_data(p_callback_data);
    v_resolution := case v_send.kind
      when 'reply' then svc.resolve_reply_by_callback(v_send.message_id, p_wamid)
      when 'broadcast' then svc.resolve_recipient_by_callback(v_send.broadcast_id, v_send.contact_id, p_wamid, p_at)
      else 'none' end;
    if v_resolution = 'resolved' then
      return svc.apply_delivery_status(p_wamid, p_status, p_at, p_errors, null);
    end if;
    insert into svc.early_statuses (wa_message_id, status, occurred_at, errors, callback_data)
    values (p_wamid, p_status, p_at, p_errors, p_callback_data)
    on conflict (wa_message_id, status) do nothing;
    return 'unknown';
  end if;

  -- 131050: the user stopped marketing messages from this business.
  if p_status = 'failed' and v_error_code = 131050 then
    update public.contacts c
       set opted_out_at = coalesce(c.opted_out_at, p_at)
     where c.id = coalesce(
       (select cv.contact_id from public.messages m join public.conversations cv on cv.id = m.conversation_id
         where m.wa_message_id = p_wamid),
       (select r.contact_id from public.broadcast_recipients r where r.wa_message_id = p_wamid));
  end if;

  return case when v_changed > 0 then 'applied' else 'stale' end;
end;
$$;
comment on function svc.apply_delivery_status(text, text, timestamptz, jsonb, text) is
  'Applies a status webhook to a message or broadcast recipient by wamid, never backwards; keeps it for later when the wamid is unknown.';

-- A send let go by its sender without a wamid (a retry after an answer that wasn't one,
-- an unknown outcome held, a lease expired): a status parked for it while it was in
-- flight resolves it now, in the same transaction, before any claim can take it again.
create index early_statuses_callback on svc.early_statuses (callback_data) where callback_data is not null;

create or replace function private.resolve_parked_statuses()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_callback text := case tg_table_name
    when 'outbound_jobs' then (to_jsonb(new) ->> 'message_id')
    else 'broadcast:' || (to_jsonb(new) ->> 'broadcast_id') || ':' || (to_jsonb(new) ->> 'contact_id') end;
  e record;
begin
  for e in
    delete from svc.early_statuses where callback_data = v_callback
    returning wa_message_id, status, occurred_at, errors, callback_data
  loop
    perform svc.apply_delivery_status(e.wa_message_id, e.status, e.occurred_at, e.errors, e.callback_data);
  end loop;
  return null;
end;
$$;
comment on function private.resolve_parked_statuses() is
  'After a sender lets a send go without a wamid: applies the statuses parked for it while it was in flight (they name it by callback data).';
revoke execute on function private.resolve_parked_statuses() from public, anon, authenticated;

create trigger on_outbound_lease_released_resolve_parked_statuses
  after update of lease_owner on svc.outbound_jobs
  for each row when (old.lease_owner is not null and new.lease_owner is null)
  execute function private.resolve_parked_statuses();
create trigger on_broadcast_lease_released_resolve_parked_statuses
  after update of lease_owner on svc.broadcast_queue
  for each row when (old.lease_owner is not null and new.lease_owner is null)
  execute function private.resolve_parked_statuses();

-- Applies the early statuses (received in the last p_window) that can be applied now:
-- their wamid has been recorded since, or their callback data names a send still in its
-- queue that nobody is sending (held, or its lease expired). Skips any another transaction holds; returns how many were
-- taken (a send still busy parks its status again).
create or replace function svc.apply_recorded_early_statuses(p_window interval default interval '15 minutes')
returns int
language plpgsql
set search_path = ''
as $$
declare
  r record;
  v_count int := 0;
  v_state text;
  v_message text;
begin
  for r in
    with ready as (
      select e.wa_message_id, e.status
        from svc.early_statuses e
             cross join lateral svc.parse_callback_data(e.callback_data) c
       where e.received_at > now() - p_window
         and (exists (select 1 from public.messages m where m.wa_message_id = e.wa_message_id)
              or exists (select 1 from public.broadcast_recipients b where b.wa_message_id = e.wa_message_id)
              or exists (select 1 from svc.outbound_jobs j
                          where c.kind = 'reply' and j.message_id = c.message_id
                            and (j.lease_owner is null or j.lease_expires_at <= now()))
              or exists (select 1 from svc.broadcast_queue q
                          where c.kind = 'broadcast' and q.broadcast_id = c.broadcast_id and q.contact_id = c.contact_id
                            and (q.lease_owner is null or q.lease_expires_at <= now())))
       order by e.wa_message_id, e.status
         for update of e skip locked
    )
    delete from svc.early_statuses e
     using ready t
     where e.wa_message_id = t.wa_message_id and e.status = t.status
    returning e.wa_message_id, e.status, e.occurred_at, e.errors, e.callback_data, e.received_at
  loop
    begin
      if svc.apply_delivery_status(r.wa_message_id, r.status, r.occurred_at, r.errors, r.callback_data) = 'unknown' then
        -- Parked again (its send is still busy): it keeps its age, so the window bounds it.
        update svc.early_statuses set received_at = r.received_at
         where wa_message_id = r.wa_message_id and status = r.status;
      end if;
      v_count := v_count + 1;
    exception when others then
      get stacked diagnostics v_state = returned_sqlstate, v_message = message_text;
      if svc.is_transient_error(v_state) then
        raise;
      end if;
      -- A status that can't be applied (its webhook is in the journal) must not stop the
      -- others: it is dropped, and said.
      raise warning 'early status % of % dropped: %: %', r.status, r.wa_message_id, v_state, v_message;
    end;
  end loop;
  return v_count;
end;
$$;
comment on function svc.apply_recorded_early_statuses(interval) is
  'Applies early statuses whose wamid was recorded since, or whose send was busy when they came (closes the hand-off with a sender recording at the same moment).';

-- As in migration ..._queued_statuses, and every call first locks what it can touch in one
-- order (svc.lock_status_targets), then applies the early statuses whose wamid has been
-- recorded meanwhile (svc.apply_recorded_early_statuses; counted in
-- statuses_applied). Returns {webhooks, failed, statuses_applied, statuses_stale,
-- statuses_early, early_recorded}.
-- Locks, in one order (messages, then broadcast recipients, each by wamid), every row the
-- statuses of the given journal rows and the early statuses ready to apply can touch, so
-- that two appliers (one per gateway replica) never lock the same rows in different
-- orders, whatever path each status then takes.
create or replace function svc.lock_status_targets(p_ids bigint[], p_window interval default interval '15 minutes')
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_wamids text[];
begin
  select array_agg(distinct t.wamid) into v_wamids
    from (select s ->> 'wamid' as wamid
            from svc.webhook_journal w,
                 jsonb_array_elements(coalesce(w.events -> 'statuses', '[]'::jsonb)) s
           where w.id = any (coalesce(p_ids, '{}'))
          union all
          select e.wa_message_id from svc.early_statuses e where e.received_at > now() - p_window) t
   where t.wamid is not null;
  if v_wamids is null then
    return;
  end if;
  perform 1 from public.messages m where m.wa_message_id = any (v_wamids)
   order by m.wa_message_id for no key update;
  perform 1 from public.broadcast_recipients r where r.wa_message_id = any (v_wamids)
   order by r.wa_message_id for no key update;
end;
$$;
comment on function svc.lock_status_targets(bigint[], interval) is
  'Locks the messages and broadcast recipients an applier call''s statuses can touch, in one order (deadlock-free between appliers).';
alter function svc.lock_status_targets(bigint[], interval) set enable_seqscan = off;

create or replace function svc.apply_queued_statuses(p_limit int default 500)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_recorded int;
  v_ids bigint[];
  v_counts jsonb;
  v_one jsonb;
  v_failed int := 0;
  v_id bigint;
  v_state text;
  v_message text;
begin
  select array_agg(id order by id) into v_ids
    from (select id from svc.webhook_journal
           where outcome = 'pending'
           order by id
           limit greatest(p_limit, 1)
           for update skip locked) p;
  perform svc.lock_status_targets(v_ids);
  v_recorded := svc.apply_recorded_early_statuses();
  if v_ids is null then
    return jsonb_build_object('webhooks', 0, 'failed', 0,
      'statuses_applied', 0, 'statuses_stale', 0, 'statuses_early', 0, 'early_recorded', v_recorded);
  end if;
  begin
    v_counts := svc.apply_queued_webhook_events(v_ids);
  exception when others then
    get stacked diagnostics v_state = returned_sqlstate;
    if svc.is_transient_error(v_state) then
      raise;
    end if;
    v_counts := jsonb_build_object('statuses_applied', 0, 'statuses_stale', 0, 'statuses_early', 0);
    foreach v_id in array v_ids loop
      begin
        v_one := svc.apply_queued_webhook_events(array[v_id]);
        v_counts := jsonb_build_object(
          'statuses_applied', (v_counts ->> 'statuses_applied')::int + (v_one ->> 'statuses_applied')::int,
          'statuses_stale', (v_counts ->> 'statuses_stale')::int + (v_one ->> 'statuses_stale')::int,
          'statuses_early', (v_counts ->> 'statuses_early')::int + (v_one ->> 'statuses_early')::int);
      exception when others then
        get stacked diagnostics v_state = returned_sqlstate, v_message = message_text;
        if svc.is_transient_error(v_state) then
          raise;
        end if;
        update svc.webhook_journal
           set outcome = 'failed', error = v_state || ': ' || v_message
         where id = v_id;
        v_failed := v_failed + 1;
      end;
    end loop;
  end;
  update svc.webhook_journal
     set outcome = 'applied', applied_at = now()
   where id = any (v_ids) and outcome = 'pending';
  return jsonb_build_object('webhooks', cardinality(v_ids), 'failed', v_failed,
    'statuses_applied', v_counts -> 'statuses_applied', 'statuses_stale', v_counts -> 'statuses_stale',
    'statuses_early', v_counts -> 'statuses_early', 'early_recorded', v_recorded);
end;
$$;
comment on function svc.apply_queued_statuses(int) is
  'Applies early statuses whose wamid was recorded meanwhile, then up to p_limit pending (status-only) journaled webhooks, oldest first, in one pass; bad ones are journaled as failed.';

revoke execute on function svc.resolve_reply_by_callback(uuid, text) from public, anon, authenticated;
revoke execute on function svc.resolve_recipient_by_callback(uuid, uuid, text, timestamptz) from public, anon, authenticated;
revoke execute on function svc.parse_callback_data(text) from public, anon, authenticated;
revoke execute on function svc.apply_recorded_early_statuses(interval) from public, anon, authenticated;
revoke execute on function svc.lock_status_targets(bigint[], interval) from public, anon, authenticated;
grant execute on function svc.lock_status_targets(bigint[], interval) to service_role;
grant execute on function svc.resolve_reply_by_callback(uuid, text) to service_role;
grant execute on function svc.resolve_recipient_by_callback(uuid, uuid, text, timestamptz) to service_role;
grant execute on function svc.parse_callback_data(text) to service_role;
grant execute on function svc.apply_recorded_early_statuses(interval) to service_role;
