-- The inbox's objects (migrations 20261125004000-4200): the settings table's policies and
-- grants, what the API roles may execute, and search_path on every new function.
begin;
select plan(9);

select has_table('public', 'inbox_settings', 'table public.inbox_settings exists');
select columns_are('public', 'inbox_settings', array['id', 'auto_assign'], 'public.inbox_settings has exactly its two columns');
select has_column('public', 'conversations', 'unread_count', 'conversations.unread_count exists (extension: the unread count)');
select col_not_null('public', 'conversations', 'unread_count', 'conversations.unread_count is not null (0 by default)');

select results_eq(
  $$select cmd::text, policyname::text collate "default" from pg_policies
     where schemaname = 'public' and tablename = 'inbox_settings' order by 1, 2$$,
  $$values ('SELECT', 'Active users can read the inbox settings'), ('UPDATE', 'Admins can change the inbox settings')$$,
  'inbox_settings: read by active users, changed by admins, one policy per command');

select results_eq(
  $$select concat_ws(',',
      case when has_table_privilege('authenticated', 'public.inbox_settings', 'SELECT') then 'select' end,
      case when has_table_privilege('authenticated', 'public.inbox_settings', 'INSERT') then 'insert' end,
      case when has_table_privilege('authenticated', 'public.inbox_settings', 'UPDATE') then 'update' end,
      case when has_table_privilege('authenticated', 'public.inbox_settings', 'DELETE') then 'delete' end,
      case when has_column_privilege('authenticated', 'public.inbox_settings', 'auto_assign', 'UPDATE') then 'update(auto_assign)' end,
      case when has_column_privilege('authenticated', 'public.inbox_settings', 'id', 'UPDATE') then 'update(id)' end,
      case when has_any_column_privilege('anon', 'public.inbox_settings', 'SELECT, INSERT, UPDATE') then 'anon' end)$$,
  $$values ('select,update(auto_assign)')$$,
  'authenticated: select, and update of auto_assign only; anon nothing');

select results_eq(
  $$select p.oid::regprocedure::text collate "default" from pg_proc p
     where p.pronamespace in ('public'::regnamespace, 'private'::regnamespace)
       and has_function_privilege('authenticated', p.oid, 'EXECUTE')
       and p.proname not in ('active_user_id', 'current_role_bypasses_rls', 'is_active_user', 'is_admin')
     order by 1$$,
  $$values ('billing_by_broadcast(uuid)'), ('billing_by_day(date,date)'),
           ('erase_contact(uuid)'), ('export_contact(uuid)'), ('journal_export(bigint)'),
           ('mark_conversation_read(uuid)'), ('media_link(uuid)'), ('media_upload_link(uuid,text)'),
           ('private.billing_by_broadcast(uuid)'), ('private.billing_by_day(date,date)'),
           ('private.erase_contact(uuid)'), ('private.export_contact(uuid)'),
           ('private.journal_export(bigint)'), ('private.mark_conversation_read(uuid)'), ('private.media_link(uuid)'),
           ('private.media_upload_link(uuid,text)'), ('private.request_template_sync()'),
           ('private.search_contact_window(text)'), ('private.search_message_window(text)'),
           ('request_template_sync()'), ('search_contacts(text,integer,integer)'), ('search_messages(text,integer,integer)')$$,
  'authenticated executes the three RPCs of the inbox, the three of data protection (60-data-protection), request_template_sync (70-templates), the two of billing (71-template-events-and-pricing), media_link (71-media-links), media_upload_link (74-media-uploads) and their definer halves, nothing else');

select is_empty(
  $$select p.oid::regprocedure from pg_proc p
     where p.pronamespace = 'public'::regnamespace
       and (has_function_privilege('anon', p.oid, 'EXECUTE') or has_function_privilege('public', p.oid, 'EXECUTE'))$$,
  'anon (and PUBLIC) execute no function in public');

select is_empty(
  $$select p.oid::regprocedure from pg_proc p
     where p.pronamespace = 'public'::regnamespace
       and not coalesce('search_path=""' = any (p.proconfig), false)$$,
  'every function in public pins search_path to ''''');

select * from finish();
rollback;
