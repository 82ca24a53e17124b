-- Template sync (issue 16): the broadcast worker lists the WhatsApp Business Account's
-- templates (GET /{waba-id}/message_templates, page by page) and keeps message_templates
-- in step: new ones appear, changed ones update, ones Meta no longer has are marked
-- removed (never deleted: history refers to them).
--
-- A sync is a row of svc.template_syncs, requested at the worker's start, on its
-- schedule, or by an admin (public.request_template_sync()), and run by one worker at a
-- time under a lease: svc.claim_template_sync, then svc.upsert_templates per page, then
-- svc.finish_template_sync (which marks the removed ones, only after a complete listing).

-- Requests -----------------------------------------------------------------------------------

create table svc.template_syncs (
  id bigint generated always as identity primary key,
  reason text not null check (reason in ('start', 'schedule', 'admin', 'webhook')),
  -- The admin who asked (a note, not a reference: a request outlives nobody's profile).
  requested_by uuid,
  requested_at timestamptz not null default now(),
  lease_owner text,
  lease_expires_at timestamptz,
  lease_seconds int,
  started_at timestamptz,
  finished_at timestamptz,
  error text,
  counts jsonb not null default '{"listed": 0, "created": 0, "changed": 0}'::jsonb,
  constraint template_syncs_lease_complete
    check ((lease_owner is null) = (lease_expires_at is null) and (lease_owner is null) = (started_at is null))
);
comment on table svc.template_syncs is
  'Template syncs requested (worker start, schedule, admin) and run (lease, counts, error).';
-- At most one waiting request: asking again while one waits is the same request.
create unique index template_syncs_one_waiting on svc.template_syncs ((true))
  where started_at is null and finished_at is null;
create index template_syncs_unfinished on svc.template_syncs (requested_at) where finished_at is null;
alter table svc.template_syncs enable row level security;
revoke all on svc.template_syncs from public, anon, authenticated;
grant select, insert, update on svc.template_syncs to service_role;

-- An admin's request --------------------------------------------------------------------------

create or replace function private.request_template_sync()
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_id bigint;
begin
  if not coalesce(private.is_admin(), false) then
    raise exception 'only admins can sync the templates with WhatsApp'
      using errcode = '42501';
  end if;
  insert into svc.template_syncs (reason, requested_by)
  values ('admin', private.active_user_id())
  on conflict ((true)) where started_at is null and finished_at is null do nothing
  returning id into v_id;
  if v_id is null then
    select s.id into v_id from svc.template_syncs s where s.started_at is null and s.finished_at is null;
  end if;
  return v_id;
end;
$$;
comment on function private.request_template_sync() is
  'For public.request_template_sync: checks the caller is an admin and queues a sync (or answers the one already waiting).';
revoke execute on function private.request_template_sync() from public, anon, authenticated;
grant execute on function private.request_template_sync() to authenticated;

create or replace function public.request_template_sync()
returns bigint
language sql
volatile
security invoker
set search_path = ''
begin atomic
  select private.request_template_sync();
end;
comment on function public.request_template_sync() is
  'Admins: asks the broadcast worker to sync the templates with the WhatsApp Business Account now (within a few seconds). Returns the request''s id; 42501 for non-admins.';
revoke execute on function public.request_template_sync() from public, anon, authenticated;
grant execute on function public.request_template_sync() to authenticated;

-- Claiming a sync -----------------------------------------------------------------------------

create or replace function svc.claim_template_sync(
  p_owner text,
  p_start boolean default false,
  p_every_seconds int default 3600,
  p_lease_seconds int default 300,
  p_now timestamptz default now())
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_sync svc.template_syncs%rowtype;
begin
  if p_owner is null or p_every_seconds < 1 or p_lease_seconds < 1 then
    raise exception 'claim_template_sync needs an owner, p_every_seconds >= 1 and p_lease_seconds >= 1'
      using errcode = '22023';
  end if;
  -- A sync at the worker's start, or when the last request is p_every_seconds old.
  if p_start or not exists (
       select from svc.template_syncs s
        where s.requested_at > p_now - make_interval(secs => p_every_seconds)) then
    insert into svc.template_syncs (reason, requested_at)
    values (case when p_start then 'start' else 'schedule' end, p_now)
    on conflict ((true)) where started_at is null and finished_at is null do nothing;
  end if;
  -- One sync runs at a time.
  if exists (select from svc.template_syncs s
              where s.finished_at is null and s.lease_expires_at > p_now) then
    return null;
  end if;
  select * into v_sync from svc.template_syncs s
   where s.finished_at is null
   order by s.requested_at, s.id
   limit 1
   for update skip locked;
  if not found then
    return null;
  end if;
  update svc.template_syncs
     set lease_owner = p_owner,
         lease_expires_at = p_now + make_interval(secs => p_lease_seconds),
         lease_seconds = p_lease_seconds,
         started_at = p_now
   where id = v_sync.id;
  return jsonb_build_object('id', v_sync.id, 'reason', v_sync.reason, 'started_at', p_now);
end;
$$;
comment on function svc.claim_template_sync(text, boolean, int, int, timestamptz) is
  'Queues a sync at start (p_start) or when none was requested for p_every_seconds, then leases the oldest unfinished one unless another runs: {id, reason, started_at} or null.';

-- The lease of a sync, checked and extended by each page.
create or replace function svc.hold_template_sync(p_sync_id bigint, p_owner text, p_now timestamptz)
returns svc.template_syncs
language plpgsql
set search_path = ''
as $$
declare
  v_sync svc.template_syncs%rowtype;
begin
  update svc.template_syncs s
     set lease_expires_at = greatest(s.lease_expires_at, p_now + make_interval(secs => s.lease_seconds))
   where s.id = p_sync_id and s.lease_owner = p_owner and s.finished_at is null
  returning * into v_sync;
  if not found then
    raise exception 'template sync % is not leased to %', p_sync_id, p_owner
      using errcode = '55000',
            hint = 'Its lease expired and another worker took it over, or it finished.';
  end if;
  return v_sync;
end;
$$;
comment on function svc.hold_template_sync(bigint, text, timestamptz) is
  'The sync, when p_owner still holds its lease (extended); 55000 otherwise.';

-- One page of templates -------------------------------------------------------------------------

-- The templates of a page as rows, one per Meta id, with the body's text.
create or replace function svc.listed_templates(p_templates jsonb)
returns table (wa_template_id text, wa_template_name text, language_code text, status text,
               wa_category text, quality_score text, parameter_format text, components jsonb, body text)
language sql
immutable
set search_path = ''
as $$
  select distinct on (e ->> 'id')
         e ->> 'id', e ->> 'name', e ->> 'language', e ->> 'status',
         e ->> 'category', e ->> 'quality_score',
         coalesce(e ->> 'parameter_format', 'positional'),
         coalesce(e -> 'components', '[]'::jsonb),
         (select c ->> 'text' from jsonb_array_elements(coalesce(e -> 'components', '[]'::jsonb)) c
           where upper(c ->> 'type') = 'BODY' limit 1)
    from jsonb_array_elements(p_templates) e
   order by e ->> 'id';
$$;
comment on function svc.listed_templates(jsonb) is
  'A page of svc.upsert_templates as rows (one per Meta template id), with the body text.';

-- p_templates: [{id, name, language, status, category, quality_score, parameter_format,
-- components}] with Meta's values lower-cased by the worker (statuses, categories,
-- quality) and components as Meta lists them.
create or replace function svc.upsert_templates(
  p_sync_id bigint,
  p_owner text,
  p_templates jsonb,
  p_now timestamptz default now())
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_created int;
  v_changed int;
  v_seen int;
begin
  perform svc.hold_template_sync(p_sync_id, p_owner, p_now);
  if jsonb_typeof(p_templates) is distinct from 'array' then
    raise exception 'p_templates must be a JSON array' using errcode = '22023';
  end if;
  if exists (select from jsonb_array_elements(p_templates) e
              where jsonb_typeof(e) <> 'object'
                 or coalesce(e ->> 'id', '') = '' or coalesce(e ->> 'name', '') = ''
                 or coalesce(e ->> 'language', '') = '' or coalesce(e ->> 'status', '') = ''
                 or jsonb_typeof(coalesce(e -> 'components', '[]'::jsonb)) <> 'array') then
    raise exception 'every template needs id, name, language, status (and components as an array)'
      using errcode = '22023';
  end if;

  -- A hand-made row (or one Meta re-created under a new id) is adopted by name and language.
  update public.message_templates t
     set wa_template_id = l.wa_template_id
    from svc.listed_templates(p_templates) l
   where t.wa_template_name = l.wa_template_name and t.language_code = l.language_code
     and t.wa_template_id is distinct from l.wa_template_id
     and not exists (select from public.message_templates o where o.wa_template_id = l.wa_template_id);

  with old as (
    select t.id, t.status as old_status, t.wa_category as old_category, t.quality_score as old_quality,
           t.components as old_components, t.parameter_format as old_format, t.removed_at as old_removed,
           l.wa_template_id as listed_id
      from public.message_templates t
      join svc.listed_templates(p_templates) l on l.wa_template_id = t.wa_template_id
  ), updated as (
    update public.message_templates t
       set wa_template_name = l.wa_template_name,
           language_code = l.language_code,
           status = l.status,
           status_reason = case when l.status is distinct from old.old_status then null else t.status_reason end,
           wa_category = l.wa_category,
           quality_score = l.quality_score,
           components = l.components,
           parameter_format = l.parameter_format,
           -- A broadcast that began sending keeps the text it sent (trigger
           -- a_keep_sent_broadcasts_template); Meta re-reviews an edited template anyway.
           content = case
             when l.body is null or exists (select from public.broadcast_messages b
                                             where b.template_id = t.id and b.status not in ('draft', 'scheduled'))
             then t.content else l.body end,
           removed_at = case when l.status = 'deleted' then coalesce(t.removed_at, p_now) end,
           synced_at = p_now,
           updated_at = case
             when (old.old_status, old.old_category, old.old_quality, old.old_components, old.old_format)
                  is distinct from (l.status, l.wa_category, l.quality_score, l.components, l.parameter_format)
                  or old.old_removed is not null
             then p_now else t.updated_at end
      from old, svc.listed_templates(p_templates) l
     where t.id = old.id and l.wa_template_id = old.listed_id
    returning (old.old_status, old.old_category, old.old_quality, old.old_components, old.old_format)
              is distinct from (l.status, l.wa_category, l.quality_score, l.components, l.parameter_format)
              or old.old_removed is not null as changed
  )
  select count(*), count(*) filter (where changed) into v_seen, v_changed from updated;

  insert into public.message_templates
    (name, content, wa_template_name, language_code, wa_template_id, status, wa_category,
     quality_score, components, parameter_format, synced_at, removed_at, created_by)
  select l.wa_template_name, coalesce(l.body, ''), l.wa_template_name, l.language_code,
         l.wa_template_id, l.status, l.wa_category, l.quality_score, l.components,
         l.parameter_format, p_now, case when l.status = 'deleted' then p_now end, null
    from svc.listed_templates(p_templates) l
   where not exists (select from public.message_templates t where t.wa_template_id = l.wa_template_id);
  get diagnostics v_created = row_count;

  update svc.template_syncs s
     set counts = jsonb_build_object(
           'listed', coalesce((s.counts ->> 'listed')::int, 0) + (select count(*) from svc.listed_templates(p_templates)),
           'created', coalesce((s.counts ->> 'created')::int, 0) + v_created,
           'changed', coalesce((s.counts ->> 'changed')::int, 0) + v_changed)
   where s.id = p_sync_id;
  return jsonb_build_object('created', v_created, 'changed', v_changed, 'unchanged', v_seen - v_changed);
end;
$$;
comment on function svc.upsert_templates(bigint, text, jsonb, timestamptz) is
  'One page of the template list: templates new to us are created, known ones (by Meta id, else by name and language) updated; {created, changed, unchanged}.';

-- The end of a sync ---------------------------------------------------------------------------

create or replace function svc.finish_template_sync(
  p_sync_id bigint,
  p_owner text,
  p_error text default null,
  p_now timestamptz default now())
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_sync svc.template_syncs%rowtype := svc.hold_template_sync(p_sync_id, p_owner, p_now);
  v_removed int := 0;
begin
  -- Only a complete listing says what Meta no longer has.
  if p_error is null then
    update public.message_templates t
       set status = 'deleted',
           status_reason = 'no longer in the WhatsApp Business Account',
           removed_at = p_now,
           updated_at = p_now
     where t.wa_template_name is not null and t.removed_at is null
       and (t.synced_at is null or t.synced_at < v_sync.started_at);
    get diagnostics v_removed = row_count;
  end if;
  update svc.template_syncs s
     set finished_at = p_now, error = p_error,
         counts = s.counts || jsonb_build_object('removed', v_removed)
   where s.id = p_sync_id
  returning * into v_sync;
  return v_sync.counts;
end;
$$;
comment on function svc.finish_template_sync(bigint, text, text, timestamptz) is
  'Ends a sync: after a complete listing (p_error null) templates not listed are marked removed (status deleted, removed_at); the counts {listed, created, changed, removed}.';
