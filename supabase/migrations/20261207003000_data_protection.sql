-- Data protection (issue 17): erase or export a customer on request, an audit log of what
-- admins do to access and personal data, deliberate delete rules on every foreign key,
-- and a retention limit for the raw webhooks of the journal.
--
-- Erasure (public.erase_contact, admins): the contact and everything that holds their
--   personal data goes, through the tables' own rules and triggers: their conversations
--   (and with them messages, media references, notes, labels attached, read receipts and
--   queued replies, by the cascades below), their broadcast recipient rows (a broadcast
--   that began sending keeps how many recipients it had and what became of them, as
--   counts in broadcast_messages.erased_recipients; the recipients' delete trigger takes
--   their queue rows), and the journal's raw webhooks that mention them. What stays is ids
--   and counts: the audit log's entry and the broadcasts' numbers.
-- Export (public.export_contact, admins): one JSON document with everything held about a
--   contact, for a data-access request.
-- Both are logged in public.audit_log, with role and status changes of users,
--   reassignments of conversations and invitations created or revoked: ids only, never
--   message text, names or phone numbers. Readable by admins; nobody changes or removes
--   an entry (no grant, and a trigger for the owner).
-- Retention (svc.prune_webhook_journal, the services or pg_cron): raw webhooks are kept
--   30 days; failed ones wait for a replay up to 90 days.
--
-- The RPCs follow the pattern of mark_conversation_read: a SECURITY INVOKER function in
-- the exposed schema public (SQL-standard body, parsed at creation, so it reaches the
-- private half by oid) over a SECURITY DEFINER half in schema private, which checks
-- private.is_admin() itself and runs with search_path ''. No definer function sits in
-- the exposed schema (supabase/tests/10-access-structure.sql holds that line).
--
-- Realtime: deletions are not published (migration 20261207000300), and an update made
-- just before the delete would not reach anyone either: Realtime re-reads a changed row
-- under each subscriber's policies after the commit, when the row is gone. So an erased
-- contact's conversations disappear from agents' screens on their next fetch of the list
-- (the frontend refetches on focus, as it does for reassignments).

-- Foreign keys: a delete rule for every one -------------------------------------------------
--
-- cascade   rows that are parts of their parent and mean nothing without it
-- restrict  history that must not vanish or be orphaned by accident: a user with history
--           is deactivated, never deleted; a label in use is detached first; a contact is
--           removed only by erase_contact, which empties its conversations and recipients
-- set null  a reference that may go while its row stays a complete record
--
-- The design document's constraints keep their generated names.

-- users.id -> auth.users: cascade (unchanged). Deleting an Auth account deletes its profile,
-- which the restrict rules below stop when the user has history: deactivate them instead.

-- Contacts: removed only by public.erase_contact.
alter table public.conversations
  drop constraint conversations_contact_id_fkey,
  add constraint conversations_contact_id_fkey
    foreign key (contact_id) references public.contacts (id) on delete restrict;
alter table public.broadcast_recipients
  drop constraint broadcast_recipients_contact_id_fkey,
  add constraint broadcast_recipients_contact_id_fkey
    foreign key (contact_id) references public.contacts (id) on delete restrict;

-- The parts of a conversation go with it.
alter table public.messages
  drop constraint messages_conversation_id_fkey,
  add constraint messages_conversation_id_fkey
    foreign key (conversation_id) references public.conversations (id) on delete cascade;
alter table public.notes
  drop constraint notes_conversation_id_fkey,
  add constraint notes_conversation_id_fkey
    foreign key (conversation_id) references public.conversations (id) on delete cascade;
alter table public.conversation_labels
  drop constraint conversation_labels_conversation_id_fkey,
  add constraint conversation_labels_conversation_id_fkey
    foreign key (conversation_id) references public.conversations (id) on delete cascade;

-- A quoted message that goes leaves the reply standing (quotes stay within a conversation,
-- so in practice both go together).
alter table public.messages
  drop constraint messages_reply_to_message_id_fkey,
  add constraint messages_reply_to_message_id_fkey
    foreign key (reply_to_message_id) references public.messages (id) on delete set null;

-- messages.template_id -> message_templates: set null (unchanged, migration 20261207000200).

-- A label in use is detached before it is deleted (unchanged behaviour, now said).
alter table public.conversation_labels
  drop constraint conversation_labels_label_id_fkey,
  add constraint conversation_labels_label_id_fkey
    foreign key (label_id) references public.labels (id) on delete restrict;

-- A broadcast's explicit audience goes with it (admins delete drafts only).
alter table public.broadcast_recipients
  drop constraint broadcast_recipients_broadcast_id_fkey,
  add constraint broadcast_recipients_broadcast_id_fkey
    foreign key (broadcast_id) references public.broadcast_messages (id) on delete cascade;

-- A template a broadcast used is the record of what was sent.
alter table public.broadcast_messages
  drop constraint broadcast_messages_template_id_fkey,
  add constraint broadcast_messages_template_id_fkey
    foreign key (template_id) references public.message_templates (id) on delete restrict;

-- Users with history: deactivate (their open conversations are reassigned), never delete.
alter table public.conversations
  drop constraint conversations_assigned_agent_id_fkey,
  add constraint conversations_assigned_agent_id_fkey
    foreign key (assigned_agent_id) references public.users (id) on delete restrict;
alter table public.labels
  drop constraint labels_created_by_fkey,
  add constraint labels_created_by_fkey
    foreign key (created_by) references public.users (id) on delete restrict;
alter table public.conversation_labels
  drop constraint conversation_labels_created_by_fkey,
  add constraint conversation_labels_created_by_fkey
    foreign key (created_by) references public.users (id) on delete restrict;
alter table public.notes
  drop constraint notes_created_by_fkey,
  add constraint notes_created_by_fkey
    foreign key (created_by) references public.users (id) on delete restrict;
alter table public.message_templates
  drop constraint message_templates_created_by_fkey,
  add constraint message_templates_created_by_fkey
    foreign key (created_by) references public.users (id) on delete restrict;
alter table public.broadcast_messages
  drop constraint broadcast_messages_created_by_fkey,
  add constraint broadcast_messages_created_by_fkey
    foreign key (created_by) references public.users (id) on delete restrict;

-- invitations.invited_by, invitations.accepted_user_id -> users: set null (unchanged,
-- migration 20261207002000): inviting an address deletes its unconfirmed Auth account,
-- which must not fail on an invitation; who invited whom stays in the audit log.

-- svc: a queued reply goes with its message (unchanged) and with its contact.
alter table svc.outbound_jobs
  drop constraint outbound_jobs_contact_id_fkey,
  add constraint outbound_jobs_contact_id_fkey
    foreign key (contact_id) references public.contacts (id) on delete cascade;

-- Audit log ---------------------------------------------------------------------------------

create table public.audit_log (
    id bigint generated always as identity primary key,
    occurred_at timestamptz not null default now(),
    -- Who: auth.uid() of the caller (null for the services and for operators in SQL) and
    -- the role their token named (authenticated, service_role; null outside the API).
    actor_id uuid,
    actor_role text,
    action text not null,
    -- Which row: table name and id. Ids only: never names, phone numbers or message text.
    target_table text not null,
    target_id uuid not null,
    -- What changed, as ids, enumerated values and counts.
    details jsonb not null default '{}',
    constraint audit_log_action_check check (action in (
      'contact.erased', 'contact.exported',
      'user.role_changed', 'user.status_changed',
      'conversation.assigned',
      'invitation.created', 'invitation.revoked'))
);
comment on table public.audit_log is
  'Append-only record of admin actions on access and personal data (erasure, export, role and status changes, reassignments, invitations): who, what, which row, when; ids only.';
create index audit_log_target on public.audit_log (target_id, occurred_at);
create index audit_log_occurred_at on public.audit_log (occurred_at);

alter table public.audit_log enable row level security;

-- Read by admins (RLS) and the services; written only by the definer functions below.
revoke all on public.audit_log from public, anon, authenticated, service_role;
grant select on public.audit_log to authenticated;
grant select on public.audit_log to service_role;

-- ====================================================================================
-- supabase/policies/audit_log.sql
-- ====================================================================================

-- public.audit_log: what admins did to access and personal data (migration 20261207003000).
--
-- read    admins
-- insert  nobody through the API: the database writes it (SECURITY DEFINER triggers and
--         functions)
-- update  nobody (no grant; trigger guard_audit_log_append_only stops even the owner)
-- delete  nobody (likewise; guard_audit_log_no_truncate stops TRUNCATE)

create policy "Admins can read the audit log"
  on public.audit_log
  for select
  to authenticated
  using ((select private.is_admin()));

create or replace function private.deny_audit_log_change()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'the audit log is append-only: its entries are never changed or removed'
    using errcode = '42501';
end;
$$;
comment on function private.deny_audit_log_change() is
  'Guard trigger: raises 42501, the audit log is never updated, deleted from or truncated.';
revoke execute on function private.deny_audit_log_change() from public, anon, authenticated;

create trigger guard_audit_log_append_only
  before update or delete on public.audit_log
  for each row execute function private.deny_audit_log_change();
create trigger guard_audit_log_no_truncate
  before truncate on public.audit_log
  for each statement execute function private.deny_audit_log_change();

-- The one writer. Definer: the callers (triggers and functions below) run for API users
-- who have no grant on the table.
create or replace function private.write_audit_log(
    p_action text,
    p_target_table text,
    p_target_id uuid,
    p_details jsonb default '{}'
)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.audit_log (actor_id, actor_role, action, target_table, target_id, details)
  values (auth.uid(), auth.role(), p_action, p_target_table, p_target_id, coalesce(p_details, '{}'::jsonb));
end;
$$;
comment on function private.write_audit_log(text, text, uuid, jsonb) is
  'Appends one audit log entry for the caller (auth.uid(), the token''s role): ids, enumerated values and counts only.';
revoke execute on function private.write_audit_log(text, text, uuid, jsonb) from public, anon, authenticated;

-- Users: role and status changes (admins', the services', an operator's app metadata, an
-- accepted invitation).
create or replace function private.audit_user_change()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if old.role is distinct from new.role then
    perform private.write_audit_log('user.role_changed', 'users', new.id,
      jsonb_build_object('from', old.role, 'to', new.role));
  end if;
  if old.status is distinct from new.status then
    perform private.write_audit_log('user.status_changed', 'users', new.id,
      jsonb_build_object('from', old.status, 'to', new.status));
  end if;
  return null;
end;
$$;
comment on function private.audit_user_change() is 'Audit trigger: a user''s role or status changed.';
revoke execute on function private.audit_user_change() from public, anon, authenticated;

create trigger on_user_access_changed_audit
  after update of role, status on public.users
  for each row
  when ((old.role, old.status) is distinct from (new.role, new.status))
  execute function private.audit_user_change();

-- Conversations: (re)assignments after the insert (an admin's, or a deactivated agent's
-- conversations handed on).
create or replace function private.audit_conversation_assignment()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform private.write_audit_log('conversation.assigned', 'conversations', new.id,
    jsonb_build_object('from', old.assigned_agent_id, 'to', new.assigned_agent_id));
  return null;
end;
$$;
comment on function private.audit_conversation_assignment() is 'Audit trigger: a conversation was reassigned.';
revoke execute on function private.audit_conversation_assignment() from public, anon, authenticated;

create trigger on_conversation_reassigned_audit
  after update of assigned_agent_id on public.conversations
  for each row
  when (old.assigned_agent_id is distinct from new.assigned_agent_id)
  execute function private.audit_conversation_assignment();

-- Invitations: created (with the role and the status it started in) and revoked. Never
-- the address.
create or replace function private.audit_invitation()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    perform private.write_audit_log('invitation.created', 'invitations', new.id,
      jsonb_build_object('role', new.role, 'status', new.status, 'accepted_user_id', new.accepted_user_id));
  else
    perform private.write_audit_log('invitation.revoked', 'invitations', new.id,
      jsonb_build_object('role', new.role, 'from', old.status));
  end if;
  return null;
end;
$$;
comment on function private.audit_invitation() is 'Audit trigger: an invitation was created or revoked.';
revoke execute on function private.audit_invitation() from public, anon, authenticated;

create trigger on_invitation_created_audit
  after insert on public.invitations
  for each row execute function private.audit_invitation();
create trigger on_invitation_revoked_audit
  after update of status on public.invitations
  for each row
  when (new.status = 'revoked' and old.status is distinct from 'revoked')
  execute function private.audit_invitation();

-- Broadcasts: what erased recipients leave behind ----------------------------------------------

alter table public.broadcast_messages
  add column erased_recipients jsonb not null default '{}';
comment on column public.broadcast_messages.erased_recipients is
  'Recipients removed by erase_contact after the broadcast began sending, counted by their status then (e.g. {"delivered": 2}); with the remaining recipient rows, the broadcast''s full numbers.';

-- Erasure -------------------------------------------------------------------------------------

-- Whether a journaled webhook names one of these WhatsApp identifiers (as a JSON string).
create or replace function private.journal_mentions(p_journal svc.webhook_journal, p_identifiers text[])
returns boolean
language sql
stable
set search_path = ''
as $$
  select exists (
    select from unnest(p_identifiers) i
     where strpos(p_journal.payload::text, '"' || i || '"') > 0
        or strpos(coalesce(p_journal.events::text, ''), '"' || i || '"') > 0
        or strpos(coalesce(p_journal.error, ''), i) > 0)
$$;
comment on function private.journal_mentions(svc.webhook_journal, text[]) is
  'True when a journaled webhook (payload, parsed events or error) names one of the identifiers.';
revoke execute on function private.journal_mentions(svc.webhook_journal, text[]) from public, anon, authenticated;

-- The definer half of public.erase_contact.
create or replace function private.erase_contact(p_contact_id uuid)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_contact public.contacts%rowtype;
  v_identifiers text[];
  v_wamids text[];
  v_conversations int;
  v_messages int;
  v_notes int;
  v_labels int;
  v_jobs int;
  v_receipts int;
  v_queued int;
  v_recipients int;
  v_counted int;
  v_early int;
  v_journal_removed int := 0;
  v_journal_stripped int := 0;
  j record;
  v_events jsonb;
begin
  if not private.is_admin() then
    raise exception 'only an admin can erase a contact''s personal data'
      using errcode = '42501';
  end if;
  -- Locked first, as ingestion locks a sender's contact first: a webhook of this customer
  -- arriving now waits, then finds no contact and opens a new one (they wrote again).
  select * into v_contact from public.contacts k where k.id = p_contact_id for update;
  if not found then
    raise exception 'contact % does not exist (or was erased already)', p_contact_id
      using errcode = 'P0002';
  end if;

  -- How webhooks name them: wa_id, phone (also as digits only), business-scoped user id.
  v_identifiers := array(
    select distinct i from unnest(array[
      v_contact.wa_id, v_contact.phone, v_contact.wa_user_id,
      nullif(regexp_replace(coalesce(v_contact.phone, ''), '[^0-9]', '', 'g'), '')]) i
     where i is not null and length(i) >= 5);
  -- Their messages' and broadcast deliveries' wamids, which status webhooks name.
  v_wamids := array(
    select m.wa_message_id from public.messages m
      join public.conversations c on c.id = m.conversation_id
     where c.contact_id = p_contact_id and m.wa_message_id is not null
    union
    select r.wa_message_id from public.broadcast_recipients r
     where r.contact_id = p_contact_id and r.wa_message_id is not null);

  -- svc queues: replies waiting to be sent, read receipts, statuses waiting for a wamid.
  -- (The cascades below would take the first two; said here so the counts are reported.)
  delete from svc.outbound_jobs where contact_id = p_contact_id;
  get diagnostics v_jobs = row_count;
  delete from svc.read_receipts r
   using public.conversations c
   where c.id = r.conversation_id and c.contact_id = p_contact_id;
  get diagnostics v_receipts = row_count;
  delete from svc.early_statuses where wa_message_id = any (v_wamids);
  get diagnostics v_early = row_count;

  -- Broadcasts: a broadcast that began sending keeps its numbers, as counts by status; then
  -- the recipient rows go (trigger broadcast_recipients_deleted takes their queue rows).
  -- The broadcast's lifecycle trigger sees an update that changes neither its status nor
  -- what was sent.
  select count(*) into v_queued from svc.broadcast_queue where contact_id = p_contact_id;
  update public.broadcast_messages b
     set erased_recipients = b.erased_recipients || jsonb_build_object(
           coalesce(r.status, 'pending'),
           coalesce((b.erased_recipients ->> coalesce(r.status, 'pending'))::int, 0) + 1)
    from public.broadcast_recipients r
   where r.broadcast_id = b.id and r.contact_id = p_contact_id
     and b.status not in ('draft', 'scheduled');
  get diagnostics v_counted = row_count;
  delete from public.broadcast_recipients where contact_id = p_contact_id;
  get diagnostics v_recipients = row_count;

  -- Conversations, with their messages (content, metadata, media references), notes,
  -- attached labels and read receipts (on delete cascade).
  select count(*) into v_messages
    from public.messages m join public.conversations c on c.id = m.conversation_id
   where c.contact_id = p_contact_id;
  select count(*) into v_notes
    from public.notes n join public.conversations c on c.id = n.conversation_id
   where c.contact_id = p_contact_id;
  select count(*) into v_labels
    from public.conversation_labels l join public.conversations c on c.id = l.conversation_id
   where c.contact_id = p_contact_id;
  delete from public.conversations where contact_id = p_contact_id;
  get diagnostics v_conversations = row_count;

  -- The journal's raw webhooks that name them. A webhook about them alone goes; one that
  -- also carries other customers' events keeps those (a failed one can still be replayed
  -- for them), without its raw payload.
  for j in
    select w.* from svc.webhook_journal w
     where private.journal_mentions(w, v_identifiers)
        or (cardinality(v_wamids) > 0 and exists (
              select from jsonb_array_elements(coalesce(w.events -> 'statuses', '[]'::jsonb)) s
               where s ->> 'wamid' = any (v_wamids)))
     order by w.id
       for update
  loop
    v_events := case when j.events is null then null else jsonb_build_object(
      'messages', coalesce((
        select jsonb_agg(m.value order by m.ordinality)
          from jsonb_array_elements(coalesce(j.events -> 'messages', '[]'::jsonb)) with ordinality m
         where not (m.value::text like any (select '%"' || i || '"%' from unnest(v_identifiers) i))), '[]'::jsonb),
      'statuses', coalesce((
        select jsonb_agg(s.value order by s.ordinality)
          from jsonb_array_elements(coalesce(j.events -> 'statuses', '[]'::jsonb)) with ordinality s
         where not (s.value::text like any (select '%"' || i || '"%' from unnest(v_identifiers) i))
           and not coalesce((s.value ->> 'wamid') = any (v_wamids), false)), '[]'::jsonb)) end;
    if v_events is null
       or jsonb_array_length(v_events -> 'messages') + jsonb_array_length(v_events -> 'statuses') = 0 then
      delete from svc.webhook_journal where id = j.id;
      v_journal_removed := v_journal_removed + 1;
    else
      update svc.webhook_journal
         set payload = jsonb_build_object('erased', true),
             events = v_events,
             error = case when exists (select from unnest(v_identifiers) i where strpos(j.error, i) > 0)
                          then 'erased: the error named an erased contact' else j.error end
       where id = j.id;
      v_journal_stripped := v_journal_stripped + 1;
    end if;
  end loop;

  delete from public.contacts where id = p_contact_id;

  perform private.write_audit_log('contact.erased', 'contacts', p_contact_id, jsonb_build_object(
    'conversations', v_conversations, 'messages', v_messages, 'notes', v_notes,
    'conversation_labels', v_labels, 'broadcast_recipients', v_recipients,
    'broadcasts_counted', v_counted, 'outbound_jobs', v_jobs, 'broadcast_queue', v_queued,
    'read_receipts', v_receipts, 'early_statuses', v_early,
    'webhooks_removed', v_journal_removed, 'webhooks_stripped', v_journal_stripped));

  return jsonb_build_object(
    'contact_id', p_contact_id,
    'conversations', v_conversations, 'messages', v_messages, 'notes', v_notes,
    'conversation_labels', v_labels, 'broadcast_recipients', v_recipients,
    'broadcasts_counted', v_counted, 'outbound_jobs', v_jobs, 'broadcast_queue', v_queued,
    'read_receipts', v_receipts, 'early_statuses', v_early,
    'webhooks_removed', v_journal_removed, 'webhooks_stripped', v_journal_stripped);
end;
$$;
comment on function private.erase_contact(uuid) is
  'For public.erase_contact: checks the caller is an admin, removes the contact''s personal data everywhere (public and svc), logs it.';
revoke execute on function private.erase_contact(uuid) from public, anon, authenticated;
grant execute on function private.erase_contact(uuid) to authenticated;

create or replace function public.erase_contact(p_contact_id uuid)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
begin atomic
  select private.erase_contact(p_contact_id);
end;
comment on function public.erase_contact(uuid) is
  'Admins: erases a contact (right to erasure): the contact, their conversations with messages, media references, notes and labels, their broadcast recipient rows (sent broadcasts keep counts), queued jobs and raw webhooks naming them. Returns what was removed, as counts. 42501 for non-admins, P0002 for an unknown contact.';
revoke execute on function public.erase_contact(uuid) from public, anon, authenticated;
grant execute on function public.erase_contact(uuid) to authenticated;

-- Export ---------------------------------------------------------------------------------------

-- The definer half of public.export_contact.
create or replace function private.export_contact(p_contact_id uuid)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_contact public.contacts%rowtype;
  v_identifiers text[];
  v_document jsonb;
begin
  if not private.is_admin() then
    raise exception 'only an admin can export a contact''s personal data'
      using errcode = '42501';
  end if;
  select * into v_contact from public.contacts k where k.id = p_contact_id;
  if not found then
    raise exception 'contact % does not exist (or was erased)', p_contact_id
      using errcode = 'P0002';
  end if;
  v_identifiers := array(
    select distinct i from unnest(array[
      v_contact.wa_id, v_contact.phone, v_contact.wa_user_id,
      nullif(regexp_replace(coalesce(v_contact.phone, ''), '[^0-9]', '', 'g'), '')]) i
     where i is not null and length(i) >= 5);

  v_document := jsonb_build_object(
    'exported_at', now(),
    'contact', to_jsonb(v_contact),
    'conversations', coalesce((
      select jsonb_agg(to_jsonb(c) || jsonb_build_object(
               'messages', coalesce((
                 select jsonb_agg(to_jsonb(m) order by m.created_at, m.id)
                   from public.messages m where m.conversation_id = c.id), '[]'::jsonb),
               'notes', coalesce((
                 select jsonb_agg(to_jsonb(n) order by n.created_at, n.id)
                   from public.notes n where n.conversation_id = c.id), '[]'::jsonb),
               'labels', coalesce((
                 select jsonb_agg(jsonb_build_object(
                          'label_id', l.id, 'name', l.name, 'color', l.color,
                          'attached_by', cl.created_by, 'attached_at', cl.created_at) order by l.name, l.id)
                   from public.conversation_labels cl join public.labels l on l.id = cl.label_id
                  where cl.conversation_id = c.id), '[]'::jsonb))
             order by c.created_at, c.id)
        from public.conversations c where c.contact_id = p_contact_id), '[]'::jsonb),
    'broadcasts', coalesce((
      select jsonb_agg(jsonb_build_object(
               'broadcast_id', b.id, 'name', b.name, 'content', b.content,
               'broadcast_status', b.status, 'broadcast_sent_at', b.sent_at,
               'status', r.status, 'sent_at', r.sent_at, 'delivered_at', r.delivered_at,
               'error_message', r.error_message, 'wa_message_id', r.wa_message_id)
             order by b.created_at, b.id)
        from public.broadcast_recipients r join public.broadcast_messages b on b.id = r.broadcast_id
       where r.contact_id = p_contact_id), '[]'::jsonb),
    -- Raw copies of webhooks that name them (the same messages and statuses as above, as
    -- WhatsApp sent them; removed after the journal's retention period).
    'raw_webhooks', coalesce((
      select jsonb_agg(jsonb_build_object('journal_id', w.id, 'received_at', w.received_at, 'outcome', w.outcome)
             order by w.id)
        from svc.webhook_journal w where private.journal_mentions(w, v_identifiers)), '[]'::jsonb));

  perform private.write_audit_log('contact.exported', 'contacts', p_contact_id, jsonb_build_object(
    'conversations', jsonb_array_length(v_document -> 'conversations'),
    'broadcasts', jsonb_array_length(v_document -> 'broadcasts')));
  return v_document;
end;
$$;
comment on function private.export_contact(uuid) is
  'For public.export_contact: checks the caller is an admin, gathers everything held about the contact as one JSON document, logs it.';
revoke execute on function private.export_contact(uuid) from public, anon, authenticated;
grant execute on function private.export_contact(uuid) to authenticated;

create or replace function public.export_contact(p_contact_id uuid)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
begin atomic
  select private.export_contact(p_contact_id);
end;
comment on function public.export_contact(uuid) is
  'Admins: everything held about a contact as one JSON document (right of access): profile, conversations with messages (media references included), notes and labels, broadcasts received with their statuses, raw webhooks kept. 42501 for non-admins, P0002 for an unknown contact.';
revoke execute on function public.export_contact(uuid) from public, anon, authenticated;
grant execute on function public.export_contact(uuid) to authenticated;

-- Journal retention ----------------------------------------------------------------------------
--
-- The journal is not what makes ingestion idempotent (the wamid's unique constraint is) and
-- Meta's retries of unacknowledged webhooks (up to 7 days) never meet it: a raw webhook is
-- kept only to investigate and to replay. Applied and ignored ones go after p_max_age;
-- failed ones wait for a replay (svc.replay_failed_webhooks: then they are applied and go
-- by the first rule) up to p_failed_max_age, and go then even if never replayed.

create index webhook_journal_received_at on svc.webhook_journal (received_at);

create or replace function svc.prune_webhook_journal(
    p_max_age interval default '30 days',
    p_now timestamptz default now(),
    p_failed_max_age interval default '90 days'
)
returns int
language plpgsql
set search_path = ''
as $$
declare
  v_count int;
begin
  if p_max_age is null or p_max_age < interval '1 hour'
     or p_failed_max_age is null or p_failed_max_age < p_max_age then
    raise exception 'retention: p_max_age must be at least 1 hour and p_failed_max_age at least p_max_age'
      using errcode = '22023';
  end if;
  delete from svc.webhook_journal j
   where j.received_at < p_now - p_max_age
     and (j.outcome <> 'failed' or j.received_at < p_now - p_failed_max_age);
  get diagnostics v_count = row_count;
  return v_count;
end;
$$;
comment on function svc.prune_webhook_journal(interval, timestamptz, interval) is
  'Removes raw webhooks older than p_max_age (failed ones awaiting replay: older than p_failed_max_age); returns how many. Hourly (pg_cron or the services).';
revoke execute on function svc.prune_webhook_journal(interval, timestamptz, interval) from public, anon, authenticated;
grant execute on function svc.prune_webhook_journal(interval, timestamptz, interval) to service_role;
