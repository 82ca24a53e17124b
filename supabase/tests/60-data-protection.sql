-- Data protection (migrations 20261207003000-3100): the delete rule of every foreign key,
-- the audit log (who did what to access and personal data; append-only through the API,
-- for the services and, by a trigger the owner could drop, for the owner),
-- export_contact and erase_contact (admins only), and the journal's retention.
--
-- The erasure is proven generically: every column of every table in schemas public and
-- svc (found in the catalog, so a table added later is searched too) is searched for the
-- erased contact's phone, wa_id, name, message texts, media references and wamids, before
-- (the search finds them), right after (only in the journal and the pending request) and
-- after svc.erase_from_journal went through the journal in small batches (nothing
-- anywhere, but for other customers' messages that mention them: README).
begin;
select plan(103);

\ir fixtures/access.sql

-- More of contact 2a (agent A's customer) -----------------------------------------------------
-- An older archived conversation 30 with a photo (40), a reply agent A queued in 3a (41: an
-- outbound job), a read receipt, a status that waits for its wamid, a broadcast sending to
-- them (8b, queued) besides the completed 8c, and raw webhooks that name them: J1 (their
-- message), J2 (failed: their message and one of contact 2b's), J3 (a status of their
-- broadcast message), J5 (unparsed); J4 is contact 2b's alone; J6 and J7 are contact 2b's
-- but mention 2a (a contact card, a typed number); J8 is unparsed, with items of both.
insert into public.conversations (id, contact_id, assigned_agent_id, status, created_at, last_message_at)
values (access_test.id('30'), access_test.id('2a'), access_test.id('1a'), 'archived', now() - interval '60 days', now() - interval '60 days');
insert into public.messages (id, conversation_id, sender_type, sender_id, content, message_type, status, media_url, metadata, wa_message_id, created_at)
values (access_test.id('40'), access_test.id('30'), 'contact', access_test.id('2a'), 'my passport photo', 'image', 'delivered',
        'https://media.example.test/contact-a/photo-0001.jpg', '{"caption": "my passport photo", "media_id": "MEDIA-A-1"}',
        'wamid.fixture40', now() - interval '60 days');
insert into public.messages (id, conversation_id, sender_type, sender_id, content, message_type, status)
values (access_test.id('41'), access_test.id('3a'), 'agent', access_test.id('1a'), 'Your order ORDER-A-7781 ships tomorrow', 'text', 'pending');
insert into svc.read_receipts (conversation_id, wa_message_id, message_created_at)
values (access_test.id('3a'), 'wamid.fixture4a', now());
insert into svc.early_statuses (wa_message_id, status, occurred_at) values ('wamid.fixture40', 'read', now());

update public.broadcast_recipients set wa_message_id = 'wamid.broadcast8c2a'
 where broadcast_id = access_test.id('8c') and contact_id = access_test.id('2a');
insert into public.broadcast_recipients (broadcast_id, contact_id, status, error_message)
values (access_test.id('8c'), access_test.id('2b'), 'failed', '131026: undeliverable');
insert into public.broadcast_messages (id, name, content, status, created_by, template_id)
values (access_test.id('8b'), 'Sending promo', 'Promo', 'sending', access_test.id('1e'), access_test.id('7a'));
insert into public.broadcast_recipients (broadcast_id, contact_id, status)
values (access_test.id('8b'), access_test.id('2a'), 'pending'), (access_test.id('8b'), access_test.id('2b'), 'pending');
insert into svc.broadcast_queue (broadcast_id, contact_id)
values (access_test.id('8b'), access_test.id('2a')), (access_test.id('8b'), access_test.id('2b'));

insert into svc.webhook_journal (payload, events, outcome, applied_at) values (
  '{"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": {
     "contacts": [{"profile": {"name": "Contact of A"}, "wa_id": "5491100000001"}],
     "messages": [{"from": "5491100000001", "id": "wamid.fixture4a", "type": "text", "text": {"body": "hello A"}}]}}]}]}',
  '{"messages": [{"wamid": "wamid.fixture4a", "from": "5491100000001", "user_id": null, "profile_name": "Contact of A",
     "timestamp": "2026-12-01T10:00:00Z", "message_type": "text", "content": "hello A", "metadata": null, "context_wamid": null}],
    "statuses": []}',
  'applied', now())
returning id as j1 \gset
insert into svc.webhook_journal (payload, events, outcome, error) values (
  '{"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": {
     "contacts": [{"profile": {"name": "Contact of A"}, "wa_id": "5491100000001"}, {"profile": {"name": "Contact of B"}, "wa_id": "5491100000002"}],
     "messages": [{"from": "5491100000001", "id": "wamid.j2a", "type": "text", "text": {"body": "second try from A"}},
                  {"from": "5491100000002", "id": "wamid.j2b", "type": "text", "text": {"body": "second try from B"}}]}}]}]}',
  '{"messages": [{"wamid": "wamid.j2a", "from": "5491100000001", "user_id": null, "profile_name": "Contact of A",
                  "timestamp": "2026-12-01T11:00:00Z", "message_type": "text", "content": "second try from A", "metadata": null, "context_wamid": null},
                 {"wamid": "wamid.j2b", "from": "5491100000002", "user_id": null, "profile_name": "Contact of B",
                  "timestamp": "2026-12-01T11:00:00Z", "message_type": "text", "content": "second try from B", "metadata": null, "context_wamid": null}],
    "statuses": []}',
  'failed', '22023: message event without wamid, timestamp or type')
returning id as j2 \gset
insert into svc.webhook_journal (payload, events, outcome, applied_at) values (
  '{"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": {
     "statuses": [{"id": "wamid.broadcast8c2a", "status": "read", "recipient_id": "5491100000001"}]}}]}]}',
  '{"messages": [], "statuses": [{"wamid": "wamid.broadcast8c2a", "status": "read", "timestamp": "2026-12-01T12:00:00Z",
                                  "recipient_id": "5491100000001", "errors": null}]}',
  'applied', now())
returning id as j3 \gset
insert into svc.webhook_journal (payload, events, outcome, applied_at) values (
  '{"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": {
     "contacts": [{"profile": {"name": "Contact of B"}, "wa_id": "5491100000002"}],
     "messages": [{"from": "5491100000002", "id": "wamid.fixture4b", "type": "text", "text": {"body": "hello B"}}]}}]}]}',
  '{"messages": [{"wamid": "wamid.fixture4b", "from": "5491100000002", "user_id": null, "profile_name": "Contact of B",
     "timestamp": "2026-12-01T10:00:00Z", "message_type": "text", "content": "hello B", "metadata": null, "context_wamid": null}],
    "statuses": []}',
  'applied', now())
returning id as j4, payload::text as j4_payload \gset
insert into svc.webhook_journal (payload, events, outcome, error) values (
  '{"garbled": {"from": "5491100000001", "note": "unparseable"}}', null, 'failed', 'parse error: missing field entry')
returning id as j5 \gset
-- Contact 2b's webhooks that mention 2a without being about them: a contact card with 2a's
-- number (J6), a text whose body is 2a's number (J7). And an unparsed webhook with items
-- of both (J8).
insert into svc.webhook_journal (payload, events, outcome, applied_at) values (
  '{"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": {
     "contacts": [{"profile": {"name": "Contact of B"}, "wa_id": "5491100000002"}],
     "messages": [{"from": "5491100000002", "id": "wamid.j6", "type": "contacts",
                   "contacts": [{"name": {"formatted_name": "A friend"}, "phones": [{"phone": "+5491100000001", "wa_id": "5491100000001"}]}]}]}}]}]}',
  '{"messages": [{"wamid": "wamid.j6", "from": "5491100000002", "user_id": null, "profile_name": "Contact of B",
     "timestamp": "2026-12-01T13:00:00Z", "message_type": "contacts", "content": "A friend",
     "metadata": {"contacts": [{"phones": [{"phone": "+5491100000001", "wa_id": "5491100000001"}]}]}, "context_wamid": null}],
    "statuses": []}',
  'applied', now())
returning id as j6, payload::text as j6_payload, events::text as j6_events \gset
insert into svc.webhook_journal (payload, events, outcome, applied_at) values (
  '{"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": {
     "contacts": [{"profile": {"name": "Contact of B"}, "wa_id": "5491100000002"}],
     "messages": [{"from": "5491100000002", "id": "wamid.j7", "type": "text", "text": {"body": "5491100000001"}}]}}]}]}',
  '{"messages": [{"wamid": "wamid.j7", "from": "5491100000002", "user_id": null, "profile_name": "Contact of B",
     "timestamp": "2026-12-01T13:01:00Z", "message_type": "text", "content": "5491100000001", "metadata": null, "context_wamid": null}],
    "statuses": []}',
  'applied', now())
returning id as j7, payload::text as j7_payload \gset
insert into svc.webhook_journal (payload, events, outcome, error) values (
  '{"garbled": [{"from": "5491100000001", "body": "hello A"}, {"from": "5491100000002", "body": "hello B"}]}', null, 'failed', 'parse error: missing field entry')
returning id as j8 \gset

-- The search: every column of every table in public and svc ------------------------------------
create schema dp_test;

-- What identifies contact 2a or was said by or about them.
create function dp_test.needles() returns text[]
language sql immutable
as $$
  select array['5491100000001', 'Contact of A', 'hello A', 'second try from A', 'ORDER-A-7781',
               'my passport photo', 'media.example.test/contact-a', 'MEDIA-A-1', 'note by A',
               'note by the admin on A', 'wamid.fixture4a', 'wamid.fixture40', 'wamid.broadcast8c2a', 'wamid.j2a']
$$;

-- schema.table.column of every column (any type, as text) holding one of the needles.
create function dp_test.hits(p_needles text[]) returns setof text
language plpgsql
as $$
declare
  r record;
  v_found boolean;
  v_patterns text[] := array(
    select '%' || replace(replace(replace(x, '\', '\\'), '%', '\%'), '_', '\_') || '%' from unnest(p_needles) x);
begin
  for r in
    select n.nspname, c.relname, a.attname
      from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
      join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
     where n.nspname in ('public', 'svc') and c.relkind in ('r', 'p')
     order by 1, 2, 3
  loop
    execute format('select exists (select from %I.%I t where t.%I::text ilike any ($1))', r.nspname, r.relname, r.attname)
      into v_found using v_patterns;
    if v_found then
      return next r.nspname || '.' || r.relname || '.' || r.attname;
    end if;
  end loop;
end;
$$;

-- Delete rules of every foreign key ------------------------------------------------------------
select results_eq(
  $$select (n.nspname || '.' || c.relname || '.' || k.conname)::text collate "default", k.confdeltype::text
      from pg_constraint k
      join pg_class c on c.oid = k.conrelid
      join pg_namespace n on n.oid = c.relnamespace
     where k.contype = 'f' and n.nspname in ('public', 'svc')
     order by 1$$,
  $$values
    ('public.broadcast_messages.broadcast_messages_created_by_fkey', 'r'),
    ('public.broadcast_messages.broadcast_messages_template_id_fkey', 'r'),
    ('public.broadcast_recipients.broadcast_recipients_broadcast_id_fkey', 'c'),
    ('public.broadcast_recipients.broadcast_recipients_contact_id_fkey', 'r'),
    ('public.conversation_labels.conversation_labels_conversation_id_fkey', 'c'),
    ('public.conversation_labels.conversation_labels_created_by_fkey', 'r'),
    ('public.conversation_labels.conversation_labels_label_id_fkey', 'r'),
    ('public.conversations.conversations_assigned_agent_id_fkey', 'r'),
    ('public.conversations.conversations_contact_id_fkey', 'r'),
    ('public.invitations.invitations_accepted_user_id_fkey', 'n'),
    ('public.invitations.invitations_invited_by_fkey', 'n'),
    ('public.labels.labels_created_by_fkey', 'r'),
    ('public.message_templates.message_templates_created_by_fkey', 'r'),
    ('public.messages.messages_conversation_id_fkey', 'c'),
    ('public.messages.messages_reply_to_message_id_fkey', 'n'),
    ('public.messages.messages_template_id_fkey', 'n'),
    ('public.notes.notes_conversation_id_fkey', 'c'),
    ('public.notes.notes_created_by_fkey', 'r'),
    ('public.users.users_id_fkey', 'c'),
    ('svc.agent_assignments.agent_assignments_user_id_fkey', 'c'),
    ('svc.business_numbers.business_numbers_portfolio_id_fkey', 'r'),
    ('svc.media_fetches.media_fetches_message_id_fkey', 'c'),
    ('svc.outbound_jobs.outbound_jobs_contact_id_fkey', 'c'),
    ('svc.outbound_jobs.outbound_jobs_message_id_fkey', 'c'),
    ('svc.read_receipts.read_receipts_conversation_id_fkey', 'c')$$,
  'every foreign key of public and svc has its documented delete rule (c cascade, n set null, r restrict)');
select is_empty(
  $$select conname from pg_constraint where contype = 'f' and connamespace = 'public'::regnamespace and confdeltype = 'a'$$,
  'no foreign key of public is left at the default (no action)');
select throws_ok(
  $$delete from auth.users where id = access_test.id('1a')$$,
  '23503', null,
  'a user with history (assigned conversations, notes) can''t be deleted: deactivate them instead');
select throws_ok(
  $$delete from public.contacts where id = access_test.id('2b')$$,
  '23503', null,
  'a contact with conversations can''t be deleted by accident (only erase_contact removes one)');
insert into public.broadcast_recipients (broadcast_id, contact_id) values (access_test.id('8a'), access_test.id('2b'));
select access_test.act_as('admin');
select is(access_test.dry_run($$delete from public.broadcast_messages where id = access_test.id('8a') returning right(id::text, 2)$$), '8a',
  'an admin deletes a draft broadcast with its explicit audience (recipients cascade)');

-- The audit log ---------------------------------------------------------------------------------
-- As the admin: a role change and back, an activation, an assignment, an invitation
-- created and revoked.
update public.users set role = 'admin' where id = access_test.id('1b');
update public.users set role = 'agent' where id = access_test.id('1b');
update public.users set status = 'active' where id = access_test.id('1d');
update public.conversations set assigned_agent_id = access_test.id('1b') where id = access_test.id('3f');
insert into public.invitations (id, email, role) values (access_test.id('9a'), 'new.agent@example.test', 'agent');
update public.invitations set status = 'revoked' where id = access_test.id('9a');
-- An invitation made as agent, then raised to admin before it is accepted.
insert into public.invitations (id, email, role) values (access_test.id('9b'), 'raised@example.test', 'agent');
update public.invitations set role = 'admin' where id = access_test.id('9b');
-- Outside the API: the inactive agent deactivated again (their open conversation 3d is
-- handed on, and logged), then 3d given back to them as the fixture has it.
select access_test.act_as('postgres');
update public.users set status = 'inactive' where id = access_test.id('1d');
update public.conversations set assigned_agent_id = access_test.id('1d') where id = access_test.id('3d');

select results_eq(
  $$select action, target_table, right(target_id::text, 2), details, right(actor_id::text, 2), actor_role
      from public.audit_log
     where actor_id = access_test.id('1e')
     order by id$$,
  $$values
    ('user.role_changed', 'users', '1b', '{"from": "agent", "to": "admin"}'::jsonb, '1e', 'authenticated'),
    ('user.role_changed', 'users', '1b', '{"from": "admin", "to": "agent"}'::jsonb, '1e', 'authenticated'),
    ('user.status_changed', 'users', '1d', '{"from": "inactive", "to": "active"}'::jsonb, '1e', 'authenticated'),
    ('conversation.assigned', 'conversations', '3f', '{"from": null, "to": "00000000-0000-4000-8000-00000000001b"}'::jsonb, '1e', 'authenticated'),
    ('invitation.created', 'invitations', '9a', '{"role": "agent", "status": "pending", "accepted_user_id": null}'::jsonb, '1e', 'authenticated'),
    ('invitation.revoked', 'invitations', '9a', '{"role": "agent", "from": "pending"}'::jsonb, '1e', 'authenticated'),
    ('invitation.created', 'invitations', '9b', '{"role": "agent", "status": "pending", "accepted_user_id": null}'::jsonb, '1e', 'authenticated'),
    ('invitation.role_changed', 'invitations', '9b', '{"from": "agent", "to": "admin"}'::jsonb, '1e', 'authenticated')$$,
  'the audit log records the admin''s role and status changes, the assignment and the invitations (a role raised too), as who, what, which row');

select results_eq(
  $$select action, right(target_id::text, 2), actor_id, actor_role from (select * from public.audit_log order by id desc limit 3) l order by id$$,
  $$values ('user.status_changed', '1d', null::uuid, null::text), ('conversation.assigned', '3d', null, null),
           ('conversation.assigned', '3d', null, null)$$,
  'changes made outside the API (the services, an operator in SQL) are logged without an actor, a deactivated agent''s conversations handed on too');

-- The invited person confirms their address (Auth, outside the API): the acceptance has no
-- actor, but every entry names the invitation and who sent it.
select access_test.act_as('postgres');
insert into auth.users (id, aud, role, email, email_confirmed_at, raw_app_meta_data) values
  (access_test.id('1f'), 'authenticated', 'authenticated', 'raised@example.test', now(), '{"provider": "email"}');
select results_eq(
  $$select action, target_table, right(target_id::text, 2), details, actor_id
      from public.audit_log
     where (target_table = 'invitations' and target_id = access_test.id('9b') and action = 'invitation.accepted')
        or (target_table = 'users' and target_id = access_test.id('1f'))
     order by id$$,
  $$values
    ('invitation.accepted', 'invitations', '9b', jsonb_build_object('role', 'admin', 'invited_by', access_test.id('1e'), 'user_id', access_test.id('1f')), null::uuid),
    ('user.role_changed', 'users', '1f', jsonb_build_object('from', 'agent', 'to', 'admin', 'invitation_id', access_test.id('9b'), 'invited_by', access_test.id('1e')), null),
    ('user.status_changed', 'users', '1f', jsonb_build_object('from', 'inactive', 'to', 'active', 'invitation_id', access_test.id('9b'), 'invited_by', access_test.id('1e')), null)$$,
  'an accepted invitation is logged (inviter, new user, role) and the profile''s role and status changes name the invitation and its inviter');
update public.users set status = 'inactive' where id = access_test.id('1f');
select is(
  (select details from public.audit_log where target_id = access_test.id('1f') order by id desc limit 1),
  '{"from": "active", "to": "inactive"}'::jsonb,
  'a later change of that user in the same transaction is not attributed to the invitation');
select is_empty(
  $$select id from public.audit_log where details::text ~ '@|example\.test'$$,
  'the audit log keeps no email address (invitations by id only)');

select access_test.act_as('admin');
select isnt_empty($$select id from public.audit_log$$, 'the admin reads the audit log');
select access_test.act_as('agent A');
select is(access_test.seen('public.audit_log', 'id::text'), '', 'agent A reads nothing of the audit log');
select access_test.act_as('inactive agent');
select is(access_test.seen('public.audit_log', 'id::text'), '', 'the inactive agent reads nothing of the audit log');
select access_test.act_as('anon');
select throws_ok($$select id from public.audit_log$$, '42501', null, 'anon can''t read the audit log');

-- Append-only: through the API nobody writes it, and a trigger refuses changes to the owner
-- (who could drop it: the README says to ship the log elsewhere for tamper evidence).
select access_test.act_as('admin');
select throws_ok($$insert into public.audit_log (action, target_table, target_id) values ('contact.erased', 'contacts', gen_random_uuid())$$,
  '42501', null, 'admin: can''t add to the audit log');
select throws_ok($$update public.audit_log set details = '{}'$$, '42501', null, 'admin: can''t change the audit log');
select throws_ok($$delete from public.audit_log$$, '42501', null, 'admin: can''t delete from the audit log');
select access_test.act_as('agent A');
select throws_ok($$insert into public.audit_log (action, target_table, target_id) values ('contact.erased', 'contacts', gen_random_uuid())$$,
  '42501', null, 'agent A: can''t add to the audit log');
select throws_ok($$update public.audit_log set details = '{}'$$, '42501', null, 'agent A: can''t change the audit log');
select throws_ok($$delete from public.audit_log$$, '42501', null, 'agent A: can''t delete from the audit log');
select access_test.act_as('anon');
select throws_ok($$insert into public.audit_log (action, target_table, target_id) values ('contact.erased', 'contacts', gen_random_uuid())$$,
  '42501', null, 'anon: can''t add to the audit log');
select throws_ok($$update public.audit_log set details = '{}'$$, '42501', null, 'anon: can''t change the audit log');
select throws_ok($$delete from public.audit_log$$, '42501', null, 'anon: can''t delete from the audit log');
select access_test.act_as('postgres');
select set_config('request.jwt.claims', '{"role": "service_role"}', true);
set local role service_role;
select throws_ok($$insert into public.audit_log (action, target_table, target_id) values ('contact.erased', 'contacts', gen_random_uuid())$$,
  '42501', null, 'service_role: can''t add to the audit log');
select throws_ok($$update public.audit_log set details = '{}'$$, '42501', null, 'service_role: can''t change the audit log');
select throws_ok($$delete from public.audit_log$$, '42501', null, 'service_role: can''t delete from the audit log');
select throws_ok($$truncate public.audit_log$$, '42501', null, 'service_role: can''t truncate the audit log');
reset role;
select access_test.act_as('postgres');
select throws_ok($$update public.audit_log set details = '{}'$$, '42501',
  'the audit log is append-only: its entries are never changed or removed', 'the owner can''t change the audit log (trigger)');
select throws_ok($$delete from public.audit_log$$, '42501',
  'the audit log is append-only: its entries are never changed or removed', 'the owner can''t delete from the audit log (trigger)');
select throws_ok($$truncate public.audit_log$$, '42501',
  'the audit log is append-only: its entries are never changed or removed', 'the owner can''t truncate the audit log (trigger)');

-- Export ---------------------------------------------------------------------------------------
select access_test.act_as('agent A');
select throws_ok(format('select public.export_contact(%L)', access_test.id('2a')), '42501',
  'only an admin can export a contact''s personal data', 'agent A can''t export their own customer');
select access_test.act_as('inactive agent');
select throws_ok(format('select public.export_contact(%L)', access_test.id('2a')), '42501', null, 'the inactive agent can''t export');
select access_test.act_as('anon');
select throws_ok(format('select public.export_contact(%L)', access_test.id('2a')), '42501', null, 'anon can''t export');

select access_test.act_as('admin');
select public.export_contact(access_test.id('2a'))::text as export_doc \gset
select is((:'export_doc'::jsonb) -> 'contact' ->> 'phone', '+5491100000001', 'the export holds the contact''s profile');
select is(
  (select jsonb_agg(right(c ->> 'id', 2) order by c ->> 'created_at') from jsonb_array_elements((:'export_doc'::jsonb) -> 'conversations') c),
  '["30", "3a"]'::jsonb, 'the export holds both of their conversations, oldest first');
select is(
  (select jsonb_agg(m ->> 'content' order by m ->> 'content')
     from jsonb_array_elements((:'export_doc'::jsonb) -> 'conversations') c, jsonb_array_elements(c -> 'messages') m),
  '["Your order ORDER-A-7781 ships tomorrow", "hello A", "my passport photo"]'::jsonb,
  'the export holds every message, theirs and the agents''');
select is(
  (select m ->> 'media_url' from jsonb_array_elements((:'export_doc'::jsonb) -> 'conversations') c, jsonb_array_elements(c -> 'messages') m
    where m ->> 'message_type' = 'image'),
  'https://media.example.test/contact-a/photo-0001.jpg', 'the export holds media references');
select is(
  (select jsonb_agg(n ->> 'content' order by n ->> 'content')
     from jsonb_array_elements((:'export_doc'::jsonb) -> 'conversations') c, jsonb_array_elements(c -> 'notes') n),
  '["note by A", "note by the admin on A''s conversation"]'::jsonb, 'the export holds the notes on their conversations');
select is(
  (select jsonb_agg(l ->> 'name') from jsonb_array_elements((:'export_doc'::jsonb) -> 'conversations') c, jsonb_array_elements(c -> 'labels') l),
  '["vip"]'::jsonb, 'the export holds the labels of their conversations');
select is(
  (select jsonb_agg(jsonb_build_array(b ->> 'name', b ->> 'status') order by b ->> 'name') from jsonb_array_elements((:'export_doc'::jsonb) -> 'broadcasts') b),
  '[["Sending promo", "pending"], ["Sent promo", "delivered"]]'::jsonb, 'the export holds the broadcasts they received, with their statuses');
select is((:'export_doc'::jsonb) -> 'raw_webhooks' ->> 'status', 'pending',
  'the journal''s part of the export is pending (gathered in batches, not in the API call)');
select ((:'export_doc'::jsonb) -> 'raw_webhooks' ->> 'export_id')::bigint as export_id \gset
select is(public.journal_export(:export_id) ->> 'status', 'pending', 'the admin sees it pending');
select access_test.act_as('agent A');
select throws_ok(format('select public.journal_export(%s)', :export_id), '42501', null, 'agent A can''t read an export''s journal part');
select access_test.act_as('postgres');
select set_config('request.jwt.claims', '{"role": "service_role"}', true);
set local role service_role;
select is(svc.export_from_journal(3), '{"scanned": 3, "completed": 0, "pending": 1}'::jsonb, 'a batch of 3 webhooks: still pending');
select is((select sum((r ->> 'completed')::int) from (select svc.export_from_journal(3) r from generate_series(1, 5)) x), 1::bigint,
  'further small batches complete it once');
reset role;
select access_test.act_as('admin');
select public.journal_export(:export_id)::text as journal_doc \gset
select is((:'journal_doc'::jsonb) ->> 'status', 'done', 'the admin fetches the journal part when done');
select is(
  (select jsonb_agg((w ->> 'journal_id')::bigint order by (w ->> 'journal_id')::bigint) from jsonb_array_elements((:'journal_doc'::jsonb) -> 'raw_webhooks') w),
  jsonb_build_array(:j1, :j2, :j3, :j5, :j8),
  'it lists the webhooks about them (not contact 2b''s, nor those that only mention them)');
select is(
  (select jsonb_agg(m ->> 'wamid' order by m ->> 'wamid') from jsonb_array_elements((:'journal_doc'::jsonb) -> 'raw_webhooks') w,
          jsonb_array_elements(w -> 'events' -> 'messages') m),
  '["wamid.fixture4a", "wamid.j2a"]'::jsonb,
  'with their own messages only (of the webhook shared with contact 2b, not 2b''s)');
select is(
  (select jsonb_agg(s ->> 'wamid') from jsonb_array_elements((:'journal_doc'::jsonb) -> 'raw_webhooks') w,
          jsonb_array_elements(w -> 'events' -> 'statuses') s),
  '["wamid.broadcast8c2a"]'::jsonb, 'and the statuses of their messages');
select is(
  (select jsonb_agg((w ->> 'journal_id')::bigint order by (w ->> 'journal_id')::bigint) from jsonb_array_elements((:'journal_doc'::jsonb) -> 'raw_webhooks') w
    where (w ->> 'unparsed')::boolean),
  jsonb_build_array(:j5, :j8), 'unparsed webhooks about them are listed by id');
select throws_ok('select public.journal_export(-1)', 'P0002', null, 'an unknown export: P0002');
select results_eq(
  $$select action, right(target_id::text, 2), right(actor_id::text, 2) from public.audit_log where action = 'contact.exported'$$,
  $$values ('contact.exported', '2a', '1e')$$, 'the export is in the audit log, by the admin');
select throws_ok(format('select public.export_contact(%L)', access_test.id('ff')), 'P0002', null, 'exporting an unknown contact fails (P0002)');

-- Erasure: who may ------------------------------------------------------------------------------
select access_test.act_as('postgres');
-- The search finds them before (the test can fail).
select set_has(
  $$select * from dp_test.hits(dp_test.needles())$$,
  $$values ('public.contacts.phone'), ('public.contacts.wa_id'), ('public.contacts.full_name'),
           ('public.messages.content'), ('public.messages.media_url'), ('public.messages.metadata'),
           ('public.messages.wa_message_id'), ('public.notes.content'), ('public.broadcast_recipients.wa_message_id'),
           ('svc.webhook_journal.payload'), ('svc.webhook_journal.events'), ('svc.read_receipts.wa_message_id'),
           ('svc.early_statuses.wa_message_id')$$,
  'before the erasure, the search finds contact 2a''s data in public and svc');
select is(
  (select count(*)::int from svc.outbound_jobs j join public.messages m on m.id = j.message_id where m.conversation_id = access_test.id('3a')),
  1, 'before the erasure, agent A''s reply to them is queued');

select access_test.act_as('agent A');
select throws_ok(format('select public.erase_contact(%L)', access_test.id('2a')), '42501',
  'only an admin can erase a contact''s personal data', 'agent A can''t erase their own customer');
select access_test.act_as('inactive agent');
select throws_ok(format('select public.erase_contact(%L)', access_test.id('2a')), '42501', null, 'the inactive agent can''t erase');
select access_test.act_as('anon');
select throws_ok(format('select public.erase_contact(%L)', access_test.id('2a')), '42501', null, 'anon can''t erase');
select access_test.act_as('postgres');
select set_config('request.jwt.claims', '{"role": "service_role"}', true);
set local role service_role;
select throws_ok($$select public.erase_contact('00000000-0000-4000-8000-00000000002a')$$, '42501', null,
  'service_role can''t call erase_contact (an admin''s action, through the frontend)');
reset role;
select access_test.act_as('postgres');
select isnt_empty($$select 1 from public.contacts where id = access_test.id('2a')$$, 'the refused attempts changed nothing');

-- Erasure by the admin ---------------------------------------------------------------------------
select access_test.act_as('admin');
select public.erase_contact(access_test.id('2a')) as erased \gset
select is(:'erased'::jsonb - 'journal',
  jsonb_build_object('contact_id', access_test.id('2a'),
    'conversations', 2, 'messages', 3, 'notes', 2, 'conversation_labels', 1, 'broadcast_recipients', 2,
    'broadcasts_counted', 2, 'outbound_jobs', 1, 'broadcast_queue', 1, 'read_receipts', 1, 'early_statuses', 1),
  'the admin erases contact 2a: the answer counts what was removed');
select is(:'erased'::jsonb -> 'journal' ->> 'status', 'pending', 'the journal''s part is pending (carried out in batches)');
select is(
  (select details -> 'journal' from public.audit_log where action = 'contact.erased' and target_id = access_test.id('2a')),
  :'erased'::jsonb -> 'journal',
  'the admin sees the pending journal erasure in the audit entry''s details');
select is_empty($$select 1 from public.audit_log where action = 'contact.journal_erased'$$,
  'no entry says the journal is done yet');
select is(access_test.seen('public.conversations'), '3b,3d,3f', 'the admin''s list has lost their conversations');
select access_test.act_as('agent A');
select is(access_test.seen('public.conversations'), '', 'agent A''s list has lost their conversation');
select is(access_test.seen('public.contacts'), '', 'agent A sees no contact any more');

select access_test.act_as('postgres');
select results_eq(
  $$select * from dp_test.hits(dp_test.needles())$$,
  $$values ('svc.journal_erasures.identifiers'), ('svc.journal_erasures.wamids'), ('svc.webhook_journal.events'), ('svc.webhook_journal.payload')$$,
  'right after the erasure, only the journal and the pending request hold their data');

-- The journal, in small batches, as the gateway does it.
insert into svc.webhook_journal (payload, events, outcome, applied_at) values (
  '{"note": "they wrote again after the erasure", "from": "5491100000001"}', null, 'failed', null)
returning id as j9 \gset
select access_test.act_as('admin');
select throws_ok($$select svc.erase_from_journal(10)$$, '42501', null, 'an admin can''t call the journal erasure (the services do)');
select access_test.act_as('postgres');
select set_config('request.jwt.claims', '{"role": "service_role"}', true);
set local role service_role;
select throws_ok($$select svc.erase_from_journal(0)$$, '22023', null, 'a batch of at least one webhook');
select is(svc.erase_from_journal(2) - 'removed' - 'stripped', '{"scanned": 2, "completed": 0, "pending": 1}'::jsonb,
  'a batch of 2 webhooks: the erasure is still pending');
select is(svc.erase_from_journal(3) ->> 'pending', '1', 'resumed where it stopped, still pending');
create temporary table dp_batches as
  select n, svc.erase_from_journal(2) as report from generate_series(1, 10) n;
select ok((select count(*) from dp_batches where (report ->> 'completed')::int = 1) = 1
          and (select (report ->> 'pending')::int from dp_batches order by n desc limit 1) = 0,
  'further small batches complete it once; then nothing is pending');
select is((select sum((report ->> 'scanned')::int) from dp_batches where n > (select n from dp_batches where (report ->> 'completed')::int = 1)), 0::bigint,
  'after completion a call scans nothing');
reset role;
select access_test.act_as('postgres');
select results_eq(
  $$select details - 'requested_at' - 'erasure_id' - 'audit_log_id', actor_id from public.audit_log
     where action = 'contact.journal_erased' and target_id = access_test.id('2a')$$,
  $$values ('{"webhooks_scanned": 8, "webhooks_removed": 3, "webhooks_stripped": 2}'::jsonb, null::uuid)$$,
  'its completion is in the audit log, for the same contact: every webhook up to the erasure scanned once');
select is(
  (select (details ->> 'audit_log_id')::bigint from public.audit_log where action = 'contact.journal_erased'),
  (select id from public.audit_log where action = 'contact.erased' and target_id = access_test.id('2a')),
  'the completion names the erasure''s entry');
select results_eq(
  format($$select id, outcome, payload, events -> 'messages' -> 0 ->> 'wamid', jsonb_array_length(events -> 'messages') from svc.webhook_journal where id in (%s, %s, %s, %s, %s, %s) order by id$$,
         :j1, :j2, :j3, :j4, :j5, :j8),
  format($$values (%s::bigint, 'failed', '{"erased": true}'::jsonb, 'wamid.j2b', 1), (%s::bigint, 'applied', %L::jsonb, 'wamid.fixture4b', 1),
                  (%s::bigint, 'failed', '{"erased": true}'::jsonb, null, null)$$,
         :j2, :j4, :'j4_payload', :j8),
  'webhooks about them alone are gone; the failed one shared with contact 2b keeps 2b''s event (replayable) without its raw payload; the unparsed one with 2b''s items too loses its payload only; 2b''s own is untouched');
select results_eq(
  format($$select id, payload::text from svc.webhook_journal where id in (%s, %s) order by id$$, :j6, :j7),
  format($$values (%s::bigint, %L), (%s::bigint, %L)$$, :j6, :'j6_payload', :j7, :'j7_payload'),
  'contact 2b''s webhooks that only mention them (a contact card, a typed number) are 2b''s conversation: untouched');
select is((select events::text from svc.webhook_journal where id = :j6), :'j6_events', 'and so are their events');
select isnt_empty(format($$select 1 from svc.webhook_journal where id = %s$$, :j9),
  'a webhook journaled after the erasure (a new contact) is not in its range');
-- What the README tells an admin to review by hand (mentions in others' conversations),
-- and the new contact's webhook: out of the search.
delete from svc.webhook_journal where id in (:j6, :j7, :j9);

select is_empty($$select * from dp_test.hits(dp_test.needles())$$,
  'after the erasure and its journal part, no column of any table in public or svc holds their phone, wa_id, name, messages, media references or wamids');
select results_eq(
  format($$select * from dp_test.hits(array[%L])$$, access_test.id('2a')),
  $$values ('public.audit_log.target_id')$$,
  'their contact id is left only in the audit log (ids only)');
select is_empty($$select 1 from public.conversations where id in (access_test.id('3a'), access_test.id('30'))$$,
  'their conversations are gone');
select is_empty($$select 1 from public.messages where id in (access_test.id('4a'), access_test.id('40'), access_test.id('41'))$$,
  'their messages are gone, agents'' replies included');
select is_empty($$select 1 from public.notes where id in (access_test.id('5a'), access_test.id('5e'))$$, 'the notes on their conversations are gone');
select results_eq(
  $$select right(conversation_id::text, 2) from public.conversation_labels where label_id = access_test.id('6a') order by 1$$,
  $$values ('3b'), ('3d')$$, 'label vip stays, on the other conversations');
select is_empty($$select 1 from svc.outbound_jobs j where not exists (select from public.messages m where m.id = j.message_id)$$,
  'no queued reply is left without its message');
select is(access_test.seen('svc.outbound_jobs', 'right(message_id::text, 2)'), '', 'their queued reply left the send queue');
select is(access_test.seen('svc.broadcast_queue', 'right(broadcast_id::text, 2) || right(contact_id::text, 2)'), '8b2b',
  'their place in the broadcast queue is gone (the recipients'' delete trigger); contact 2b''s stays');
select results_eq(
  $$select right(id::text, 2), status, erased_recipients from public.broadcast_messages where id in (access_test.id('8b'), access_test.id('8c')) order by 1$$,
  $$values ('8b', 'sending', '{"pending": 1}'::jsonb), ('8c', 'completed', '{"delivered": 1}'::jsonb)$$,
  'broadcasts that began sending keep their numbers as counts, their status unchanged');
select results_eq(
  $$select right(broadcast_id::text, 2), right(contact_id::text, 2), status from public.broadcast_recipients
     where broadcast_id in (access_test.id('8b'), access_test.id('8c')) order by 1, 2$$,
  $$values ('8b', '2b', 'pending'), ('8c', '2b', 'failed')$$,
  'the other recipients stay as they were');
select results_eq(
  $$select right(actor_id::text, 2), actor_role, details ->> 'messages', details -> 'journal' ->> 'status' from public.audit_log
     where action = 'contact.erased' and target_id = access_test.id('2a')$$,
  $$values ('1e', 'authenticated', '3', 'pending')$$,
  'the erasure is in the audit log: the admin, the contact''s id and counts');
select access_test.act_as('admin');
select throws_ok(format('select public.journal_export(%s)', :export_id), 'P0002', null,
  'the erasure took the export of their journal events too');
select throws_ok(format('select public.erase_contact(%L)', access_test.id('2a')), 'P0002', null,
  'erasing them again fails (P0002): nothing is left');

-- Journal retention ------------------------------------------------------------------------------
select access_test.act_as('postgres');
insert into svc.webhook_journal (payload, events, outcome, received_at, applied_at) values
  ('{"retention": "applied 31 days"}', '{}', 'applied', now() - interval '31 days', now() - interval '31 days'),
  ('{"retention": "applied 29 days"}', '{}', 'applied', now() - interval '29 days', now() - interval '29 days'),
  ('{"retention": "ignored 40 days"}', '{}', 'ignored', now() - interval '40 days', now() - interval '40 days');
insert into svc.webhook_journal (payload, events, outcome, received_at, error) values
  ('{"retention": "failed 31 days"}', '{}', 'failed', now() - interval '31 days', 'x'),
  ('{"retention": "failed 89 days"}', '{}', 'failed', now() - interval '89 days', 'x'),
  ('{"retention": "failed 91 days"}', null, 'failed', now() - interval '91 days', 'x');
insert into svc.webhook_journal (payload, events, outcome, received_at, applied_at, replays) values
  ('{"retention": "replayed 45 days"}', '{}', 'applied', now() - interval '45 days', now() - interval '2 days', 1);
insert into svc.early_statuses (wa_message_id, status, occurred_at, received_at) values
  ('wamid.never.known', 'delivered', now() - interval '8 days', now() - interval '8 days'),
  ('wamid.maybe.soon', 'delivered', now() - interval '6 days', now() - interval '6 days');
insert into svc.journal_exports (requested_at, through_journal_id, done_at) values
  (now() - interval '8 days', 0, now() - interval '8 days'), (now() - interval '6 days', 0, now() - interval '6 days');

select access_test.act_as('admin');
select throws_ok($$select svc.prune_webhook_journal()$$, '42501', null, 'an admin (authenticated) can''t call the retention function');
select access_test.act_as('anon');
select throws_ok($$select svc.prune_webhook_journal()$$, '42501', null, 'anon can''t call the retention function');
select access_test.act_as('postgres');
select set_config('request.jwt.claims', '{"role": "service_role"}', true);
set local role service_role;
select throws_ok($$select svc.prune_webhook_journal(interval '1 minute')$$, '22023', null, 'a retention under an hour is refused');
select throws_ok($$select svc.prune_webhook_journal(interval '30 days', now(), interval '7 days')$$, '22023', null,
  'failed webhooks are never kept shorter than the others');
select is(svc.prune_webhook_journal(), 6,
  'with the defaults: applied, ignored and replayed webhooks older than 30 days go, failed ones older than 90 days, early statuses and journal exports older than 7 days');
reset role;
select access_test.act_as('postgres');
select results_eq(
  $$select payload ->> 'retention' from svc.webhook_journal where payload ? 'retention' order by received_at$$,
  $$values ('failed 89 days'), ('failed 31 days'), ('applied 29 days')$$,
  'what remains: failed webhooks awaiting a replay (under 90 days) and webhooks under 30 days');
select results_eq($$select wa_message_id from svc.early_statuses$$, $$values ('wamid.maybe.soon')$$,
  'a status waits 7 days for its message, then goes with the journal''s retention');
select set_config('request.jwt.claims', '{"role": "service_role"}', true);
set local role service_role;
select is(svc.prune_webhook_journal(p_max_age => interval '7 days', p_failed_max_age => interval '30 days'), 3,
  'shorter limits (7 days, failed 30 days) remove the rest of the old ones');
reset role;
select access_test.act_as('postgres');
select results_eq(
  format($$select id from svc.webhook_journal order by id$$),
  format($$values (%s::bigint), (%s::bigint), (%s::bigint)$$, :j2, :j4, :j8),
  'recent webhooks stay, failed or not');

select * from finish();
rollback;
