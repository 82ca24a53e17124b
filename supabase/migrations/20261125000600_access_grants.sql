-- Access control, part 2: what the API roles may touch at all.
--
-- Grants are checked before policies: a command without a grant fails with 42501 before
-- any policy runs, so the grants are the coarse rule ("who may ever UPDATE which
-- column") and the policies (migration 0700) the fine one ("which rows").
-- Today's Supabase no longer grants new tables to the API roles, so everything here is
-- explicit, and everything not here is denied:
--
--   anon           nothing, anywhere (no grant on any table, function or schema below).
--   authenticated  exactly what the rules need, column by column where columns are
--                  protected. Admin-only columns among those are guarded by triggers
--                  (migration 0800), because agents and admins share this one role.
--   service_role   already holds select/insert/update/delete on every public table
--                  (migration 0200) and bypasses RLS; svc is its alone (migration 0100).

-- The policies' helpers ----------------------------------------------------------------
-- EXECUTE only: policies (and the guard triggers' WHEN clauses) are stored parsed, with
-- functions by oid, so the caller needs no USAGE on schema private, which stays closed
-- (and out of PostgREST's exposed schemas).
grant execute on function private.active_user_id() to authenticated;
grant execute on function private.is_active_user() to authenticated;
grant execute on function private.is_admin() to authenticated;

-- users: the team directory; own profile fields; role and status for admins (guarded).
revoke all on public.users from anon, authenticated;
grant select on public.users to authenticated;
grant update (full_name, avatar_url, preferences, phone, last_seen_at, role, status)
  on public.users to authenticated;

-- contacts: created by the services; agents edit profile fields, admins also status (guarded).
-- Never phone, wa_id, wa_user_id, opted_out_at, last_contacted_at (the services' columns).
revoke all on public.contacts from anon, authenticated;
grant select on public.contacts to authenticated;
grant update (full_name, email, location, tags, language, timezone, metadata, status)
  on public.contacts to authenticated;

-- conversations: opened by the services; status and priority, and assignment (admins,
-- guarded). Timestamps and response metrics belong to the services.
revoke all on public.conversations from anon, authenticated;
grant select on public.conversations to authenticated;
grant update (status, priority, assigned_agent_id) on public.conversations to authenticated;

-- messages: agents queue outbound replies; nobody but the services changes a message.
-- Not insertable: created_at (server time), delivery fields, error_data, wa_message_id.
revoke all on public.messages from anon, authenticated;
grant select on public.messages to authenticated;
grant insert (id, conversation_id, sender_type, sender_id, content, message_type, status,
              media_url, metadata, reply_to_message_id)
  on public.messages to authenticated;

-- labels: admins manage, everyone reads.
revoke all on public.labels from anon, authenticated;
grant select, delete on public.labels to authenticated;
grant insert (id, name, color, created_by) on public.labels to authenticated;
grant update (name, color) on public.labels to authenticated;

-- conversation_labels: attach and detach (no UPDATE: a row is only its two keys).
revoke all on public.conversation_labels from anon, authenticated;
grant select, delete on public.conversation_labels to authenticated;
grant insert (conversation_id, label_id, created_by) on public.conversation_labels to authenticated;

-- notes: own notes; never moved to another conversation or another author.
revoke all on public.notes from anon, authenticated;
grant select, delete on public.notes to authenticated;
grant insert (id, conversation_id, content, created_by) on public.notes to authenticated;
grant update (content, updated_at) on public.notes to authenticated;

-- message_templates: admins manage, everyone reads.
revoke all on public.message_templates from anon, authenticated;
grant select, delete on public.message_templates to authenticated;
grant insert (id, name, content, category, created_by, wa_template_name, language_code, parameters)
  on public.message_templates to authenticated;
grant update (name, content, category, updated_at, wa_template_name, language_code, parameters)
  on public.message_templates to authenticated;

-- broadcast_messages: admins manage; sent_at and the worker's statuses are the worker's.
revoke all on public.broadcast_messages from anon, authenticated;
grant select, delete on public.broadcast_messages to authenticated;
grant insert (id, name, content, status, scheduled_for, created_by, template_id, audience)
  on public.broadcast_messages to authenticated;
grant update (name, content, status, scheduled_for, template_id, audience)
  on public.broadcast_messages to authenticated;

-- broadcast_recipients: materialized and updated by the broadcast worker; admins read.
revoke all on public.broadcast_recipients from anon, authenticated;
grant select on public.broadcast_recipients to authenticated;
