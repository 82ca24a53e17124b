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
