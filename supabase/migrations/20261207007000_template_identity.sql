-- Templates as Meta knows them (issue 16): each message_templates row gains the WhatsApp
-- Business Account's identity and state of the template (id, status, category, quality,
-- components) and the parameter layout derived from its components.
--
-- Who writes what:
-- - Meta's columns (wa_template_id, status, status_reason, wa_category, quality_score,
--   components, parameter_format, synced_at, removed_at) are written by the template sync
--   and the template webhooks (svc functions, service_role); the API roles can't.
-- - parameter_layout is derived by a trigger, never written by anyone.
-- - Admins may still create a template by hand (name, content, WhatsApp name, language,
--   parameter sources): it counts as approved (status defaults to 'approved': the admin
--   vouches for it) until the next sync adopts it by (WhatsApp name, language) or, when
--   Meta doesn't know it, marks it removed.
-- - A template deleted in Meta is marked (removed_at, status 'deleted'), never deleted:
--   messages and broadcasts keep referring to it.
--
-- Agents see only templates they can send: approved and not removed (policy below).

-- Columns ------------------------------------------------------------------------------------

alter table public.message_templates
  add column wa_template_id text,
  add column status text not null default 'approved',
  add column status_reason text,
  add column wa_category text,
  add column quality_score text,
  add column components jsonb not null default '[]',
  add column parameter_format text not null default 'positional',
  add column parameter_layout jsonb not null default '[]',
  add column synced_at timestamptz,
  add column removed_at timestamptz,
  add constraint message_templates_wa_template_id unique (wa_template_id),
  -- Meta's template statuses (message_template_status_update events and the list's status).
  add constraint message_templates_status check (status in (
    'approved', 'pending', 'rejected', 'paused', 'disabled', 'in_appeal',
    'pending_deletion', 'deleted', 'archived', 'limit_exceeded', 'locked')),
  add constraint message_templates_wa_category
    check (wa_category is null or wa_category in ('marketing', 'utility', 'authentication')),
  add constraint message_templates_quality_score
    check (quality_score is null or quality_score in ('green', 'yellow', 'red', 'unknown')),
  add constraint message_templates_components_array check (jsonb_typeof(components) = 'array'),
  add constraint message_templates_parameter_format
    check (parameter_format in ('positional', 'named')),
  add constraint message_templates_removed_is_deleted
    check (removed_at is null or status = 'deleted');

comment on column public.message_templates.wa_template_id is
  'Meta''s template id (message_template_id in webhooks); null for a hand-made template not synced yet.';
comment on column public.message_templates.status is
  'Meta''s status, lower case: only approved templates are sent (agents see no others). Hand-made rows start approved.';
comment on column public.message_templates.status_reason is
  'Meta''s reason for the last status change (rejection or pause reason), if it gave one.';
comment on column public.message_templates.wa_category is
  'Meta''s category: marketing, utility or authentication (what a message costs depends on it).';
comment on column public.message_templates.quality_score is
  'Meta''s quality rating: green, yellow, red or unknown.';
comment on column public.message_templates.components is
  'Meta''s components (HEADER, BODY, FOOTER, BUTTONS) as listed by GET /{waba-id}/message_templates.';
comment on column public.message_templates.parameter_format is
  'positional ({{1}}) or named ({{first_name}}) body parameters (Meta''s parameter_format).';
comment on column public.message_templates.parameter_layout is
  'Derived from components (or, for a hand-made template, from parameters): every parameter a send must fill, in order: {component: header|body|button, type: text|image|video|document|location|coupon_code, name, index?, sub_type?}.';
comment on column public.message_templates.synced_at is
  'When the sync or a template webhook last saw this template in Meta.';
comment on column public.message_templates.removed_at is
  'When Meta no longer had this template (deleted there); the row stays for the history that refers to it.';

-- Parameter layout --------------------------------------------------------------------------

-- The placeholders of one text ({{1}}, {{first_name}}), each once, in order: by number when
-- positional, by first appearance when named.
create or replace function private.template_placeholders(p_text text, p_format text)
returns text[]
language sql
immutable
set search_path = ''
as $$
  select coalesce(array_agg(p.name order by
           case when p_format = 'positional' and p.name ~ '^[0-9]+$' then p.name::int end,
           p.first_seen), '{}')
    from (select m.match[1] as name, min(m.n) as first_seen
            from regexp_matches(coalesce(p_text, ''), '\{\{\s*([A-Za-z0-9_]+)\s*\}\}', 'g')
                 with ordinality as m(match, n)
           group by m.match[1]) p;
$$;
comment on function private.template_placeholders(text, text) is
  'The distinct {{...}} placeholders of a template text, in the order a send fills them.';

-- Every parameter a send of this template fills, in order: header, body, buttons.
create or replace function private.template_parameter_layout(
  p_components jsonb, p_parameter_format text, p_parameters jsonb)
returns jsonb
language plpgsql
immutable
set search_path = ''
as $$
declare
  v_layout jsonb := '[]'::jsonb;
  v_component jsonb;
  v_button jsonb;
  v_index int;
  v_name text;
  v_format text;
begin
  -- A hand-made template (no components): its body has one parameter per source.
  if jsonb_typeof(p_components) is distinct from 'array' or jsonb_array_length(p_components) = 0 then
    select coalesce(jsonb_agg(jsonb_build_object('component', 'body', 'type', 'text', 'name', n::text) order by n), '[]'::jsonb)
      into v_layout
      from generate_series(1, case when jsonb_typeof(p_parameters) = 'array' then jsonb_array_length(p_parameters) else 0 end) n;
    return v_layout;
  end if;

  for v_component in select c from jsonb_array_elements(p_components) c
                      order by case upper(c ->> 'type') when 'HEADER' then 1 when 'BODY' then 2 when 'BUTTONS' then 3 else 4 end
  loop
    case upper(v_component ->> 'type')
      when 'HEADER' then
        v_format := upper(coalesce(v_component ->> 'format', 'TEXT'));
        if v_format = 'TEXT' then
          foreach v_name in array private.template_placeholders(v_component ->> 'text', p_parameter_format) loop
            v_layout := v_layout || jsonb_build_object('component', 'header', 'type', 'text', 'name', v_name);
          end loop;
        elsif v_format in ('IMAGE', 'VIDEO', 'DOCUMENT', 'LOCATION') then
          v_layout := v_layout || jsonb_build_object('component', 'header', 'type', lower(v_format), 'name', lower(v_format));
        end if;
      when 'BODY' then
        foreach v_name in array private.template_placeholders(v_component ->> 'text', p_parameter_format) loop
          v_layout := v_layout || jsonb_build_object('component', 'body', 'type', 'text', 'name', v_name);
        end loop;
      when 'BUTTONS' then
        v_index := 0;
        for v_button in select b from jsonb_array_elements(coalesce(v_component -> 'buttons', '[]'::jsonb)) b loop
          if upper(v_button ->> 'type') = 'URL' then
            foreach v_name in array private.template_placeholders(v_button ->> 'url', 'positional') loop
              v_layout := v_layout || jsonb_build_object('component', 'button', 'sub_type', 'url',
                                                         'index', v_index, 'type', 'text', 'name', v_name);
            end loop;
          elsif upper(v_button ->> 'type') = 'COPY_CODE' then
            v_layout := v_layout || jsonb_build_object('component', 'button', 'sub_type', 'copy_code',
                                                       'index', v_index, 'type', 'coupon_code', 'name', 'coupon_code');
          end if;
          v_index := v_index + 1;
        end loop;
      else
        null;
    end case;
  end loop;
  return v_layout;
end;
$$;
comment on function private.template_parameter_layout(jsonb, text, jsonb) is
  'The parameter layout of a template: header text placeholders or media, body placeholders (positional or named), URL button suffixes and copy-code buttons; from parameters when there are no components.';

create or replace function private.derive_template_layout()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  new.parameter_layout := private.template_parameter_layout(new.components, new.parameter_format, new.parameters);
  return new;
end;
$$;
comment on function private.derive_template_layout() is
  'Trigger: message_templates.parameter_layout follows components, parameter_format and parameters.';
revoke execute on function private.derive_template_layout() from public, anon, authenticated;

create trigger b_derive_template_layout
  before insert or update of components, parameter_format, parameters, parameter_layout on public.message_templates
  for each row
  execute function private.derive_template_layout();

update public.message_templates set parameters = parameters;

-- Whether a template may be sent now: approved and not removed. The claim of broadcast
-- recipients is to call it (see the README's broadcast section).
create or replace function svc.template_sendable(p_template_id uuid)
returns boolean
language sql
stable
set search_path = ''
as $$
  select exists (select from public.message_templates t
                  where t.id = p_template_id and t.status = 'approved' and t.removed_at is null);
$$;
comment on function svc.template_sendable(uuid) is
  'True when the template is approved in Meta and not removed there: only then is it sent.';

-- Access ------------------------------------------------------------------------------------

-- Meta's columns are written only by the services: the column grants of migration
-- 20261125000600 (insert, update) leave them out; select is granted on the whole table.

drop policy "Active users can read templates" on public.message_templates;

create policy "Active users can read sendable templates, admins every one"
  on public.message_templates
  for select
  to authenticated
  using ((select private.is_admin())
         or ((select private.is_active_user()) and status = 'approved' and removed_at is null));
