-- Acknowledge fast, apply in bulk, customers first.
--
-- Status webhooks are the bulk of the volume (every message sent comes back as sent,
-- delivered and read, often one status per webhook) and applying them in the
-- transaction that acknowledges them made customers' messages queue behind them. Now
-- svc.ingest_webhooks (what the gateway calls) journals a webhook that carries only
-- statuses as 'pending': one insert, durable when the gateway answers 200, nothing more.
-- Webhooks with customers' messages are still applied before the 200, so a customer's
-- message is visible as soon as Meta has its acknowledgement. svc.apply_queued_statuses
-- (the gateway's applier loop, every gateway replica) applies pending webhooks oldest
-- first, many per call: their statuses in one pass of svc.apply_webhook_events, which
-- applies them in wamid and timestamp order and never moves a message or recipient
-- backwards (statuses are ranked), so the order webhooks are applied in cannot matter,
-- and a duplicate is stale. Nothing is lost: a pending webhook stays in the journal until
-- applied; one whose statuses can't be applied is journaled as failed (replayable) and
-- the others are applied without it. svc.ingest_webhook (one webhook, SQL callers) still
-- applies everything at once.
--
-- Applying other kinds of queued events (e.g. message_template_* changes, or a status's
-- pricing) means adding them to the events document and a step to
-- svc.apply_queued_webhook_events, one function per kind.

alter table svc.webhook_journal drop constraint webhook_journal_outcome_check;
alter table svc.webhook_journal add constraint webhook_journal_outcome_check
  check (outcome in ('pending', 'applied', 'ignored', 'failed'));
create index webhook_journal_pending on svc.webhook_journal (id) where outcome = 'pending';

-- A webhook the gateway may acknowledge before applying: it parsed, and carries
-- statuses and no customer message.
create or replace function svc.is_status_only(p_events jsonb, p_parse_error text)
returns boolean
language sql
immutable
set search_path = ''
as $$
  select p_parse_error is null
     and jsonb_array_length(coalesce(p_events -> 'messages', '[]'::jsonb)) = 0
     and jsonb_array_length(coalesce(p_events -> 'statuses', '[]'::jsonb)) > 0
$$;
comment on function svc.is_status_only(jsonb, text) is
  'True for a parsed webhook with statuses and no customer message (queued, applied after the acknowledgement).';

-- Several webhooks in one transaction (the gateway batches concurrent POSTs); results in
-- the order given. Status-only webhooks are journaled as pending ({"outcome": "queued"});
-- the others are journaled and applied as before (each in its own savepoint).
create or replace function svc.ingest_webhooks(p_webhooks jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_results jsonb := '[]'::jsonb;
  v_journal bigint;
  w jsonb;
  c record;
begin
  -- One global lock order for the webhooks applied now (as before): every sender's
  -- contact by key, then every message a status of theirs touches, by wamid.
  for c in
    select distinct on (coalesce(m ->> 'from', m ->> 'user_id'))
           m ->> 'from' as wa_id, m ->> 'user_id' as user_id, (m ->> 'timestamp')::timestamptz as at
      from jsonb_array_elements(p_webhooks) w,
           jsonb_array_elements(coalesce(w.value -> 'events' -> 'messages', '[]'::jsonb)) m
     where coalesce(m ->> 'from', m ->> 'user_id') is not null and m ->> 'timestamp' is not null
     order by coalesce(m ->> 'from', m ->> 'user_id')
  loop
    perform svc.upsert_contact_for_sender(c.wa_id, c.user_id, null, c.at);
  end loop;
  perform 1
     from public.messages
    where wa_message_id in (
      select s ->> 'wamid'
        from jsonb_array_elements(p_webhooks) w,
             jsonb_array_elements(coalesce(w.value -> 'events' -> 'statuses', '[]'::jsonb)) s
       where not svc.is_status_only(w.value -> 'events', w.value ->> 'parse_error'))
    order by wa_message_id
      for update;

  for w in select value from jsonb_array_elements(p_webhooks) loop
    if svc.is_status_only(w -> 'events', w ->> 'parse_error') then
      insert into svc.webhook_journal (payload, events, outcome)
      values (w -> 'payload', w -> 'events', 'pending')
      returning id into v_journal;
      v_results := v_results || jsonb_build_array(
        jsonb_build_object('journal_id', v_journal, 'outcome', 'queued'));
    else
      v_results := v_results || jsonb_build_array(
        svc.journal_and_apply(w -> 'payload', w -> 'events', w ->> 'parse_error'));
    end if;
  end loop;
  return v_results;
end;
$$;
comment on function svc.ingest_webhooks(jsonb) is
  'Journals several webhooks in one transaction: status-only ones as pending (applied by svc.apply_queued_statuses), the others applied now: [{payload, events, parse_error}] -> [result].';

-- Applies the events of the given pending journal rows together; returns the counts.
-- Kinds of events: statuses (svc.apply_webhook_events, in wamid and timestamp order).
create or replace function svc.apply_queued_webhook_events(p_ids bigint[])
returns jsonb
language plpgsql
set search_path = ''
as $$
begin
  return svc.apply_webhook_events(jsonb_build_object(
    'statuses', (select coalesce(jsonb_agg(s order by w.id, s.n), '[]'::jsonb)
                   from svc.webhook_journal w,
                        jsonb_array_elements(coalesce(w.events -> 'statuses', '[]'::jsonb)) with ordinality as s(s, n)
                  where w.id = any (p_ids))));
end;
$$;
comment on function svc.apply_queued_webhook_events(bigint[]) is
  'Applies the events of several pending journaled webhooks in one pass; returns apply_webhook_events'' counts.';

-- Applies up to p_limit pending webhooks, oldest first (skipping those another applier
-- holds), and marks them applied. If their events can't be applied together (bad data in
-- one), each is applied alone and the bad ones are journaled as failed. Transient errors
-- propagate (the caller retries; the webhooks stay pending). Returns
-- {webhooks, failed, statuses_applied, statuses_stale, statuses_early}.
create or replace function svc.apply_queued_statuses(p_limit int default 500)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
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
  if v_ids is null then
    return jsonb_build_object('webhooks', 0, 'failed', 0,
      'statuses_applied', 0, 'statuses_stale', 0, 'statuses_early', 0);
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
    'statuses_early', v_counts -> 'statuses_early');
end;
$$;
comment on function svc.apply_queued_statuses(int) is
  'Applies up to p_limit pending (status-only) journaled webhooks, oldest first, in one pass; bad ones are journaled as failed.';
