-- public.contacts: WhatsApp customers.
--
-- read    an agent the contacts of conversations assigned to them (the conversations'
--         select policy decides, inside the sub-select); an admin every contact, with or
--         without a conversation (the agent's test first: it is the hot path, and
--         when it holds, is_admin() is never called)
-- update  the same rows; profile fields for everyone who sees the contact, status
--         (block, unblock) for admins only (grant in migration 0600, guard trigger
--         guard_contacts_status, migration 0800); never phone or wa_id
-- insert  nobody through the API: the services create contacts from WhatsApp traffic
-- delete  nobody through the API

create policy "Agents can read contacts of their conversations, admins all"
  on public.contacts
  for select
  to authenticated
  using (
    exists (select from public.conversations c where c.contact_id = contacts.id)
    or (select private.is_admin())
  );

create policy "Agents can update contacts of their conversations, admins all"
  on public.contacts
  for update
  to authenticated
  using (
    exists (select from public.conversations c where c.contact_id = contacts.id)
    or (select private.is_admin())
  )
  with check (
    exists (select from public.conversations c where c.contact_id = contacts.id)
    or (select private.is_admin())
  );
