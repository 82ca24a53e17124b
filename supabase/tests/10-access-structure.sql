-- Access control, structure: RLS on every table, the policy inventory, the exact grants
-- of the API roles, the helpers' shape, and indexes under every policy filter.
-- (Behaviour, cell by cell: 11-18. Realtime: 19.)
begin;
select plan(30);

-- RLS ------------------------------------------------------------------------------
select is_empty(
  $$select c.relname from pg_class c
    where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') and not c.relrowsecurity$$,
  'RLS is enabled on every table in public');

select results_eq(
  $$select tablename::text collate "default", cmd::text, policyname::text collate "default" from pg_policies
    where schemaname = 'public' and tablename in ('users', 'contacts', 'conversations', 'messages', 'labels', 'conversation_labels', 'notes', 'message_templates', 'broadcast_messages', 'broadcast_recipients') order by 1, 2, 3$$,
  $$values
    ('broadcast_messages', 'DELETE', 'Admins can delete draft broadcasts'),
    ('broadcast_messages', 'INSERT', 'Admins can create draft or scheduled broadcasts'),
    ('broadcast_messages', 'SELECT', 'Admins can read broadcasts'),
    ('broadcast_messages', 'UPDATE', 'Admins can edit, schedule and cancel broadcasts'),
    ('broadcast_recipients', 'DELETE', 'Admins can remove recipients from draft or scheduled broadcasts'),
    ('broadcast_recipients', 'INSERT', 'Admins can add recipients to draft or scheduled broadcasts'),
    ('broadcast_recipients', 'SELECT', 'Admins can read broadcast recipients'),
    ('broadcast_recipients', 'UPDATE', 'Admins can retry failed recipients'),
    ('contacts', 'SELECT', 'Agents can read contacts of their conversations, admins all'),
    ('contacts', 'UPDATE', 'Agents can update contacts of their conversations, admins all'),
    ('conversation_labels', 'DELETE', 'Users can detach labels from the conversations they see'),
    ('conversation_labels', 'INSERT', 'Users can attach labels to the conversations they see'),
    ('conversation_labels', 'SELECT', 'Users can read the labels of the conversations they see'),
    ('conversations', 'SELECT', 'Agents can read their assigned conversations, admins all'),
    ('conversations', 'UPDATE', 'Agents can update their assigned conversations, admins all'),
    ('labels', 'DELETE', 'Admins can delete labels'),
    ('labels', 'INSERT', 'Admins can create labels'),
    ('labels', 'SELECT', 'Active users can read labels'),
    ('labels', 'UPDATE', 'Admins can update labels'),
    ('message_templates', 'DELETE', 'Admins can delete templates'),
    ('message_templates', 'INSERT', 'Admins can create templates'),
    ('message_templates', 'SELECT', 'Active users can read sendable templates, admins every one'),
    ('message_templates', 'UPDATE', 'Admins can update templates'),
    ('messages', 'INSERT', 'Users can queue replies in the conversations they see'),
    ('messages', 'SELECT', 'Users can read the messages of the conversations they see'),
    ('notes', 'INSERT', 'Users can add their own notes to the conversations they see'),
    ('notes', 'SELECT', 'Users can read the notes of the conversations they see'),
    ('notes', 'UPDATE', 'Users can edit their own notes'),
    ('users', 'SELECT', 'Active users can read the team directory'),
    ('users', 'UPDATE', 'Users can update their own profile and admins any user')$$,
  'the policies of the design document''s ten tables are exactly these: one per table and command');

select is_empty(
  $$select tablename, policyname from pg_policies where schemaname = 'public' and (roles <> '{authenticated}' or permissive <> 'PERMISSIVE' or cmd = 'ALL')$$,
  'every policy is permissive, for one command, to authenticated only');

select is_empty(
  $$select tablename, policyname from pg_policies
    where schemaname = 'public'
      and (coalesce(qual, '') || coalesce(with_check, '')) ~ '(auth|private)\.[a-z_]+\(\)'
      and (coalesce(qual, '') || coalesce(with_check, '')) !~ '\(\s*SELECT (auth|private)\.[a-z_]+\(\)'$$,
  'policies call auth.* and private.* helpers only inside a sub-select (computed once per statement)');

-- Grants: anon ------------------------------------------------------------------------
select is_empty(
  $$select c.oid::regclass from pg_class c
    where c.relnamespace in ('public'::regnamespace, 'private'::regnamespace, 'svc'::regnamespace)
      and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
      and (has_table_privilege('anon', c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
           or (c.relkind <> 'S' and has_any_column_privilege('anon', c.oid, 'SELECT, INSERT, UPDATE, REFERENCES')))$$,
  'anon has no privilege on any table, view or sequence in public, private or svc');

select is_empty(
  $$select p.oid::regprocedure from pg_proc p
    where p.pronamespace in ('public'::regnamespace, 'private'::regnamespace, 'svc'::regnamespace)
      and has_function_privilege('anon', p.oid, 'EXECUTE')$$,
  'anon executes no function in public, private or svc');

select ok(not has_schema_privilege('anon', 'private', 'USAGE') and not has_schema_privilege('anon', 'svc', 'USAGE'),
  'anon has no usage on schemas private and svc');

-- Grants: authenticated ---------------------------------------------------------------
select ok(not has_schema_privilege('authenticated', 'svc', 'USAGE'), 'authenticated has no usage on schema svc');
select ok(not has_schema_privilege('authenticated', 'private', 'USAGE'),
  'authenticated has no usage on schema private (policies and guards hold the helpers by oid)');

select is_empty(
  $$select p.oid::regprocedure from pg_proc p
    where p.pronamespace = 'svc'::regnamespace
      and (has_function_privilege('authenticated', p.oid, 'EXECUTE') or has_function_privilege('anon', p.oid, 'EXECUTE'))$$,
  'no svc function is executable by anon or authenticated');

select is_empty(
  $$select c.oid::regclass from pg_class c
    where c.relnamespace in ('svc'::regnamespace, 'private'::regnamespace)
      and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
      and (has_table_privilege('authenticated', c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
           or (c.relkind <> 'S' and has_any_column_privilege('authenticated', c.oid, 'SELECT, INSERT, UPDATE, REFERENCES')))$$,
  'authenticated has no privilege on any table or sequence in svc or private');

select results_eq(
  $$select p.proname::text collate "default" from pg_proc p
    where p.pronamespace = 'private'::regnamespace and has_function_privilege('authenticated', p.oid, 'EXECUTE')
      and (p.proname in ('active_user_id', 'current_role_bypasses_rls', 'is_active_user', 'is_admin') or p.proname like 'deny\_%')
    order by 1$$,
  $$values ('active_user_id'), ('current_role_bypasses_rls'), ('is_active_user'), ('is_admin')$$,
  'authenticated executes the policy helpers in private (and not the guards'' raising functions)');

select results_eq(
  $$select p.proname::text collate "default" from pg_proc p
    where p.pronamespace = 'private'::regnamespace and has_function_privilege('service_role', p.oid, 'EXECUTE')
      and p.proname in ('active_user_id', 'current_role_bypasses_rls', 'is_active_user', 'is_admin')
    order by 1$$,
  $$values ('current_role_bypasses_rls'), ('is_admin')$$,
  'service_role executes the helpers of the guard triggers'' WHEN clauses');

select is_empty(
  $$select p.oid::regprocedure from pg_proc p
    where p.pronamespace = 'public'::regnamespace and p.prosecdef
      and (has_function_privilege('authenticated', p.oid, 'EXECUTE') or has_function_privilege('anon', p.oid, 'EXECUTE'))$$,
  'no SECURITY DEFINER function in the exposed schema public is executable by the API roles');

select results_eq(
  $$select c.relname::text collate "default",
      concat_ws(',',
        case when has_table_privilege('authenticated', c.oid, 'SELECT') then 'select' end,
        case when has_table_privilege('authenticated', c.oid, 'INSERT') then 'insert' end,
        case when has_table_privilege('authenticated', c.oid, 'UPDATE') then 'update' end,
        case when has_table_privilege('authenticated', c.oid, 'DELETE') then 'delete' end,
        case when has_table_privilege('authenticated', c.oid, 'TRUNCATE') then 'truncate' end,
        case when has_table_privilege('authenticated', c.oid, 'REFERENCES') then 'references' end,
        case when has_table_privilege('authenticated', c.oid, 'TRIGGER') then 'trigger' end)
    from pg_class c where c.relnamespace = 'public'::regnamespace and c.relkind = 'r'
      and c.relname in ('users', 'contacts', 'conversations', 'messages', 'labels', 'conversation_labels', 'notes', 'message_templates', 'broadcast_messages', 'broadcast_recipients') order by 1$$,
  $$values
    ('broadcast_messages', 'select,delete'),
    ('broadcast_recipients', 'select,delete'),
    ('contacts', 'select'),
    ('conversation_labels', 'select,delete'),
    ('conversations', 'select'),
    ('labels', 'select,delete'),
    ('message_templates', 'select,delete'),
    ('messages', 'select'),
    ('notes', 'select'),
    ('users', 'select')$$,
  'authenticated: table-wide privileges per table (inserts and updates are per column)');

select results_eq(
  $$select c.relname::text collate "default", 'insert' as priv, string_agg(a.attname::text, ',' order by a.attname) collate "default"
    from pg_class c join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
    where c.relnamespace = 'public'::regnamespace and c.relkind = 'r' and c.relname in ('users', 'contacts', 'conversations', 'messages', 'labels', 'conversation_labels', 'notes', 'message_templates', 'broadcast_messages', 'broadcast_recipients')
      and has_column_privilege('authenticated', c.oid, a.attnum, 'INSERT')
    group by c.relname order by 1$$,
  $$values
    ('broadcast_messages', 'insert', 'audience,content,created_by,id,name,scheduled_for,status,template_id'),
    ('broadcast_recipients', 'insert', 'broadcast_id,contact_id'),
    ('conversation_labels', 'insert', 'conversation_id,created_by,label_id'),
    ('labels', 'insert', 'color,created_by,id,name'),
    ('message_templates', 'insert', 'category,content,created_by,id,language_code,name,parameters,wa_template_name'),
    ('messages', 'insert', 'content,conversation_id,id,media_url,message_type,metadata,reply_to_message_id,sender_id,sender_type,status,template_id'),
    ('notes', 'insert', 'content,conversation_id,created_by,id')$$,
  'authenticated: the insertable columns, and no others');

select results_eq(
  $$select c.relname::text collate "default", 'update' as priv, string_agg(a.attname::text, ',' order by a.attname) collate "default"
    from pg_class c join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
    where c.relnamespace = 'public'::regnamespace and c.relkind = 'r' and c.relname in ('users', 'contacts', 'conversations', 'messages', 'labels', 'conversation_labels', 'notes', 'message_templates', 'broadcast_messages', 'broadcast_recipients')
      and has_column_privilege('authenticated', c.oid, a.attnum, 'UPDATE')
    group by c.relname order by 1$$,
  $$values
    ('broadcast_messages', 'update', 'audience,content,name,scheduled_for,status,template_id'),
    ('broadcast_recipients', 'update', 'status'),
    ('contacts', 'update', 'email,full_name,language,location,metadata,status,tags,timezone'),
    ('conversations', 'update', 'assigned_agent_id,priority,status'),
    ('labels', 'update', 'color,name'),
    ('message_templates', 'update', 'category,content,language_code,name,parameters,updated_at,wa_template_name'),
    ('notes', 'update', 'content,deleted_at,updated_at'),
    ('users', 'update', 'avatar_url,full_name,last_seen_at,phone,preferences,role,status')$$,
  'authenticated: the updatable columns, and no others');

-- Helpers ------------------------------------------------------------------------------
select results_eq(
  $$select p.proname::text collate "default", p.prosecdef, p.provolatile::text from pg_proc p
    where p.pronamespace = 'private'::regnamespace
      and p.proname in ('active_user_id', 'is_active_user', 'is_admin')
    order by 1$$,
  $$values ('active_user_id', true, 's'), ('is_active_user', true, 's'), ('is_admin', true, 's')$$,
  'the policy helpers are SECURITY DEFINER and STABLE');

select is_empty(
  $$select p.oid::regprocedure from pg_proc p
    where p.pronamespace in ('private'::regnamespace, 'svc'::regnamespace)
      and not coalesce('search_path=""' = any (p.proconfig), false)$$,
  'every function in private and svc pins search_path to ''''');

select is_empty(
  $$select p.oid::regprocedure from pg_proc p
    where p.pronamespace = 'private'::regnamespace and p.proname like 'deny\_%' and p.prosecdef$$,
  'the guard triggers'' functions have no definer rights (they only raise)');

select results_eq(
  $$select tgrelid::regclass::text, tgname::text collate "default", tgfoid::regproc::text from pg_trigger
    where tgname like 'guard\_%' and not tgisinternal order by 1, 2$$,
  $$values
    ('audit_log', 'guard_audit_log_append_only', 'private.deny_audit_log_change'),
    ('audit_log', 'guard_audit_log_no_truncate', 'private.deny_audit_log_change'),
    ('contacts', 'guard_contacts_status', 'private.deny_contact_status_change'),
    ('conversations', 'guard_conversations_assignment', 'private.deny_assignment_change'),
    ('invitations', 'guard_invitations_status', 'private.deny_invitation_status_change'),
    ('users', 'guard_users_profile', 'private.deny_others_profile_change'),
    ('users', 'guard_users_role_status', 'private.deny_role_status_change'),
    ('users', 'guard_users_role_status_self', 'private.deny_own_role_status_change')$$,
  'the guard triggers are in place');

-- Helpers' answers ---------------------------------------------------------------------
insert into auth.users (id, email, raw_app_meta_data)
values ('00000000-0000-4000-8000-0000000000f1', 'helper.admin@example.test', '{"role": "admin"}'),
       ('00000000-0000-4000-8000-0000000000f2', 'helper.agent@example.test', '{"role": "agent"}');

set local request.jwt.claims to '{"sub": "00000000-0000-4000-8000-0000000000f1", "role": "authenticated"}';
select results_eq($$select private.is_admin(), private.is_active_user(), private.active_user_id()$$,
  $$values (true, true, '00000000-0000-4000-8000-0000000000f1'::uuid)$$, 'an active admin is an admin, active, and who they are');
set local request.jwt.claims to '{"sub": "00000000-0000-4000-8000-0000000000f2", "role": "authenticated"}';
select results_eq($$select private.is_admin(), private.is_active_user(), private.active_user_id()$$,
  $$values (false, true, '00000000-0000-4000-8000-0000000000f2'::uuid)$$, 'an active agent is active, not an admin, and who they are');
update public.users set status = 'inactive' where id in ('00000000-0000-4000-8000-0000000000f1', '00000000-0000-4000-8000-0000000000f2');
select results_eq($$select private.is_admin(), private.is_active_user(), private.active_user_id()$$,
  $$values (false, false, null::uuid)$$, 'an inactive agent is nobody');
set local request.jwt.claims to '{"sub": "00000000-0000-4000-8000-0000000000f1", "role": "authenticated"}';
select results_eq($$select private.is_admin(), private.is_active_user(), private.active_user_id()$$,
  $$values (false, false, null::uuid)$$, 'an inactive admin is nobody');
set local request.jwt.claims to '{"role": "anon"}';
select results_eq($$select private.is_admin(), private.is_active_user(), private.active_user_id()$$,
  $$values (false, false, null::uuid)$$, 'no user is nobody');

-- The guards stop API users only: the services (service_role) pass ------------------------
reset request.jwt.claims;
insert into public.contacts (id, phone) values ('00000000-0000-4000-8000-0000000000f3', '+5491100000777');
insert into public.conversations (id, contact_id) values ('00000000-0000-4000-8000-0000000000f4', '00000000-0000-4000-8000-0000000000f3');
set local role service_role;
select lives_ok(
  $$update public.users set role = 'agent', status = 'active', full_name = 'Renamed by the service' where id = '00000000-0000-4000-8000-0000000000f1'$$,
  'service_role changes a user''s role, status and profile');
select lives_ok(
  $$update public.contacts set status = 'blocked' where id = '00000000-0000-4000-8000-0000000000f3'$$,
  'service_role blocks a contact (e.g. on WhatsApp error 131050 handling)');
select lives_ok(
  $$update public.conversations set assigned_agent_id = '00000000-0000-4000-8000-0000000000f2' where id = '00000000-0000-4000-8000-0000000000f4'$$,
  'service_role assigns a conversation (inbound routing)');
reset role;

-- Indexes under the policies ---------------------------------------------------------------
-- Every column a policy filters on leads some index (so that a policy never forces a scan).
select is_empty(
  $$select t.tbl || '.' || t.col from (values
      ('users', 'id'), ('conversations', 'id'), ('conversations', 'assigned_agent_id'),
      ('conversations', 'contact_id'), ('messages', 'conversation_id'), ('notes', 'conversation_id'),
      ('notes', 'created_by'), ('conversation_labels', 'conversation_id')) t(tbl, col)
    where not exists (
      select from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
      where i.indrelid = ('public.' || t.tbl)::regclass and a.attname = t.col and i.indpred is null)$$,
  'every column a policy filters on leads a (non-partial) index');

select * from finish();
rollback;
