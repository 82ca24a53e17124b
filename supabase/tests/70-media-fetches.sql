-- Inbound media: a customer's message with media is queued for fetching, claimed with a
-- lease, stored, retried with backoff within Meta's 7-day retention, or failed visibly.
begin;
\ir fixtures/access.sql
select plan(24);

-- The cast (keys as in fixtures/access.sql): conversation 3a (agent A) with contact 2a.
--   m1  a photo the customer sent just now
--   m2  a voice note the customer sent 6 days 23 hours ago (retention nearly over)
--   m3  a text (nothing to fetch)
--   m4  an agent's image reply (not fetched: it is outbound)
grant usage on schema access_test to service_role;
create function access_test.mid(key text) returns uuid language sql immutable
as $$ select ('00000000-0000-4000-8000-0000000007' || key)::uuid $$;
grant execute on function access_test.mid(text) to anon, authenticated, service_role;

insert into public.messages (id, conversation_id, sender_type, sender_id, content, message_type, status, created_at, wa_message_id, metadata) values
  (access_test.mid('01'), access_test.id('3a'), 'contact', access_test.id('2a'), '[image]', 'image', 'delivered', now(), 'wamid.media.1',
   '{"whatsapp_type": "image", "content": {"type": "image", "media": {"id": "MEDIA1", "mime_type": "image/png", "sha256": "abc"}}}'),
  (access_test.mid('02'), access_test.id('3a'), 'contact', access_test.id('2a'), '[audio]', 'audio', 'delivered', now() - interval '6 days 23 hours', 'wamid.media.2',
   '{"whatsapp_type": "audio", "content": {"type": "audio", "voice": true, "media": {"id": "MEDIA2", "mime_type": "audio/ogg; codecs=opus"}}}'),
  (access_test.mid('03'), access_test.id('3a'), 'contact', access_test.id('2a'), 'hola', 'text', 'delivered', now(), 'wamid.media.3',
   '{"whatsapp_type": "text", "content": {"type": "text", "body": "hola"}}');

select is((select count(*)::int from svc.media_fetches), 2, 'the photo and the voice note are queued; the text is not');
select is((select media_id || ' ' || kind || ' ' || mime_type from svc.media_fetches where message_id = access_test.mid('01')),
  'MEDIA1 image image/png', 'a queued fetch keeps the media id, kind and the webhook''s mime type');
select ok((select give_up_at between now() + interval '7 days' - interval '1 second' and now() + interval '7 days'
             from svc.media_fetches where message_id = access_test.mid('01')),
  'a fetch gives up 7 days after the message (Meta''s retention)');

-- Nobody but the services touches the queue.
select access_test.act_as('agent A');
select throws_ok($$ select svc.claim_media_fetches('x', 10, 60) $$, '42501', null, 'agents cannot claim media fetches');
select throws_ok($$ select count(*) from svc.media_fetches $$, '42501', null, 'agents cannot read the media queue');
select access_test.act_as('anon');
select throws_ok($$ select svc.record_media_failed(gen_random_uuid(), 'x', 'c', 't', 'd') $$, '42501', null, 'anon cannot record a media outcome');
select access_test.act_as('postgres');

-- An agent's attachment is not fetched from Meta.
select access_test.act_as('agent A');
insert into public.messages (id, conversation_id, sender_type, sender_id, content, message_type, status, media_url, metadata)
values (access_test.mid('04'), access_test.id('3a'), 'agent', access_test.id('1a'), '', 'image', 'pending', 'uploads/x',
        '{"content": {"type": "image", "media": {"id": "MEDIA4"}}}');
select access_test.act_as('postgres');
select is((select count(*)::int from svc.media_fetches where message_id = access_test.mid('04')), 0, 'an agent''s attachment is not queued for fetching');

-- Claims: leased, counted, not claimed twice while leased.
set local role service_role;
select is(jsonb_array_length(svc.claim_media_fetches('fetcher-1', 10, 60)), 2, 'both due fetches are claimed');
select is(jsonb_array_length(svc.claim_media_fetches('fetcher-2', 10, 60)), 0, 'leased fetches are not claimed again');
select is(jsonb_array_length(svc.claim_media_fetches('fetcher-2', 10, 60, now() + interval '61 seconds')), 2,
  'an expired lease (a fetcher that died) makes them claimable again');
select is((select attempts from svc.media_fetches where message_id = access_test.mid('01')), 2, 'each claim counts an attempt');

-- A temporary failure: due again after the delay; only the lease holder records.
select is(svc.record_media_retry(access_test.mid('01'), 'fetcher-1', 5, 'Graph API answered 503'), 'not_leased',
  'a fetcher whose lease expired records nothing');
select is(svc.record_media_retry(access_test.mid('01'), 'fetcher-2', 5, 'Graph API answered 503'), 'retrying',
  'a temporary failure within the retention is retried');
select is((select jsonb_array_length(svc.claim_media_fetches('fetcher-3', 10, 60))), 0,
  'a retried fetch is not due before its delay (and the voice note is still leased)');
select is((select last_error from svc.media_fetches where message_id = access_test.mid('01')), 'Graph API answered 503',
  'the last error is kept');

-- Past Meta's retention a retry becomes a failure the message shows.
select is(svc.record_media_retry(access_test.mid('02'), 'fetcher-2', 7200, 'Graph API unreachable'), 'failed',
  'a retry that would fall after the retention fails instead');
select is((select metadata -> 'media' ->> 'status' from public.messages where id = access_test.mid('02')), 'failed',
  'the message shows the failure');
select is((select metadata -> 'media' -> 'error' ->> 'code' from public.messages where id = access_test.mid('02')), 'media_expired',
  'with code media_expired');
select ok((select metadata -> 'media' -> 'error' ->> 'details' from public.messages where id = access_test.mid('02')) like '%last error: Graph API unreachable',
  'and the last error in the details');

-- Stored: the message names the object and keeps the media's facts.
select is(jsonb_array_length(svc.claim_media_fetches('fetcher-4', 10, 60, now() + interval '10 seconds')), 1, 'the retried photo is claimed after its delay');
select is(svc.record_media_stored(access_test.mid('01'), 'fetcher-2', 'messages/x', 'image/png', 120, 'abc', null), false,
  'a fetcher without the lease cannot record the object');
select is(svc.record_media_stored(access_test.mid('01'), 'fetcher-4', 'messages/' || access_test.mid('01'), 'image/png', 120, 'abc', null), true,
  'the lease holder records the stored object');
select is((select media_url || ' ' || (metadata -> 'media')::text from public.messages where id = access_test.mid('01')),
  'messages/' || access_test.mid('01') || ' {"sha256": "abc", "status": "stored", "file_size": 120, "mime_type": "image/png"}',
  'media_url names the object; metadata.media keeps status, mime type, size and hash');
select is(svc.record_media_failed(access_test.mid('01'), 'fetcher-4', 'x', 'y', 'z'), false, 'a stored fetch cannot fail afterwards');

reset role;
select * from finish();
rollback;
