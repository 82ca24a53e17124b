-- public.notes: the team's internal notes on a conversation.
--
-- read    everyone who sees the conversation reads all its notes
-- insert  a user adds notes as themselves (created_by) to conversations they see
-- update  a user edits only their own notes, in conversations they still see; content
--         and updated_at only (grant in migration 0600): never moved or re-attributed;
--         deleting is setting deleted_at (a tombstone whose content is cleared and which
--         never changes again: trigger a_keep_note_tombstones, migration
--         20261207000300), so that Realtime announces it only to those who read the note
-- delete  nobody through the API (the services only)

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
