-- Lifecycles enforced in the database, for every caller (the API's users and the services).
--
-- Policies see only the new row, so "from which status to which" is a trigger's job. Each
-- refusal raises 55000 (object_not_in_prerequisite_state) with a message a frontend can
-- show and a hint naming what is allowed.
--
-- Broadcasts: draft -> scheduled -> sending -> completed; cancelled from draft, scheduled
--   or sending. Nothing goes backwards, with one deliberate exception that only the
--   database itself takes: an admin retrying a failed recipient of a completed broadcast
--   re-opens it (completed -> sending, trigger on_broadcast_recipient_retried). Once a
--   broadcast has begun sending (or was cancelled) its name, content, template, audience
--   and schedule are the record of what was sent: frozen.
-- Conversations: active, pending and archived in any order, except that an archived
--   conversation comes back (active or pending) only while it is still its contact's
--   latest: once the customer's next message has opened a newer one, the archived one is
--   the closed record of its case, and reopening it would pull the customer's future
--   messages back to whoever held it, past the assignment an admin made since.

-- Broadcasts ------------------------------------------------------------------------------

create or replace function private.enforce_broadcast_lifecycle()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if old.status is distinct from new.status and not (
       (old.status = 'draft' and new.status in ('scheduled', 'cancelled'))
    or (old.status = 'scheduled' and new.status in ('sending', 'cancelled'))
    or (old.status = 'sending' and new.status in ('completed', 'cancelled'))
    -- A retried recipient re-opens a completed broadcast (the requeue trigger, which runs
    -- with its owner's rights); no API caller sets this directly. (Read from the catalog:
    -- the API roles have no USAGE on schema private, where the helper of that name lives.)
    or (old.status = 'completed' and new.status = 'sending'
        and coalesce((select r.rolbypassrls or r.rolsuper from pg_catalog.pg_roles r where r.rolname = current_user), false))
  ) then
    raise exception 'a broadcast cannot go from % to %', old.status, new.status
      using errcode = '55000',
            hint = 'A broadcast goes draft -> scheduled -> sending -> completed, and can be cancelled while draft, scheduled or sending.';
  end if;
  if old.status not in ('draft', 'scheduled')
     and (old.name, old.content, old.template_id, old.audience, old.scheduled_for, old.created_by)
         is distinct from (new.name, new.content, new.template_id, new.audience, new.scheduled_for, new.created_by) then
    raise exception 'a % broadcast keeps its name, content, template, audience and schedule', old.status
      using errcode = '55000',
            hint = 'Only draft and scheduled broadcasts can be edited; create a new broadcast instead.';
  end if;
  return new;
end;
$$;
comment on function private.enforce_broadcast_lifecycle() is
  'Guard trigger: broadcast status moves only forward (or to cancelled); a broadcast that began sending is frozen.';
revoke execute on function private.enforce_broadcast_lifecycle() from public, anon, authenticated;

-- Named to fire before the other update triggers of the table (they fire in name order).
create trigger a_enforce_broadcast_lifecycle
  before update on public.broadcast_messages
  for each row
  execute function private.enforce_broadcast_lifecycle();

-- Conversations ---------------------------------------------------------------------------

-- Whether the customer has moved on from this conversation: another conversation of the
-- contact is newer, or open. A superseded archived conversation is closed for good.
create or replace function private.is_superseded(p_conversation public.conversations)
returns boolean
language sql
stable
set search_path = ''
as $$
  select exists (
    select from public.conversations c
     where c.contact_id = p_conversation.contact_id
       and c.id <> p_conversation.id
       and (c.created_at > p_conversation.created_at
            or (c.created_at = p_conversation.created_at and c.id > p_conversation.id)
            or c.status is distinct from 'archived'))
$$;
comment on function private.is_superseded(public.conversations) is
  'True when another conversation of the same contact is newer or open (the customer has moved on).';
revoke execute on function private.is_superseded(public.conversations) from public, anon, authenticated;

-- SECURITY DEFINER: whether a newer conversation of the contact exists must be answered
-- whatever the caller may see, and the answer given to the caller reveals nothing else.
create or replace function private.enforce_conversation_reopen()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  -- Serializes with ingestion, which updates the contact before it opens a conversation
  -- for it: either the customer's new conversation is committed and seen below, or it is
  -- opened after this reopen commits (and then finds this conversation open).
  perform from public.contacts k where k.id = new.contact_id for no key update;
  if private.is_superseded(new) then
    raise exception 'this conversation is closed for good: only a customer''s latest conversation can be reopened'
      using errcode = '55000';
  end if;
  return new;
end;
$$;
comment on function private.enforce_conversation_reopen() is
  'Guard trigger: an archived conversation is reopened only while it is its contact''s latest (and no other is open).';
revoke execute on function private.enforce_conversation_reopen() from public, anon, authenticated;

create trigger a_enforce_conversation_reopen
  before update of status on public.conversations
  for each row
  when (old.status = 'archived' and new.status is distinct from 'archived')
  execute function private.enforce_conversation_reopen();

-- Templates of broadcasts that began sending ------------------------------------------------
-- A broadcast that has begun sending keeps its template: editing that template's WhatsApp
-- identity, parameter layout or text would swap it mid-send from the other side, change
-- what a retried recipient receives, or rewrite the record of what was sent.
create or replace function private.keep_sent_broadcasts_template()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  -- Waits for a broadcast starting right now (its status update) and then sees it.
  perform from public.broadcast_messages b where b.template_id = old.id for share;
  if exists (select from public.broadcast_messages b
              where b.template_id = old.id and b.status not in ('draft', 'scheduled')) then
    raise exception 'a broadcast has begun sending this template: its WhatsApp name, language, parameters and text can''t change'
      using errcode = '55000',
            hint = 'Create a new template instead.';
  end if;
  return new;
end;
$$;
comment on function private.keep_sent_broadcasts_template() is
  'Guard trigger: the template of a broadcast that began sending keeps its WhatsApp identity, parameters and text.';
revoke execute on function private.keep_sent_broadcasts_template() from public, anon, authenticated;

create trigger a_keep_sent_broadcasts_template
  before update of wa_template_name, language_code, parameters, content on public.message_templates
  for each row
  when ((old.wa_template_name, old.language_code, old.parameters, old.content)
        is distinct from (new.wa_template_name, new.language_code, new.parameters, new.content))
  execute function private.keep_sent_broadcasts_template();
