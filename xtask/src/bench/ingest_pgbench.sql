-- pgbench script of `cargo xtask bench ingest` (the ceiling): one inbound text webhook per
-- transaction through the same svc function the gateway calls, unique wamids.
\set n random(1, 1000000000000)
\set k random(1, 5000)
select svc.ingest_webhook('{"object":"whatsapp_business_account"}'::jsonb, jsonb_build_object('messages', jsonb_build_array(jsonb_build_object(
  'wamid', 'wamid.pgb.' || :n || '.' || :client_id, 'from', (34700000000 + :k)::text, 'user_id', null,
  'profile_name', 'Cliente ' || :k, 'timestamp', now(), 'message_type', 'text', 'content', 'hola ' || :n,
  'metadata', '{}'::jsonb, 'context_wamid', null)), 'statuses', '[]'::jsonb));
