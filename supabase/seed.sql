-- Demo data for a Spanish-speaking support team. Runs once, as role postgres, on a fresh
-- database after the migrations (`cargo xtask stack reset`, `supabase db reset`).
-- Fixed uuids throughout; times are relative to now(). Agents' messages are never
-- 'pending' here, so nothing lands in the outbound queue.
--
-- uuids: users a0..., contacts c0..., conversations d0... (archived earlier cases d0...1NN),
-- messages e0..., labels f0..., templates b0..., notes 90..., broadcast 80...

-- Team: one admin, three agents. The trigger on auth.users creates their profiles; the
-- role comes from raw_app_meta_data. (Local Auth stand-in: no passwords to sign in with.)
insert into auth.users (instance_id, id, aud, role, email, email_confirmed_at, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
select '00000000-0000-0000-0000-000000000000', u.id::uuid, 'authenticated', 'authenticated', u.email, now() - interval '120 days',
       jsonb_build_object('provider', 'email', 'providers', jsonb_build_array('email'), 'role', u.role),
       jsonb_build_object('full_name', u.full_name), now() - interval '120 days', now() - interval '120 days'
  from (values
    ('a0000000-0000-4000-8000-000000000001', 'ana@chatcentralize.test', 'admin', 'Ana García'),
    ('a0000000-0000-4000-8000-000000000002', 'carlos@chatcentralize.test', 'agent', 'Carlos Martínez'),
    ('a0000000-0000-4000-8000-000000000003', 'lucia@chatcentralize.test', 'agent', 'Lucía Fernández'),
    ('a0000000-0000-4000-8000-000000000004', 'diego@chatcentralize.test', 'agent', 'Diego Romero')
  ) as u (id, email, role, full_name);

update public.users
   set last_seen_at = now() - (substr(id::text, 36)::int * interval '7 minutes'),
       preferences = '{"notifications": {"sound": true, "desktop": true}, "theme": "light"}',
       created_at = now() - interval '120 days'
 where id::text like 'a0000000-%';

-- 36 contacts: 3460000000NN, wa_id = phone. Two blocked (17, 29), one opted out (23).
insert into public.contacts (id, phone, wa_id, full_name, email, location, status, created_at, metadata, tags, language, timezone, opted_out_at)
select ('c0000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid,
       '346000000' || lpad(n::text, 2, '0'),
       '346000000' || lpad(n::text, 2, '0'),
       (array['María José Pérez', 'Javier Sánchez', 'Carmen Ruiz', 'Antonio López', 'Laura Gómez', 'Manuel Díaz',
              'Isabel Moreno', 'Francisco Muñoz', 'Pilar Álvarez', 'David Jiménez', 'Elena Navarro', 'Miguel Torres',
              'Rosa Domínguez', 'Pablo Vázquez', 'Marta Ramos', 'Alejandro Gil', 'Cristina Serrano', 'Sergio Blanco',
              'Beatriz Molina', 'Raúl Castro', 'Silvia Ortega', 'Jorge Delgado', 'Patricia Rubio', 'Fernando Marín',
              'Nuria Sanz', 'Alberto Iglesias', 'Teresa Medina', 'Rubén Garrido', 'Lorena Cortés', 'Óscar Castillo',
              'Andrea Santos', 'Iván Lozano', 'Natalia Guerrero', 'Hugo Cano', 'Sara Prieto', 'Daniel Méndez'])[n],
       case when n % 3 = 0 then 'cliente' || n || '@example.com' end,
       (array['Madrid', 'Barcelona', 'Valencia', 'Sevilla', 'Zaragoza', 'Málaga', 'Bilbao', 'Murcia'])[1 + n % 8],
       case when n in (17, 29) then 'blocked' else 'active' end,
       now() - (90 - n) * interval '1 day',
       jsonb_build_object('source', case when n % 4 = 0 then 'web' else 'whatsapp' end, 'customer_number', 'CL-' || (1000 + n)),
       case when n in (2, 9, 14, 21, 23, 28, 29) then array['vip']
            when n in (5, 10, 20) then array['mayorista']
            when n = 15 then array['vip', 'mayorista']
            when n >= 31 then array['nuevo']
            else array[]::text[] end,
       case when n in (12, 26) then 'en' else 'es' end,
       case when n in (12, 26) then 'Europe/London' when n % 10 = 7 then 'Atlantic/Canary' else 'Europe/Madrid' end,
       case when n = 23 then now() - interval '3 days' end
  from generate_series(1, 36) as n;

-- Conversations: contacts 1-34 have one each (35-36 were imported and never wrote);
-- contacts 1-5 also have an earlier, archived case. k = number of messages.
create temp table seed_conversations as
select ('d0000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid as id, n, false as earlier,
       case when n in (17, 29) or n % 6 = 0 then 'archived' when n % 6 = 1 or n >= 31 then 'pending' else 'active' end as status,
       case when n in (2, 14) then 'urgent' when n % 5 = 0 then 'high' when n % 4 = 3 then 'low' else 'normal' end as priority,
       case when n >= 31 or n in (8, 16) then null
            else ('a0000000-0000-4000-8000-00000000000' || (2 + n % 3))::uuid end as agent_id,
       case when n >= 31 or n in (8, 16) then 1 + n % 2 else 2 + n % 5 end as k,
       case when n in (17, 29) or n % 6 = 0 then now() - (1 + n / 4) * interval '1 day'
            else now() - n * interval '47 minutes' end as last_at
  from generate_series(1, 34) as n
union all
select ('d0000000-0000-4000-8000-0000000001' || lpad(n::text, 2, '0'))::uuid, n, true, 'archived', 'normal',
       ('a0000000-0000-4000-8000-00000000000' || (2 + (n + 1) % 3))::uuid, 4, now() - (20 + 3 * n) * interval '1 day'
  from generate_series(1, 5) as n;

insert into public.conversations (id, contact_id, assigned_agent_id, status, priority, created_at, last_message_at, metadata)
select id, ('c0000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid, agent_id, status, priority,
       last_at - k * interval '9 minutes', last_at,
       case when n % 4 = 2 then jsonb_build_object('order_id', 'PED-' || (24000 + n)) end
  from seed_conversations;

-- Messages: threads alternate contact / agent (unassigned ones: contact only; earlier
-- cases open with a template, outside the 24-hour window), 9 minutes apart.
create temp table seed_messages as
with m as (
  select c.*, i,
         case when c.agent_id is null then 'contact'
              when c.earlier then (array['agent', 'contact'])[1 + (i + 1) % 2]
              else (array['agent', 'contact'])[1 + i % 2] end as sender_type,
         c.last_at - (c.k - i) * interval '9 minutes' as at
    from seed_conversations c, generate_series(1, c.k) as i
)
select ('e0000000-0000-4000-8000-' || lpad(row_number() over (order by at, id)::text, 12, '0'))::uuid as msg_id,
       'wamid.seed.' || lpad(row_number() over (order by at, id)::text, 3, '0') as wamid, m.*,
       case when sender_type = 'agent' then agent_id else ('c0000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid end as sender_id,
       case when earlier and i = 1 then 'template'
            when sender_type = 'contact' and i = 1 and n % 7 = 3 then 'image'
            when sender_type = 'contact' and i = 1 and n % 9 = 4 then 'file'
            when sender_type = 'contact' and i = 1 and n % 11 = 5 then 'location'
            when sender_type = 'contact' and i = 1 and n % 13 = 6 then 'audio'
            when sender_type = 'agent' and i = 2 and n % 8 = 2 then 'image'
            else 'text' end as message_type,
       case when sender_type = 'contact' then case when i = k and status <> 'archived' then 'delivered' else 'read' end
            when n = 22 and i = k then 'failed'
            when i = k and status <> 'archived' and n % 4 = 1 then 'sent'
            when i = k and status <> 'archived' then 'delivered'
            else 'read' end as st
  from m;

insert into public.messages (id, conversation_id, sender_type, sender_id, content, message_type, status, media_url,
                             metadata, created_at, delivered_at, read_at, error_data, wa_message_id)
select msg_id, id, sender_type, sender_id,
       case message_type
         when 'template' then 'Hola, te escribimos de ChatCentralize para saber si tu consulta quedó resuelta.'
         when 'image' then case when sender_type = 'agent' then 'Te paso el catálogo de esta temporada' else 'Así llegó el paquete' end
         when 'file' then 'factura-' || (24000 + n) || '.pdf'
         when 'location' then null when 'audio' then null
         else case when n = 23 and i = k then 'BAJA'
                   when sender_type = 'contact' then (array[
                     'Hola, quería saber el estado de mi pedido', 'Buenas tardes, ¿tenéis stock de la talla M?',
                     'El producto llegó dañado, ¿qué hago?', '¿Cuánto tarda el envío a Canarias?',
                     'Necesito cambiar la dirección de entrega', 'Perfecto, muchas gracias',
                     '¿Puedo pagar con Bizum?', 'No me ha llegado la factura', 'Vale, quedo a la espera',
                     '¿Hacéis descuento por volumen?', 'Sigo sin recibir el reembolso', '¡Genial, gracias por la ayuda!'])[1 + (n + i) % 12]
                   else (array[
                     '¡Hola! Ahora mismo lo reviso', 'Tu pedido sale hoy desde el almacén',
                     'Lo siento mucho, te enviamos uno nuevo sin coste', 'El envío a Canarias tarda de 3 a 5 días laborables',
                     'Hecho, he actualizado la dirección', 'Sí, aceptamos Bizum y tarjeta',
                     'Te reenvío la factura por aquí', 'Para pedidos de más de 50 unidades hay un 10 % de descuento',
                     'El reembolso se procesó ayer, tardará 2-3 días', '¿Te puedo ayudar en algo más?'])[1 + (n + i) % 10] end
       end,
       message_type, st,
       case when message_type = 'image' and sender_type = 'agent' then 'https://cdn.chatcentralize.test/catalogo/temporada.jpg' end,
       case message_type
         when 'image' then jsonb_build_object('media_id', 'seed-media-' || n || '-' || i, 'mime_type', 'image/jpeg',
                                              'sha256', md5('image' || n), 'caption', case when sender_type = 'agent' then 'Catálogo' else 'Así llegó el paquete' end)
         when 'file' then jsonb_build_object('media_id', 'seed-media-' || n || '-' || i, 'mime_type', 'application/pdf',
                                             'filename', 'factura-' || (24000 + n) || '.pdf', 'sha256', md5('file' || n))
         when 'location' then jsonb_build_object('latitude', 40.4168 + n / 1000.0, 'longitude', -3.7038 - n / 1000.0,
                                                 'name', 'Oficina de Correos', 'address', 'Calle Mayor ' || n || ', Madrid')
         when 'audio' then jsonb_build_object('media_id', 'seed-media-' || n || '-' || i, 'mime_type', 'audio/ogg; codecs=opus', 'voice', true)
         when 'template' then jsonb_build_object('template_name', 'seguimiento_consulta', 'language', 'es', 'parameters', '[]'::jsonb)
       end,
       at,
       case when sender_type = 'contact' then at when st in ('delivered', 'read') then at + interval '4 seconds' end,
       case when st = 'read' then at + case sender_type when 'contact' then interval '2 minutes' else interval '3 minutes' end end,
       case when st = 'failed' then jsonb_build_object('code', 131026, 'title', 'Message undeliverable', 'source', 'graph_api', 'at', at,
                                                        'details', 'The recipient''s WhatsApp could not receive this message (old app version or unaccepted terms).') end,
       wamid
  from seed_messages
 -- Inbound first, then agents' replies in time order, so that the metrics trigger on
 -- agent messages finds the contact's first message when it computes first_response_time.
 order by sender_type = 'agent', at;

-- A reply in a thread: the agent answers the contact's first message in conversation 2.
update public.messages set reply_to_message_id = (
         select msg_id from seed_messages where n = 2 and not earlier and i = 1)
 where id = (select msg_id from seed_messages where n = 2 and not earlier and i = 2);

-- Timestamps derived from the messages (whether or not triggers already set them).
update public.conversations c
   set last_message_at = s.last_at, created_at = s.first_at - interval '1 minute',
       last_agent_response_at = s.last_agent_at,
       first_response_time = (select min(a.created_at) from public.messages a
                               where a.conversation_id = c.id and a.sender_type = 'agent'
                                 and a.created_at >= s.first_contact_at) - s.first_contact_at
  from (select conversation_id, max(created_at) as last_at, min(created_at) as first_at,
               max(created_at) filter (where sender_type = 'agent') as last_agent_at,
               min(created_at) filter (where sender_type = 'contact') as first_contact_at
          from public.messages group by conversation_id) s
 where s.conversation_id = c.id;
update public.contacts k
   set last_contacted_at = s.last_at
  from (select cv.contact_id, max(m.created_at) as last_at
          from public.messages m join public.conversations cv on cv.id = m.conversation_id
         group by cv.contact_id) s
 where s.contact_id = k.id;

-- Labels and their use.
insert into public.labels (id, name, color, created_by, created_at)
select ('f0000000-0000-4000-8000-00000000000' || l.i)::uuid, l.name, l.color,
       'a0000000-0000-4000-8000-000000000001', now() - interval '100 days'
  from (values (1, 'Urgente', '#ef4444'), (2, 'Ventas', '#22c55e'), (3, 'Soporte técnico', '#3b82f6'),
               (4, 'Facturación', '#f59e0b'), (5, 'Devolución', '#a855f7'), (6, 'Mayorista', '#14b8a6')) as l (i, name, color);

insert into public.conversation_labels (conversation_id, label_id, created_by, created_at)
select c.id, ('f0000000-0000-4000-8000-00000000000' || l)::uuid,
       coalesce(c.agent_id, 'a0000000-0000-4000-8000-000000000001'), c.last_at - interval '5 minutes'
  from seed_conversations c
 cross join lateral (select 1 where c.priority = 'urgent'
                     union select 2 + c.n % 5 where c.n % 2 = 0 or c.earlier) as x (l);

-- Internal notes by the assigned agents.
insert into public.notes (id, conversation_id, content, created_by, created_at, updated_at)
select ('90000000-0000-4000-8000-' || lpad(c.n::text, 12, '0'))::uuid, c.id,
       (array['Cliente recurrente, tratar con prioridad.', 'Pendiente de confirmar el reembolso con almacén.',
              'Ya se le envió un producto de reemplazo.', 'Pide factura a nombre de empresa: solicitar CIF.',
              'Quiere precios de mayorista; pasar a ventas si supera 100 unidades.'])[1 + c.n % 5],
       c.agent_id, c.last_at - interval '3 minutes',
       case when c.n % 3 = 0 then c.last_at - interval '1 minute' end
  from seed_conversations c
 where not c.earlier and c.agent_id is not null and c.n % 3 in (0, 2) and c.n <= 20;

-- WhatsApp templates (approved in Meta's manager under these names) and a draft broadcast.
insert into public.message_templates (id, name, content, category, created_by, created_at, wa_template_name, language_code, parameters)
values
  ('b0000000-0000-4000-8000-000000000001', 'Bienvenida', 'Hola {{1}}, gracias por escribir a ChatCentralize. ¿En qué podemos ayudarte?',
   'UTILITY', 'a0000000-0000-4000-8000-000000000001', now() - interval '100 days', 'bienvenida', 'es', '["contact.full_name"]'),
  ('b0000000-0000-4000-8000-000000000002', 'Seguimiento de consulta', 'Hola, te escribimos de ChatCentralize para saber si tu consulta quedó resuelta.',
   'UTILITY', 'a0000000-0000-4000-8000-000000000001', now() - interval '100 days', 'seguimiento_consulta', 'es', '[]'),
  ('b0000000-0000-4000-8000-000000000003', 'Promoción VIP', 'Hola {{1}}, esta semana tienes un 15 % de descuento exclusivo en toda la tienda. Responde BAJA si no quieres recibir más ofertas.',
   'MARKETING', 'a0000000-0000-4000-8000-000000000001', now() - interval '30 days', 'promo_vip', 'es', '["contact.full_name"]');

insert into public.broadcast_messages (id, name, content, status, created_by, created_at, template_id, audience)
values ('80000000-0000-4000-8000-000000000001', 'Promoción VIP de primavera',
        'Hola {{1}}, esta semana tienes un 15 % de descuento exclusivo en toda la tienda. Responde BAJA si no quieres recibir más ofertas.',
        'draft', 'a0000000-0000-4000-8000-000000000001', now() - interval '2 hours',
        'b0000000-0000-4000-8000-000000000003', '{"type": "tags", "tags": ["vip"]}');

drop table seed_messages, seed_conversations;
