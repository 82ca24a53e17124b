-- Status-only webhooks journaled in one insert per call.
--
-- svc.ingest_webhooks (migration ..._queued_statuses) journaled each status-only webhook
-- of a call with its own insert, and looked for the messages of the webhooks it applies
-- at once even when there were none. At 3,000 status webhooks a second (one status per
-- webhook, 1,000 sends a second) this call was the largest share of the database's time.
-- Now the status-only webhooks of a call are one insert (their ids drawn in the order
-- given, so the answer keeps the order), and the webhooks applied at once go through
-- svc.journal_and_apply as before, with the same global lock order, only when there are
-- any. The answer is unchanged: one result per webhook, in the order given.

create or replace function svc.ingest_webhooks(p_webhooks jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_queued_n bigint[];
  v_queued_id bigint[];
  v_applied_now int;
  v_results jsonb := '[]'::jsonb;
  v_webhook record;
  c record;
  v_i int;
begin
  -- 1. Status-only webhooks: journaled as pending, all at once.
  with status_only as (
    select x.n, x.w, nextval(pg_get_serial_sequence('svc.webhook_journal', 'id')) as id
      from jsonb_array_elements(p_webhooks) with ordinality as x(w, n)
     where svc.is_status_only(x.w -> 'events', x.w ->> 'parse_error')
     order by x.n
  ),
  journaled as (
    insert into svc.webhook_journal (id, payload, events, outcome)
    overriding system value
    select s.id, s.w -> 'payload', s.w -> 'events', 'pending' from status_only s
  )
  select array_agg(s.n order by s.n), array_agg(s.id order by s.n) into v_queued_n, v_queued_id
    from status_only s;

  v_applied_now := jsonb_array_length(p_webhooks) - coalesce(cardinality(v_queued_n), 0);
  if v_applied_now > 0 then
    -- 2. One global lock order for the webhooks applied now (as before): every sender's
    --    contact by key, then every message a status of theirs touches, by wamid.
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
  end if;

  -- 3. The answer, in the order given (the others journaled and applied now).
  v_i := 1;
  for v_webhook in select x.w, x.n from jsonb_array_elements(p_webhooks) with ordinality as x(w, n) loop
    if v_queued_n is not null and v_i <= cardinality(v_queued_n) and v_queued_n[v_i] = v_webhook.n then
      v_results := v_results || jsonb_build_array(
        jsonb_build_object('journal_id', v_queued_id[v_i], 'outcome', 'queued'));
      v_i := v_i + 1;
    else
      v_results := v_results || jsonb_build_array(
        svc.journal_and_apply(v_webhook.w -> 'payload', v_webhook.w -> 'events', v_webhook.w ->> 'parse_error'));
    end if;
  end loop;
  return v_results;
end;
$$;
comment on function svc.ingest_webhooks(jsonb) is
  'Journals several webhooks in one transaction: status-only ones as pending in one insert (applied by svc.apply_queued_statuses), the others applied now: [{payload, events, parse_error}] -> [result].';

-- The ids are drawn before the insert (so the answer keeps the order given).
grant usage on sequence svc.webhook_journal_id_seq to service_role;
