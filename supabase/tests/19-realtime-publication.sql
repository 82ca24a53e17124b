-- Realtime: publication supabase_realtime carries exactly the design document's four
-- tables, re-running its migration is harmless, and subscribers can be authorized.
-- (That their changes reach a logical slot, and others' don't: crates/testkit/tests/realtime.rs.)
begin;
select plan(9);

select results_eq(
  $$select pubowner::regrole::text, pubinsert, pubupdate, pubdelete from pg_publication where pubname = 'supabase_realtime'$$,
  $$values ('postgres', true, true, false)$$,
  'supabase_realtime exists, owned by postgres, publishing inserts and updates but no deletes (Realtime cannot check a deleted row against RLS)');

select results_eq(
  $$select schemaname::text collate "default", tablename::text collate "default" from pg_publication_tables where pubname = 'supabase_realtime' order by 1, 2$$,
  $$values ('public', 'broadcast_messages'), ('public', 'conversations'), ('public', 'messages'), ('public', 'notes')$$,
  'supabase_realtime carries exactly messages, conversations, notes and broadcast_messages');

select results_eq(
  $$select c.relname::text collate "default", c.relreplident::text from pg_class c
    where c.oid in ('public.messages'::regclass, 'public.conversations'::regclass, 'public.notes'::regclass, 'public.broadcast_messages'::regclass)
    order by 1$$,
  $$values ('broadcast_messages', 'd'), ('conversations', 'd'), ('messages', 'd'), ('notes', 'd')$$,
  'the published tables keep replica identity default (see the migration for why)');

select is_empty(
  $$select pr.prrelid::regclass from pg_publication_rel pr join pg_publication p on p.oid = pr.prpubid
    where p.pubname = 'supabase_realtime'
      and not exists (select from pg_index i where i.indrelid = pr.prrelid and i.indisprimary)$$,
  'every published table has a primary key, the identity its updates and deletes carry');

select is_empty(
  $$select pr.prrelid::regclass from pg_publication_rel pr join pg_publication p on p.oid = pr.prpubid
    where p.pubname = 'supabase_realtime'
      and not (
        has_table_privilege('authenticated', pr.prrelid, 'SELECT')
        and exists (select from pg_policy pol where pol.polrelid = pr.prrelid
                    and pol.polcmd in ('r', '*') and 'authenticated'::regrole = any (pol.polroles)))$$,
  'subscribers (authenticated) hold SELECT and a select policy on every published table');

select throws_ok(
  $$alter publication supabase_realtime add table public.messages$$,
  '42710', null,
  'adding a member again fails, which is why the migration checks first');

-- The migration again, on a database that has it: it must change nothing and not fail.
\ir ../migrations/20261125000900_realtime_publication.sql
select is(
  (select count(*)::int from pg_publication_tables where pubname = 'supabase_realtime'),
  4,
  're-running the realtime migration leaves the four tables');

-- And on a project where someone had already enabled one of them in the dashboard.
alter publication supabase_realtime drop table public.notes, public.broadcast_messages;
\ir ../migrations/20261125000900_realtime_publication.sql
select results_eq(
  $$select tablename::text collate "default" from pg_publication_tables where pubname = 'supabase_realtime' order by 1$$,
  $$values ('broadcast_messages'), ('conversations'), ('messages'), ('notes')$$,
  'the realtime migration adds what is missing and keeps what is there');

select is_empty(
  $$select tablename from pg_publication_tables where pubname = 'supabase_realtime' and tablename in ('labels', 'users', 'contacts', 'broadcast_recipients', 'conversation_labels', 'message_templates')$$,
  'tables without a realtime use stay out of the publication');

select * from finish();
rollback;
