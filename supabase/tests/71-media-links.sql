-- Signed media links: minted only for a message the caller can read that has a stored
-- file; the key stays out of every API role's reach.
begin;
\ir fixtures/access.sql
select plan(15);

-- The cast (fixtures/access.sql): agent A (conversation 3a, message 4a), agent B (3b, 4b),
-- the inactive agent (3d, 4d), the admin. 4a, 4b and 4d have stored files; 4f none.
update public.messages set media_url = 'messages/' || id
 where id in (access_test.id('4a'), access_test.id('4b'), access_test.id('4d'));

select access_test.act_as('agent A');
select throws_ok($$ select public.media_link(access_test.id('4a')) $$, '55000', null,
  'before the gateway configured links, none is minted');

set local role service_role;
select is(svc.configure_media_links('0123456789abcdef0123456789abcdef', 'https://media.example.test', 300), true,
  'the gateway configures key, public URL and lifetime');
select is(svc.configure_media_links('0123456789abcdef0123456789abcdef', 'https://media.example.test', 300), false,
  'configuring the same again changes nothing');
reset role;

select access_test.act_as('agent A');
select is(
  public.media_link(access_test.id('4a')) ->> 'url',
  'https://media.example.test/media/' || access_test.id('4a') || '?exp=' || (floor(extract(epoch from now()))::bigint + 300)
    || '&sig=' || encode(extensions.hmac(access_test.id('4a') || '.' || (floor(extract(epoch from now()))::bigint + 300),
                                         '0123456789abcdef0123456789abcdef', 'sha256'), 'hex'),
  'agent A gets a link to their conversation''s attachment, signed with HMAC-SHA256 over id.exp');
select is((public.media_link(access_test.id('4a')) ->> 'expires_at')::timestamptz, date_trunc('second', now()) + interval '300 seconds',
  'the link expires after the configured lifetime');
select throws_ok($$ select public.media_link(access_test.id('4b')) $$, 'P0002', null,
  'agent A cannot mint a link to agent B''s attachment');
select throws_ok($$ select public.media_link(access_test.id('4f')) $$, 'P0002', null,
  'a message without a stored file gets the same answer');
select throws_ok($$ select public.media_link(gen_random_uuid()) $$, 'P0002', null,
  'and so does a message that does not exist');
select throws_ok($$ select * from private.media_link_settings $$, '42501', null,
  'agents cannot read the link key');
select throws_ok($$ select svc.configure_media_links(repeat('x', 32), 'https://evil.test', 86400) $$, '42501', null,
  'agents cannot change the key');

select access_test.act_as('admin');
select ok(public.media_link(access_test.id('4b')) ->> 'url' like 'https://media.example.test/media/%',
  'the admin gets a link to any conversation''s attachment');

select access_test.act_as('inactive agent');
select throws_ok($$ select public.media_link(access_test.id('4d')) $$, 'P0002', null,
  'a deactivated agent cannot mint a link, even to a conversation still assigned to them');

select access_test.act_as('anon');
select throws_ok($$ select public.media_link(access_test.id('4a')) $$, '42501', null,
  'anon cannot mint links');

-- Agent A loses the conversation: their next link is refused.
select access_test.act_as('postgres');
update public.conversations set assigned_agent_id = access_test.id('1b') where id = access_test.id('3a');
select access_test.act_as('agent A');
select throws_ok($$ select public.media_link(access_test.id('4a')) $$, 'P0002', null,
  'an agent who loses the conversation loses its media');
select access_test.act_as('agent B');
select ok(public.media_link(access_test.id('4a')) ->> 'url' like '%/media/' || access_test.id('4a') || '?exp=%',
  'the agent it went to gets the link');

select access_test.act_as('postgres');
select * from finish();
rollback;
