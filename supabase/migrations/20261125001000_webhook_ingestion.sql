-- Webhook ingestion: one call per webhook (or per batch of webhooks) that journals the
-- raw payload and applies the events the gateway parsed from it, in one transaction.
--
-- The gateway verifies the signature and parses the payload into typed events (crate
-- whatsapp); this file defines the events' JSON contract (see svc.ingest_webhook) and
-- applies it idempotently: uniqueness is enforced by constraints (wamid, wa_id, one open
-- conversation per contact), never by check-then-insert. Rows are touched in one global
-- order (contacts by key, messages by wamid) so concurrent batches cannot deadlock.

-- Types ---------------------------------------------------------------------------------

-- Rank of a message status on the way pending -> sent -> delivered -> read.
-- 'failed' is handled apart: it may follow pending or sent, and nothing follows it.
create or replace function svc.status_rank(p_status text)
returns int
language sql
immutable
set search_path = ''
as $$
  select case p_status
    when 'pending' then 0
    when 'sent' then 1
    when 'delivered' then 2
    when 'read' then 3
    else null
  end
$$;
comment on function svc.status_rank(text) is 'Order of message statuses (failed has none: it is final).';

-- Tables --------------------------------------------------------------------------------

create table svc.webhook_journal (
    id bigint generated always as identity primary key,
    received_at timestamptz not null default now(),
    -- The webhook exactly as Meta sent it (parsed JSON of the verified raw body).
    payload jsonb not null,
    -- The events the gateway parsed from it (the contract of svc.ingest_webhook), or
    -- null when the payload could not be parsed.
    events jsonb,
    outcome text not null check (outcome in ('applied', 'ignored', 'failed')),
    error text,
    applied_at timestamptz,
    replays int not null default 0
);
comment on table svc.webhook_journal is 'Every verified webhook, with what became of it; failed ones can be replayed.';
create index webhook_journal_failed on svc.webhook_journal (id) where outcome = 'failed';

-- Statuses for a wamid nobody has recorded yet (a status can overtake the sender's
-- record of the wamid). Applied when the wamid appears, then deleted.
create table svc.early_statuses (
    wa_message_id text not null,
    status text not null,
    occurred_at timestamptz not null,
    errors jsonb,
    received_at timestamptz not null default now(),
    primary key (wa_message_id, status)
);
comment on table svc.early_statuses is 'Delivery statuses that arrived before their message was known.';

-- The 24-hour window needs a contact's latest inbound message quickly.
create index idx_messages_conversation_created_at on public.messages (conversation_id, created_at desc);

-- Contacts and conversations --------------------------------------------------------------

-- Finds or creates the contact of a WhatsApp user. The profile name fills full_name only
-- when no name is set (an agent's edit is never overwritten); it is always kept in
-- metadata.wa_profile_name.
create or replace function svc.upsert_contact_for_sender(
    p_wa_id text,
    p_user_id text,
    p_profile_name text,
    p_at timestamptz
)
returns uuid
language plpgsql
set search_path = ''
as $$
declare
  v_id uuid;
  v_meta jsonb := case when p_profile_name is null then '{}'::jsonb
                       else jsonb_build_object('wa_profile_name', p_profile_name) end;
begin
  if p_wa_id is null and p_user_id is null then
    raise exception 'a sender needs a wa_id or a user_id' using errcode = '22023';
  end if;
  -- ON CONFLICT without a target: a concurrent insert may collide on wa_id, phone or
  -- wa_user_id, whichever unique index it reaches first; then the row exists and is updated.
  insert into public.contacts (phone, wa_id, wa_user_id, full_name, metadata, last_contacted_at)
  values (p_wa_id, p_wa_id, p_user_id, p_profile_name, v_meta, p_at)
  on conflict do nothing
  returning id into v_id;
  if v_id is not null then
    return v_id;
  end if;
  update public.contacts c
     set full_name = coalesce(c.full_name, p_profile_name),
         wa_id = coalesce(c.wa_id, p_wa_id),
         phone = coalesce(c.phone, p_wa_id),
         wa_user_id = coalesce(c.wa_user_id, p_user_id),
         metadata = coalesce(c.metadata, '{}'::jsonb) || v_meta,
         last_contacted_at = greatest(c.last_contacted_at, p_at)
   where c.id = (
     select k.id from public.contacts k
      where (p_wa_id is not null and (k.wa_id = p_wa_id or k.phone = p_wa_id))
         or (p_user_id is not null and k.wa_user_id = p_user_id)
      order by (k.wa_id = p_wa_id) desc nulls last
      limit 1)
  returning c.id into v_id;
  if v_id is null then
    raise exception 'contact for sender could not be found or created' using errcode = '40001';
  end if;
  return v_id;
end;
$$;
comment on function svc.upsert_contact_for_sender(text, text, text, timestamptz) is
  'Finds or creates the contact of a WhatsApp sender by wa_id (else business-scoped user id).';

-- The contact's open conversation, opened when there is none. A conversation that was
-- archived stays archived: a new message opens a new conversation (the archived one is
-- the record of a resolved case).
create or replace function svc.open_conversation_for(p_contact_id uuid, p_at timestamptz)
returns uuid
language plpgsql
set search_path = ''
as $$
declare
  v_id uuid;
begin
  select id into v_id from public.conversations
   where contact_id = p_contact_id and status is distinct from 'archived';
  if found then
    return v_id;
  end if;
  insert into public.conversations (contact_id, status, last_message_at, created_at)
  values (p_contact_id, 'active', p_at, least(now(), p_at))
  on conflict (contact_id) where status is distinct from 'archived' do nothing
  returning id into v_id;
  if v_id is null then
    -- Another transaction opened it at the same moment.
    select id into v_id from public.conversations
     where contact_id = p_contact_id and status is distinct from 'archived';
  end if;
  return v_id;
end;
$$;
comment on function svc.open_conversation_for(uuid, timestamptz) is
  'The contact''s open conversation; opens a new one when all are archived or none exists.';

-- Statuses ---------------------------------------------------------------------------------

-- Applies one delivery status to the message or broadcast recipient with that wamid.
-- Never backwards; failed only from pending/sent and final; read implies delivered.
-- Returns 'applied', 'stale' (already at or past it) or 'unknown' (no such wamid yet).
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

  if not v_found and p_callback_data ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    -- Our sends carry the message id as biz_opaque_callback_data: a message whose send
    -- outcome was unknown (or not yet recorded) learns its wamid from its first status.
    update public.messages
       set wa_message_id = p_wamid, status = 'sent', error_data = null
     where id = p_callback_data::uuid and wa_message_id is null and sender_type = 'agent'
       and (status = 'pending' or error_data ->> 'code' = 'unknown_outcome');
    if found then
      delete from svc.outbound_jobs where message_id = p_callback_data::uuid;
      return svc.apply_delivery_status(p_wamid, p_status, p_at, p_errors, null);
    end if;
  end if;

  if not v_found and p_callback_data ~ '^broadcast:[0-9a-f-]{36}:[0-9a-f-]{36}$' then
    -- The same for a broadcast recipient (callback data broadcast:<id>:<contact>).
    update public.broadcast_recipients
       set wa_message_id = p_wamid, status = 'sent', sent_at = coalesce(sent_at, p_at), error_message = null
     where broadcast_id = split_part(p_callback_data, ':', 2)::uuid
       and contact_id = split_part(p_callback_data, ':', 3)::uuid
       and wa_message_id is null and (status = 'pending' or error_message like 'unknown_outcome:%');
    if found then
      delete from svc.broadcast_queue
       where broadcast_id = split_part(p_callback_data, ':', 2)::uuid
         and contact_id = split_part(p_callback_data, ':', 3)::uuid;
      return svc.apply_delivery_status(p_wamid, p_status, p_at, p_errors, null);
    end if;
  end if;

  if not v_found then
    insert into svc.early_statuses (wa_message_id, status, occurred_at, errors)
    values (p_wamid, p_status, p_at, p_errors)
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

-- Applies (and forgets) the statuses that arrived before this wamid was recorded.
create or replace function svc.apply_early_statuses(p_wamid text)
returns int
language plpgsql
set search_path = ''
as $$
declare
  r record;
  v_count int := 0;
begin
  for r in
    delete from svc.early_statuses where wa_message_id = p_wamid
    returning status, occurred_at, errors
  loop
    perform svc.apply_delivery_status(p_wamid, r.status, r.occurred_at, r.errors);
    v_count := v_count + 1;
  end loop;
  return v_count;
end;
$$;
comment on function svc.apply_early_statuses(text) is 'Applies statuses that overtook the record of their wamid.';

-- Events -------------------------------------------------------------------------------------

-- Applies the parsed events of one webhook. Contract (JSON, produced by the gateway):
-- {
--   "messages": [{ "wamid", "from" (wa_id or null), "user_id" (or null), "profile_name",
--                  "timestamp" (RFC 3339, Meta's), "message_type", "content", "metadata",
--                  "context_wamid" (or null) }],
--   "statuses": [{ "wamid", "status", "timestamp", "recipient_id", "errors" (or null) }]
-- }
-- Returns counts: messages_inserted, duplicates, statuses_applied, statuses_stale,
-- statuses_early.
create or replace function svc.apply_webhook_events(p_events jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  m record;
  s record;
  v_contact uuid;
  v_conversation uuid;
  v_message uuid;
  v_inserted int := 0;
  v_duplicates int := 0;
  v_applied int := 0;
  v_stale int := 0;
  v_early int := 0;
  v_outcome text;
begin
  -- Contacts first, in key order, then messages in wamid order: one global lock order.
  for m in
    select e.*
      from jsonb_to_recordset(coalesce(p_events -> 'messages', '[]'::jsonb)) as e(
             wamid text, "from" text, user_id text, profile_name text, "timestamp" timestamptz,
             message_type text, content text, metadata jsonb, context_wamid text)
     order by coalesce(e."from", e.user_id), e.wamid
  loop
    if m.wamid is null or m."timestamp" is null or m.message_type is null then
      raise exception 'message event without wamid, timestamp or type' using errcode = '22023';
    end if;
    v_contact := svc.upsert_contact_for_sender(m."from", m.user_id, m.profile_name, m."timestamp");
    v_conversation := svc.open_conversation_for(v_contact, m."timestamp");

    insert into public.messages (
        conversation_id, sender_type, sender_id, content, message_type, status,
        metadata, created_at, delivered_at, reply_to_message_id, wa_message_id)
    values (
        v_conversation, 'contact', v_contact, m.content, m.message_type, 'delivered',
        m.metadata, m."timestamp", m."timestamp",
        (select r.id from public.messages r where r.wa_message_id = m.context_wamid),
        m.wamid)
    on conflict (wa_message_id) do nothing
    returning id into v_message;

    if v_message is null then
      v_duplicates := v_duplicates + 1;
      continue;
    end if;
    v_inserted := v_inserted + 1;

    update public.conversations
       set last_message_at = greatest(coalesce(last_message_at, m."timestamp"), m."timestamp")
     where id = v_conversation;

    -- A STOP keyword opts the contact out of broadcasts (WhatsApp's own opt-out comes as 131050).
    if m.message_type = 'text' and upper(btrim(coalesce(m.content, ''))) in ('STOP', 'BAJA', 'UNSUBSCRIBE', 'CANCELAR SUSCRIPCION') then
      update public.contacts set opted_out_at = coalesce(opted_out_at, m."timestamp") where id = v_contact;
    end if;
  end loop;

  for s in
    select e.*
      from jsonb_to_recordset(coalesce(p_events -> 'statuses', '[]'::jsonb)) as e(
             wamid text, status text, "timestamp" timestamptz, recipient_id text, errors jsonb, callback_data text)
     order by e.wamid, e."timestamp"
  loop
    if s.wamid is null or s."timestamp" is null then
      raise exception 'status event without wamid or timestamp' using errcode = '22023';
    end if;
    v_outcome := svc.apply_delivery_status(s.wamid, s.status, s."timestamp", s.errors, s.callback_data);
    case v_outcome
      when 'applied' then v_applied := v_applied + 1;
      when 'stale' then v_stale := v_stale + 1;
      else v_early := v_early + 1;
    end case;
  end loop;

  return jsonb_build_object(
    'messages_inserted', v_inserted, 'duplicates', v_duplicates,
    'statuses_applied', v_applied, 'statuses_stale', v_stale, 'statuses_early', v_early);
end;
$$;
comment on function svc.apply_webhook_events(jsonb) is 'Applies the parsed events of one webhook (contract in the function body).';

-- Errors that mean "try again later" rather than "this webhook is bad".
create or replace function svc.is_transient_error(p_sqlstate text)
returns boolean
language sql
immutable
set search_path = ''
as $$
  select p_sqlstate in ('40001', '40P01', '55P03', '57014', '53300', '53200', '57P01', '57P03')
$$;
comment on function svc.is_transient_error(text) is 'SQLSTATEs worth a retry (serialization, deadlock, lock timeout, cancel, resources).';

-- Journals one verified webhook and applies its events, in the caller's transaction.
-- A webhook whose events can't be applied is journaled as failed (replayable) and
-- acknowledged; a transient error propagates so that the caller (and Meta) retries.
create or replace function svc.journal_and_apply(p_payload jsonb, p_events jsonb, p_parse_error text)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_journal bigint;
  v_result jsonb;
  v_state text;
  v_message text;
  v_has_events boolean := jsonb_array_length(coalesce(p_events -> 'messages', '[]'::jsonb))
                        + jsonb_array_length(coalesce(p_events -> 'statuses', '[]'::jsonb)) > 0;
begin
  if p_parse_error is not null then
    insert into svc.webhook_journal (payload, events, outcome, error)
    values (p_payload, p_events, 'failed', p_parse_error)
    returning id into v_journal;
    return jsonb_build_object('journal_id', v_journal, 'outcome', 'failed', 'error', p_parse_error);
  end if;

  insert into svc.webhook_journal (payload, events, outcome, applied_at)
  values (p_payload, p_events, case when v_has_events then 'applied' else 'ignored' end, now())
  returning id into v_journal;

  begin
    v_result := svc.apply_webhook_events(p_events);
  exception when others then
    get stacked diagnostics v_state = returned_sqlstate, v_message = message_text;
    if svc.is_transient_error(v_state) then
      raise;
    end if;
    update svc.webhook_journal
       set outcome = 'failed', applied_at = null, error = v_state || ': ' || v_message
     where id = v_journal;
    return jsonb_build_object('journal_id', v_journal, 'outcome', 'failed', 'error', v_state || ': ' || v_message);
  end;
  return v_result || jsonb_build_object('journal_id', v_journal,
    'outcome', case when v_has_events then 'applied' else 'ignored' end);
end;
$$;
comment on function svc.journal_and_apply(jsonb, jsonb, text) is 'Journals one webhook and applies it; bad data is journaled as failed, transient errors propagate.';

-- The API ------------------------------------------------------------------------------------

-- One webhook: journal + apply in one transaction (the PostgREST call's).
create or replace function svc.ingest_webhook(p_payload jsonb, p_events jsonb, p_parse_error text default null)
returns jsonb
language sql
set search_path = ''
as $$
  select svc.journal_and_apply(p_payload, p_events, p_parse_error)
$$;
comment on function svc.ingest_webhook(jsonb, jsonb, text) is
  'Journals a verified webhook and applies its parsed events in one transaction; returns counts and the outcome.';

-- Several webhooks in one transaction (the gateway batches concurrent POSTs); results in
-- the order given. Events are applied webhook by webhook, each in its own savepoint.
create or replace function svc.ingest_webhooks(p_webhooks jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_results jsonb := '[]'::jsonb;
  w jsonb;
  c record;
begin
  -- One global lock order for the whole batch, so that concurrent batches can't
  -- deadlock: first every sender's contact (by key), then every message a status
  -- touches (by wamid). The per-webhook work below then only re-takes locks it holds.
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
             jsonb_array_elements(coalesce(w.value -> 'events' -> 'statuses', '[]'::jsonb)) s)
    order by wa_message_id
      for update;

  for w in select value from jsonb_array_elements(p_webhooks) loop
    v_results := v_results || jsonb_build_array(
      svc.journal_and_apply(w -> 'payload', w -> 'events', w ->> 'parse_error'));
  end loop;
  return v_results;
end;
$$;
comment on function svc.ingest_webhooks(jsonb) is
  'Journals and applies several webhooks in one transaction: [{payload, events, parse_error}] -> [result].';

-- Re-applies failed webhooks (oldest first) after a fix; returns how many now applied.
create or replace function svc.replay_failed_webhooks(p_limit int default 100)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  j record;
  v_applied int := 0;
  v_failed int := 0;
  v_state text;
  v_message text;
begin
  for j in
    select id, events from svc.webhook_journal
     where outcome = 'failed' and events is not null
     order by id
     limit p_limit
     for update skip locked
  loop
    begin
      perform svc.apply_webhook_events(j.events);
      update svc.webhook_journal
         set outcome = 'applied', applied_at = now(), error = null, replays = replays + 1
       where id = j.id;
      v_applied := v_applied + 1;
    exception when others then
      get stacked diagnostics v_state = returned_sqlstate, v_message = message_text;
      update svc.webhook_journal
         set error = v_state || ': ' || v_message, replays = replays + 1
       where id = j.id;
      v_failed := v_failed + 1;
    end;
  end loop;
  return jsonb_build_object('applied', v_applied, 'still_failed', v_failed,
    'unparsed', (select count(*) from svc.webhook_journal where outcome = 'failed' and events is null));
end;
$$;
comment on function svc.replay_failed_webhooks(int) is 'Re-applies journaled webhooks that failed; returns counts.';

-- For /metrics and operators: how many webhooks wait for a replay.
create or replace function svc.webhook_backlog()
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'failed', (select count(*) from svc.webhook_journal where outcome = 'failed'),
    'early_statuses', (select count(*) from svc.early_statuses))
$$;
comment on function svc.webhook_backlog() is 'Failed webhooks and statuses still waiting for their message.';

-- Grants: the services only.
revoke all on svc.webhook_journal, svc.early_statuses from public, anon, authenticated;
grant select, insert, update, delete on svc.webhook_journal, svc.early_statuses to service_role;
