-- Erasing a contact queues the deletion of their stored media; the gateway deletes each
-- object twice (at once and 15 minutes later) and then forgets it.
begin;
\ir fixtures/access.sql
select plan(8);

-- Contact 2a's conversation 3a holds message 4a; give it a stored file, and a photo still
-- being fetched (no media_url yet).
update public.messages set media_url = 'messages/' || id, message_type = 'image' where id = access_test.id('4a');
insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status, wa_message_id, metadata)
values (access_test.id('3a'), 'contact', access_test.id('2a'), '[image]', 'image', 'delivered', 'wamid.erase.1',
        '{"content": {"type": "image", "media": {"id": "MEDIA9"}}}');
select is((select count(*)::int from svc.media_deletions), 0, 'nothing is queued before the erasure');

select access_test.act_as('admin');
select lives_ok($$ select public.erase_contact(access_test.id('2a')) $$, 'the admin erases contact 2a');
select access_test.act_as('postgres');
select is((select count(*)::int from svc.media_deletions
            where message_id = access_test.id('4a')), 1, 'the stored file of their message is queued for deletion');
select is((select count(*)::int from svc.media_deletions), 2, 'and so is the photo that was still being fetched');

create temp table ids as select access_test.id('4a') as m4a;
grant select on ids to service_role;
set local role service_role;
select is(jsonb_array_length(svc.claim_media_deletions('gateway-1', 100, 60)), 2, 'the gateway claims both');
select is(svc.record_media_deleted(array[(select m4a from ids)], 'gateway-1'), 1, 'and records one deleted');
select is(jsonb_array_length(svc.claim_media_deletions('gateway-1', 100, 60, now() + interval '16 minutes')), 2,
  'the deleted one is due again after 15 minutes (and the other''s lease expired)');
select svc.record_media_deleted(array[(select m4a from ids)], 'gateway-1');
select is((select count(*)::int from svc.media_deletions where message_id = (select m4a from ids)), 0,
  'after its second deletion it is forgotten');
reset role;

select * from finish();
rollback;
