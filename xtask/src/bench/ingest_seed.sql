-- Data of `cargo xtask bench ingest`: 2,000 customers with an open conversation and
-- 20,000 agent messages already sent (the targets of the status webhooks).
set session_replication_role = replica;
insert into public.contacts (id, phone, wa_id, full_name)
select ('00000000-0000-4000-9000-' || lpad(g::text, 12, '0'))::uuid, (34700000000 + g)::text, (34700000000 + g)::text, 'Cliente ' || g
  from generate_series(1, 2000) g;
insert into public.conversations (id, contact_id)
select ('00000000-0000-4000-a000-' || lpad(g::text, 12, '0'))::uuid, ('00000000-0000-4000-9000-' || lpad(g::text, 12, '0'))::uuid
  from generate_series(1, 2000) g;
insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status, wa_message_id)
select ('00000000-0000-4000-a000-' || lpad((1 + g % 2000)::text, 12, '0'))::uuid, 'agent', gen_random_uuid(), 'respuesta', 'text', 'sent',
       'wamid.bench.out.' || g
  from generate_series(1, 20000) g;
set session_replication_role = origin;
analyze;
