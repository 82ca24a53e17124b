-- One rule for business-initiated messages, and quoted replies within their conversation.
--
-- Blocked and opted-out contacts: a blocked contact gets nothing from the business; an
-- opted-out one (STOP keyword, WhatsApp error 131050) gets no template and no broadcast,
-- and a free-form reply only to a message they sent after opting out (then the customer
-- started the exchange: answering them is service, not business-initiated). Checked
-- where a message is queued (an agent's insert, a broadcast's materialized audience, an
-- admin's retry of a recipient) and again where it is claimed for sending (a contact may
-- opt out, or be blocked, in between; a send that failed and waits for its retry is
-- claimed again). What is refused fails with a clear error and costs no API call and no
-- rate-limit token: a message with error_data.code 'contact_blocked' or
-- 'contact_opted_out', a broadcast recipient with error_message 'skipped: ...'.
--
-- Templates sent by agents: chosen by id from message_templates (messages.template_id),
-- never named in metadata. The parameters are the agent's (metadata.parameters, one
-- non-empty text per entry of the template's parameter layout) or, when left out, filled
-- from the layout as broadcasts fill them (contact.full_name, contact.phone,
-- contact.email, else the entry itself). The insert resolves the template into
-- metadata.template (WhatsApp name, language, body components: what the sender sends)
-- and content (the template's text with its parameters: what the agent sees was sent).
--
-- Quoted replies: reply_to_message_id must be a message of the same conversation (the
-- sender passes the quoted message's wamid to WhatsApp as the reply's context).

-- messages.template_id ---------------------------------------------------------------------

alter table public.messages
  add column template_id uuid references public.message_templates (id) on delete set null;
comment on column public.messages.template_id is
  'The approved template an agent sent (message_type template); resolved into metadata.template at insert. Deleting the template keeps the message''s record (metadata.template, content).';
create index idx_messages_template_id on public.messages (template_id);
alter table public.messages
  add constraint messages_template_id_only_for_templates
  check (template_id is null or message_type = 'template');

grant insert (template_id) on public.messages to authenticated;

-- Template messages queued before this migration named their template in metadata: they
-- are not sent (nothing says the agent could choose that template).
with stale as (
  delete from svc.outbound_jobs j
   using public.messages m
   where m.id = j.message_id and m.message_type = 'template' and m.template_id is null
     and j.lease_owner is null
  returning j.message_id
)
update public.messages m
   set status = 'failed',
       error_data = jsonb_build_object(
         'code', 'template_not_chosen',
         'title', 'Template not sent',
         'details', 'This template was named in metadata instead of chosen from the approved templates; choose it again to send it.',
         'source', 'sender', 'at', now())
  from stale
 where m.id = stale.message_id and m.status = 'pending';

-- Reachability ------------------------------------------------------------------------------

-- Why nothing may be sent to this contact now (error_data for the message), or null.
-- p_template: a template (business-initiated at any time) rather than a free-form reply.
create or replace function svc.check_contact_reachable(p_contact_id uuid, p_template boolean)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
  v_contact public.contacts%rowtype;
begin
  select * into v_contact from public.contacts where id = p_contact_id;
  if v_contact.status = 'blocked' then
    return jsonb_build_object(
      'code', 'contact_blocked',
      'title', 'The contact is blocked',
      'details', 'An admin blocked this contact: nothing is sent to them until an admin unblocks them.',
      'source', 'sender', 'at', now());
  end if;
  if v_contact.opted_out_at is not null and (
       p_template
       or not exists (
         select from public.conversations c
           join public.messages i on i.conversation_id = c.id
          where c.contact_id = p_contact_id
            and i.sender_type = 'contact'
            and i.created_at > v_contact.opted_out_at)) then
    return jsonb_build_object(
      'code', 'contact_opted_out',
      'title', 'The contact opted out',
      'details', case when p_template
        then 'The customer asked not to receive messages from this business: templates are never sent to them.'
        else 'The customer asked not to receive messages from this business: a reply can be sent only after they write again.' end,
      'source', 'sender', 'at', now());
  end if;
  return null;
end;
$$;
comment on function svc.check_contact_reachable(uuid, boolean) is
  'Why a business message may not be sent to a contact now (blocked, opted out), as error_data; null when it may.';

-- Agents' messages: template and quote, before the row is written --------------------------

create or replace function private.prepare_agent_message()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_template public.message_templates%rowtype;
  v_contact public.contacts%rowtype;
  v_given jsonb := nullif(new.metadata -> 'parameters', 'null'::jsonb);
  v_values jsonb;
  v_count int;
  v_conversation public.conversations%rowtype;
begin
  select * into v_conversation from public.conversations c where c.id = new.conversation_id;
  -- An API user writing into a conversation they can't see: say nothing here (this
  -- function sees every row), the insert policy refuses it (42501). Mirrors the
  -- conversations' select policy.
  if auth.uid() is not null
     and not coalesce(v_conversation.assigned_agent_id = private.active_user_id() or private.is_admin(), false) then
    return new;
  end if;

  if new.metadata is not null and jsonb_typeof(new.metadata) <> 'object' then
    raise exception 'metadata must be a JSON object'
      using errcode = '22023';
  end if;

  -- A conversation closed for good (archived, and the customer has a newer one) sends
  -- nothing: the customer is the newer conversation's now.
  if v_conversation.status = 'archived' and private.is_superseded(v_conversation) then
    raise exception 'this conversation is closed for good: write in the customer''s latest conversation'
      using errcode = '55000';
  end if;

  -- The same error whether the quoted message exists elsewhere or not at all: it tells
  -- nothing about conversations the caller can't see.
  if new.reply_to_message_id is not null and not exists (
       select from public.messages r
        where r.id = new.reply_to_message_id and r.conversation_id = new.conversation_id) then
    raise exception 'a reply can quote only a message of its own conversation'
      using errcode = '22023';
  end if;

  if new.message_type is distinct from 'template' then
    return new;
  end if;
  if new.template_id is null then
    raise exception 'a template message names its template by template_id'
      using errcode = '22023',
            hint = 'Choose one of the approved templates in message_templates; metadata cannot name a template.';
  end if;
  select * into v_template from public.message_templates where id = new.template_id;
  if not found or v_template.wa_template_name is null then
    raise exception 'template_id is not an approved WhatsApp template'
      using errcode = '22023',
            hint = 'A template needs its WhatsApp name and language (wa_template_name, language_code).';
  end if;
  v_count := jsonb_array_length(v_template.parameters);

  if v_given is null then
    select * into v_contact from public.contacts k where k.id = v_conversation.contact_id;
    select coalesce(jsonb_agg(
             case p.source
               when 'contact.full_name' then coalesce(nullif(v_contact.full_name, ''), 'cliente')
               when 'contact.phone' then coalesce(v_contact.phone, '')
               when 'contact.email' then coalesce(v_contact.email, '')
               else p.source
             end order by p.ord), '[]'::jsonb)
      into v_values
      from jsonb_array_elements_text(v_template.parameters) with ordinality as p(source, ord);
  elsif jsonb_typeof(v_given) = 'array'
        and jsonb_array_length(v_given) = v_count
        and not exists (
          select from jsonb_array_elements(v_given) e
           where jsonb_typeof(e) <> 'string' or btrim(e #>> '{}') = '' or length(e #>> '{}') > 1024) then
    v_values := v_given;
  else
    raise exception 'template "%" takes % parameter(s)', v_template.name, v_count
      using errcode = '22023',
            hint = format('metadata.parameters lists one non-empty text (at most 1024 characters) per parameter, %s in all, or is left out to fill them from the contact.', v_count);
  end if;

  -- {{n}} replaced in one pass (a parameter that itself reads "{{1}}" stays as written).
  select coalesce(string_agg(
           case when m.tok ~ '^\{\{[0-9]+\}\}$'
                then coalesce(v_values ->> (substring(m.tok from 3 for length(m.tok) - 4)::int - 1), m.tok)
                else m.tok end,
           '' order by m.n), '')
    into new.content
    from (select r.match[1] as tok, r.n
            from regexp_matches(v_template.content, '(\{\{[0-9]+\}\}|[^{]+|\{)', 'g') with ordinality as r(match, n)) m;
  new.metadata := (coalesce(new.metadata, '{}'::jsonb) - 'template')
    || jsonb_build_object(
         'parameters', v_values,
         'template', jsonb_build_object(
           'name', v_template.wa_template_name,
           'language', v_template.language_code,
           'components', case when v_count = 0 then '[]'::jsonb else jsonb_build_array(jsonb_build_object(
             'type', 'body',
             'parameters', (select jsonb_agg(jsonb_build_object('type', 'text', 'text', e.v) order by e.n)
                              from jsonb_array_elements_text(v_values) with ordinality as e(v, n)))) end));
  return new;
end;
$$;
comment on function private.prepare_agent_message() is
  'Before an agent''s message is written: a quote stays in its conversation; a template is resolved from message_templates.';
revoke execute on function private.prepare_agent_message() from public, anon, authenticated;

-- Only what is to be sent ('pending', the one status agents may insert): the services may
-- record an agent's message that was sent elsewhere as it was.
create trigger on_agent_message_prepared
  before insert on public.messages
  for each row
  when (new.sender_type = 'agent' and new.status = 'pending')
  execute function private.prepare_agent_message();

-- Queue time: replies and templates to unreachable contacts fail at once ----------------------

create or replace function private.track_agent_message()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_first_inbound timestamptz;
  v_contact uuid;
  v_refusal jsonb;
begin
  if new.sender_type <> 'agent' then
    return new;
  end if;
  select c.contact_id into v_contact from public.conversations c where c.id = new.conversation_id;
  select min(m.created_at) into v_first_inbound
    from public.messages m
   where m.conversation_id = new.conversation_id and m.sender_type = 'contact';
  update public.conversations c
     set last_message_at = greatest(coalesce(c.last_message_at, new.created_at), new.created_at),
         last_agent_response_at = greatest(coalesce(c.last_agent_response_at, new.created_at), new.created_at),
         first_response_time = coalesce(c.first_response_time,
           case when v_first_inbound is not null and new.created_at >= v_first_inbound
                then new.created_at - v_first_inbound end)
   where c.id = new.conversation_id;
  update public.contacts k
     set last_contacted_at = greatest(coalesce(k.last_contacted_at, new.created_at), new.created_at)
   where k.id = v_contact;
  if new.status = 'pending' then
    v_refusal := svc.check_contact_reachable(v_contact, new.message_type = 'template');
    if v_refusal is not null then
      update public.messages set status = 'failed', error_data = v_refusal where id = new.id;
    else
      insert into svc.outbound_jobs (message_id, contact_id) values (new.id, v_contact);
    end if;
  end if;
  return new;
end;
$$;
comment on function private.track_agent_message() is
  'On an agent message: conversation metrics, contact last_contacted_at, and the send queue for pending ones (unless the contact is unreachable).';

-- An admin's retry of a recipient is refused while the contact is blocked or opted out.
create or replace function private.requeue_broadcast_recipient()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_refusal jsonb := svc.check_contact_reachable(new.contact_id, true);
begin
  if new.status = 'pending' and old.status = 'failed' then
    if v_refusal is not null then
      raise exception 'this recipient can''t be sent to again: %', lower(v_refusal ->> 'title')
        using errcode = '55000', hint = v_refusal ->> 'details';
    end if;
    new.error_message := null;
    -- A completed broadcast is sending again until its retried recipients are final.
    update public.broadcast_messages set status = 'sending', sent_at = null, status_detail = null
     where id = new.broadcast_id and status = 'completed';
    insert into svc.broadcast_queue (broadcast_id, contact_id)
    select new.broadcast_id, new.contact_id
     where exists (select 1 from public.broadcast_messages where id = new.broadcast_id and status = 'sending')
    on conflict do nothing;
  end if;
  return new;
end;
$$;

-- Claim time --------------------------------------------------------------------------------
-- The two claim functions as before (migrations ..._outbound and ..._broadcasts), each with
-- one more step that fails the candidates whose contact became unreachable.

create or replace function svc.claim_outbound_messages(
    p_owner text,
    p_phone_number_id text,
    p_max_mps double precision,
    p_limit int default 50,
    p_lease_seconds int default 30,
    p_now timestamptz default clock_timestamp()
)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_limit int := p_limit;
  v_pause svc.sending_pauses%rowtype;
  v_candidates uuid[];
  v_granted int;
  v_claimed jsonb;
  v_expired uuid[];
  v_expired_owners text[];
begin
  -- 1. Leases that expired: the sender died after claiming; the send may have happened.
  --    (Two statements: joined in one, a planner with stale statistics walked every
  --    message for an empty list of expired leases.)
  with expired as (
    delete from svc.outbound_jobs j
     where j.lease_owner is not null and j.lease_expires_at < p_now
    returning j.message_id, j.lease_owner
  )
  select array_agg(e.message_id), array_agg(e.lease_owner) into v_expired, v_expired_owners from expired e;
  if v_expired is not null then
    update public.messages m
       set status = 'failed',
           error_data = jsonb_build_object(
             'code', 'unknown_outcome',
             'title', 'Sending was interrupted',
             'details', 'The sender stopped while this message was being sent; WhatsApp may or may not have received it. Check with the customer before sending it again.',
             'sender', e.owner, 'at', p_now)
      from unnest(v_expired, v_expired_owners) as e(message_id, owner)
     where m.id = e.message_id and m.status = 'pending';
  end if;

  -- 2. Paused number: at most one probe per interval.
  select * into v_pause from svc.sending_pauses where phone_number_id = p_phone_number_id for update;
  if found then
    if v_pause.probe_after > p_now then
      return '[]'::jsonb;
    end if;
    update svc.sending_pauses set probe_after = p_now + interval '30 seconds'
     where phone_number_id = p_phone_number_id;
    v_limit := 1;
  end if;

  -- 3. Candidates: due, unleased, first of their contact. "First" is a correlated
  --    min() (a parameterized index probe per row, whatever the statistics say): a NOT
  --    EXISTS anti join planned while the queue was empty scanned it whole per row.
  select array_agg(message_id order by seq) into v_candidates
    from (
      select j.message_id, j.seq
        from svc.outbound_jobs j
       where j.lease_owner is null and j.due_at <= p_now
         and j.seq = (select min(e.seq) from svc.outbound_jobs e where e.contact_id = j.contact_id)
       order by j.seq
       limit v_limit
       for update of j skip locked
    ) c;
  if v_candidates is null then
    return '[]'::jsonb;
  end if;

  -- 3b. Contacts blocked or opted out since the message was queued (or while it waited
  --     for a retry): failed now, without an API call or a token.
  with checked as (
    select j.message_id, svc.check_contact_reachable(j.contact_id, m.message_type = 'template') as refusal
      from svc.outbound_jobs j
      join public.messages m on m.id = j.message_id
     where j.message_id = any (v_candidates)
  ), refused as (
    delete from svc.outbound_jobs j
     using checked
     where j.message_id = checked.message_id and checked.refusal is not null
    returning j.message_id
  ), failed as (
    update public.messages m
       set status = 'failed', error_data = checked.refusal
      from checked
     where m.id = checked.message_id and checked.refusal is not null and m.status = 'pending'
    returning m.id
  )
  select array_agg(u.c order by u.n) into v_candidates
    from unnest(v_candidates) with ordinality as u(c, n)
   where u.c not in (select r.message_id from refused r);
  if v_candidates is null then
    return '[]'::jsonb;
  end if;

  -- 4. Free-form candidates outside the 24-hour window (counted from Meta's timestamp
  --    of the customer's last message) fail now, without an API call or a token.
  with closed as (
    delete from svc.outbound_jobs j
     using public.messages m
     where j.message_id = any (v_candidates)
       and m.id = j.message_id
       and m.message_type <> 'template'
       and coalesce((select max(i.created_at)
                       from public.messages i
                       join public.conversations c on c.id = i.conversation_id
                      where c.contact_id = j.contact_id and i.sender_type = 'contact'), '-infinity') < p_now - interval '24 hours'
    returning j.message_id
  ), failed as (
    update public.messages m
       set status = 'failed',
           error_data = jsonb_build_object(
             'code', 131047,
             'title', 'Outside the 24-hour customer service window',
             'details', 'The customer last wrote more than 24 hours ago; only an approved template can be sent now.',
             'source', 'sender', 'at', p_now)
      from closed
     where m.id = closed.message_id
    returning m.id
  )
  select array_agg(u.c order by u.n) into v_candidates
    from unnest(v_candidates) with ordinality as u(c, n)
   where u.c not in (select f.id from failed f);
  if v_candidates is null then
    return '[]'::jsonb;
  end if;

  -- 5. Tokens for as many as we send now; the rest stay queued.
  -- Tokens on the clock of now, not of when the claim began (see svc.take_send_tokens).
  v_granted := svc.take_send_tokens(p_phone_number_id, cardinality(v_candidates), p_max_mps, greatest(p_now, clock_timestamp()));
  if v_granted = 0 then
    return '[]'::jsonb;
  end if;

  with leased as (
    update svc.outbound_jobs j
       set lease_owner = p_owner,
           lease_expires_at = p_now + make_interval(secs => p_lease_seconds),
           attempts = j.attempts + 1,
           first_attempt_at = coalesce(j.first_attempt_at, p_now)
     where j.message_id = any (v_candidates[1:v_granted])
    returning j.*
  )
  select coalesce(jsonb_agg(jsonb_build_object(
           'message_id', m.id,
           'conversation_id', m.conversation_id,
           'to', coalesce(k.wa_id, k.phone),
           'recipient_user_id', k.wa_user_id,
           'message_type', m.message_type,
           'content', m.content,
           'media_url', m.media_url,
           'metadata', m.metadata,
           'reply_to_wamid', r.wa_message_id,
           'attempts', l.attempts,
           'first_attempt_at', l.first_attempt_at,
           'probe', v_pause.phone_number_id is not null
         ) order by l.seq), '[]'::jsonb)
    into v_claimed
    from leased l
    join public.messages m on m.id = l.message_id
    join public.contacts k on k.id = l.contact_id
    left join public.messages r on r.id = m.reply_to_message_id;
  return v_claimed;
end;
$$;
-- The queue's statistics lag behind bursts (an empty table that just got thousands of
-- rows): without this the planner may scan the whole queue per candidate, for every claim,
-- until autovacuum analyzes it. Every query here has an index to use.
alter function svc.claim_outbound_messages(text, text, double precision, int, int, timestamptz) set enable_seqscan = off;
-- Likewise a queue that just filled looks nearly empty: the candidates were read whole
-- (bitmap scan) and sorted, 30 ms per claim for 20,000 queued, instead of walking the
-- queue's index in order and stopping at the limit.
alter function svc.claim_outbound_messages(text, text, double precision, int, int, timestamptz) set enable_bitmapscan = off;
alter function svc.claim_outbound_messages(text, text, double precision, int, int, timestamptz) set enable_sort = off;
-- Disabled plans cost 10^10, above jit_above_cost: without this a plan left with a
-- disabled node would be JIT-compiled (~100 ms) on every claim.
alter function svc.claim_outbound_messages(text, text, double precision, int, int, timestamptz) set jit = off;
comment on function svc.claim_outbound_messages(text, text, double precision, int, int, timestamptz) is
  'Claims due replies in order per contact, within the shared rate limit, with a lease; fails closed-window free-form messages.';

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
begin
  -- 1. Expired leases: the worker died; the send may have happened. Never resent. (Two
  --    statements, as for replies: joined in one, stale statistics can walk every recipient.)
  with expired as (
    delete from svc.broadcast_queue q
     where q.lease_owner is not null and q.lease_expires_at < p_now
    returning q.broadcast_id, q.contact_id
  )
  select array_agg(e.broadcast_id), array_agg(e.contact_id) into v_expired_broadcasts, v_expired_contacts from expired e;
  if v_expired_broadcasts is not null then
    update public.broadcast_recipients r
       set status = 'failed',
           error_message = 'unknown_outcome: the worker stopped while sending; WhatsApp may or may not have delivered it. Set it back to pending to send again.'
      from unnest(v_expired_broadcasts, v_expired_contacts) as e(broadcast_id, contact_id)
     where r.broadcast_id = e.broadcast_id and r.contact_id = e.contact_id and r.status = 'pending';
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
     where j.lease_owner is null and j.due_at <= p_now
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
       where q.lease_owner is null and q.due_at <= p_now
         and exists (select 1 from public.broadcast_messages b where b.id = q.broadcast_id and b.status = 'sending')
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
-- As for replies (migration 2000): statistics lag behind a freshly materialized audience.
alter function svc.claim_broadcast_recipients(text, text, double precision, int, int, int, timestamptz) set enable_seqscan = off;
-- A seq scan disabled this way still costs 10^10, far above jit_above_cost: the status
-- updates of broadcast_messages (no index on status) were JIT-compiled, 120 ms per claim
-- while waiting on the messaging limit. Short OLTP queries never gain from JIT.
alter function svc.claim_broadcast_recipients(text, text, double precision, int, int, int, timestamptz) set jit = off;
comment on function svc.claim_broadcast_recipients(text, text, double precision, int, int, int, timestamptz) is
  'Claims recipients of sending broadcasts, leased, within the shared rate limit and the messaging limit, after replies.';

revoke execute on function svc.check_contact_reachable(uuid, boolean) from public, anon, authenticated;
grant execute on function svc.check_contact_reachable(uuid, boolean) to service_role;
