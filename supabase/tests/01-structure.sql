-- Structure of the database against the design document and its deliberate extensions
-- (the README's "Differences from the design document"; comments in
-- supabase/migrations/20261125000200_tables.sql).
--
-- Columns: type, nullability and default of every column, and no column beyond the design
-- (columns_are), so that a new column has to be added here and documented as an extension.
-- CHECK constraints are proven by behaviour: every allowed value is accepted and a value
-- outside is rejected with 23514 by the constraint named in the message. The last
-- assertion of that part lists every CHECK constraint of schema public, so a new one
-- fails this file until it is proven here too.
--
-- Runs as role postgres (BYPASSRLS, may insert into auth.users); everything is rolled back.
begin;
select plan(464);

-- Extensions -----------------------------------------------------------------------------
select has_extension('extensions', 'uuid-ossp', 'extension uuid-ossp is installed in schema extensions');
select has_extension('extensions', 'pg_trgm', 'extension pg_trgm is installed in schema extensions');

-- users ---------------------------------------------------------------------------------
select has_table('public', 'users', 'table public.users exists');
select columns_are('public', 'users', array['id', 'email', 'full_name', 'avatar_url', 'role', 'status', 'created_at', 'last_seen_at', 'preferences', 'phone'], 'public.users has exactly the designed columns');
select col_type_is('public', 'users', 'id', 'uuid', 'users.id is uuid');
select col_not_null('public', 'users', 'id', 'users.id is not null');
select col_default_is('public', 'users', 'id', 'uuid_generate_v4()'::text, 'users.id defaults to uuid_generate_v4()');
select col_type_is('public', 'users', 'email', 'text', 'users.email is text');
select col_not_null('public', 'users', 'email', 'users.email is not null');
select col_hasnt_default('public', 'users', 'email', 'users.email has no default');
select col_type_is('public', 'users', 'full_name', 'text', 'users.full_name is text');
select col_not_null('public', 'users', 'full_name', 'users.full_name is not null');
select col_hasnt_default('public', 'users', 'full_name', 'users.full_name has no default');
select col_type_is('public', 'users', 'avatar_url', 'text', 'users.avatar_url is text');
select col_is_null('public', 'users', 'avatar_url', 'users.avatar_url is nullable');
select col_hasnt_default('public', 'users', 'avatar_url', 'users.avatar_url has no default');
select col_type_is('public', 'users', 'role', 'text', 'users.role is text');
select col_not_null('public', 'users', 'role', 'users.role is not null');
select col_hasnt_default('public', 'users', 'role', 'users.role has no default');
select col_type_is('public', 'users', 'status', 'text', 'users.status is text');
select col_is_null('public', 'users', 'status', 'users.status is nullable');
select col_default_is('public', 'users', 'status', 'active'::text, 'users.status defaults to active');
select col_type_is('public', 'users', 'created_at', 'timestamp with time zone', 'users.created_at is timestamp with time zone');
select col_is_null('public', 'users', 'created_at', 'users.created_at is nullable');
select col_default_is('public', 'users', 'created_at', 'now()'::text, 'users.created_at defaults to now()');
select col_type_is('public', 'users', 'last_seen_at', 'timestamp with time zone', 'users.last_seen_at is timestamp with time zone');
select col_is_null('public', 'users', 'last_seen_at', 'users.last_seen_at is nullable');
select col_hasnt_default('public', 'users', 'last_seen_at', 'users.last_seen_at has no default');
select col_type_is('public', 'users', 'preferences', 'jsonb', 'users.preferences is jsonb');
select col_is_null('public', 'users', 'preferences', 'users.preferences is nullable');
select col_default_is('public', 'users', 'preferences', '{}'::jsonb, 'users.preferences defaults to {}');
select col_type_is('public', 'users', 'phone', 'text', 'users.phone is text');
select col_is_null('public', 'users', 'phone', 'users.phone is nullable');
select col_hasnt_default('public', 'users', 'phone', 'users.phone has no default');

-- contacts ------------------------------------------------------------------------------
select has_table('public', 'contacts', 'table public.contacts exists');
select columns_are('public', 'contacts', array['id', 'phone', 'wa_id', 'full_name', 'email', 'location', 'avatar_url', 'status', 'last_contacted_at', 'created_at', 'metadata', 'tags', 'language', 'timezone', 'wa_user_id', 'opted_out_at'], 'public.contacts has exactly the designed columns');
select col_type_is('public', 'contacts', 'id', 'uuid', 'contacts.id is uuid');
select col_not_null('public', 'contacts', 'id', 'contacts.id is not null');
select col_default_is('public', 'contacts', 'id', 'uuid_generate_v4()'::text, 'contacts.id defaults to uuid_generate_v4()');
select col_type_is('public', 'contacts', 'phone', 'text', 'contacts.phone is text');
select col_is_null('public', 'contacts', 'phone', 'contacts.phone is nullable');
select col_hasnt_default('public', 'contacts', 'phone', 'contacts.phone has no default');
select col_type_is('public', 'contacts', 'wa_id', 'text', 'contacts.wa_id is text');
select col_is_null('public', 'contacts', 'wa_id', 'contacts.wa_id is nullable');
select col_hasnt_default('public', 'contacts', 'wa_id', 'contacts.wa_id has no default');
select col_type_is('public', 'contacts', 'full_name', 'text', 'contacts.full_name is text');
select col_is_null('public', 'contacts', 'full_name', 'contacts.full_name is nullable');
select col_hasnt_default('public', 'contacts', 'full_name', 'contacts.full_name has no default');
select col_type_is('public', 'contacts', 'email', 'text', 'contacts.email is text');
select col_is_null('public', 'contacts', 'email', 'contacts.email is nullable');
select col_hasnt_default('public', 'contacts', 'email', 'contacts.email has no default');
select col_type_is('public', 'contacts', 'location', 'text', 'contacts.location is text');
select col_is_null('public', 'contacts', 'location', 'contacts.location is nullable');
select col_hasnt_default('public', 'contacts', 'location', 'contacts.location has no default');
select col_type_is('public', 'contacts', 'avatar_url', 'text', 'contacts.avatar_url is text');
select col_is_null('public', 'contacts', 'avatar_url', 'contacts.avatar_url is nullable');
select col_hasnt_default('public', 'contacts', 'avatar_url', 'contacts.avatar_url has no default');
select col_type_is('public', 'contacts', 'status', 'text', 'contacts.status is text');
select col_is_null('public', 'contacts', 'status', 'contacts.status is nullable');
select col_default_is('public', 'contacts', 'status', 'active'::text, 'contacts.status defaults to active');
select col_type_is('public', 'contacts', 'last_contacted_at', 'timestamp with time zone', 'contacts.last_contacted_at is timestamp with time zone');
select col_is_null('public', 'contacts', 'last_contacted_at', 'contacts.last_contacted_at is nullable');
select col_hasnt_default('public', 'contacts', 'last_contacted_at', 'contacts.last_contacted_at has no default');
select col_type_is('public', 'contacts', 'created_at', 'timestamp with time zone', 'contacts.created_at is timestamp with time zone');
select col_is_null('public', 'contacts', 'created_at', 'contacts.created_at is nullable');
select col_default_is('public', 'contacts', 'created_at', 'now()'::text, 'contacts.created_at defaults to now()');
select col_type_is('public', 'contacts', 'metadata', 'jsonb', 'contacts.metadata is jsonb');
select col_is_null('public', 'contacts', 'metadata', 'contacts.metadata is nullable');
select col_hasnt_default('public', 'contacts', 'metadata', 'contacts.metadata has no default');
select col_type_is('public', 'contacts', 'tags', 'text[]', 'contacts.tags is text[]');
select col_is_null('public', 'contacts', 'tags', 'contacts.tags is nullable');
select col_hasnt_default('public', 'contacts', 'tags', 'contacts.tags has no default');
select col_type_is('public', 'contacts', 'language', 'text', 'contacts.language is text');
select col_is_null('public', 'contacts', 'language', 'contacts.language is nullable');
select col_default_is('public', 'contacts', 'language', 'es'::text, 'contacts.language defaults to es');
select col_type_is('public', 'contacts', 'timezone', 'text', 'contacts.timezone is text');
select col_is_null('public', 'contacts', 'timezone', 'contacts.timezone is nullable');
select col_hasnt_default('public', 'contacts', 'timezone', 'contacts.timezone has no default');
select col_type_is('public', 'contacts', 'wa_user_id', 'text', 'contacts.wa_user_id is text');
select col_is_null('public', 'contacts', 'wa_user_id', 'contacts.wa_user_id is nullable');
select col_hasnt_default('public', 'contacts', 'wa_user_id', 'contacts.wa_user_id has no default');
select col_type_is('public', 'contacts', 'opted_out_at', 'timestamp with time zone', 'contacts.opted_out_at is timestamp with time zone');
select col_is_null('public', 'contacts', 'opted_out_at', 'contacts.opted_out_at is nullable');
select col_hasnt_default('public', 'contacts', 'opted_out_at', 'contacts.opted_out_at has no default');

-- conversations -------------------------------------------------------------------------
select has_table('public', 'conversations', 'table public.conversations exists');
select columns_are('public', 'conversations', array['id', 'contact_id', 'assigned_agent_id', 'status', 'last_message_at', 'created_at', 'metadata', 'priority', 'last_agent_response_at', 'first_response_time', 'unread_count'], 'public.conversations has exactly the designed columns');
select col_type_is('public', 'conversations', 'id', 'uuid', 'conversations.id is uuid');
select col_not_null('public', 'conversations', 'id', 'conversations.id is not null');
select col_default_is('public', 'conversations', 'id', 'uuid_generate_v4()'::text, 'conversations.id defaults to uuid_generate_v4()');
select col_type_is('public', 'conversations', 'contact_id', 'uuid', 'conversations.contact_id is uuid');
select col_not_null('public', 'conversations', 'contact_id', 'conversations.contact_id is not null');
select col_hasnt_default('public', 'conversations', 'contact_id', 'conversations.contact_id has no default');
select col_type_is('public', 'conversations', 'assigned_agent_id', 'uuid', 'conversations.assigned_agent_id is uuid');
select col_is_null('public', 'conversations', 'assigned_agent_id', 'conversations.assigned_agent_id is nullable');
select col_hasnt_default('public', 'conversations', 'assigned_agent_id', 'conversations.assigned_agent_id has no default');
select col_type_is('public', 'conversations', 'status', 'text', 'conversations.status is text');
select col_is_null('public', 'conversations', 'status', 'conversations.status is nullable');
select col_default_is('public', 'conversations', 'status', 'active'::text, 'conversations.status defaults to active');
select col_type_is('public', 'conversations', 'last_message_at', 'timestamp with time zone', 'conversations.last_message_at is timestamp with time zone');
select col_is_null('public', 'conversations', 'last_message_at', 'conversations.last_message_at is nullable');
select col_hasnt_default('public', 'conversations', 'last_message_at', 'conversations.last_message_at has no default');
select col_type_is('public', 'conversations', 'created_at', 'timestamp with time zone', 'conversations.created_at is timestamp with time zone');
select col_is_null('public', 'conversations', 'created_at', 'conversations.created_at is nullable');
select col_default_is('public', 'conversations', 'created_at', 'now()'::text, 'conversations.created_at defaults to now()');
select col_type_is('public', 'conversations', 'metadata', 'jsonb', 'conversations.metadata is jsonb');
select col_is_null('public', 'conversations', 'metadata', 'conversations.metadata is nullable');
select col_hasnt_default('public', 'conversations', 'metadata', 'conversations.metadata has no default');
select col_type_is('public', 'conversations', 'priority', 'text', 'conversations.priority is text');
select col_is_null('public', 'conversations', 'priority', 'conversations.priority is nullable');
select col_default_is('public', 'conversations', 'priority', 'normal'::text, 'conversations.priority defaults to normal');
select col_type_is('public', 'conversations', 'last_agent_response_at', 'timestamp with time zone', 'conversations.last_agent_response_at is timestamp with time zone');
select col_is_null('public', 'conversations', 'last_agent_response_at', 'conversations.last_agent_response_at is nullable');
select col_hasnt_default('public', 'conversations', 'last_agent_response_at', 'conversations.last_agent_response_at has no default');
select col_type_is('public', 'conversations', 'first_response_time', 'interval', 'conversations.first_response_time is interval');
select col_is_null('public', 'conversations', 'first_response_time', 'conversations.first_response_time is nullable');
select col_hasnt_default('public', 'conversations', 'first_response_time', 'conversations.first_response_time has no default');

-- messages ------------------------------------------------------------------------------
select has_table('public', 'messages', 'table public.messages exists');
select columns_are('public', 'messages', array['id', 'conversation_id', 'sender_type', 'sender_id', 'content', 'message_type', 'status', 'media_url', 'metadata', 'created_at', 'delivered_at', 'read_at', 'error_data', 'reply_to_message_id', 'wa_message_id', 'template_id', 'pricing'], 'public.messages has exactly the designed columns');
select col_type_is('public', 'messages', 'id', 'uuid', 'messages.id is uuid');
select col_not_null('public', 'messages', 'id', 'messages.id is not null');
select col_default_is('public', 'messages', 'id', 'uuid_generate_v4()'::text, 'messages.id defaults to uuid_generate_v4()');
select col_type_is('public', 'messages', 'conversation_id', 'uuid', 'messages.conversation_id is uuid');
select col_not_null('public', 'messages', 'conversation_id', 'messages.conversation_id is not null');
select col_hasnt_default('public', 'messages', 'conversation_id', 'messages.conversation_id has no default');
select col_type_is('public', 'messages', 'sender_type', 'text', 'messages.sender_type is text');
select col_not_null('public', 'messages', 'sender_type', 'messages.sender_type is not null');
select col_hasnt_default('public', 'messages', 'sender_type', 'messages.sender_type has no default');
select col_type_is('public', 'messages', 'sender_id', 'uuid', 'messages.sender_id is uuid');
select col_not_null('public', 'messages', 'sender_id', 'messages.sender_id is not null');
select col_hasnt_default('public', 'messages', 'sender_id', 'messages.sender_id has no default');
select col_type_is('public', 'messages', 'content', 'text', 'messages.content is text');
select col_is_null('public', 'messages', 'content', 'messages.content is nullable');
select col_hasnt_default('public', 'messages', 'content', 'messages.content has no default');
select col_type_is('public', 'messages', 'message_type', 'text', 'messages.message_type is text');
select col_not_null('public', 'messages', 'message_type', 'messages.message_type is not null');
select col_hasnt_default('public', 'messages', 'message_type', 'messages.message_type has no default');
select col_type_is('public', 'messages', 'status', 'text', 'messages.status is text');
select col_not_null('public', 'messages', 'status', 'messages.status is not null');
select col_hasnt_default('public', 'messages', 'status', 'messages.status has no default');
select col_type_is('public', 'messages', 'media_url', 'text', 'messages.media_url is text');
select col_is_null('public', 'messages', 'media_url', 'messages.media_url is nullable');
select col_hasnt_default('public', 'messages', 'media_url', 'messages.media_url has no default');
select col_type_is('public', 'messages', 'metadata', 'jsonb', 'messages.metadata is jsonb');
select col_is_null('public', 'messages', 'metadata', 'messages.metadata is nullable');
select col_hasnt_default('public', 'messages', 'metadata', 'messages.metadata has no default');
select col_type_is('public', 'messages', 'created_at', 'timestamp with time zone', 'messages.created_at is timestamp with time zone');
select col_is_null('public', 'messages', 'created_at', 'messages.created_at is nullable');
select col_default_is('public', 'messages', 'created_at', 'now()'::text, 'messages.created_at defaults to now()');
select col_type_is('public', 'messages', 'delivered_at', 'timestamp with time zone', 'messages.delivered_at is timestamp with time zone');
select col_is_null('public', 'messages', 'delivered_at', 'messages.delivered_at is nullable');
select col_hasnt_default('public', 'messages', 'delivered_at', 'messages.delivered_at has no default');
select col_type_is('public', 'messages', 'read_at', 'timestamp with time zone', 'messages.read_at is timestamp with time zone');
select col_is_null('public', 'messages', 'read_at', 'messages.read_at is nullable');
select col_hasnt_default('public', 'messages', 'read_at', 'messages.read_at has no default');
select col_type_is('public', 'messages', 'error_data', 'jsonb', 'messages.error_data is jsonb');
select col_is_null('public', 'messages', 'error_data', 'messages.error_data is nullable');
select col_hasnt_default('public', 'messages', 'error_data', 'messages.error_data has no default');
select col_type_is('public', 'messages', 'reply_to_message_id', 'uuid', 'messages.reply_to_message_id is uuid');
select col_is_null('public', 'messages', 'reply_to_message_id', 'messages.reply_to_message_id is nullable');
select col_hasnt_default('public', 'messages', 'reply_to_message_id', 'messages.reply_to_message_id has no default');
select col_type_is('public', 'messages', 'wa_message_id', 'text', 'messages.wa_message_id is text');
select col_is_null('public', 'messages', 'wa_message_id', 'messages.wa_message_id is nullable');
select col_hasnt_default('public', 'messages', 'wa_message_id', 'messages.wa_message_id has no default');

-- labels --------------------------------------------------------------------------------
select has_table('public', 'labels', 'table public.labels exists');
select columns_are('public', 'labels', array['id', 'name', 'color', 'created_by', 'created_at'], 'public.labels has exactly the designed columns');
select col_type_is('public', 'labels', 'id', 'uuid', 'labels.id is uuid');
select col_not_null('public', 'labels', 'id', 'labels.id is not null');
select col_default_is('public', 'labels', 'id', 'uuid_generate_v4()'::text, 'labels.id defaults to uuid_generate_v4()');
select col_type_is('public', 'labels', 'name', 'text', 'labels.name is text');
select col_not_null('public', 'labels', 'name', 'labels.name is not null');
select col_hasnt_default('public', 'labels', 'name', 'labels.name has no default');
select col_type_is('public', 'labels', 'color', 'text', 'labels.color is text');
select col_is_null('public', 'labels', 'color', 'labels.color is nullable');
select col_hasnt_default('public', 'labels', 'color', 'labels.color has no default');
select col_type_is('public', 'labels', 'created_by', 'uuid', 'labels.created_by is uuid');
select col_is_null('public', 'labels', 'created_by', 'labels.created_by is nullable');
select col_default_is('public', 'labels', 'created_by', 'auth.uid()'::text, 'labels.created_by defaults to auth.uid(), the caller (access guards migration)');
select col_type_is('public', 'labels', 'created_at', 'timestamp with time zone', 'labels.created_at is timestamp with time zone');
select col_is_null('public', 'labels', 'created_at', 'labels.created_at is nullable');
select col_default_is('public', 'labels', 'created_at', 'now()'::text, 'labels.created_at defaults to now()');

-- conversation_labels -------------------------------------------------------------------
select has_table('public', 'conversation_labels', 'table public.conversation_labels exists');
select columns_are('public', 'conversation_labels', array['conversation_id', 'label_id', 'created_by', 'created_at'], 'public.conversation_labels has exactly the designed columns');
select col_type_is('public', 'conversation_labels', 'conversation_id', 'uuid', 'conversation_labels.conversation_id is uuid');
select col_not_null('public', 'conversation_labels', 'conversation_id', 'conversation_labels.conversation_id is not null');
select col_hasnt_default('public', 'conversation_labels', 'conversation_id', 'conversation_labels.conversation_id has no default');
select col_type_is('public', 'conversation_labels', 'label_id', 'uuid', 'conversation_labels.label_id is uuid');
select col_not_null('public', 'conversation_labels', 'label_id', 'conversation_labels.label_id is not null');
select col_hasnt_default('public', 'conversation_labels', 'label_id', 'conversation_labels.label_id has no default');
select col_type_is('public', 'conversation_labels', 'created_by', 'uuid', 'conversation_labels.created_by is uuid');
select col_is_null('public', 'conversation_labels', 'created_by', 'conversation_labels.created_by is nullable');
select col_default_is('public', 'conversation_labels', 'created_by', 'auth.uid()'::text, 'conversation_labels.created_by defaults to auth.uid(), the caller (access guards migration)');
select col_type_is('public', 'conversation_labels', 'created_at', 'timestamp with time zone', 'conversation_labels.created_at is timestamp with time zone');
select col_is_null('public', 'conversation_labels', 'created_at', 'conversation_labels.created_at is nullable');
select col_default_is('public', 'conversation_labels', 'created_at', 'now()'::text, 'conversation_labels.created_at defaults to now()');

-- notes ---------------------------------------------------------------------------------
select has_table('public', 'notes', 'table public.notes exists');
select columns_are('public', 'notes', array['id', 'conversation_id', 'content', 'created_by', 'created_at', 'updated_at', 'deleted_at'], 'public.notes has exactly the designed columns');
select col_type_is('public', 'notes', 'id', 'uuid', 'notes.id is uuid');
select col_not_null('public', 'notes', 'id', 'notes.id is not null');
select col_default_is('public', 'notes', 'id', 'uuid_generate_v4()'::text, 'notes.id defaults to uuid_generate_v4()');
select col_type_is('public', 'notes', 'conversation_id', 'uuid', 'notes.conversation_id is uuid');
select col_not_null('public', 'notes', 'conversation_id', 'notes.conversation_id is not null');
select col_hasnt_default('public', 'notes', 'conversation_id', 'notes.conversation_id has no default');
select col_type_is('public', 'notes', 'content', 'text', 'notes.content is text');
select col_not_null('public', 'notes', 'content', 'notes.content is not null');
select col_hasnt_default('public', 'notes', 'content', 'notes.content has no default');
select col_type_is('public', 'notes', 'created_by', 'uuid', 'notes.created_by is uuid');
select col_is_null('public', 'notes', 'created_by', 'notes.created_by is nullable');
select col_default_is('public', 'notes', 'created_by', 'auth.uid()'::text, 'notes.created_by defaults to auth.uid(), the caller (access guards migration)');
select col_type_is('public', 'notes', 'created_at', 'timestamp with time zone', 'notes.created_at is timestamp with time zone');
select col_is_null('public', 'notes', 'created_at', 'notes.created_at is nullable');
select col_default_is('public', 'notes', 'created_at', 'now()'::text, 'notes.created_at defaults to now()');
select col_type_is('public', 'notes', 'updated_at', 'timestamp with time zone', 'notes.updated_at is timestamp with time zone');
select col_is_null('public', 'notes', 'updated_at', 'notes.updated_at is nullable');
select col_hasnt_default('public', 'notes', 'updated_at', 'notes.updated_at has no default');

-- message_templates ---------------------------------------------------------------------
select has_table('public', 'message_templates', 'table public.message_templates exists');
select columns_are('public', 'message_templates', array['id', 'name', 'content', 'category', 'created_by', 'created_at', 'updated_at', 'wa_template_name', 'language_code', 'parameters', 'wa_template_id', 'status', 'status_reason', 'wa_category', 'quality_score', 'components', 'parameter_format', 'parameter_layout', 'synced_at', 'removed_at'], 'public.message_templates has exactly the designed columns (Meta''s identity and state: issue 16)');
select col_type_is('public', 'message_templates', 'id', 'uuid', 'message_templates.id is uuid');
select col_not_null('public', 'message_templates', 'id', 'message_templates.id is not null');
select col_default_is('public', 'message_templates', 'id', 'uuid_generate_v4()'::text, 'message_templates.id defaults to uuid_generate_v4()');
select col_type_is('public', 'message_templates', 'name', 'text', 'message_templates.name is text');
select col_not_null('public', 'message_templates', 'name', 'message_templates.name is not null');
select col_hasnt_default('public', 'message_templates', 'name', 'message_templates.name has no default');
select col_type_is('public', 'message_templates', 'content', 'text', 'message_templates.content is text');
select col_not_null('public', 'message_templates', 'content', 'message_templates.content is not null');
select col_hasnt_default('public', 'message_templates', 'content', 'message_templates.content has no default');
select col_type_is('public', 'message_templates', 'category', 'text', 'message_templates.category is text');
select col_is_null('public', 'message_templates', 'category', 'message_templates.category is nullable');
select col_hasnt_default('public', 'message_templates', 'category', 'message_templates.category has no default');
select col_type_is('public', 'message_templates', 'created_by', 'uuid', 'message_templates.created_by is uuid');
select col_is_null('public', 'message_templates', 'created_by', 'message_templates.created_by is nullable');
select col_default_is('public', 'message_templates', 'created_by', 'auth.uid()'::text, 'message_templates.created_by defaults to auth.uid(), the caller (access guards migration)');
select col_type_is('public', 'message_templates', 'created_at', 'timestamp with time zone', 'message_templates.created_at is timestamp with time zone');
select col_is_null('public', 'message_templates', 'created_at', 'message_templates.created_at is nullable');
select col_default_is('public', 'message_templates', 'created_at', 'now()'::text, 'message_templates.created_at defaults to now()');
select col_type_is('public', 'message_templates', 'updated_at', 'timestamp with time zone', 'message_templates.updated_at is timestamp with time zone');
select col_is_null('public', 'message_templates', 'updated_at', 'message_templates.updated_at is nullable');
select col_hasnt_default('public', 'message_templates', 'updated_at', 'message_templates.updated_at has no default');
select col_type_is('public', 'message_templates', 'wa_template_name', 'text', 'message_templates.wa_template_name is text');
select col_is_null('public', 'message_templates', 'wa_template_name', 'message_templates.wa_template_name is nullable');
select col_hasnt_default('public', 'message_templates', 'wa_template_name', 'message_templates.wa_template_name has no default');
select col_type_is('public', 'message_templates', 'language_code', 'text', 'message_templates.language_code is text');
select col_is_null('public', 'message_templates', 'language_code', 'message_templates.language_code is nullable');
select col_hasnt_default('public', 'message_templates', 'language_code', 'message_templates.language_code has no default');
select col_type_is('public', 'message_templates', 'parameters', 'jsonb', 'message_templates.parameters is jsonb');
select col_not_null('public', 'message_templates', 'parameters', 'message_templates.parameters is not null');
select col_default_is('public', 'message_templates', 'parameters', '[]'::jsonb, 'message_templates.parameters defaults to []');

-- broadcast_messages --------------------------------------------------------------------
select has_table('public', 'broadcast_messages', 'table public.broadcast_messages exists');
select columns_are('public', 'broadcast_messages', array['id', 'name', 'content', 'status', 'scheduled_for', 'created_by', 'created_at', 'sent_at', 'template_id', 'audience', 'status_detail', 'erased_recipients'], 'public.broadcast_messages has exactly the designed columns');
select col_type_is('public', 'broadcast_messages', 'id', 'uuid', 'broadcast_messages.id is uuid');
select col_not_null('public', 'broadcast_messages', 'id', 'broadcast_messages.id is not null');
select col_default_is('public', 'broadcast_messages', 'id', 'uuid_generate_v4()'::text, 'broadcast_messages.id defaults to uuid_generate_v4()');
select col_type_is('public', 'broadcast_messages', 'name', 'text', 'broadcast_messages.name is text');
select col_not_null('public', 'broadcast_messages', 'name', 'broadcast_messages.name is not null');
select col_hasnt_default('public', 'broadcast_messages', 'name', 'broadcast_messages.name has no default');
select col_type_is('public', 'broadcast_messages', 'content', 'text', 'broadcast_messages.content is text');
select col_not_null('public', 'broadcast_messages', 'content', 'broadcast_messages.content is not null');
select col_hasnt_default('public', 'broadcast_messages', 'content', 'broadcast_messages.content has no default');
select col_type_is('public', 'broadcast_messages', 'status', 'text', 'broadcast_messages.status is text');
select col_is_null('public', 'broadcast_messages', 'status', 'broadcast_messages.status is nullable');
select col_default_is('public', 'broadcast_messages', 'status', 'draft'::text, 'broadcast_messages.status defaults to draft');
select col_type_is('public', 'broadcast_messages', 'scheduled_for', 'timestamp with time zone', 'broadcast_messages.scheduled_for is timestamp with time zone');
select col_is_null('public', 'broadcast_messages', 'scheduled_for', 'broadcast_messages.scheduled_for is nullable');
select col_hasnt_default('public', 'broadcast_messages', 'scheduled_for', 'broadcast_messages.scheduled_for has no default');
select col_type_is('public', 'broadcast_messages', 'created_by', 'uuid', 'broadcast_messages.created_by is uuid');
select col_is_null('public', 'broadcast_messages', 'created_by', 'broadcast_messages.created_by is nullable');
select col_default_is('public', 'broadcast_messages', 'created_by', 'auth.uid()'::text, 'broadcast_messages.created_by defaults to auth.uid(), the caller (access guards migration)');
select col_type_is('public', 'broadcast_messages', 'created_at', 'timestamp with time zone', 'broadcast_messages.created_at is timestamp with time zone');
select col_is_null('public', 'broadcast_messages', 'created_at', 'broadcast_messages.created_at is nullable');
select col_default_is('public', 'broadcast_messages', 'created_at', 'now()'::text, 'broadcast_messages.created_at defaults to now()');
select col_type_is('public', 'broadcast_messages', 'sent_at', 'timestamp with time zone', 'broadcast_messages.sent_at is timestamp with time zone');
select col_is_null('public', 'broadcast_messages', 'sent_at', 'broadcast_messages.sent_at is nullable');
select col_hasnt_default('public', 'broadcast_messages', 'sent_at', 'broadcast_messages.sent_at has no default');
select col_type_is('public', 'broadcast_messages', 'template_id', 'uuid', 'broadcast_messages.template_id is uuid');
select col_is_null('public', 'broadcast_messages', 'template_id', 'broadcast_messages.template_id is nullable');
select col_hasnt_default('public', 'broadcast_messages', 'template_id', 'broadcast_messages.template_id has no default');
select col_type_is('public', 'broadcast_messages', 'audience', 'jsonb', 'broadcast_messages.audience is jsonb');
select col_not_null('public', 'broadcast_messages', 'audience', 'broadcast_messages.audience is not null');
select col_default_is('public', 'broadcast_messages', 'audience', '{"type": "explicit"}'::jsonb, 'broadcast_messages.audience defaults to {"type": "explicit"}');
-- Extension (data protection): counts of recipients erased after the broadcast began sending.
select col_type_is('public', 'broadcast_messages', 'erased_recipients', 'jsonb', 'broadcast_messages.erased_recipients is jsonb');
select col_not_null('public', 'broadcast_messages', 'erased_recipients', 'broadcast_messages.erased_recipients is not null');
select col_default_is('public', 'broadcast_messages', 'erased_recipients', '{}'::jsonb, 'broadcast_messages.erased_recipients defaults to {}');

-- broadcast_recipients ------------------------------------------------------------------
select has_table('public', 'broadcast_recipients', 'table public.broadcast_recipients exists');
select columns_are('public', 'broadcast_recipients', array['broadcast_id', 'contact_id', 'status', 'sent_at', 'delivered_at', 'error_message', 'wa_message_id', 'pricing'], 'public.broadcast_recipients has exactly the designed columns');
select col_type_is('public', 'broadcast_recipients', 'broadcast_id', 'uuid', 'broadcast_recipients.broadcast_id is uuid');
select col_not_null('public', 'broadcast_recipients', 'broadcast_id', 'broadcast_recipients.broadcast_id is not null');
select col_hasnt_default('public', 'broadcast_recipients', 'broadcast_id', 'broadcast_recipients.broadcast_id has no default');
select col_type_is('public', 'broadcast_recipients', 'contact_id', 'uuid', 'broadcast_recipients.contact_id is uuid');
select col_not_null('public', 'broadcast_recipients', 'contact_id', 'broadcast_recipients.contact_id is not null');
select col_hasnt_default('public', 'broadcast_recipients', 'contact_id', 'broadcast_recipients.contact_id has no default');
select col_type_is('public', 'broadcast_recipients', 'status', 'text', 'broadcast_recipients.status is text');
select col_is_null('public', 'broadcast_recipients', 'status', 'broadcast_recipients.status is nullable');
select col_default_is('public', 'broadcast_recipients', 'status', 'pending'::text, 'broadcast_recipients.status defaults to pending');
select col_type_is('public', 'broadcast_recipients', 'sent_at', 'timestamp with time zone', 'broadcast_recipients.sent_at is timestamp with time zone');
select col_is_null('public', 'broadcast_recipients', 'sent_at', 'broadcast_recipients.sent_at is nullable');
select col_hasnt_default('public', 'broadcast_recipients', 'sent_at', 'broadcast_recipients.sent_at has no default');
select col_type_is('public', 'broadcast_recipients', 'delivered_at', 'timestamp with time zone', 'broadcast_recipients.delivered_at is timestamp with time zone');
select col_is_null('public', 'broadcast_recipients', 'delivered_at', 'broadcast_recipients.delivered_at is nullable');
select col_hasnt_default('public', 'broadcast_recipients', 'delivered_at', 'broadcast_recipients.delivered_at has no default');
select col_type_is('public', 'broadcast_recipients', 'error_message', 'text', 'broadcast_recipients.error_message is text');
select col_is_null('public', 'broadcast_recipients', 'error_message', 'broadcast_recipients.error_message is nullable');
select col_hasnt_default('public', 'broadcast_recipients', 'error_message', 'broadcast_recipients.error_message has no default');
select col_type_is('public', 'broadcast_recipients', 'wa_message_id', 'text', 'broadcast_recipients.wa_message_id is text');
select col_is_null('public', 'broadcast_recipients', 'wa_message_id', 'broadcast_recipients.wa_message_id is nullable');
select col_hasnt_default('public', 'broadcast_recipients', 'wa_message_id', 'broadcast_recipients.wa_message_id has no default');

-- audit_log (extension, migration 20261207003000) -----------------------------------------
select has_table('public', 'audit_log', 'table public.audit_log exists');
select columns_are('public', 'audit_log', array['id', 'occurred_at', 'actor_id', 'actor_role', 'action', 'target_table', 'target_id', 'details'], 'public.audit_log has exactly its columns (ids, no personal data)');

-- Primary keys ------------------------------------------------------------------------------
select col_is_pk('public', 'users', 'id', 'users: primary key (id)');
select col_is_pk('public', 'contacts', 'id', 'contacts: primary key (id)');
select col_is_pk('public', 'conversations', 'id', 'conversations: primary key (id)');
select col_is_pk('public', 'messages', 'id', 'messages: primary key (id)');
select col_is_pk('public', 'labels', 'id', 'labels: primary key (id)');
select col_is_pk('public', 'conversation_labels', array['conversation_id', 'label_id'], 'conversation_labels: primary key (conversation_id, label_id)');
select col_is_pk('public', 'notes', 'id', 'notes: primary key (id)');
select col_is_pk('public', 'message_templates', 'id', 'message_templates: primary key (id)');
select col_is_pk('public', 'broadcast_messages', 'id', 'broadcast_messages: primary key (id)');
select col_is_pk('public', 'broadcast_recipients', array['broadcast_id', 'contact_id'], 'broadcast_recipients: primary key (broadcast_id, contact_id)');

-- Foreign keys -----------------------------------------------------------------------------
-- Extension 1: the profile belongs to an auth user and goes away with it.
select fk_ok('public', 'users', 'id', 'auth', 'users', 'id', 'users.id references auth.users(id)');
select is(
  (select confdeltype::text from pg_constraint
    where conrelid = 'public.users'::regclass and contype = 'f' and confrelid = 'auth.users'::regclass),
  'c',
  'users.id -> auth.users(id) is on delete cascade');
select fk_ok('public', 'conversations', 'contact_id', 'public', 'contacts', 'id', 'conversations.contact_id references contacts(id)');
select fk_ok('public', 'conversations', 'assigned_agent_id', 'public', 'users', 'id', 'conversations.assigned_agent_id references users(id)');
select fk_ok('public', 'messages', 'conversation_id', 'public', 'conversations', 'id', 'messages.conversation_id references conversations(id)');
select fk_ok('public', 'messages', 'reply_to_message_id', 'public', 'messages', 'id', 'messages.reply_to_message_id references messages(id)');
select col_isnt_fk('public', 'messages', 'sender_id', 'messages.sender_id has no foreign key (users.id or contacts.id, by sender_type)');
select fk_ok('public', 'labels', 'created_by', 'public', 'users', 'id', 'labels.created_by references users(id)');
select fk_ok('public', 'conversation_labels', 'conversation_id', 'public', 'conversations', 'id', 'conversation_labels.conversation_id references conversations(id)');
select fk_ok('public', 'conversation_labels', 'label_id', 'public', 'labels', 'id', 'conversation_labels.label_id references labels(id)');
select fk_ok('public', 'conversation_labels', 'created_by', 'public', 'users', 'id', 'conversation_labels.created_by references users(id)');
select fk_ok('public', 'notes', 'conversation_id', 'public', 'conversations', 'id', 'notes.conversation_id references conversations(id)');
select fk_ok('public', 'notes', 'created_by', 'public', 'users', 'id', 'notes.created_by references users(id)');
select fk_ok('public', 'message_templates', 'created_by', 'public', 'users', 'id', 'message_templates.created_by references users(id)');
select fk_ok('public', 'broadcast_messages', 'created_by', 'public', 'users', 'id', 'broadcast_messages.created_by references users(id)');
select fk_ok('public', 'broadcast_messages', 'template_id', 'public', 'message_templates', 'id', 'broadcast_messages.template_id references message_templates(id) (extension 6)');
select fk_ok('public', 'broadcast_recipients', 'broadcast_id', 'public', 'broadcast_messages', 'id', 'broadcast_recipients.broadcast_id references broadcast_messages(id)');
select fk_ok('public', 'broadcast_recipients', 'contact_id', 'public', 'contacts', 'id', 'broadcast_recipients.contact_id references contacts(id)');

-- Unique constraints -----------------------------------------------------------------------
select col_is_unique('public', 'users', array['email'], 'users.email is unique');
select col_is_unique('public', 'contacts', array['phone'], 'contacts.phone is unique');
select col_is_unique('public', 'contacts', array['wa_id'], 'contacts.wa_id is unique');
select col_is_unique('public', 'contacts', array['wa_user_id'], 'contacts.wa_user_id is unique (extension)');
select col_is_unique('public', 'messages', array['wa_message_id'], 'messages.wa_message_id is unique (extension 3)');
select col_is_unique('public', 'broadcast_recipients', array['wa_message_id'], 'broadcast_recipients.wa_message_id is unique (extension 3)');
select col_is_unique('public', 'message_templates', array['wa_template_name', 'language_code'], 'message_templates (wa_template_name, language_code) is unique (extension 6)');

-- Indexes of the design document ----------------------------------------------------------
select has_index('public', 'conversations', 'idx_conversations_contact_id', array['contact_id'], 'index idx_conversations_contact_id on conversations(contact_id)');
select has_index('public', 'conversations', 'idx_conversations_assigned_agent_id', array['assigned_agent_id'], 'index idx_conversations_assigned_agent_id on conversations(assigned_agent_id)');
select has_index('public', 'conversations', 'idx_conversations_last_message_at', array['last_message_at'], 'index idx_conversations_last_message_at on conversations(last_message_at)');
select has_index('public', 'messages', 'idx_messages_conversation_id', array['conversation_id'], 'index idx_messages_conversation_id on messages(conversation_id)');
select has_index('public', 'messages', 'idx_messages_created_at', array['created_at'], 'index idx_messages_created_at on messages(created_at)');
select has_index('public', 'conversation_labels', 'idx_conversation_labels_conversation_id', array['conversation_id'], 'index idx_conversation_labels_conversation_id on conversation_labels(conversation_id)');
select has_index('public', 'conversation_labels', 'idx_conversation_labels_label_id', array['label_id'], 'index idx_conversation_labels_label_id on conversation_labels(label_id)');
select has_index('public', 'notes', 'idx_notes_conversation_id', array['conversation_id'], 'index idx_notes_conversation_id on notes(conversation_id)');
-- has_index compares key columns only; the design's two DESC indexes are checked in pg_index
-- (indoption bit 1 = DESC).
select is(
  (select array_agg(c.relname::text collate "default" order by c.relname)
     from pg_index i join pg_class c on c.oid = i.indexrelid
    where c.relnamespace = 'public'::regnamespace
      and c.relname in ('idx_conversations_last_message_at', 'idx_messages_created_at')
      and (i.indoption[0] & 1) = 1),
  array['idx_conversations_last_message_at', 'idx_messages_created_at'],
  'idx_conversations_last_message_at and idx_messages_created_at are DESC');

-- Indexes beyond the design: foreign keys it leaves unindexed, and extension 5.
select has_index('public', 'messages', 'idx_messages_reply_to_message_id', array['reply_to_message_id'], 'index on messages(reply_to_message_id)');
select has_index('public', 'labels', 'idx_labels_created_by', array['created_by'], 'index on labels(created_by)');
select has_index('public', 'conversation_labels', 'idx_conversation_labels_created_by', array['created_by'], 'index on conversation_labels(created_by)');
select has_index('public', 'notes', 'idx_notes_created_by', array['created_by'], 'index on notes(created_by)');
select has_index('public', 'message_templates', 'idx_message_templates_created_by', array['created_by'], 'index on message_templates(created_by)');
select has_index('public', 'broadcast_messages', 'idx_broadcast_messages_created_by', array['created_by'], 'index on broadcast_messages(created_by)');
select has_index('public', 'broadcast_messages', 'idx_broadcast_messages_template_id', array['template_id'], 'index on broadcast_messages(template_id)');
select has_index('public', 'broadcast_recipients', 'idx_broadcast_recipients_contact_id', array['contact_id'], 'index on broadcast_recipients(contact_id)');
select has_index('public', 'conversations', 'conversations_one_open_per_contact', array['contact_id'], 'index conversations_one_open_per_contact on conversations(contact_id)');
select index_is_unique('public', 'conversations', 'conversations_one_open_per_contact', 'conversations_one_open_per_contact is unique');

-- Fixtures for the behaviour tests ------------------------------------------------------------
-- Auth users (the trigger creates their profiles): an admin and an agent, and three whose
-- profiles are deleted again so that public.users can be inserted into directly.
insert into auth.users (id, aud, role, email, raw_app_meta_data, raw_user_meta_data) values
  ('00000000-0000-4000-a000-000000000001', 'authenticated', 'authenticated', 'structure.admin@test.invalid', '{"role": "admin"}', '{"full_name": "Structure Admin"}'),
  ('00000000-0000-4000-a000-000000000002', 'authenticated', 'authenticated', 'structure.agent@test.invalid', '{"role": "agent"}', '{"full_name": "Structure Agent"}'),
  ('00000000-0000-4000-a000-000000000011', 'authenticated', 'authenticated', 'check.one@test.invalid', '{}', '{}'),
  ('00000000-0000-4000-a000-000000000012', 'authenticated', 'authenticated', 'check.two@test.invalid', '{}', '{}'),
  ('00000000-0000-4000-a000-000000000013', 'authenticated', 'authenticated', 'check.three@test.invalid', '{}', '{}');
delete from public.users where id in (
  '00000000-0000-4000-a000-000000000011', '00000000-0000-4000-a000-000000000012', '00000000-0000-4000-a000-000000000013');

-- Contacts b...0001-0009 are fixtures; the check tests use their own.
insert into public.contacts (id, phone, wa_id, full_name) values
  ('00000000-0000-4000-b000-000000000001', '34999000001', '34999000001', 'Fixture Uno'),
  ('00000000-0000-4000-b000-000000000002', '34999000002', '34999000002', 'Fixture Dos'),
  ('00000000-0000-4000-b000-000000000003', '34999000003', '34999000003', 'Fixture Tres'),
  ('00000000-0000-4000-b000-000000000004', '34999000004', '34999000004', 'Fixture Cuatro'),
  ('00000000-0000-4000-b000-000000000005', '34999000005', '34999000005', 'Fixture Cinco');
insert into public.conversations (id, contact_id, assigned_agent_id, status) values
  ('00000000-0000-4000-c000-000000000001', '00000000-0000-4000-b000-000000000001', '00000000-0000-4000-a000-000000000002', 'active');
insert into public.broadcast_messages (id, name, content) values
  ('00000000-0000-4000-d000-000000000001', 'Fixture broadcast', 'Hola');

-- CHECK: users.role, users.status --------------------------------------------------------------
select lives_ok(
  $$insert into public.users (id, email, full_name, role, status) values ('00000000-0000-4000-a000-000000000011', 'check.one@test.invalid', 'One', 'admin', 'active')$$,
  'users.role accepts admin; users.status accepts active');
select lives_ok(
  $$insert into public.users (id, email, full_name, role, status) values ('00000000-0000-4000-a000-000000000012', 'check.two@test.invalid', 'Two', 'agent', 'inactive')$$,
  'users.role accepts agent; users.status accepts inactive');
select throws_ok(
  $$insert into public.users (id, email, full_name, role) values ('00000000-0000-4000-a000-000000000013', 'check.three@test.invalid', 'Three', 'owner')$$,
  '23514', 'new row for relation "users" violates check constraint "users_role_check"',
  'users.role rejects owner');
select throws_ok(
  $$insert into public.users (id, email, full_name, role, status) values ('00000000-0000-4000-a000-000000000013', 'check.three@test.invalid', 'Three', 'agent', 'away')$$,
  '23514', 'new row for relation "users" violates check constraint "users_status_check"',
  'users.status rejects away');

-- CHECK: contacts.status, contacts_identified --------------------------------------------------
select lives_ok(
  $$insert into public.contacts (phone, status) values ('34999000101', 'active')$$,
  'contacts.status accepts active; a contact with only a phone is identified');
select lives_ok(
  $$insert into public.contacts (wa_id, status) values ('34999000102', 'blocked')$$,
  'contacts.status accepts blocked; a contact with only a wa_id is identified');
select lives_ok(
  $$insert into public.contacts (wa_user_id) values ('ES.1234567890123456789')$$,
  'a contact with only a wa_user_id (no phone) is identified');
select throws_ok(
  $$insert into public.contacts (phone, status) values ('34999000104', 'deleted')$$,
  '23514', 'new row for relation "contacts" violates check constraint "contacts_status_check"',
  'contacts.status rejects deleted');
select throws_ok(
  $$insert into public.contacts (full_name) values ('Nadie')$$,
  '23514', 'new row for relation "contacts" violates check constraint "contacts_identified"',
  'contacts_identified rejects a contact without phone, wa_id and wa_user_id');

-- CHECK: conversations.status, conversations.priority ----------------------------------------
insert into public.contacts (id, phone, wa_id) values
  ('00000000-0000-4000-b000-000000000010', '34999000110', '34999000110'),
  ('00000000-0000-4000-b000-000000000011', '34999000111', '34999000111'),
  ('00000000-0000-4000-b000-000000000012', '34999000112', '34999000112'),
  ('00000000-0000-4000-b000-000000000013', '34999000113', '34999000113'),
  ('00000000-0000-4000-b000-000000000014', '34999000114', '34999000114');
select lives_ok(
  $$insert into public.conversations (contact_id, status) values ('00000000-0000-4000-b000-000000000010', 'active')$$,
  'conversations.status accepts active');
select lives_ok(
  $$insert into public.conversations (contact_id, status) values ('00000000-0000-4000-b000-000000000011', 'pending')$$,
  'conversations.status accepts pending');
select lives_ok(
  $$insert into public.conversations (contact_id, status) values ('00000000-0000-4000-b000-000000000012', 'archived')$$,
  'conversations.status accepts archived');
select throws_ok(
  $$insert into public.conversations (contact_id, status) values ('00000000-0000-4000-b000-000000000013', 'closed')$$,
  '23514', 'new row for relation "conversations" violates check constraint "conversations_status_check"',
  'conversations.status rejects closed');
select lives_ok(
  $$insert into public.conversations (contact_id, status, priority) values ('00000000-0000-4000-b000-000000000012', 'archived', 'low')$$,
  'conversations.priority accepts low');
select lives_ok(
  $$insert into public.conversations (contact_id, status, priority) values ('00000000-0000-4000-b000-000000000012', 'archived', 'normal')$$,
  'conversations.priority accepts normal');
select lives_ok(
  $$insert into public.conversations (contact_id, status, priority) values ('00000000-0000-4000-b000-000000000012', 'archived', 'high')$$,
  'conversations.priority accepts high');
select lives_ok(
  $$insert into public.conversations (contact_id, status, priority) values ('00000000-0000-4000-b000-000000000012', 'archived', 'urgent')$$,
  'conversations.priority accepts urgent');
select throws_ok(
  $$insert into public.conversations (contact_id, status, priority) values ('00000000-0000-4000-b000-000000000012', 'archived', 'critical')$$,
  '23514', 'new row for relation "conversations" violates check constraint "conversations_priority_check"',
  'conversations.priority rejects critical');

-- Extension 5: at most one open (not archived) conversation per contact ------------------------
select lives_ok(
  $$insert into public.conversations (id, contact_id, status) values ('00000000-0000-4000-c000-000000000014', '00000000-0000-4000-b000-000000000014', 'active')$$,
  'a first open conversation of a contact is accepted');
select throws_ok(
  $$insert into public.conversations (contact_id, status) values ('00000000-0000-4000-b000-000000000014', 'active')$$,
  '23505', 'duplicate key value violates unique constraint "conversations_one_open_per_contact"',
  'a second active conversation of the same contact is rejected');
select throws_ok(
  $$insert into public.conversations (contact_id, status) values ('00000000-0000-4000-b000-000000000014', 'pending')$$,
  '23505', 'duplicate key value violates unique constraint "conversations_one_open_per_contact"',
  'a pending conversation counts as open: rejected beside an active one');
select lives_ok(
  $$insert into public.conversations (contact_id, status) values ('00000000-0000-4000-b000-000000000014', 'archived')$$,
  'archived conversations of a contact with an open one are accepted');
select lives_ok(
  $$update public.conversations set status = 'archived' where id = '00000000-0000-4000-c000-000000000014'$$,
  'the open conversation can be archived');
select lives_ok(
  $$insert into public.conversations (contact_id, status) values ('00000000-0000-4000-b000-000000000014', 'active')$$,
  'after archiving, a new open conversation of the same contact is accepted');

-- CHECK: messages.sender_type, messages.message_type, messages.status -------------------------
select lives_ok(
  $$insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status)
    values ('00000000-0000-4000-c000-000000000001', 'contact', '00000000-0000-4000-b000-000000000001', 'Hola', 'text', 'delivered')$$,
  'messages.sender_type accepts contact');
select lives_ok(
  $$insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status)
    values ('00000000-0000-4000-c000-000000000001', 'agent', '00000000-0000-4000-a000-000000000002', 'Buenas', 'text', 'sent')$$,
  'messages.sender_type accepts agent');
select throws_ok(
  $$insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status)
    values ('00000000-0000-4000-c000-000000000001', 'bot', '00000000-0000-4000-a000-000000000002', 'Beep', 'text', 'sent')$$,
  '23514', 'new row for relation "messages" violates check constraint "messages_sender_type_check"',
  'messages.sender_type rejects bot');
-- message_type: the design's five and extension 4's seven.
select lives_ok(
  format($$insert into public.messages (conversation_id, sender_type, sender_id, message_type, status)
    values ('00000000-0000-4000-c000-000000000001', 'contact', '00000000-0000-4000-b000-000000000001', %L, 'delivered')$$, t),
  format('messages.message_type accepts %s', t))
  from unnest(array['text', 'image', 'file', 'location', 'template',
                    'audio', 'video', 'sticker', 'contacts', 'interactive', 'reaction', 'unsupported']) as t;
select throws_ok(
  $$insert into public.messages (conversation_id, sender_type, sender_id, message_type, status)
    values ('00000000-0000-4000-c000-000000000001', 'contact', '00000000-0000-4000-b000-000000000001', 'document', 'delivered')$$,
  '23514', 'new row for relation "messages" violates check constraint "messages_message_type_check"',
  'messages.message_type rejects document (documents are file)');
-- status: the design's four and extension 2's pending.
select lives_ok(
  format($$insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status)
    values ('00000000-0000-4000-c000-000000000001', 'agent', '00000000-0000-4000-a000-000000000002', 'Respuesta', 'text', %L)$$, s),
  format('messages.status accepts %s', s))
  from unnest(array['pending', 'sent', 'delivered', 'read', 'failed']) as s;
select throws_ok(
  $$insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status)
    values ('00000000-0000-4000-c000-000000000001', 'agent', '00000000-0000-4000-a000-000000000002', 'Respuesta', 'text', 'queued')$$,
  '23514', 'new row for relation "messages" violates check constraint "messages_status_check"',
  'messages.status rejects queued');
-- Extension 3: a wamid is stored once.
select lives_ok(
  $$insert into public.messages (conversation_id, sender_type, sender_id, message_type, status, wa_message_id)
    values ('00000000-0000-4000-c000-000000000001', 'contact', '00000000-0000-4000-b000-000000000001', 'text', 'delivered', 'wamid.structure.1')$$,
  'a message with a wamid is accepted');
select throws_ok(
  $$insert into public.messages (conversation_id, sender_type, sender_id, message_type, status, wa_message_id)
    values ('00000000-0000-4000-c000-000000000001', 'contact', '00000000-0000-4000-b000-000000000001', 'text', 'delivered', 'wamid.structure.1')$$,
  '23505', 'duplicate key value violates unique constraint "messages_wa_message_id_key"',
  'a second message with the same wamid is rejected');

-- CHECK: message_templates (extension 6) -------------------------------------------------------
select lives_ok(
  $$insert into public.message_templates (name, content) values ('Respuesta rápida', 'Gracias por escribirnos')$$,
  'a template without WhatsApp identity (both null) and default parameters is accepted');
select lives_ok(
  $$insert into public.message_templates (id, name, content, wa_template_name, language_code, parameters)
    values ('00000000-0000-4000-e000-000000000001', 'Bienvenida', 'Hola {{1}}', 'bienvenida', 'es', '["contact.full_name"]')$$,
  'a template with wa_template_name, language_code and a parameter array is accepted');
select throws_ok(
  $$insert into public.message_templates (name, content, parameters) values ('Mala', 'x', '{"1": "contact.full_name"}')$$,
  '23514', 'new row for relation "message_templates" violates check constraint "message_templates_parameters_check"',
  'message_templates.parameters rejects a non-array');
select throws_ok(
  $$insert into public.message_templates (name, content, status) values ('Mala', 'x', 'enabled')$$,
  '23514', 'new row for relation "message_templates" violates check constraint "message_templates_status"',
  'message_templates: status is one of Meta''s template statuses');
select throws_ok(
  $$insert into public.message_templates (name, content, wa_category) values ('Mala', 'x', 'promo')$$,
  '23514', 'new row for relation "message_templates" violates check constraint "message_templates_wa_category"',
  'message_templates: wa_category is marketing, utility or authentication');
select throws_ok(
  $$insert into public.message_templates (name, content, quality_score) values ('Mala', 'x', 'blue')$$,
  '23514', 'new row for relation "message_templates" violates check constraint "message_templates_quality_score"',
  'message_templates: quality_score is green, yellow, red or unknown');
select throws_ok(
  $$insert into public.message_templates (name, content, components) values ('Mala', 'x', '{}')$$,
  '23514', 'new row for relation "message_templates" violates check constraint "message_templates_components_array"',
  'message_templates: components is an array');
select throws_ok(
  $$insert into public.message_templates (name, content, parameter_format) values ('Mala', 'x', 'numbered')$$,
  '23514', 'new row for relation "message_templates" violates check constraint "message_templates_parameter_format"',
  'message_templates: parameter_format is positional or named');
select throws_ok(
  $$insert into public.message_templates (name, content, removed_at) values ('Mala', 'x', now())$$,
  '23514', 'new row for relation "message_templates" violates check constraint "message_templates_removed_is_deleted"',
  'message_templates: a removed template has status deleted');
select throws_ok(
  $$insert into public.message_templates (name, content, wa_template_name) values ('Sin idioma', 'x', 'sin_idioma')$$,
  '23514', 'new row for relation "message_templates" violates check constraint "message_templates_identity_complete"',
  'message_templates rejects a wa_template_name without language_code');
select throws_ok(
  $$insert into public.message_templates (name, content, language_code) values ('Sin nombre', 'x', 'es')$$,
  '23514', 'new row for relation "message_templates" violates check constraint "message_templates_identity_complete"',
  'message_templates rejects a language_code without wa_template_name');
select throws_ok(
  $$insert into public.message_templates (name, content, wa_template_name, language_code) values ('Otra', 'x', 'bienvenida', 'es')$$,
  '23505', 'duplicate key value violates unique constraint "message_templates_wa_identity"',
  'message_templates rejects a second row for the same WhatsApp template and language');
select lives_ok(
  $$insert into public.message_templates (name, content, wa_template_name, language_code) values ('Welcome', 'Hi {{1}}', 'bienvenida', 'en')$$,
  'the same WhatsApp template in another language is accepted');

-- A template id belongs to template messages only (agents choose templates by id).
select throws_ok(
  $$insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status, template_id)
    values ('00000000-0000-4000-c000-000000000001', 'contact', '00000000-0000-4000-b000-000000000001', 'hola', 'text', 'delivered',
            '00000000-0000-4000-e000-000000000001')$$,
  '23514', 'new row for relation "messages" violates check constraint "messages_template_id_only_for_templates"',
  'messages.template_id is refused on a message that is not a template');

-- CHECK: broadcast_messages (status, audience, scheduled needs scheduled_for) --------------------
select lives_ok(
  $$insert into public.broadcast_messages (name, content, status, template_id, audience)
    values ('Draft', 'Hola', 'draft', '00000000-0000-4000-e000-000000000001', '{"type": "tags", "tags": ["vip"]}')$$,
  'broadcast_messages.status accepts draft; audience accepts type tags; template_id accepted');
select lives_ok(
  $$insert into public.broadcast_messages (name, content, status, scheduled_for) values ('Scheduled', 'Hola', 'scheduled', now() + interval '1 day')$$,
  'broadcast_messages.status accepts scheduled with scheduled_for');
select throws_ok(
  $$insert into public.broadcast_messages (name, content, status) values ('Scheduled sin fecha', 'Hola', 'scheduled')$$,
  '23514', 'new row for relation "broadcast_messages" violates check constraint "broadcast_messages_scheduled_has_time"',
  'broadcast_messages rejects scheduled without scheduled_for');
select lives_ok(
  $$insert into public.broadcast_messages (name, content, status, audience) values ('Sending', 'Hola', 'sending', '{"type": "explicit"}')$$,
  'broadcast_messages.status accepts sending; audience accepts type explicit');
select lives_ok(
  $$insert into public.broadcast_messages (name, content, status) values ('Completed', 'Hola', 'completed')$$,
  'broadcast_messages.status accepts completed');
select lives_ok(
  $$insert into public.broadcast_messages (name, content, status) values ('Cancelled', 'Hola', 'cancelled')$$,
  'broadcast_messages.status accepts cancelled (extension 6)');
select throws_ok(
  $$insert into public.broadcast_messages (name, content, status) values ('Paused', 'Hola', 'paused')$$,
  '23514', 'new row for relation "broadcast_messages" violates check constraint "broadcast_messages_status_check"',
  'broadcast_messages.status rejects paused');
select throws_ok(
  $$insert into public.broadcast_messages (name, content, audience) values ('Everyone', 'Hola', '{"type": "everyone"}')$$,
  '23514', 'new row for relation "broadcast_messages" violates check constraint "broadcast_messages_audience_check"',
  'broadcast_messages.audience rejects type everyone');
select throws_ok(
  $$insert into public.broadcast_messages (name, content, audience) values ('No type', 'Hola', '{}')$$,
  '23514', 'new row for relation "broadcast_messages" violates check constraint "broadcast_messages_audience_check"',
  'broadcast_messages.audience rejects an audience without type');

-- CHECK: broadcast_recipients.status -----------------------------------------------------------
select lives_ok(
  format($$insert into public.broadcast_recipients (broadcast_id, contact_id, status)
    values ('00000000-0000-4000-d000-000000000001', %L, %L)$$, c, s),
  format('broadcast_recipients.status accepts %s', s))
  from (values ('00000000-0000-4000-b000-000000000001', 'pending'), ('00000000-0000-4000-b000-000000000002', 'sent'),
               ('00000000-0000-4000-b000-000000000003', 'delivered'), ('00000000-0000-4000-b000-000000000004', 'failed')) as v (c, s);
select throws_ok(
  $$insert into public.broadcast_recipients (broadcast_id, contact_id, status)
    values ('00000000-0000-4000-d000-000000000001', '00000000-0000-4000-b000-000000000005', 'read')$$,
  '23514', 'new row for relation "broadcast_recipients" violates check constraint "broadcast_recipients_status_check"',
  'broadcast_recipients.status rejects read');
select lives_ok(
  $$update public.broadcast_recipients set wa_message_id = 'wamid.structure.b1'
     where broadcast_id = '00000000-0000-4000-d000-000000000001' and contact_id = '00000000-0000-4000-b000-000000000002'$$,
  'a recipient records its wamid');
select throws_ok(
  $$update public.broadcast_recipients set wa_message_id = 'wamid.structure.b1'
     where broadcast_id = '00000000-0000-4000-d000-000000000001' and contact_id = '00000000-0000-4000-b000-000000000003'$$,
  '23505', 'duplicate key value violates unique constraint "broadcast_recipients_wa_message_id_key"',
  'a second recipient with the same wamid is rejected');

-- invitations (extension, migration 20261207002000): roles, statuses, address shape, leases.
select lives_ok(
  $$insert into public.invitations (id, email, role) values
      ('00000000-0000-4000-e000-000000000001', 'check.admin@test.invalid', 'admin'),
      ('00000000-0000-4000-e000-000000000002', 'check.agent@test.invalid', 'agent')$$,
  'invitations.role accepts admin and agent');
select throws_ok(
  $$insert into public.invitations (email, role) values ('check.owner@test.invalid', 'owner')$$,
  '23514', 'new row for relation "invitations" violates check constraint "invitations_role_check"',
  'invitations.role rejects owner');
select lives_ok(
  $q$do $d$ declare v text; begin
      foreach v in array array['sent', 'failed', 'accepted', 'revoked', 'pending'] loop
        update public.invitations set status = v where id = '00000000-0000-4000-e000-000000000001';
      end loop; end $d$$q$,
  'invitations.status accepts pending, sent, failed, accepted and revoked');
select throws_ok(
  $$update public.invitations set status = 'expired' where id = '00000000-0000-4000-e000-000000000001'$$,
  '23514', 'new row for relation "invitations" violates check constraint "invitations_status_check"',
  'invitations.status rejects expired');
select throws_ok(
  $$insert into public.invitations (email) values ('not an email')$$,
  '23514', 'new row for relation "invitations" violates check constraint "invitations_email_format"',
  'invitations.email rejects a value that is not an address');
select throws_ok(
  $$update public.invitations set lease_owner = 'sender' where id = '00000000-0000-4000-e000-000000000002'$$,
  '23514', 'new row for relation "invitations" violates check constraint "invitations_lease_complete"',
  'an invitation''s lease has an owner and an expiry, or neither');

-- audit_log.action: the seven actions logged (written here as the owner; the API can't).
select lives_ok(
  $$insert into public.audit_log (action, target_table, target_id)
    select a, 'contacts', '00000000-0000-4000-b000-000000000001'
      from unnest(array['contact.erased', 'contact.exported', 'user.role_changed', 'user.status_changed',
                        'conversation.assigned', 'invitation.created', 'invitation.revoked']) a$$,
  'audit_log.action accepts the seven logged actions');
select throws_ok(
  $$insert into public.audit_log (action, target_table, target_id) values ('contact.viewed', 'contacts', '00000000-0000-4000-b000-000000000001')$$,
  '23514', 'new row for relation "audit_log" violates check constraint "audit_log_action_check"',
  'audit_log.action rejects any other action');

select throws_ok(
  $$update public.messages set pricing = '[]'$$,
  '23514', 'new row for relation "messages" violates check constraint "messages_pricing_object"',
  'messages.pricing is an object (or null)');
select throws_ok(
  $$update public.broadcast_recipients set pricing = '"pmp"'$$,
  '23514', 'new row for relation "broadcast_recipients" violates check constraint "broadcast_recipients_pricing_object"',
  'broadcast_recipients.pricing is an object (or null)');

-- Every CHECK constraint of schema public is one proven above.
select set_eq(
  $$select (select relname from pg_class where oid = conrelid)::text collate "default" || '.' || conname from pg_constraint
     where contype = 'c' and connamespace = 'public'::regnamespace$$,
  array[
    'users.users_role_check', 'users.users_status_check',
    'contacts.contacts_status_check', 'contacts.contacts_identified',
    'conversations.conversations_status_check', 'conversations.conversations_priority_check',
    'messages.messages_sender_type_check', 'messages.messages_message_type_check', 'messages.messages_status_check',
    'messages.messages_template_id_only_for_templates',
    'message_templates.message_templates_parameters_check', 'message_templates.message_templates_identity_complete',
    'message_templates.message_templates_status', 'message_templates.message_templates_wa_category',
    'message_templates.message_templates_quality_score', 'message_templates.message_templates_components_array',
    'message_templates.message_templates_parameter_format', 'message_templates.message_templates_removed_is_deleted',
    'broadcast_messages.broadcast_messages_status_check', 'broadcast_messages.broadcast_messages_audience_check',
    'broadcast_messages.broadcast_messages_scheduled_has_time',
    'broadcast_recipients.broadcast_recipients_status_check',
    'messages.messages_pricing_object', 'broadcast_recipients.broadcast_recipients_pricing_object',
    'invitations.invitations_role_check', 'invitations.invitations_status_check',
    'invitations.invitations_email_format', 'invitations.invitations_lease_complete',
    'audit_log.audit_log_action_check'],
  'every CHECK constraint of schema public is proven by behaviour in this file');

-- Row level security ---------------------------------------------------------------------------
-- Over the catalog, so that a table added later without RLS fails here.
select is_empty(
  $$select c.relname::text from pg_class c
     where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') and not c.relrowsecurity$$,
  'RLS is enabled on every table of schema public');
select cmp_ok(
  (select count(*)::int from pg_class c
    where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') and c.relrowsecurity),
  '>=', 10,
  'the RLS check above saw the ten tables of the design document');

-- Schemas private and svc: nothing for anon and authenticated ----------------------------------
select ok(not has_schema_privilege('anon', 'private', 'USAGE, CREATE'), 'anon has no USAGE (nor CREATE) on schema private');
select ok(not has_schema_privilege('authenticated', 'private', 'CREATE'), 'authenticated has no CREATE on schema private');
-- Migration 0600 grants USAGE on private to authenticated because the guard triggers of
-- migration 0800 (SECURITY INVOKER PL/pgSQL) resolve private.* by name at run time.
-- Policies don't need it (their expressions are stored parsed). Reported with a fix.
select ok(not has_schema_privilege('authenticated', 'private', 'USAGE, CREATE'), 'authenticated has no USAGE (nor CREATE) on schema private');
select ok(not has_schema_privilege('anon', 'svc', 'USAGE, CREATE'), 'anon has no USAGE (nor CREATE) on schema svc');
select ok(not has_schema_privilege('authenticated', 'svc', 'USAGE, CREATE'), 'authenticated has no USAGE (nor CREATE) on schema svc');
select ok(has_schema_privilege('service_role', 'svc', 'USAGE'), 'service_role has USAGE on schema svc');
select is_empty(
  $$select r.rolname || ' on ' || c.oid::regclass::text
      from pg_class c cross join (values ('anon'), ('authenticated')) as r (rolname)
     where c.relnamespace = 'svc'::regnamespace and c.relkind in ('r', 'p', 'v', 'm', 'f')
       and (has_table_privilege(r.rolname, c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
            or has_any_column_privilege(r.rolname, c.oid, 'SELECT, INSERT, UPDATE, REFERENCES'))$$,
  'anon and authenticated have no privilege on any table, view or column in schema svc');
select is_empty(
  $$select r.rolname || ' on ' || c.oid::regclass::text
      from pg_class c cross join (values ('anon'), ('authenticated')) as r (rolname)
     where c.relnamespace = 'svc'::regnamespace and c.relkind = 'S'
       and has_sequence_privilege(r.rolname, c.oid, 'USAGE, SELECT, UPDATE')$$,
  'anon and authenticated have no privilege on any sequence in schema svc');
select is_empty(
  $$select r.rolname || ' on ' || p.oid::regprocedure::text
      from pg_proc p cross join (values ('anon'), ('authenticated')) as r (rolname)
     where p.pronamespace = 'svc'::regnamespace
       and has_function_privilege(r.rolname, p.oid, 'EXECUTE')$$,
  'anon and authenticated may execute no function in schema svc');
-- Trigger functions are never called over the API, so they are left out.
select is_empty(
  $$select p.oid::regprocedure::text from pg_proc p
     where p.pronamespace = 'svc'::regnamespace and p.prokind in ('f', 'p')
       and p.prorettype <> 'trigger'::regtype
       and not has_function_privilege('service_role', p.oid, 'EXECUTE')$$,
  'service_role may execute every function in schema svc');
set local role service_role;
select lives_ok('select svc.ping()', 'service_role calls svc.ping()');
reset role;
set local role anon;
select throws_ok('select svc.ping()', '42501', null, 'anon cannot call svc.ping()');
reset role;
set local role authenticated;
select throws_ok('select svc.ping()', '42501', null, 'authenticated cannot call svc.ping()');
reset role;

select * from finish();
rollback;
