-- Access control, part 3: the row level security policies.
--
-- This migration is supabase/policies/*.sql, one section per table, verbatim. Edit the
-- policies there first, then carry the change into a new migration; the test
-- crates/testkit/tests/policies_match_migrations.rs fails when the database built from
-- the migrations has other policies than those files describe.
--
-- Shape of every policy: one per command, `to authenticated` (anon has no grant at all),
-- named as a sentence; per-statement values through `(select ...)` so they are computed
-- once (InitPlan); the caller's identity through private.active_user_id(), which is null
-- for an inactive user, and private.is_admin() / private.is_active_user() (migration 0500).
-- What hangs off a conversation (its contact, messages, notes, labels) is visible through
-- a correlated EXISTS on conversations, which runs under the conversations' own policy.
-- Columns the policies filter on are indexed: conversations.assigned_agent_id,
-- conversations.contact_id, conversations.id, messages.conversation_id,
-- notes.conversation_id, notes.created_by, conversation_labels.conversation_id,
-- users.id (migration 0200).


-- ====================================================================================
-- supabase/policies/users.sql
-- ====================================================================================

-- public.users: agents and admins, one profile per auth.users row.
--
-- read    every active user reads the whole team directory (assignments show names)
-- update  a user their own profile fields; an admin other users' role and status
--         (columns: grant in migration 0600; who may change which of them: the guard
--         triggers guard_users_*, migration 0800)
-- insert  nobody through the API: profiles follow auth.users
-- delete  nobody through the API: profiles follow auth.users

create policy "Active users can read the team directory"
  on public.users
  for select
  to authenticated
  using ((select private.is_active_user()));

create policy "Users can update their own profile and admins any user"
  on public.users
  for update
  to authenticated
  using (id = (select private.active_user_id()) or (select private.is_admin()))
  with check (id = (select private.active_user_id()) or (select private.is_admin()));

-- ====================================================================================
-- supabase/policies/contacts.sql
-- ====================================================================================

-- public.contacts: WhatsApp customers.
--
-- read    an agent the contacts of conversations assigned to them (the conversations'
--         select policy decides, inside the sub-select); an admin every contact, with or
--         without a conversation (the agent's test first: it is the hot path, and
--         when it holds, is_admin() is never called)
-- update  the same rows; profile fields for everyone who sees the contact, status
--         (block, unblock) for admins only (grant in migration 0600, guard trigger
--         guard_contacts_status, migration 0800); never phone or wa_id
-- insert  nobody through the API: the services create contacts from WhatsApp traffic
-- delete  nobody through the API

create policy "Agents can read contacts of their conversations, admins all"
  on public.contacts
  for select
  to authenticated
  using (
    exists (select from public.conversations c where c.contact_id = contacts.id)
    or (select private.is_admin())
  );

create policy "Agents can update contacts of their conversations, admins all"
  on public.contacts
  for update
  to authenticated
  using (
    exists (select from public.conversations c where c.contact_id = contacts.id)
    or (select private.is_admin())
  )
  with check (
    exists (select from public.conversations c where c.contact_id = contacts.id)
    or (select private.is_admin())
  );

-- ====================================================================================
-- supabase/policies/conversations.sql
-- ====================================================================================

-- public.conversations: a contact's chat with the team.
--
-- This select policy is THE definition of "the conversations a user sees": the policies
-- of contacts, messages, notes and conversation_labels reach it through
-- `exists (select from public.conversations c where c.id = <row>.conversation_id)`, a
-- sub-select that runs under the caller's RLS, so the rule is written once. (A correlated
-- EXISTS, not `conversation_id in (select c.id ...)`: sub-selects in policies are not
-- pulled up into joins, so the IN form hashes every visible conversation per query,
-- a sequential scan of conversations; EXISTS probes the primary key per row, or hashes
-- when that is cheaper.)
--
-- read    an agent the conversations assigned to them; an admin all of them
-- update  status and priority of those; assignment (assigned_agent_id) by admins only:
--         an agent's updated row must still be assigned to them (with check) and the
--         guard trigger guard_conversations_assignment (migration 0800) says why
-- insert  nobody through the API: the services open conversations for inbound messages
-- delete  nobody through the API

create policy "Agents can read their assigned conversations, admins all"
  on public.conversations
  for select
  to authenticated
  using (assigned_agent_id = (select private.active_user_id()) or (select private.is_admin()));

create policy "Agents can update their assigned conversations, admins all"
  on public.conversations
  for update
  to authenticated
  using (assigned_agent_id = (select private.active_user_id()) or (select private.is_admin()))
  with check (assigned_agent_id = (select private.active_user_id()) or (select private.is_admin()));

-- ====================================================================================
-- supabase/policies/messages.sql
-- ====================================================================================

-- public.messages: inbound and outbound WhatsApp messages.
--
-- read    the messages of the conversations the user sees (conversations' select policy)
-- insert  an outbound reply queued for sending: sender_type 'agent', sender_id the
--         user themselves, status 'pending', into a conversation they see; a trigger
--         hands it to the sender. Only the grant's columns (migration 0600).
-- update  nobody through the API: statuses, wamids and errors belong to the services
-- delete  nobody through the API

create policy "Users can read the messages of the conversations they see"
  on public.messages
  for select
  to authenticated
  using (exists (select from public.conversations c where c.id = messages.conversation_id));

create policy "Users can queue replies in the conversations they see"
  on public.messages
  for insert
  to authenticated
  with check (
    sender_type = 'agent'
    and sender_id = (select private.active_user_id())
    and status = 'pending'
    and exists (select from public.conversations c where c.id = messages.conversation_id)
  );

-- ====================================================================================
-- supabase/policies/notes.sql
-- ====================================================================================

-- public.notes: the team's internal notes on a conversation.
--
-- read    everyone who sees the conversation reads all its notes
-- insert  a user adds notes as themselves (created_by) to conversations they see
-- update  a user edits only their own notes, in conversations they still see; content
--         and updated_at only (grant in migration 0600): never moved or re-attributed
-- delete  a user deletes only their own notes, in conversations they still see

create policy "Users can read the notes of the conversations they see"
  on public.notes
  for select
  to authenticated
  using (exists (select from public.conversations c where c.id = notes.conversation_id));

create policy "Users can add their own notes to the conversations they see"
  on public.notes
  for insert
  to authenticated
  with check (
    created_by = (select private.active_user_id())
    and exists (select from public.conversations c where c.id = notes.conversation_id)
  );

create policy "Users can edit their own notes"
  on public.notes
  for update
  to authenticated
  using (
    created_by = (select private.active_user_id())
    and exists (select from public.conversations c where c.id = notes.conversation_id)
  )
  with check (
    created_by = (select private.active_user_id())
    and exists (select from public.conversations c where c.id = notes.conversation_id)
  );

create policy "Users can delete their own notes"
  on public.notes
  for delete
  to authenticated
  using (
    created_by = (select private.active_user_id())
    and exists (select from public.conversations c where c.id = notes.conversation_id)
  );

-- ====================================================================================
-- supabase/policies/labels.sql
-- ====================================================================================

-- public.labels: the team's labels for organizing conversations.
--
-- read    every active user (to show and attach them)
-- insert  admins, as themselves (created_by)
-- update  admins: name and color (grant in migration 0600)
-- delete  admins (a label still attached to a conversation can't go: foreign key)

create policy "Active users can read labels"
  on public.labels
  for select
  to authenticated
  using ((select private.is_active_user()));

create policy "Admins can create labels"
  on public.labels
  for insert
  to authenticated
  with check ((select private.is_admin()) and created_by = (select private.active_user_id()));

create policy "Admins can update labels"
  on public.labels
  for update
  to authenticated
  using ((select private.is_admin()))
  with check ((select private.is_admin()));

create policy "Admins can delete labels"
  on public.labels
  for delete
  to authenticated
  using ((select private.is_admin()));

-- ====================================================================================
-- supabase/policies/conversation_labels.sql
-- ====================================================================================

-- public.conversation_labels: which labels a conversation carries.
--
-- read    the labels of the conversations the user sees
-- insert  a user attaches a label, as themselves (created_by), to a conversation they see
-- delete  a user detaches any label from a conversation they see
-- update  nobody (a row is only its two keys: detach and attach instead; no grant)

create policy "Users can read the labels of the conversations they see"
  on public.conversation_labels
  for select
  to authenticated
  using (exists (select from public.conversations c where c.id = conversation_labels.conversation_id));

create policy "Users can attach labels to the conversations they see"
  on public.conversation_labels
  for insert
  to authenticated
  with check (
    created_by = (select private.active_user_id())
    and exists (select from public.conversations c where c.id = conversation_labels.conversation_id)
  );

create policy "Users can detach labels from the conversations they see"
  on public.conversation_labels
  for delete
  to authenticated
  using (exists (select from public.conversations c where c.id = conversation_labels.conversation_id));

-- ====================================================================================
-- supabase/policies/message_templates.sql
-- ====================================================================================

-- public.message_templates: approved WhatsApp templates the team sends.
--
-- read    every active user (agents pick templates when replying)
-- insert  admins, as themselves (created_by)
-- update  admins (grant in migration 0600: not id, created_by, created_at)
-- delete  admins (a template a broadcast used can't go: foreign key)

create policy "Active users can read templates"
  on public.message_templates
  for select
  to authenticated
  using ((select private.is_active_user()));

create policy "Admins can create templates"
  on public.message_templates
  for insert
  to authenticated
  with check ((select private.is_admin()) and created_by = (select private.active_user_id()));

create policy "Admins can update templates"
  on public.message_templates
  for update
  to authenticated
  using ((select private.is_admin()))
  with check ((select private.is_admin()));

create policy "Admins can delete templates"
  on public.message_templates
  for delete
  to authenticated
  using ((select private.is_admin()));

-- ====================================================================================
-- supabase/policies/broadcast_messages.sql
-- ====================================================================================

-- public.broadcast_messages: scheduled mass messages. Admins only.
--
-- read    admins (the audience names contacts an agent may not see)
-- insert  admins, as themselves (created_by), as a draft or already scheduled
-- update  admins; the status they may set is draft, scheduled or cancelled: 'sending' and
--         'completed' are the broadcast worker's (it moves a broadcast to sending exactly
--         once), so a sending broadcast can only be cancelled and a completed one not
--         changed; sent_at is not even granted (migration 0600)
-- delete  admins, drafts only (what was scheduled or sent stays as history)

create policy "Admins can read broadcasts"
  on public.broadcast_messages
  for select
  to authenticated
  using ((select private.is_admin()));

create policy "Admins can create draft or scheduled broadcasts"
  on public.broadcast_messages
  for insert
  to authenticated
  with check (
    (select private.is_admin())
    and created_by = (select private.active_user_id())
    and status in ('draft', 'scheduled')
  );

create policy "Admins can edit, schedule and cancel broadcasts"
  on public.broadcast_messages
  for update
  to authenticated
  using ((select private.is_admin()))
  with check ((select private.is_admin()) and status in ('draft', 'scheduled', 'cancelled'));

create policy "Admins can delete draft broadcasts"
  on public.broadcast_messages
  for delete
  to authenticated
  using ((select private.is_admin()) and status = 'draft');

-- ====================================================================================
-- supabase/policies/broadcast_recipients.sql
-- ====================================================================================

-- public.broadcast_recipients: one row per contact a broadcast goes to.
--
-- read    admins
-- insert  nobody through the API: the worker materializes recipients from the audience
--         (minus blocked and opted-out contacts), which direct inserts would bypass
-- update  nobody through the API: delivery statuses come from WhatsApp's webhooks
-- delete  nobody through the API

create policy "Admins can read broadcast recipients"
  on public.broadcast_recipients
  for select
  to authenticated
  using ((select private.is_admin()));
