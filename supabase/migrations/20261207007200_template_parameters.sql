-- Parameters from the template itself (issue 16): a template's parameter layout
-- (message_templates.parameter_layout: header text or media, body positional or named,
-- URL and copy-code buttons, derived from Meta's components) is what an agent's template
-- message and a broadcast are checked against when they are queued, with an error that
-- names what is missing, so that a bad parameter never reaches Meta as error 132000 for
-- each recipient.
--
-- Agents (private.prepare_agent_message, redefined here; the trigger stays): only approved
-- templates; metadata.parameters lists one text per layout entry, in layout order (a media
-- header's is an https:// link), or is left out when every parameter is a body parameter
-- with a source in message_templates.parameters. The components sent are built from the
-- layout (header, body with parameter_name when named, buttons by index).
--
-- Broadcasts (trigger on broadcast_messages): scheduling one (and changing the template of
-- a scheduled one) checks that the recipients' parameters can be filled: broadcasts send
-- body parameters from the sources in message_templates.parameters, positional ones only,
-- one source per body parameter.

-- Describing and filling a layout ----------------------------------------------------------------

-- 'header {{1}}, body {{1}}, body {{first_name}}, button 1 (url) {{1}}, header image link'
create or replace function private.describe_template_layout(p_layout jsonb)
returns text
language sql
immutable
set search_path = ''
as $$
  select coalesce(string_agg(
           case
             when e ->> 'component' = 'header' and e ->> 'type' in ('image', 'video', 'document') then 'header ' || (e ->> 'type') || ' link'
             when e ->> 'component' = 'header' and e ->> 'type' = 'location' then 'header location'
             when e ->> 'component' = 'button' and e ->> 'sub_type' = 'copy_code' then format('button %s (copy code) coupon code', e ->> 'index')
             when e ->> 'component' = 'button' then format('button %s (%s) {{%s}}', e ->> 'index', e ->> 'sub_type', e ->> 'name')
             else format('%s {{%s}}', e ->> 'component', e ->> 'name')
           end, ', ' order by n), 'none')
    from jsonb_array_elements(p_layout) with ordinality as l(e, n);
$$;
comment on function private.describe_template_layout(jsonb) is
  'A template''s parameter layout in words, for error messages: every parameter in the order they are given.';
revoke execute on function private.describe_template_layout(jsonb) from public, anon, authenticated;

-- The components of a send (Meta's messages reference, template object): one per header,
-- body and button, with the values in layout order.
create or replace function private.template_components(p_layout jsonb, p_values jsonb, p_named boolean)
returns jsonb
language sql
immutable
set search_path = ''
as $$
  with entries as (
    select l.e, l.n, p_values ->> (l.n::int - 1) as v
      from jsonb_array_elements(p_layout) with ordinality as l(e, n)
  ), parameters as (
    select e ->> 'component' as component, e ->> 'sub_type' as sub_type, (e ->> 'index')::int as index, min(n) as first,
           jsonb_agg(case
             when e ->> 'type' in ('image', 'video', 'document')
               then jsonb_build_object('type', e ->> 'type', e ->> 'type', jsonb_build_object('link', v))
             when e ->> 'type' = 'coupon_code' then jsonb_build_object('type', 'coupon_code', 'coupon_code', v)
             when p_named and e ->> 'component' <> 'button'
               then jsonb_build_object('type', 'text', 'parameter_name', e ->> 'name', 'text', v)
             else jsonb_build_object('type', 'text', 'text', v)
           end order by n) as parameters
      from entries
     group by 1, 2, 3
  )
  select coalesce(jsonb_agg(
           case when component = 'button'
                then jsonb_build_object('type', 'button', 'sub_type', sub_type, 'index', index::text, 'parameters', parameters)
                else jsonb_build_object('type', component, 'parameters', parameters) end
           order by first), '[]'::jsonb)
    from parameters;
$$;
comment on function private.template_components(jsonb, jsonb, boolean) is
  'The template components of a send: the layout''s parameters filled with the values (header, body, buttons by index).';
revoke execute on function private.template_components(jsonb, jsonb, boolean) from public, anon, authenticated;

-- Agents -----------------------------------------------------------------------------------------------

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
  v_layout jsonb;
  v_named boolean;
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
  -- Only what Meta approved (agents see no other template; this says why to those who
  -- kept an old id).
  if v_template.status <> 'approved' or v_template.removed_at is not null then
    raise exception 'template "%" is % in WhatsApp: it can''t be sent now', v_template.name, replace(v_template.status, '_', ' ')
      using errcode = '22023',
            hint = 'Choose an approved template; an admin sees every template''s status in message_templates.';
  end if;
  v_layout := v_template.parameter_layout;
  v_count := jsonb_array_length(v_layout);
  v_named := v_template.parameter_format = 'named';

  if v_given is null then
    -- Filled from the parameter sources (one per body parameter), as broadcasts are.
    if exists (select from jsonb_array_elements(v_layout) e where e ->> 'component' <> 'body')
       or jsonb_array_length(v_template.parameters) <> v_count then
      raise exception 'template "%" takes % parameter(s)', v_template.name, v_count
        using errcode = '22023',
              hint = format('Its parameters can''t be filled from the contact: give metadata.parameters, one non-empty text per parameter in this order: %s.',
                            private.describe_template_layout(v_layout));
    end if;
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
            hint = case when v_count = 0
              then 'metadata.parameters is left out or empty: this template has none.'
              else format('metadata.parameters lists one non-empty text (at most 1024 characters) per parameter, in this order: %s; or is left out to fill them from the contact.',
                          private.describe_template_layout(v_layout)) end;
  end if;

  -- A media header takes a link Meta can fetch.
  if exists (select from jsonb_array_elements(v_layout) with ordinality as l(e, n)
              where l.e ->> 'component' = 'header' and l.e ->> 'type' in ('image', 'video', 'document')
                and (v_values ->> (l.n::int - 1)) !~ '^https://') then
    raise exception 'template "%" has a media header: its parameter is an https:// link to the file', v_template.name
      using errcode = '22023';
  end if;
  if exists (select from jsonb_array_elements(v_layout) e where e ->> 'component' = 'header' and e ->> 'type' = 'location') then
    raise exception 'template "%" has a location header, which agents can''t send yet', v_template.name
      using errcode = '22023';
  end if;

  -- {{n}} / {{name}} of the body replaced in one pass (a parameter that itself reads
  -- "{{1}}" stays as written).
  select coalesce(string_agg(
           case when m.tok ~ '^\{\{\s*[A-Za-z0-9_]+\s*\}\}$'
                then coalesce(b.vals ->> regexp_replace(m.tok, '[{}\s]', '', 'g'), m.tok)
                else m.tok end,
           '' order by m.n), '')
    into new.content
    from (select r.match[1] as tok, r.n
            from regexp_matches(v_template.content, '(\{\{\s*[A-Za-z0-9_]+\s*\}\}|[^{]+|\{)', 'g') with ordinality as r(match, n)) m
    cross join (select coalesce(jsonb_object_agg(l.e ->> 'name', v_values -> (l.n::int - 1)), '{}'::jsonb) as vals
                  from jsonb_array_elements(v_layout) with ordinality as l(e, n)
                 where l.e ->> 'component' = 'body') b;
  new.metadata := (coalesce(new.metadata, '{}'::jsonb) - 'template')
    || jsonb_build_object(
         'parameters', v_values,
         'template', jsonb_build_object(
           'name', v_template.wa_template_name,
           'language', v_template.language_code,
           'components', private.template_components(v_layout, v_values, v_named)));
  return new;
end;
$$;
comment on function private.prepare_agent_message() is
  'Before an agent''s message is written: a quote stays in its conversation; a template is resolved from message_templates (approved only, every parameter of its layout given).';
revoke execute on function private.prepare_agent_message() from public, anon, authenticated;

-- Broadcasts ------------------------------------------------------------------------------------------

-- Why a broadcast can't send this template to its recipients; null when it can.
create or replace function private.broadcast_template_problem(p_template public.message_templates)
returns text
language sql
stable
set search_path = ''
as $$
  select case
    when p_template.wa_template_name is null
      then format('template "%s" has no WhatsApp name and language', p_template.name)
    when p_template.removed_at is not null
      then format('template "%s" no longer exists in WhatsApp', p_template.name)
    when exists (select from jsonb_array_elements(p_template.parameter_layout) e where e ->> 'component' <> 'body')
      then format('template "%s" has parameters broadcasts can''t fill yet: %s (broadcasts fill body parameters only)',
                  p_template.name,
                  private.describe_template_layout((select jsonb_agg(e order by n) from jsonb_array_elements(p_template.parameter_layout) with ordinality as l(e, n)
                                                     where e ->> 'component' <> 'body')))
    when p_template.parameter_format = 'named' and jsonb_array_length(p_template.parameter_layout) > 0
      then format('template "%s" has named parameters (%s), which broadcasts can''t fill yet',
                  p_template.name, private.describe_template_layout(p_template.parameter_layout))
    when jsonb_array_length(p_template.parameters) <> jsonb_array_length(p_template.parameter_layout)
      then format('template "%s" has %s body parameter(s) (%s) but %s parameter source(s): message_templates.parameters needs one per parameter (contact.full_name, contact.phone, contact.email or a fixed text)',
                  p_template.name, jsonb_array_length(p_template.parameter_layout),
                  private.describe_template_layout(p_template.parameter_layout), jsonb_array_length(p_template.parameters))
  end;
$$;
comment on function private.broadcast_template_problem(public.message_templates) is
  'Why a broadcast can''t fill this template''s parameters for its recipients (named in words); null when it can.';
revoke execute on function private.broadcast_template_problem(public.message_templates) from public, anon, authenticated;

create or replace function private.check_broadcast_template()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_template public.message_templates%rowtype;
  v_problem text;
begin
  select * into v_template from public.message_templates t where t.id = new.template_id;
  if not found then
    return new;
  end if;
  v_problem := private.broadcast_template_problem(v_template);
  if v_problem is not null then
    raise exception 'this broadcast can''t be scheduled: %', v_problem
      using errcode = '22023',
            hint = 'Choose another template, or give the template''s parameters their sources.';
  end if;
  return new;
end;
$$;
comment on function private.check_broadcast_template() is
  'Guard trigger: a broadcast is scheduled only with a template whose parameters it can fill.';
revoke execute on function private.check_broadcast_template() from public, anon, authenticated;

create trigger b_check_broadcast_template
  before insert or update of status, template_id on public.broadcast_messages
  for each row
  when (new.status = 'scheduled' and new.template_id is not null)
  execute function private.check_broadcast_template();
