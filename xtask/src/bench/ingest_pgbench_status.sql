-- pgbench script of `cargo xtask bench ingest`: one status webhook for a known message.
\set m random(1, 20000)
select svc.ingest_webhook('{"object":"whatsapp_business_account"}'::jsonb, jsonb_build_object('messages', '[]'::jsonb,
  'statuses', jsonb_build_array(jsonb_build_object('wamid', 'wamid.bench.out.' || :m,
  'status', (array['delivered', 'read'])[1 + :m % 2], 'timestamp', now(), 'recipient_id', '34700000001', 'errors', null))));
