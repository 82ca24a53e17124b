-- Outbound media: upload links minted only for a conversation the caller may write in; a
-- message takes a stored, unused upload of its own conversation, kind and uploader; the
-- upload's states are enforced; unattached uploads are cleaned up.
begin;
\ir fixtures/access.sql
select plan(35);

-- The cast (fixtures/access.sql): agent A (conversation 3a), agent B (3b), the inactive
-- agent (3d), the admin.
create temp table links (name text primary key, l jsonb);
grant all on links to public;
create function pg_temp.up(p_name text) returns text language sql stable as $$
  select l ->> 'upload_id' from links where name = p_name
$$;
create function pg_temp.send(p_type text, p_upload text, p_conversation text default '3a', p_caption text default null)
returns text language sql as $$
  insert into public.messages (conversation_id, sender_type, sender_id, message_type, status, content, metadata)
  values (access_test.id(p_conversation), 'agent', access_test.id('1a'), p_type, 'pending', p_caption,
          jsonb_build_object('upload_id', p_upload))
  returning id::text
$$;
grant execute on function pg_temp.up(text), pg_temp.send(text, text, text, text) to public;
create temp table sent (id uuid);
grant all on sent to public;

set local role service_role;
select svc.configure_media_links('0123456789abcdef0123456789abcdef', 'https://media.example.test', 300);
reset role;

select access_test.act_as('agent A');
select ok(public.media_upload_link(access_test.id('3a'), 'image') ->> 'url'
            ~ '^https://media\.example\.test/media/uploads/[0-9a-f-]{36}\?kind=image&exp=[0-9]+&sig=[0-9a-f]{64}$',
  'agent A gets an upload link for their conversation');
insert into links select 'image', public.media_upload_link(access_test.id('3a'), 'image');
select is(
  (select l ->> 'url' from links where name = 'image'),
  'https://media.example.test/media/uploads/' || pg_temp.up('image') || '?kind=image&exp='
    || (floor(extract(epoch from now()))::bigint + 300) || '&sig='
    || encode(extensions.hmac('upload.' || pg_temp.up('image') || '.image.' || (floor(extract(epoch from now()))::bigint + 300),
                              '0123456789abcdef0123456789abcdef', 'sha256'), 'hex'),
  'the link is signed with HMAC-SHA256 over upload.id.kind.exp with the media link key');
select is(((select l from links where name = 'image') ->> 'expires_at')::timestamptz, date_trunc('second', now()) + interval '300 seconds',
  'the link expires after the configured lifetime');
select throws_ok($$ select public.media_upload_link(access_test.id('3b'), 'image') $$, 'P0002', null,
  'agent A cannot mint an upload link for agent B''s conversation');
select throws_ok($$ select public.media_upload_link(gen_random_uuid(), 'image') $$, 'P0002', null,
  'nor for a conversation that does not exist (the same answer)');
select throws_ok($$ select public.media_upload_link(access_test.id('3a'), 'location') $$, '22023', null,
  'only media kinds get an upload link');
select throws_ok($$ select * from private.media_uploads $$, '42501', null,
  'agents cannot read the uploads table');
select throws_ok($$ select svc.record_media_upload(gen_random_uuid(), 'image', 'k', 'image/png', 1, repeat('a', 64), null) $$,
  '42501', null, 'agents cannot record an upload as stored');

select access_test.act_as('inactive agent');
select throws_ok($$ select public.media_upload_link(access_test.id('3d'), 'image') $$, 'P0002', null,
  'a deactivated agent cannot mint an upload link, even for a conversation still assigned to them');

select access_test.act_as('anon');
select throws_ok($$ select public.media_upload_link(access_test.id('3a'), 'image') $$, '42501', null,
  'anon cannot mint upload links');

select access_test.act_as('admin');
select ok(public.media_upload_link(access_test.id('3b'), 'document') ->> 'url' like 'https://media.example.test/media/uploads/%',
  'the admin gets an upload link for any conversation');

-- The gateway stores the file.
select access_test.act_as('postgres');
set local role service_role;
select is(svc.record_media_upload(pg_temp.up('image')::uuid, 'video', 'messages/' || pg_temp.up('image'), 'video/mp4', 1234, repeat('ab', 32), null),
  false, 'an upload is stored as the kind it was minted for only');
select is(svc.record_media_upload(pg_temp.up('image')::uuid, 'image', 'messages/' || pg_temp.up('image'), 'image/png', 1234, repeat('ab', 32), 'photo.png'),
  true, 'the gateway records the stored file: pending -> stored');
select is(svc.record_media_upload(pg_temp.up('image')::uuid, 'image', 'messages/x', 'image/png', 1, repeat('ab', 32), null),
  false, 'an upload is stored once');
select is(svc.record_media_upload(gen_random_uuid(), 'image', 'k', 'image/png', 1, repeat('ab', 32), null),
  false, 'an unknown upload is refused');
reset role;
select throws_ok(
  format($$ update private.media_uploads set status = 'pending' where id = %L $$, pg_temp.up('image')),
  '55000', null, 'the states only go forward, even for the owner of the table');

-- A pending upload of agent A's, and one of another kind.
select access_test.act_as('agent A');
insert into links select 'pending', public.media_upload_link(access_test.id('3a'), 'image');
insert into links select 'audio', public.media_upload_link(access_test.id('3a'), 'audio');
select access_test.act_as('postgres');
set local role service_role;
select svc.record_media_upload(pg_temp.up('audio')::uuid, 'audio', 'messages/' || pg_temp.up('audio'), 'audio/ogg', 10, repeat('cd', 32), null);
reset role;

select access_test.act_as('agent B');
select throws_ok(format($$ insert into public.messages (conversation_id, sender_type, sender_id, message_type, status, metadata)
                           values (%L, 'agent', %L, 'image', 'pending', jsonb_build_object('upload_id', %L)) $$,
                        access_test.id('3b'), access_test.id('1b'), pg_temp.up('image')),
  '22023', 'metadata.upload_id names no upload of yours for this conversation',
  'agent B cannot attach agent A''s upload');

select access_test.act_as('agent A');
select throws_ok(format($$ select pg_temp.send('image', %L) $$, pg_temp.up('pending')),
  '55000', null, 'an upload with no file yet cannot be attached');
select throws_ok(format($$ select pg_temp.send('image', %L) $$, gen_random_uuid()),
  '22023', null, 'an unknown upload cannot be attached');
select throws_ok($$ select pg_temp.send('image', 'not-a-uuid') $$,
  '22023', null, 'a malformed upload id is refused clearly');
select throws_ok(format($$ select pg_temp.send('video', %L) $$, pg_temp.up('image')),
  '22023', null, 'an image upload cannot be sent as a video');
select throws_ok(format($$ select pg_temp.send('file', %L) $$, pg_temp.up('image')),
  '22023', 'upload ' || pg_temp.up('image') || ' is a image, not a file', 'an image upload cannot be sent as a file (document)');
select throws_ok(format($$ select pg_temp.send('text', %L) $$, pg_temp.up('image')),
  '22023', null, 'a text message takes no upload');
select throws_ok(format($$ select pg_temp.send('audio', %L, '3a', 'a caption') $$, pg_temp.up('audio')),
  '22023', null, 'an audio message takes no caption');
select throws_ok(format($$ select pg_temp.send('image', %L, '3b') $$, pg_temp.up('image')),
  '42501', null, 'writing it into agent B''s conversation is denied by the policy');

insert into sent select pg_temp.send('image', pg_temp.up('image'), '3a', 'the broken part')::uuid;
select is(
  (select jsonb_build_object('id', m.id, 'media_url', m.media_url, 'mime', m.metadata ->> 'mime_type', 'size', m.metadata ->> 'file_size',
                             'name', m.metadata ->> 'file_name', 'caption', m.content)
     from public.messages m where m.id = (select id from sent)),
  jsonb_build_object('id', pg_temp.up('image'), 'media_url', 'messages/' || pg_temp.up('image'), 'mime', 'image/png', 'size', '1234',
                     'name', 'photo.png', 'caption', 'the broken part'),
  'the message takes the upload''s id, its stored object and facts, with its caption');
select lives_ok('set constraints all immediate', 'the attached upload names its message (checked as at commit)');
select throws_ok(format($$ select pg_temp.send('image', %L) $$, pg_temp.up('image')),
  '55000', null, 'an upload is attached to one message only');
select ok(public.media_link((select id from sent)) ->> 'url' like 'https://media.example.test/media/%',
  'the sent attachment can be viewed by a signed link');

-- Cleanup: uploads nobody attached, after a day.
select access_test.act_as('postgres');
update private.media_uploads set created_at = now() - interval '25 hours';
set local role service_role;
select is(jsonb_array_length(svc.claim_stale_media_uploads(86400, 100)), 4,
  'the pending and stored uploads nobody attached are stale after a day (A''s first and pending ones, A''s audio, the admin''s)');
select is(jsonb_array_length(svc.claim_stale_media_uploads(93600, 100)), 0,
  'none is stale before its time');
select is(svc.claim_stale_media_uploads(86400, 100) ? pg_temp.up('audio'), true,
  'a stale stored upload is listed for the gateway to delete its object');
select is(svc.record_media_uploads_deleted(array[pg_temp.up('image')::uuid, pg_temp.up('audio')::uuid]), 1,
  'the gateway removes the rows of deleted objects; an attached upload stays');
select is(jsonb_array_length(svc.claim_stale_media_uploads(86400, 100)), 3,
  'what is left stale is the rest');
reset role;

select access_test.act_as('agent B');
select throws_ok($$ select svc.claim_stale_media_uploads(1, 10) $$, '42501', null,
  'signed-in users cannot list uploads to delete');

select access_test.act_as('postgres');
select * from finish();
rollback;
