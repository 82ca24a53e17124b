-- Template webhooks and what a template's status does to broadcasts (issue 16).
--
-- svc.apply_template_events applies the gateway's parsed template webhooks
-- (events.templates: message_template_status_update, message_template_quality_update,
-- template_category_update) to message_templates. It is called by the webhook applier
-- with the webhook's events.templates (see the README, "Templates").
--
-- A broadcast whose template stops being sendable (paused, disabled, rejected, deleted,
-- ...) says why in status_detail, and stops claiming (the claim of recipients asks
-- svc.template_sendable); when Meta approves the template again the detail goes and
-- the broadcast resumes where it stopped.

-- Applying template events ----------------------------------------------------------------------

create or replace function svc.apply_template_events(p_events jsonb, p_now timestamptz default now())
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  e jsonb;
  v_id uuid;
  v_applied int := 0;
  v_unknown int := 0;
begin
  if jsonb_typeof(coalesce(p_events, '[]'::jsonb)) <> 'array' then
    raise exception 'p_events must be a JSON array of template events' using errcode = '22023';
  end if;
  for e in select x from jsonb_array_elements(coalesce(p_events, '[]'::jsonb)) x loop
    -- Known by Meta's id, else (a hand-made row) by name and language.
    select t.id into v_id from public.message_templates t where t.wa_template_id = e ->> 'template_id';
    if v_id is null then
      select t.id into v_id from public.message_templates t
       where t.wa_template_name = e ->> 'name' and t.language_code = e ->> 'language';
    end if;
    if v_id is null
       or (e ->> 'kind' = 'status' and e ->> 'status' is null)
       or (e ->> 'kind' = 'quality' and e ->> 'quality_score' is null)
       or (e ->> 'kind' = 'category' and e ->> 'category' is null and e ->> 'impending_category' is null)
       or coalesce(e ->> 'kind', '') not in ('status', 'quality', 'category') then
      -- A template we don't have yet (or a value we can't store): the sync brings it.
      v_unknown := v_unknown + 1;
      insert into svc.template_syncs (reason, requested_at) values ('webhook', p_now)
      on conflict ((true)) where started_at is null and finished_at is null do nothing;
      continue;
    end if;
    case e ->> 'kind'
      when 'status' then
        update public.message_templates t
           set status = e ->> 'status',
               status_reason = e ->> 'reason',
               removed_at = case when e ->> 'status' = 'deleted' then coalesce(t.removed_at, p_now) end,
               wa_template_id = coalesce(t.wa_template_id, e ->> 'template_id'),
               updated_at = p_now
         where t.id = v_id;
      when 'quality' then
        update public.message_templates t
           set quality_score = e ->> 'quality_score', updated_at = p_now
         where t.id = v_id;
      else
        -- An impending change (Meta recategorizes in 24 hours) changes nothing yet.
        update public.message_templates t
           set wa_category = coalesce(e ->> 'category', t.wa_category), updated_at = p_now
         where t.id = v_id and e ->> 'category' is not null;
    end case;
    v_applied := v_applied + 1;
  end loop;
  return jsonb_build_object('applied', v_applied, 'unknown', v_unknown);
end;
$$;
comment on function svc.apply_template_events(jsonb, timestamptz) is
  'Applies parsed template webhooks (events.templates: kind status|quality|category) to message_templates; a template we don''t know queues a sync. {applied, unknown}.';

-- Broadcasts follow their template's status ------------------------------------------------------

-- Why a broadcast with this template waits, or null when the template is sendable.
create or replace function private.template_wait_reason(p_template public.message_templates)
returns text
language sql
stable
set search_path = ''
as $$
  select case when p_template.status = 'approved' and p_template.removed_at is null then null
         else format('waiting: template "%s" is %s in WhatsApp%s; sending resumes when Meta approves it again',
                     coalesce(p_template.wa_template_name, p_template.name),
                     replace(p_template.status, '_', ' '),
                     coalesce(' (' || nullif(p_template.status_reason, '') || ')', ''))
         end;
$$;
comment on function private.template_wait_reason(public.message_templates) is
  'The status_detail of a broadcast whose template is not sendable; null when it is.';
revoke execute on function private.template_wait_reason(public.message_templates) from public, anon, authenticated;

create or replace function private.follow_template_status()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_reason text := private.template_wait_reason(new);
begin
  update public.broadcast_messages b
     set status_detail = v_reason
   where b.template_id = new.id and b.status in ('scheduled', 'sending')
     and (v_reason is not null or b.status_detail like 'waiting: template %')
     and b.status_detail is distinct from v_reason;
  return null;
end;
$$;
comment on function private.follow_template_status() is
  'After a template''s status changes: its scheduled and sending broadcasts say why they wait, or no longer do.';
revoke execute on function private.follow_template_status() from public, anon, authenticated;

create trigger on_template_status_changed
  after update of status, removed_at, status_reason on public.message_templates
  for each row
  when ((old.status, old.removed_at, old.status_reason) is distinct from (new.status, new.removed_at, new.status_reason))
  execute function private.follow_template_status();

-- A broadcast that starts while its template is not sendable says so from the start.
create or replace function private.note_template_wait_at_start()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_template public.message_templates%rowtype;
begin
  select * into v_template from public.message_templates t where t.id = new.template_id;
  if found then
    new.status_detail := coalesce(private.template_wait_reason(v_template), new.status_detail);
  end if;
  return new;
end;
$$;
comment on function private.note_template_wait_at_start() is
  'Before a broadcast starts sending: status_detail says when its template is not sendable.';
revoke execute on function private.note_template_wait_at_start() from public, anon, authenticated;

create trigger b_note_template_wait_at_start
  before update of status on public.broadcast_messages
  for each row
  when (old.status = 'scheduled' and new.status = 'sending')
  execute function private.note_template_wait_at_start();
