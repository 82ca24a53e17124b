-- Realtime announces no deletions; notes are deleted softly, so that their deletion still
-- reaches exactly the people who saw them.
--
-- With RLS, Supabase Realtime cannot check a deleted row against the select policies (the
-- row is gone; only its primary key is in the WAL), so it sends DELETE events of a
-- published table to every subscriber of that table: agents would learn which notes of
-- other conversations, and which broadcasts, were deleted and when. Realtime asks the WAL
-- decoder only for the actions its publication publishes (pg_publication's pubinsert,
-- pubupdate, pubdelete), so the publication now publishes inserts and updates only.
--
-- What that leaves:
--   messages, conversations  never deleted through the API; nothing changes.
--   notes                    "deleting" a note sets deleted_at: the note becomes a
--                            tombstone (content cleared, nothing more can change) that the
--                            same people still read, so the UPDATE event reaches exactly
--                            them and the frontend hides it. DELETE is no longer granted.
--   broadcast_messages       admins delete drafts; the deletion is not announced (admins'
--                            other screens drop the draft on their next fetch).

alter publication supabase_realtime set (publish = 'insert, update');

-- Notes: soft deletion ----------------------------------------------------------------------

alter table public.notes add column deleted_at timestamp with time zone;
comment on column public.notes.deleted_at is
  'When its author deleted the note (a tombstone: content cleared); null while it stands.';

revoke delete on public.notes from authenticated;
grant update (deleted_at) on public.notes to authenticated;

-- ====================================================================================
-- supabase/policies/notes.sql
-- ====================================================================================

drop policy "Users can delete their own notes" on public.notes;

create or replace function private.keep_note_tombstones()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if old.deleted_at is not null then
    raise exception 'a deleted note can''t be changed'
      using errcode = '55000';
  end if;
  if new.deleted_at is not null then
    -- The server's clock, and nothing of the note's text left behind.
    new.deleted_at := now();
    new.content := '';
    new.updated_at := now();
  end if;
  return new;
end;
$$;
comment on function private.keep_note_tombstones() is
  'Guard trigger: deleting a note (deleted_at) clears its content; a deleted note never changes again.';
revoke execute on function private.keep_note_tombstones() from public, anon, authenticated;

create trigger a_keep_note_tombstones
  before update on public.notes
  for each row
  execute function private.keep_note_tombstones();
