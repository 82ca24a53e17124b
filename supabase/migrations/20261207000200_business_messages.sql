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
-- Both claim functions fail the candidates whose contact became unreachable (step 3b of
-- svc.claim_outbound_messages, 5b of svc.claim_broadcast_recipients), without an API call
-- or a token. They are re-created with that step, and with held outcomes, in migration
-- 20261207004000_held_outcomes (one definition instead of two in a row).

revoke execute on function svc.check_contact_reachable(uuid, boolean) from public, anon, authenticated;
grant execute on function svc.check_contact_reachable(uuid, boolean) to service_role;
