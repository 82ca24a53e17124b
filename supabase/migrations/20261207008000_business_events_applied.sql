-- Template, messaging-limit and pricing events reach the tables through the webhook path.
--
-- The gateway parses Meta's message_template_status_update, message_template_quality_update
-- and template_category_update webhooks into events.templates, the messaging limit
-- announcements (business_capability_update, phone_number_quality_update) into
-- events.messaging_limits, and a status's per-message `pricing` into statuses[].pricing.
-- Both ways a webhook is applied now apply them:
--   * svc.journal_and_apply (webhooks applied before the 200: customers' messages, and
--     anything that is not status-only) applies template and messaging-limit events and
--     records pricing after the statuses; a webhook with only such events is journaled as
--     applied, no longer as ignored;
--   * svc.apply_queued_webhook_events (status-only webhooks, applied after the 200)
--     records the pricing of the statuses it has just applied.
-- And the broadcast claim claims only broadcasts whose template Meta lets us send
-- (svc.template_sendable): a paused, disabled, rejected or removed template stops its
-- broadcasts where they are (their status_detail says why, set when the template changes)
-- until Meta approves it again; nothing fails because of the pause.

-- The events of one webhook beyond messages and statuses; returns nothing (the counts of
-- svc.apply_webhook_events stay the ingest result's contract).
create or replace function svc.apply_business_events(p_events jsonb)
returns void
language plpgsql
set search_path = ''
as $$
begin
  if jsonb_array_length(coalesce(p_events -> 'templates', '[]'::jsonb)) > 0 then
    perform svc.apply_template_events(p_events -> 'templates');
  end if;
  if jsonb_array_length(coalesce(p_events -> 'messaging_limits', '[]'::jsonb)) > 0 then
    perform svc.apply_messaging_limit_events(p_events -> 'messaging_limits');
  end if;
  if jsonb_array_length(coalesce(p_events -> 'statuses', '[]'::jsonb)) > 0 then
    perform svc.record_pricing(p_events -> 'statuses');
  end if;
end;
$$;
comment on function svc.apply_business_events(jsonb) is
  'Applies a webhook''s template and messaging-limit events and records its statuses'' pricing (after the statuses themselves).';

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
                        + jsonb_array_length(coalesce(p_events -> 'statuses', '[]'::jsonb))
                        + jsonb_array_length(coalesce(p_events -> 'templates', '[]'::jsonb))
                        + jsonb_array_length(coalesce(p_events -> 'messaging_limits', '[]'::jsonb)) > 0;
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
    perform svc.apply_business_events(p_events);
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
comment on function svc.journal_and_apply(jsonb, jsonb, text) is 'Journals one webhook and applies it (messages, statuses, template and messaging-limit events, pricing); bad data is journaled as failed, transient errors propagate.';

create or replace function svc.apply_queued_webhook_events(p_ids bigint[])
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_statuses jsonb;
  v_counts jsonb;
begin
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
  'Applies the events of several pending journaled webhooks in one pass (statuses, then their pricing); returns apply_webhook_events'' counts.';

-- The broadcast claim of migration 20261207004000_held_outcomes, with one change in step 5:
-- only broadcasts whose template is sendable (svc.template_sendable) are claimed.
create or replace function svc.claim_broadcast_recipients(
    p_owner text,
    p_phone_number_id text,
    p_max_mps double precision,
    p_limit int default 100,
    p_lease_seconds int default 30,
    p_messaging_limit int default null,
    p_now timestamptz default clock_timestamp()
)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_limit int := p_limit;
  v_pause svc.sending_pauses%rowtype;
  v_remaining bigint;
  v_broadcasts uuid[];
  v_contacts uuid[];
  v_granted int;
  v_claimed jsonb;
  v_expired_broadcasts uuid[];
  v_expired_contacts uuid[];
  v_policy svc.held_outcome_policy%rowtype;
  v_count int;
begin
  -- 1. Expired leases: the worker died; the send may have happened. Held, as for
  --    replies. (Two statements, as for replies.)
  with expired as (
    update svc.broadcast_queue q
       set lease_owner = null, lease_expires_at = null, held_since = p_now
     where q.lease_owner is not null and q.lease_expires_at < p_now
    returning q.broadcast_id, q.contact_id
  )
  select array_agg(e.broadcast_id), array_agg(e.contact_id) into v_expired_broadcasts, v_expired_contacts from expired e;
  if v_expired_broadcasts is not null then
    update public.broadcast_recipients r
       set error_message = svc.checking_delivery_message('the worker stopped while sending')
      from unnest(v_expired_broadcasts, v_expired_contacts) as e(broadcast_id, contact_id)
     where r.broadcast_id = e.broadcast_id and r.contact_id = e.contact_id and r.status = 'pending';
    perform svc.count_held_outcomes('broadcasts', 'held', cardinality(v_expired_broadcasts));
  end if;

  -- 1b. Held recipients: re-queued (same place) or failed, as for replies.
  if exists (select from svc.broadcast_queue q where q.held_since is not null) then
    select * into v_policy from svc.held_outcome_policy;
    with requeued as (
      update svc.broadcast_queue q
         set held_since = null, claimed_at = null, witness_wamid = null, evidence_at = null,
             due_at = p_now,
             last_error = 'requeued_after_unknown_outcome: witness ' || q.witness_wamid
       where q.held_since is not null
         and q.evidence_at <= p_now - make_interval(secs => v_policy.evidence_grace_seconds)
      returning q.broadcast_id, q.contact_id
    ), cleared as (
      update public.broadcast_recipients r set error_message = null
        from requeued q
       where r.broadcast_id = q.broadcast_id and r.contact_id = q.contact_id and r.status = 'pending'
    )
    select count(*) into v_count from requeued;
    perform svc.count_held_outcomes('broadcasts', 'requeued', v_count);
    with given_up as (
      delete from svc.broadcast_queue q
       where q.held_since is not null
         and q.held_since <= p_now - make_interval(secs => v_policy.hold_seconds)
      returning q.broadcast_id, q.contact_id, q.witness_wamid
    ), failed as (
      update public.broadcast_recipients r
         set status = 'failed',
             error_message = 'unknown_outcome: the send was interrupted and no evidence came within '
               || v_policy.hold_seconds || ' seconds: ' || svc.missing_evidence(g.witness_wamid)
               || ' WhatsApp may or may not have delivered it. Set it back to pending to send again.'
        from given_up g
       where r.broadcast_id = g.broadcast_id and r.contact_id = g.contact_id and r.status = 'pending'
    )
    select count(*) into v_count from given_up;
    perform svc.count_held_outcomes('broadcasts', 'failed_unknown', v_count);
  end if;

  -- 2. Paused number: one probe per interval, like replies.
  select * into v_pause from svc.sending_pauses where phone_number_id = p_phone_number_id for update;
  if found then
    if v_pause.probe_after > p_now then
      update public.broadcast_messages set status_detail = 'waiting: sending is paused (' || coalesce(v_pause.reason ->> 'title', v_pause.reason ->> 'code', 'account error') || ')'
       where status = 'sending' and status_detail is distinct from 'waiting: sending is paused (' || coalesce(v_pause.reason ->> 'title', v_pause.reason ->> 'code', 'account error') || ')';
      return '[]'::jsonb;
    end if;
    update svc.sending_pauses set probe_after = p_now + interval '30 seconds' where phone_number_id = p_phone_number_id;
    v_limit := 1;
  end if;

  -- 3. Replies first: a claimable reply waiting means broadcasts wait.
  if exists (
    select 1 from svc.outbound_jobs j
     where j.lease_owner is null and j.held_since is null and j.due_at <= p_now
       and j.seq = (select min(e.seq) from svc.outbound_jobs e where e.contact_id = j.contact_id)
  ) then
    return '[]'::jsonb;
  end if;

  -- 4. Messaging limit.
  if p_messaging_limit is not null then
    -- Concurrent claims would each see the same allowance: count one at a time.
    perform pg_advisory_xact_lock(hashtext('svc.broadcast_messaging_limit'));
    v_remaining := p_messaging_limit - svc.broadcast_users_estimate(p_now);
    if v_remaining <= 0 then
      update public.broadcast_messages
         set status_detail = format('waiting: messaging limit of %s unique users per 24 hours reached', p_messaging_limit)
       where status = 'sending' and status_detail is null;
      return '[]'::jsonb;
    end if;
    v_limit := least(v_limit, v_remaining)::int;
  end if;

  -- 5. Candidates of broadcasts still sending (a cancelled one stops here).
  select array_agg(q.broadcast_id order by q.seq), array_agg(q.contact_id order by q.seq)
    into v_broadcasts, v_contacts
    from (
      select q.broadcast_id, q.contact_id, q.seq from svc.broadcast_queue q
       where q.lease_owner is null and q.held_since is null and q.due_at <= p_now
         and exists (select 1 from public.broadcast_messages b
                      where b.id = q.broadcast_id and b.status = 'sending' and svc.template_sendable(b.template_id))
       order by q.seq
       limit v_limit
       for update of q skip locked
    ) q;
  if v_broadcasts is null then
    return '[]'::jsonb;
  end if;

  -- 5b. Contacts blocked or opted out since the audience was materialized (or while the
  --     recipient waited for a retry): skipped now, without an API call or a token.
  with refused as (
    delete from svc.broadcast_queue q
     using unnest(v_broadcasts, v_contacts) as c(broadcast_id, contact_id), public.contacts k
     where q.broadcast_id = c.broadcast_id and q.contact_id = c.contact_id
       and k.id = c.contact_id and (k.status = 'blocked' or k.opted_out_at is not null)
    returning q.broadcast_id, q.contact_id, k.status = 'blocked' as blocked
  ), skipped as (
    update public.broadcast_recipients r
       set status = 'failed',
           error_message = case when refused.blocked then 'skipped: contact is blocked' else 'skipped: contact opted out' end
      from refused
     where r.broadcast_id = refused.broadcast_id and r.contact_id = refused.contact_id and r.status = 'pending'
    returning r.contact_id
  )
  select array_agg(c.broadcast_id order by c.n), array_agg(c.contact_id order by c.n)
    into v_broadcasts, v_contacts
    from unnest(v_broadcasts, v_contacts) with ordinality as c(broadcast_id, contact_id, n)
   where (c.broadcast_id, c.contact_id) not in (select r.broadcast_id, r.contact_id from refused r);
  if v_broadcasts is null then
    return '[]'::jsonb;
  end if;

  -- Tokens on the clock of now, not of when the claim began (see svc.take_send_tokens).
  v_granted := svc.take_send_tokens(p_phone_number_id, cardinality(v_broadcasts), p_max_mps, greatest(p_now, clock_timestamp()));
  if v_granted = 0 then
    return '[]'::jsonb;
  end if;
  -- The messaging limit's estimate counts every lease (see svc.broadcast_limit_tally).
  -- Claims under a limit hold the advisory lock; unlimited ones leave the tally alone
  -- (every worker of a number runs with the same limit).
  if p_messaging_limit is not null then
    update svc.broadcast_limit_tally set claimed_since = claimed_since + v_granted;
  end if;

  with chosen as (
    select c.broadcast_id, c.contact_id
      from unnest(v_broadcasts[1:v_granted], v_contacts[1:v_granted]) as c(broadcast_id, contact_id)
  ), leased as (
    update svc.broadcast_queue q
       set lease_owner = p_owner,
           lease_expires_at = p_now + make_interval(secs => p_lease_seconds),
           claimed_at = p_now, witness_wamid = null, evidence_at = null,
           attempts = q.attempts + 1,
           first_attempt_at = coalesce(q.first_attempt_at, p_now)
      from chosen c
     where q.broadcast_id = c.broadcast_id and q.contact_id = c.contact_id
    returning q.*
  )
  select coalesce(jsonb_agg(jsonb_build_object(
           'broadcast_id', l.broadcast_id,
           'contact_id', l.contact_id,
           'to', coalesce(k.wa_id, k.phone, k.wa_user_id),
           'template', t.wa_template_name,
           'language', t.language_code,
           'parameters', (
             select coalesce(jsonb_agg(
                      case p.source
                        when 'contact.full_name' then coalesce(nullif(k.full_name, ''), 'cliente')
                        when 'contact.phone' then coalesce(k.phone, '')
                        when 'contact.email' then coalesce(k.email, '')
                        else p.source
                      end order by p.ord), '[]'::jsonb)
               from jsonb_array_elements_text(t.parameters) with ordinality as p(source, ord)),
           'attempts', l.attempts,
           'first_attempt_at', l.first_attempt_at,
           'probe', v_pause.phone_number_id is not null
         ) order by l.seq), '[]'::jsonb)
    into v_claimed
    from leased l
    join public.broadcast_messages b on b.id = l.broadcast_id
    join public.message_templates t on t.id = b.template_id
    join public.contacts k on k.id = l.contact_id;

  update public.broadcast_messages set status_detail = null
   where status = 'sending' and status_detail is not null
     and id in (select (c ->> 'broadcast_id')::uuid from jsonb_array_elements(v_claimed) c);
  return v_claimed;
end;
$$;
-- As before (migrations ..._broadcasts, ..._business_messages).
alter function svc.claim_broadcast_recipients(text, text, double precision, int, int, int, timestamptz) set enable_seqscan = off;
alter function svc.claim_broadcast_recipients(text, text, double precision, int, int, int, timestamptz) set jit = off;
comment on function svc.claim_broadcast_recipients(text, text, double precision, int, int, int, timestamptz) is
  'Claims recipients of sending broadcasts whose template is sendable, leased, within the shared rate limit and the messaging limit, after replies; holds, re-queues or fails unknown outcomes.';
