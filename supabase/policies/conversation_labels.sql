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
