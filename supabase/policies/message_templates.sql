-- public.message_templates: approved WhatsApp templates the team sends.
--
-- read    admins every template; other active users (agents pick templates when
--         replying) only sendable ones: approved in Meta and not removed there
-- insert  admins, as themselves (created_by)
-- update  admins (grant in migration 0600: not id, created_by, created_at)
-- delete  admins (a template a broadcast used can't go: foreign key)

create policy "Active users can read sendable templates, admins every one"
  on public.message_templates
  for select
  to authenticated
  using ((select private.is_admin())
         or ((select private.is_active_user()) and status = 'approved' and removed_at is null));

create policy "Admins can create templates"
  on public.message_templates
  for insert
  to authenticated
  with check ((select private.is_admin()) and created_by = (select private.active_user_id()));

create policy "Admins can update templates"
  on public.message_templates
  for update
  to authenticated
  using ((select private.is_admin()))
  with check ((select private.is_admin()));

create policy "Admins can delete templates"
  on public.message_templates
  for delete
  to authenticated
  using ((select private.is_admin()));
