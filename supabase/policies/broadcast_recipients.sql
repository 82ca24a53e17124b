-- public.broadcast_recipients: one row per contact a broadcast goes to.
--
-- read    admins
-- insert  nobody through the API: the worker materializes recipients from the audience
--         (minus blocked and opted-out contacts), which direct inserts would bypass
-- update  nobody through the API: delivery statuses come from WhatsApp's webhooks
-- delete  nobody through the API

create policy "Admins can read broadcast recipients"
  on public.broadcast_recipients
  for select
  to authenticated
  using ((select private.is_admin()));
