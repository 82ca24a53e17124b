-- Realtime: the tables whose changes the frontend receives (postgres_changes).
--
-- Publication supabase_realtime (created empty by the platform, owned by postgres) gets
-- exactly the design document's four tables:
--   messages            new messages and their status changes (sent, delivered, read)
--   conversations       status, priority, assignment and last_message_at changes
--   notes               collaborative notes
--   broadcast_messages  broadcast progress, for admins
-- Realtime re-checks every change under each subscriber's role and claims, so the
-- select policies (migration 0700) decide who receives what; broadcast_messages reach
-- admins only.
--
-- `alter publication ... add table` fails when the table is already a member (a project
-- where someone enabled Realtime on it in the dashboard): add only what is missing.
do $$
declare
  t text;
begin
  foreach t in array array['messages', 'conversations', 'notes', 'broadcast_messages'] loop
    if not exists (
      select from pg_catalog.pg_publication_tables p
      where p.pubname = 'supabase_realtime'
        and p.schemaname = 'public'
        and p.tablename = t
    ) then
      execute format('alter publication supabase_realtime add table public.%I', t);
    end if;
  end loop;
end
$$;

-- Replica identity: DEFAULT (the primary key) for all four, said explicitly.
--
-- FULL would put each updated or deleted row's old values into the WAL, but on a table
-- with RLS enabled (all of ours) Realtime sends subscribers only the primary key of the
-- old record anyway (its apply_rls keeps old columns only where is_pkey: it can't check
-- a deleted row against policies). So FULL would buy subscribers nothing and cost WAL on
-- the busiest tables: every inbound message updates its conversation's last_message_at,
-- and every status webhook updates a message. The primary key is all a client needs to
-- find the row it holds; the new values come with every INSERT and UPDATE event.
alter table public.messages replica identity default;
alter table public.conversations replica identity default;
alter table public.notes replica identity default;
alter table public.broadcast_messages replica identity default;
