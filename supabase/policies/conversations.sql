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
