-- The data set of `cargo xtask bench rls` (loaded as the superuser into a fresh database).
set session_replication_role = replica;  -- a bulk load: no triggers
insert into auth.users (id, email, raw_app_meta_data)
select ('00000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 'agent' || g || '@bench.test', '{"role":"agent"}'
  from generate_series(1, 50) g;
insert into public.users (id, email, full_name, role, status)
select ('00000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 'agent' || g || '@bench.test', 'Agent ' || g, 'agent', 'active'
  from generate_series(1, 50) g;
insert into public.contacts (id, phone, wa_id, full_name, email, tags)
select ('00000000-0000-4000-9000-' || lpad(g::text, 12, '0'))::uuid, (34600000000 + g)::text, (34600000000 + g)::text,
       (array['Ana','Luis','Marta','Jorge','Lucía','Pablo','Sofía','Diego','Elena','Raúl'])[1 + g % 10] || ' ' ||
       (array['García','López','Martín','Sánchez','Pérez','Gómez','Ruiz','Díaz','Moreno','Álvarez'])[1 + (g / 10) % 10] || ' ' || g,
       'cliente' || g || '@mail.test', case when g % 7 = 0 then '{vip}'::text[] else '{}'::text[] end
  from generate_series(1, 100000) g;
insert into public.conversations (id, contact_id, assigned_agent_id, status, last_message_at, created_at)
select ('00000000-0000-4000-a000-' || lpad(g::text, 12, '0'))::uuid,
       ('00000000-0000-4000-9000-' || lpad(g::text, 12, '0'))::uuid,
       ('00000000-0000-4000-8000-' || lpad((1 + g % 50)::text, 12, '0'))::uuid,
       (array['active','pending','archived'])[1 + g % 3],
       now() - (g % 100000) * interval '37 seconds', now() - interval '60 days'
  from generate_series(1, 100000) g;
insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status, created_at, wa_message_id)
select ('00000000-0000-4000-a000-' || lpad((1 + (g % 100000))::text, 12, '0'))::uuid,
       case when g % 2 = 0 then 'contact' else 'agent' end,
       ('00000000-0000-4000-8000-' || lpad((1 + g % 50)::text, 12, '0'))::uuid,
       'Mensaje ' || g || ' sobre el pedido ' || (g % 9973) || case when g % 5 = 0 then ' envío a Canarias' else ' factura pendiente' end,
       'text', 'read', now() - (g % 1000000) * interval '3 seconds', 'wamid.bench.' || g
  from generate_series(1, 1000000) g;
set session_replication_role = origin;
analyze;
