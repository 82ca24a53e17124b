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
--   their queue rows). The webhook journal is too large for an API call: the erasure
--   records a request (svc.journal_erasures) that svc.erase_from_journal carries out in
--   bounded batches (the gateway, within a minute), deciding per event who a raw webhook
--   is about (its senders and recipients, never what a message says). What stays is ids
--   and counts: the audit log's entries and the broadcasts' numbers.
-- Export (public.export_contact, admins): one JSON document with everything the tables of
--   public hold about a contact, for a data-access request, at once; their own events in
--   the webhook journal shortly after (svc.export_from_journal in bounded batches, fetched
--   with public.journal_export).
-- Both are logged in public.audit_log, with role and status changes of users,
--   reassignments of conversations and invitations created, changed, revoked or accepted:
--   ids only, never message text, names or phone numbers. Readable by admins; append-only
--   through the API and for the services (no grant; a trigger refuses changes even to the
--   owner, who can still drop or disable it: ship the log elsewhere for tamper evidence).
-- Retention (svc.prune_webhook_journal, the services or pg_cron): raw webhooks are kept
--   30 days; failed ones wait for a replay up to 90 days; statuses whose message never
--   became known (svc.early_statuses) 7 days.
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
      'invitation.created', 'invitation.role_changed', 'invitation.revoked', 'invitation.accepted',
      'contact.journal_erased'))
);
comment on table public.audit_log is
  'Append-only (through the API and for the services; the owner can still alter it) record of admin actions on access and personal data (erasure, export, role and status changes, reassignments, invitations): who, what, which row, when; ids only.';
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
-- update  nobody through the API or as the services (no grant); trigger
--         guard_audit_log_append_only refuses it to the owner too, but the owner can disable
--         or drop that trigger: for tamper evidence, ship the log elsewhere
-- delete  likewise (guard_audit_log_no_truncate refuses TRUNCATE)

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
  'Guard trigger: raises 42501, the audit log is not updated, deleted from or truncated (the owner can still disable this trigger).';
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
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_id bigint;
begin
  insert into public.audit_log (actor_id, actor_role, action, target_table, target_id, details)
  values (auth.uid(), auth.role(), p_action, p_target_table, p_target_id, coalesce(p_details, '{}'::jsonb))
  returning id into v_id;
  return v_id;
end;
$$;
comment on function private.write_audit_log(text, text, uuid, jsonb) is
  'Appends one audit log entry for the caller (auth.uid(), the token''s role): ids, enumerated values and counts only; returns its id.';
revoke execute on function private.write_audit_log(text, text, uuid, jsonb) from public, anon, authenticated;

-- Users: role and status changes (admins', the services', an operator's app metadata, an
-- accepted invitation).
create or replace function private.audit_user_change()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  -- Set by private.accept_invitation for the one update it makes: the invitation and who
  -- sent it (the acceptance itself has no actor: Auth confirms the email).
  v_context jsonb := nullif(current_setting('chatcentralize.accepting_invitation', true), '')::jsonb;
  v_link jsonb := '{}';
begin
  if v_context ->> 'user_id' = new.id::text then
    v_link := jsonb_build_object('invitation_id', v_context -> 'invitation_id', 'invited_by', v_context -> 'invited_by');
  end if;
  if old.role is distinct from new.role then
    perform private.write_audit_log('user.role_changed', 'users', new.id,
      jsonb_build_object('from', old.role, 'to', new.role) || v_link);
  end if;
  if old.status is distinct from new.status then
    perform private.write_audit_log('user.status_changed', 'users', new.id,
      jsonb_build_object('from', old.status, 'to', new.status) || v_link);
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

-- Invitations: created (with the role and the status it started in), role changed while
-- open, revoked, accepted (with who invited and who joined). Never the address.
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
  elsif new.role is distinct from old.role then
    perform private.write_audit_log('invitation.role_changed', 'invitations', new.id,
      jsonb_build_object('from', old.role, 'to', new.role));
  end if;
  if new.status = 'revoked' and (tg_op = 'INSERT' or old.status is distinct from 'revoked') then
    perform private.write_audit_log('invitation.revoked', 'invitations', new.id,
      jsonb_build_object('role', new.role, 'from', old.status));
  end if;
  if new.status = 'accepted' and (tg_op = 'INSERT' or old.status is distinct from 'accepted') then
    perform private.write_audit_log('invitation.accepted', 'invitations', new.id,
      jsonb_build_object('role', new.role, 'invited_by', new.invited_by, 'user_id', new.accepted_user_id));
  end if;
  return null;
end;
$$;
comment on function private.audit_invitation() is
  'Audit trigger: an invitation was created, its role changed, or it was revoked or accepted.';
revoke execute on function private.audit_invitation() from public, anon, authenticated;

create trigger on_invitation_created_audit
  after insert on public.invitations
  for each row execute function private.audit_invitation();
create trigger on_invitation_changed_audit
  after update of role, status on public.invitations
  for each row
  when (old.role is distinct from new.role
        or (new.status in ('revoked', 'accepted') and old.status is distinct from new.status))
  execute function private.audit_invitation();

-- Acceptance (replaces migration 20261207002000's function, unchanged otherwise): the
-- profile's role and status changes are logged with the invitation and who sent it,
-- through a transaction-local setting that the users' audit trigger reads, set for this
-- update only.
create or replace function private.accept_invitation(p_user_id uuid, p_email text, p_app_role text)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_invitation public.invitations%rowtype;
begin
  select * into v_invitation
    from public.invitations i
   where lower(i.email) = lower(p_email) and i.status in ('pending', 'sent', 'failed')
   for update;
  if not found then
    return false;
  end if;
  update public.invitations
     set status = 'accepted', accepted_at = now(), accepted_user_id = p_user_id,
         next_attempt_at = null, lease_owner = null, lease_expires_at = null
   where id = v_invitation.id;
  perform set_config('chatcentralize.accepting_invitation', jsonb_build_object(
    'invitation_id', v_invitation.id, 'invited_by', v_invitation.invited_by, 'user_id', p_user_id)::text, true);
  update public.users
     set role = coalesce(p_app_role, v_invitation.role), status = 'active'
   where id = p_user_id;
  perform set_config('chatcentralize.accepting_invitation', '', true);
  return true;
end;
$$;
comment on function private.accept_invitation(uuid, text, text) is
  'Accepts the open invitation of a confirmed email: role and active status for that user (audited with the invitation and its inviter).';
revoke execute on function private.accept_invitation(uuid, text, text) from public, anon, authenticated;

-- Broadcasts: what erased recipients leave behind ----------------------------------------------

alter table public.broadcast_messages
  add column erased_recipients jsonb not null default '{}';
comment on column public.broadcast_messages.erased_recipients is
  'Recipients removed by erase_contact after the broadcast began sending, counted by their status then (e.g. {"delivered": 2}); with the remaining recipient rows, the broadcast''s full numbers.';

-- Erasure -------------------------------------------------------------------------------------

-- The journal, per event: who each item of a journaled webhook is about ----------------------
--
-- A raw webhook is one customer's when its items are about them: an inbound message by its
-- sender, a status by its recipient (or the wamid of one of their messages), a sender's
-- profile (value.contacts) by its wa_id or user id. What a message SAYS (a contact card
-- with someone's number, a typed number) is the sender's conversation, never a reason to
-- treat the webhook as the person mentioned (README, "Personal data": limitation).
--
-- The items come from the parsed events (the contract of svc.apply_webhook_events: messages'
-- from / user_id, statuses' recipient_id / wamid) and from the raw payload's well-formed
-- places (value.messages[].from / from_user_id, value.statuses[].recipient_id /
-- recipient_user_id / id, value.contacts[].wa_id / user_id / parent_user_id), which also
-- covers items the parser could not read. An unparsed webhook (events null) is read more
-- loosely: every "from" and "recipient_id" anywhere in it.
create or replace function private.journal_items(p_payload jsonb, p_events jsonb)
returns table (who text[], wamid text)
language sql
immutable
set search_path = ''
as $$
  select array[e ->> 'from', e ->> 'user_id'], null::text
    from jsonb_array_elements(case when jsonb_typeof(p_events -> 'messages') = 'array' then p_events -> 'messages' else '[]'::jsonb end) e
  union all
  select array[e ->> 'recipient_id'], e ->> 'wamid'
    from jsonb_array_elements(case when jsonb_typeof(p_events -> 'statuses') = 'array' then p_events -> 'statuses' else '[]'::jsonb end) e
  union all
  select array[m ->> 'from', m ->> 'from_user_id'], null
    from jsonb_path_query(p_payload, 'lax $.entry[*].changes[*].value.messages[*]') m
  union all
  select array[s ->> 'recipient_id', s ->> 'recipient_user_id'], s ->> 'id'
    from jsonb_path_query(p_payload, 'lax $.entry[*].changes[*].value.statuses[*]') s
  union all
  select array[c ->> 'wa_id', c ->> 'user_id', c ->> 'parent_user_id'], null
    from jsonb_path_query(p_payload, 'lax $.entry[*].changes[*].value.contacts[*]') c
  union all
  select array[f #>> '{}'], null
    from jsonb_path_query(p_payload, 'strict $.**.from') f
   where p_events is null
  union all
  select array[f #>> '{}'], null
    from jsonb_path_query(p_payload, 'strict $.**.recipient_id') f
   where p_events is null
$$;
comment on function private.journal_items(jsonb, jsonb) is
  'Who each item of a journaled webhook is about (senders, recipients, wamids), from its parsed events and its raw payload.';
revoke execute on function private.journal_items(jsonb, jsonb) from public, anon, authenticated;

-- Whose a journaled webhook is, for the customer named by p_identifiers (wa_id, phone,
-- user ids) and p_wamids (their messages'): 'none' (no item is about them), 'theirs' (every
-- item is about them) or 'shared' (items about them and about others).
create or replace function private.journal_share(p_payload jsonb, p_events jsonb, p_identifiers text[], p_wamids text[])
returns text
language sql
immutable
set search_path = ''
as $$
  with items as (
    select (i.who && p_identifiers or coalesce(i.wamid = any (p_wamids), false)) as theirs,
           (exists (select from unnest(i.who) w where w is not null) or i.wamid is not null) as about_someone
      from private.journal_items(p_payload, p_events) i)
  select case
    when not exists (select from items where theirs) then 'none'
    when exists (select from items where not theirs and about_someone) then 'shared'
    else 'theirs' end
$$;
comment on function private.journal_share(jsonb, jsonb, text[], text[]) is
  'none, theirs or shared: whether a journaled webhook''s items are about the customer with these identifiers and wamids.';
revoke execute on function private.journal_share(jsonb, jsonb, text[], text[]) from public, anon, authenticated;

-- The parsed events without the customer's (null stays null: nothing was parsed).
create or replace function private.journal_events_without(p_events jsonb, p_identifiers text[], p_wamids text[])
returns jsonb
language sql
immutable
set search_path = ''
as $$
  select case when p_events is null then null else p_events || jsonb_build_object(
    'messages', coalesce((
      select jsonb_agg(m.value order by m.ordinality)
        from jsonb_array_elements(case when jsonb_typeof(p_events -> 'messages') = 'array' then p_events -> 'messages' else '[]'::jsonb end)
             with ordinality m
       where not coalesce(array[m.value ->> 'from', m.value ->> 'user_id'] && p_identifiers, false)), '[]'::jsonb),
    'statuses', coalesce((
      select jsonb_agg(s.value order by s.ordinality)
        from jsonb_array_elements(case when jsonb_typeof(p_events -> 'statuses') = 'array' then p_events -> 'statuses' else '[]'::jsonb end)
             with ordinality s
       where not coalesce(array[s.value ->> 'recipient_id'] && p_identifiers, false)
         and not coalesce(s.value ->> 'wamid' = any (p_wamids), false)), '[]'::jsonb)) end
$$;
comment on function private.journal_events_without(jsonb, text[], text[]) is
  'A journaled webhook''s parsed events without the messages and statuses about the customer with these identifiers and wamids.';
revoke execute on function private.journal_events_without(jsonb, text[], text[]) from public, anon, authenticated;

-- The cheap test before the per-event one: the journaled webhooks with ids p_from..p_to
-- whose text contains one of the identifiers, or one of whose statuses names one of the
-- wamids (a hash join, so a customer with thousands of messages costs no more per webhook).
create or replace function private.journal_candidates(p_from bigint, p_to bigint, p_identifiers text[], p_wamids text[])
returns setof bigint
language sql
stable
set search_path = ''
as $$
  select w.id from svc.webhook_journal w
   where w.id between p_from and p_to
     and exists (select from (select w.payload::text || coalesce(w.events::text, '') as t) x, unnest(p_identifiers) i
                  where strpos(x.t, i) > 0)
  union
  select s.id
    from (select w.id, x #>> '{}' as wamid
            from svc.webhook_journal w, jsonb_path_query(coalesce(w.events, '{}'::jsonb), 'lax $.statuses[*].wamid') x
           where w.id between p_from and p_to
          union all
          select w.id, x #>> '{}'
            from svc.webhook_journal w, jsonb_path_query(w.payload, 'lax $.entry[*].changes[*].value.statuses[*].id') x
           where w.id between p_from and p_to) s
    join unnest(p_wamids) u (wamid) on u.wamid = s.wamid
$$;
comment on function private.journal_candidates(bigint, bigint, text[], text[]) is
  'Journaled webhooks (ids p_from..p_to) that may be about the customer: their text holds an identifier, or a status one of the wamids.';
revoke execute on function private.journal_candidates(bigint, bigint, text[], text[]) from public, anon, authenticated;

-- Pending erasures from the journal ----------------------------------------------------------
--
-- erase_contact removes everything in public and the svc queues at once, but the journal
-- can hold millions of raw webhooks (a 100k broadcast alone journals ~300k statuses a day,
-- kept 30 days): reading all of them does not fit in an API call. It records a request
-- here instead, and svc.erase_from_journal (the gateway, every minute while one is
-- pending) goes through the journal in bounded batches, by id, up to the last webhook
-- journaled when the erasure was made (later ones are about a new contact: they wrote
-- again). When it has covered that range it forgets the identifiers and logs
-- contact.journal_erased; until then the request holds the customer's identifiers (and
-- the raw webhooks not yet covered their data).
create table svc.journal_erasures (
    id bigint generated always as identity primary key,
    -- The contact.erased entry of public.audit_log (its target is the contact's id).
    audit_log_id bigint,
    requested_at timestamptz not null default now(),
    -- What to look for: wa_id, phone (also as digits), user id; the wamids of their
    -- messages and broadcast deliveries. Null once done.
    identifiers text[],
    wamids text[],
    -- The journal's range: ids up to through_journal_id; those below next_journal_id are done.
    through_journal_id bigint not null,
    next_journal_id bigint not null default 0,
    scanned bigint not null default 0,
    removed int not null default 0,
    stripped int not null default 0,
    done_at timestamptz,
    constraint journal_erasures_forgotten_when_done check ((done_at is null) = (identifiers is not null))
);
comment on table svc.journal_erasures is
  'Erasures (erase_contact) still to be carried out in the webhook journal, by svc.erase_from_journal in bounded batches; identifiers forgotten when done.';
create index journal_erasures_pending on svc.journal_erasures (id) where done_at is null;
revoke all on svc.journal_erasures from public, anon, authenticated;
grant select on svc.journal_erasures to service_role;

-- Goes on with the pending erasures, oldest first: at most p_limit journaled webhooks per
-- call (each call stays well under a second; call again until pending is 0). A webhook
-- only about the erased customer is deleted; one shared with others keeps their events
-- (replayable) and loses its raw payload ({"erased": true}), an unparsed one likewise.
-- Several callers at once take different requests (skip locked).
-- The definer half (it reads and writes the audit log and uses the private helpers); the
-- services call svc.erase_from_journal, which reaches it by oid.
create or replace function private.erase_from_journal(p_limit int)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  r record;
  j record;
  v_budget int := p_limit;
  v_last bigint;
  v_count int;
  v_share text;
  v_scanned bigint := 0;
  v_removed int := 0;
  v_stripped int := 0;
  v_completed int := 0;
  v_removed_now int;
  v_stripped_now int;
begin
  if p_limit is null or p_limit < 1 or p_limit > 100000 then
    raise exception 'erase_from_journal: p_limit must be between 1 and 100000' using errcode = '22023';
  end if;
  for r in
    select * from svc.journal_erasures where done_at is null order by id for update skip locked
  loop
    exit when v_budget <= 0;
    select max(x.id), count(*) into v_last, v_count
      from (select w.id from svc.webhook_journal w
             where w.id >= r.next_journal_id and w.id <= r.through_journal_id
             order by w.id limit v_budget) x;
    if v_count = 0 or v_count < v_budget then
      v_last := r.through_journal_id;
    end if;
    v_removed_now := 0;
    v_stripped_now := 0;
    for j in
      select w.id, w.payload, w.events, w.error from svc.webhook_journal w
       where w.id in (select private.journal_candidates(r.next_journal_id, v_last, r.identifiers, r.wamids))
       order by w.id
         for update
    loop
      v_share := private.journal_share(j.payload, j.events, r.identifiers, r.wamids);
      if v_share = 'theirs' then
        delete from svc.webhook_journal where id = j.id;
        v_removed_now := v_removed_now + 1;
      elsif v_share = 'shared' then
        update svc.webhook_journal
           set payload = jsonb_build_object('erased', true),
               events = private.journal_events_without(j.events, r.identifiers, r.wamids),
               error = case when exists (select from unnest(r.identifiers || r.wamids) i where strpos(j.error, i) > 0)
                            then 'erased: the error named an erased contact' else j.error end
         where id = j.id;
        v_stripped_now := v_stripped_now + 1;
      end if;
    end loop;
    v_scanned := v_scanned + v_count;
    v_removed := v_removed + v_removed_now;
    v_stripped := v_stripped + v_stripped_now;
    v_budget := v_budget - greatest(v_count, 1);
    if v_last >= r.through_journal_id then
      update svc.journal_erasures
         set next_journal_id = v_last + 1, scanned = scanned + v_count,
             removed = removed + v_removed_now, stripped = stripped + v_stripped_now,
             identifiers = null, wamids = null, done_at = now()
       where id = r.id
      returning * into r;
      -- Logged for the contact of the erasure's entry (a request an operator made by hand,
      -- without one, is not).
      perform private.write_audit_log('contact.journal_erased', 'contacts', l.target_id,
        jsonb_build_object('erasure_id', r.id, 'audit_log_id', r.audit_log_id, 'requested_at', r.requested_at,
          'webhooks_scanned', r.scanned, 'webhooks_removed', r.removed, 'webhooks_stripped', r.stripped))
         from public.audit_log l where l.id = r.audit_log_id;
      v_completed := v_completed + 1;
    else
      update svc.journal_erasures
         set next_journal_id = v_last + 1, scanned = scanned + v_count,
             removed = removed + v_removed_now, stripped = stripped + v_stripped_now
       where id = r.id;
    end if;
  end loop;
  return jsonb_build_object('scanned', v_scanned, 'removed', v_removed, 'stripped', v_stripped,
    'completed', v_completed,
    'pending', (select count(*) from svc.journal_erasures where done_at is null));
end;
$$;
comment on function private.erase_from_journal(int) is
  'For svc.erase_from_journal: carries out pending erasures in the webhook journal, at most p_limit webhooks.';
revoke execute on function private.erase_from_journal(int) from public, anon, authenticated;
grant execute on function private.erase_from_journal(int) to service_role;

create or replace function svc.erase_from_journal(p_limit int default 1000)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
begin atomic
  select private.erase_from_journal(p_limit);
end;
comment on function svc.erase_from_journal(int) is
  'Carries out pending erasures in the webhook journal, at most p_limit webhooks per call; returns scanned, removed, stripped, completed and pending (call again while pending > 0).';
revoke execute on function svc.erase_from_journal(int) from public, anon, authenticated;
grant execute on function svc.erase_from_journal(int) to service_role;

-- How webhooks name a contact: wa_id, phone (also as digits only), business-scoped user id.
create or replace function private.contact_identifiers(p_contact public.contacts)
returns text[]
language sql
immutable
set search_path = ''
as $$
  select array(
    select distinct i from unnest(array[
      p_contact.wa_id, p_contact.phone, p_contact.wa_user_id,
      nullif(regexp_replace(coalesce(p_contact.phone, ''), '[^0-9]', '', 'g'), '')]) i
     where i is not null and length(i) >= 5)
$$;
comment on function private.contact_identifiers(public.contacts) is
  'The identifiers by which webhooks name a contact: wa_id, phone (also digits only), user id.';
revoke execute on function private.contact_identifiers(public.contacts) from public, anon, authenticated;

-- The wamids of a contact's messages and broadcast deliveries, which status webhooks name.
create or replace function private.contact_wamids(p_contact_id uuid)
returns text[]
language sql
stable
set search_path = ''
as $$
  select array(
    select m.wa_message_id from public.messages m
      join public.conversations c on c.id = m.conversation_id
     where c.contact_id = p_contact_id and m.wa_message_id is not null
    union
    select r.wa_message_id from public.broadcast_recipients r
     where r.contact_id = p_contact_id and r.wa_message_id is not null)
$$;
comment on function private.contact_wamids(uuid) is
  'The wamids of a contact''s messages and broadcast deliveries.';
revoke execute on function private.contact_wamids(uuid) from public, anon, authenticated;

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
  v_erasure bigint;
  v_audit bigint;
  v_journal jsonb;
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

  -- How webhooks name them (private.contact_identifiers) and their messages' wamids.
  -- Never stored in the audit log; in svc.journal_erasures until the journal is done.
  v_identifiers := private.contact_identifiers(v_contact);
  v_wamids := private.contact_wamids(p_contact_id);

  -- Exports of their journal events (pending or waiting to be fetched) go too.
  delete from svc.journal_exports e
   using public.audit_log l
   where l.id = e.audit_log_id and l.target_id = p_contact_id and l.action = 'contact.exported';

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

  -- The journal: recorded here, carried out by svc.erase_from_journal in bounded batches
  -- (a journal of millions of raw webhooks doesn't fit in an API call). The identifiers
  -- for the journal include their business-scoped user id.
  insert into svc.journal_erasures (identifiers, wamids, through_journal_id)
  values (v_identifiers, v_wamids, coalesce((select max(w.id) from svc.webhook_journal w), 0))
  returning id into v_erasure;
  delete from public.contacts where id = p_contact_id;

  -- The journal's part is pending: the audit entry says so (with the request's id); the
  -- entry contact.journal_erased (same target) says when it was carried out.
  v_journal := jsonb_build_object('status', 'pending', 'erasure_id', v_erasure);
  v_audit := private.write_audit_log('contact.erased', 'contacts', p_contact_id, jsonb_build_object(
    'conversations', v_conversations, 'messages', v_messages, 'notes', v_notes,
    'conversation_labels', v_labels, 'broadcast_recipients', v_recipients,
    'broadcasts_counted', v_counted, 'outbound_jobs', v_jobs, 'broadcast_queue', v_queued,
    'read_receipts', v_receipts, 'early_statuses', v_early, 'journal', v_journal));
  update svc.journal_erasures set audit_log_id = v_audit where id = v_erasure;

  return jsonb_build_object(
    'contact_id', p_contact_id,
    'conversations', v_conversations, 'messages', v_messages, 'notes', v_notes,
    'conversation_labels', v_labels, 'broadcast_recipients', v_recipients,
    'broadcasts_counted', v_counted, 'outbound_jobs', v_jobs, 'broadcast_queue', v_queued,
    'read_receipts', v_receipts, 'early_statuses', v_early, 'journal', v_journal);
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
  'Admins: erases a contact (right to erasure): the contact, their conversations with messages, media references, notes and labels, their broadcast recipient rows (sent broadcasts keep counts) and queued jobs at once; their raw webhooks in the journal shortly after (journal.status pending: svc.erase_from_journal, audit entry contact.journal_erased when done). Returns what was removed, as counts. 42501 for non-admins, P0002 for an unknown contact.';
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
  v_document jsonb;
  v_export bigint;
  v_audit bigint;
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
    -- The webhook journal is not read here: a full read of it does not fit in an API call.
    -- Its part is gathered by svc.export_from_journal (below) and fetched with
    -- public.journal_export(export_id).
    'raw_webhooks', null);

  insert into svc.journal_exports (identifiers, wamids, through_journal_id)
  values (private.contact_identifiers(v_contact), private.contact_wamids(p_contact_id),
          coalesce((select max(w.id) from svc.webhook_journal w), 0))
  returning id into v_export;
  v_document := v_document || jsonb_build_object('raw_webhooks', jsonb_build_object('status', 'pending', 'export_id', v_export));

  v_audit := private.write_audit_log('contact.exported', 'contacts', p_contact_id, jsonb_build_object(
    'conversations', jsonb_array_length(v_document -> 'conversations'),
    'broadcasts', jsonb_array_length(v_document -> 'broadcasts'),
    'journal_export_id', v_export));
  update svc.journal_exports set audit_log_id = v_audit where id = v_export;
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
  'Admins: everything the tables hold about a contact as one JSON document (right of access): profile, conversations with messages (media references included), notes and labels, broadcasts received with their statuses; their events in the webhook journal follow through public.journal_export(raw_webhooks.export_id). 42501 for non-admins, P0002 for an unknown contact.';
revoke execute on function public.export_contact(uuid) from public, anon, authenticated;
grant execute on function public.export_contact(uuid) to authenticated;

-- Export from the journal ----------------------------------------------------------------------
--
-- Like erasure, an export can't read the whole journal within an API call: export_contact
-- records a request here and svc.export_from_journal (the gateway, every minute while one
-- is pending) goes through the journal in bounded batches, by id, up to the last webhook
-- journaled at the request, gathering the customer's own events by the same per-event rule
-- (their messages and the statuses of their messages; an unparsed webhook about them by
-- id). The admin fetches the result with public.journal_export(export_id). A result is kept
-- 7 days (svc.prune_webhook_journal), and goes at once when the contact is erased.
create table svc.journal_exports (
    id bigint generated always as identity primary key,
    -- The contact.exported entry of public.audit_log (its target is the contact's id).
    audit_log_id bigint,
    requested_at timestamptz not null default now(),
    -- What to look for, as for an erasure. Null once done.
    identifiers text[],
    wamids text[],
    through_journal_id bigint not null,
    next_journal_id bigint not null default 0,
    scanned bigint not null default 0,
    -- [{journal_id, received_at, outcome, unparsed, messages, statuses}], oldest first.
    results jsonb not null default '[]',
    done_at timestamptz,
    constraint journal_exports_forgotten_when_done check ((done_at is null) = (identifiers is not null))
);
comment on table svc.journal_exports is
  'Exports (export_contact) of a customer''s own events from the webhook journal, gathered by svc.export_from_journal in bounded batches; kept 7 days.';
create index journal_exports_pending on svc.journal_exports (id) where done_at is null;
create index journal_exports_audit_log_id on svc.journal_exports (audit_log_id);
revoke all on svc.journal_exports from public, anon, authenticated;
grant select, delete on svc.journal_exports to service_role;

-- A journaled webhook's parsed events about the customer (null when it was not parsed).
create or replace function private.journal_events_of(p_events jsonb, p_identifiers text[], p_wamids text[])
returns jsonb
language sql
immutable
set search_path = ''
as $$
  select case when p_events is null then null else jsonb_build_object(
    'messages', coalesce((
      select jsonb_agg(m.value order by m.ordinality)
        from jsonb_array_elements(case when jsonb_typeof(p_events -> 'messages') = 'array' then p_events -> 'messages' else '[]'::jsonb end)
             with ordinality m
       where coalesce(array[m.value ->> 'from', m.value ->> 'user_id'] && p_identifiers, false)), '[]'::jsonb),
    'statuses', coalesce((
      select jsonb_agg(s.value order by s.ordinality)
        from jsonb_array_elements(case when jsonb_typeof(p_events -> 'statuses') = 'array' then p_events -> 'statuses' else '[]'::jsonb end)
             with ordinality s
       where coalesce(array[s.value ->> 'recipient_id'] && p_identifiers, false)
          or coalesce(s.value ->> 'wamid' = any (p_wamids), false)), '[]'::jsonb)) end
$$;
comment on function private.journal_events_of(jsonb, text[], text[]) is
  'A journaled webhook''s parsed messages and statuses about the customer with these identifiers and wamids.';
revoke execute on function private.journal_events_of(jsonb, text[], text[]) from public, anon, authenticated;

-- The definer half of svc.export_from_journal: at most p_limit journaled webhooks.
create or replace function private.export_from_journal(p_limit int)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  r record;
  v_budget int := p_limit;
  v_last bigint;
  v_count int;
  v_found jsonb;
  v_scanned bigint := 0;
  v_completed int := 0;
begin
  if p_limit is null or p_limit < 1 or p_limit > 100000 then
    raise exception 'export_from_journal: p_limit must be between 1 and 100000' using errcode = '22023';
  end if;
  for r in
    select * from svc.journal_exports where done_at is null order by id for update skip locked
  loop
    exit when v_budget <= 0;
    select max(x.id), count(*) into v_last, v_count
      from (select w.id from svc.webhook_journal w
             where w.id >= r.next_journal_id and w.id <= r.through_journal_id
             order by w.id limit v_budget) x;
    if v_count = 0 or v_count < v_budget then
      v_last := r.through_journal_id;
    end if;
    select coalesce(jsonb_agg(jsonb_build_object(
             'journal_id', w.id, 'received_at', w.received_at, 'outcome', w.outcome,
             'unparsed', w.events is null,
             'events', private.journal_events_of(w.events, r.identifiers, r.wamids)) order by w.id), '[]'::jsonb)
      into v_found
      from svc.webhook_journal w
     where w.id in (select private.journal_candidates(r.next_journal_id, v_last, r.identifiers, r.wamids))
       and private.journal_share(w.payload, w.events, r.identifiers, r.wamids) <> 'none';
    update svc.journal_exports e
       set next_journal_id = v_last + 1, scanned = e.scanned + v_count, results = e.results || v_found,
           identifiers = case when v_last >= r.through_journal_id then null else e.identifiers end,
           wamids = case when v_last >= r.through_journal_id then null else e.wamids end,
           done_at = case when v_last >= r.through_journal_id then now() end
     where e.id = r.id;
    if v_last >= r.through_journal_id then
      v_completed := v_completed + 1;
    end if;
    v_scanned := v_scanned + v_count;
    v_budget := v_budget - greatest(v_count, 1);
  end loop;
  return jsonb_build_object('scanned', v_scanned, 'completed', v_completed,
    'pending', (select count(*) from svc.journal_exports where done_at is null));
end;
$$;
comment on function private.export_from_journal(int) is
  'For svc.export_from_journal: gathers pending exports'' events from the webhook journal, at most p_limit webhooks.';
revoke execute on function private.export_from_journal(int) from public, anon, authenticated;
grant execute on function private.export_from_journal(int) to service_role;

create or replace function svc.export_from_journal(p_limit int default 1000)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
begin atomic
  select private.export_from_journal(p_limit);
end;
comment on function svc.export_from_journal(int) is
  'Gathers pending exports'' events from the webhook journal, at most p_limit webhooks per call; returns scanned, completed and pending (call again while pending > 0).';
revoke execute on function svc.export_from_journal(int) from public, anon, authenticated;
grant execute on function svc.export_from_journal(int) to service_role;

-- The definer half of public.journal_export.
create or replace function private.journal_export(p_export_id bigint)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_export svc.journal_exports%rowtype;
begin
  if not private.is_admin() then
    raise exception 'only an admin can read a contact''s exported personal data'
      using errcode = '42501';
  end if;
  select * into v_export from svc.journal_exports e where e.id = p_export_id;
  if not found then
    raise exception 'journal export % does not exist (expired after 7 days, or the contact was erased)', p_export_id
      using errcode = 'P0002';
  end if;
  return jsonb_build_object(
    'export_id', v_export.id,
    'contact_id', (select l.target_id from public.audit_log l where l.id = v_export.audit_log_id),
    'status', case when v_export.done_at is null then 'pending' else 'done' end,
    'requested_at', v_export.requested_at, 'done_at', v_export.done_at,
    'raw_webhooks', case when v_export.done_at is null then null else v_export.results end);
end;
$$;
comment on function private.journal_export(bigint) is
  'For public.journal_export: checks the caller is an admin, answers an export''s journal part.';
revoke execute on function private.journal_export(bigint) from public, anon, authenticated;
grant execute on function private.journal_export(bigint) to authenticated;

create or replace function public.journal_export(p_export_id bigint)
returns jsonb
language sql
stable
security invoker
set search_path = ''
begin atomic
  select private.journal_export(p_export_id);
end;
comment on function public.journal_export(bigint) is
  'Admins: the journal part of an export_contact (raw_webhooks.export_id): status pending until the gateway has gone through the journal, then the customer''s own events as journaled, by webhook. 42501 for non-admins, P0002 for an unknown or expired export.';
revoke execute on function public.journal_export(bigint) from public, anon, authenticated;
grant execute on function public.journal_export(bigint) to authenticated;

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
  v_early int;
  v_exports int;
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
  -- Statuses of a wamid nobody recorded within 7 days: their message never will be (a
  -- send's outcome is settled long before), so they wait no longer.
  delete from svc.early_statuses e where e.received_at < p_now - interval '7 days';
  get diagnostics v_early = row_count;
  -- Exports' journal parts: fetched within 7 days, or asked for again.
  delete from svc.journal_exports e where e.requested_at < p_now - interval '7 days';
  get diagnostics v_exports = row_count;
  return v_count + v_early + v_exports;
end;
$$;
comment on function svc.prune_webhook_journal(interval, timestamptz, interval) is
  'Removes raw webhooks older than p_max_age (failed ones awaiting replay: older than p_failed_max_age), early statuses and journal exports older than 7 days; returns how many rows. Hourly (pg_cron or the services).';
revoke execute on function svc.prune_webhook_journal(interval, timestamptz, interval) from public, anon, authenticated;
grant execute on function svc.prune_webhook_journal(interval, timestamptz, interval) to service_role;
