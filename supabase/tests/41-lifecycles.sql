-- Lifecycles enforced in the database (migration 20261207000100_lifecycles), for every
-- caller: broadcasts only move forward (or to cancelled) and are frozen once they begin
-- sending; an archived conversation is reopened only while it is its contact's latest.
-- The cast is the access fixture's (agent A with 3a of contact 2a, the admin).
begin;
\ir fixtures/access.sql
select plan(36);

create function pg_temp.broadcast(p_key text, p_status text) returns void language sql as $$
  insert into public.broadcast_messages (id, name, content, status, scheduled_for, template_id, created_by)
  values (access_test.id(p_key), 'Broadcast ' || p_key, 'Promo', p_status,
          case when p_status <> 'draft' then now() + interval '1 hour' end, access_test.id('7a'), access_test.id('1e'))
$$;
-- Tries to move broadcast p_key (created in p_from) to p_to as `who`; answers 'ok' or the
-- error's SQLSTATE, and leaves nothing behind.
create function pg_temp.move(p_from text, p_to text, who text default 'postgres') returns text
language plpgsql as $$
declare
  v_state text;
begin
  begin
    perform access_test.act_as('postgres');
    perform pg_temp.broadcast('8f', p_from);
    perform access_test.act_as(who);
    update public.broadcast_messages set status = p_to, scheduled_for = coalesce(scheduled_for, now() + interval '1 hour')
     where id = access_test.id('8f');
    raise exception using errcode = 'TMOVE';
  exception
    when sqlstate 'TMOVE' then v_state := 'ok';
    when others then v_state := sqlstate;
  end;
  perform access_test.act_as('postgres');
  return v_state;
end;
$$;
grant execute on all functions in schema pg_temp to authenticated;

-- Broadcasts: every move, as the services (who bypass RLS: only the lifecycle stops them) --------
select is(
  (select string_agg(f || '>' || t || ' ' || pg_temp.move(f, t), ', ' order by f, t)
     from unnest(array['draft', 'scheduled', 'sending', 'completed', 'cancelled']) f,
          unnest(array['draft', 'scheduled', 'sending', 'completed', 'cancelled']) t
    where f <> t),
  'cancelled>completed 55000, cancelled>draft 55000, cancelled>scheduled 55000, cancelled>sending 55000, '
  'completed>cancelled 55000, completed>draft 55000, completed>scheduled 55000, completed>sending ok, '
  'draft>cancelled ok, draft>completed 55000, draft>scheduled ok, draft>sending 55000, '
  'scheduled>cancelled ok, scheduled>completed 55000, scheduled>draft 55000, scheduled>sending ok, '
  'sending>cancelled ok, sending>completed ok, sending>draft 55000, sending>scheduled 55000',
  'the services: forward only, cancel from draft, scheduled or sending; completed -> sending only for a retry (next tests)');

-- ... and as an admin, whom the policies also keep off the worker's statuses.
select is(
  (select string_agg(f || '>' || t || ' ' || pg_temp.move(f, t, 'admin'), ', ' order by f, t)
     from unnest(array['draft', 'scheduled', 'sending', 'completed', 'cancelled']) f,
          unnest(array['draft', 'scheduled', 'sending', 'completed', 'cancelled']) t
    where f <> t),
  'cancelled>completed 55000, cancelled>draft 55000, cancelled>scheduled 55000, cancelled>sending 55000, '
  'completed>cancelled 55000, completed>draft 55000, completed>scheduled 55000, completed>sending 55000, '
  'draft>cancelled ok, draft>completed 55000, draft>scheduled ok, draft>sending 55000, '
  'scheduled>cancelled ok, scheduled>completed 55000, scheduled>draft 55000, scheduled>sending 42501, '
  'sending>cancelled ok, sending>completed 42501, sending>draft 55000, sending>scheduled 55000',
  'admin: schedules and cancels; never back to draft; sending and completed stay the worker''s (42501)');

select is(pg_temp.move('completed', 'draft', 'admin'), '55000', 'admin: a completed broadcast cannot be set back to draft (and then deleted)');

-- A retried recipient re-opens a completed broadcast: the one way back, taken by the database.
select access_test.act_as('postgres');
update public.broadcast_recipients set status = 'failed', error_message = 'unknown_outcome: test'
 where broadcast_id = access_test.id('8c') and contact_id = access_test.id('2a');
select access_test.act_as('admin');
select is(access_test.dry_run($$update public.broadcast_recipients set status = 'pending' where broadcast_id = access_test.id('8c') returning status$$),
  'pending', 'admin: retries a failed recipient of the completed broadcast 8c');
update public.broadcast_recipients set status = 'pending' where broadcast_id = access_test.id('8c');
select access_test.act_as('postgres');
select is((select status from public.broadcast_messages where id = access_test.id('8c')), 'sending',
  'which re-opens it (completed -> sending, by the requeue trigger)');

-- A re-opened broadcast keeps the time it first completed, whatever comes next.
select is((select (sent_at is not null)::text from public.broadcast_messages where id = access_test.id('8c')), 'true',
  'the re-opened 8c keeps sent_at, when it first completed');
select access_test.act_as('admin');
select is(access_test.dry_run($$update public.broadcast_messages set status = 'cancelled' where id = access_test.id('8c') returning status || ' ' || (sent_at is not null)::text$$),
  'cancelled true', 'admin: cancelling the retry keeps the record of its completion (sent_at)');
select access_test.act_as('postgres');
select is(svc.complete_finished_broadcasts(), 0, 'while the retried recipient waits, 8c is not completed ...');
delete from svc.broadcast_queue where broadcast_id = access_test.id('8c');
update public.broadcast_recipients set status = 'sent' where broadcast_id = access_test.id('8c');
select is(svc.complete_finished_broadcasts(), 1, '... once it is final, it is');
-- A failed recipient of a cancelled broadcast is not retried (it would wait forever).
insert into public.broadcast_messages (id, name, content, status, template_id, created_by)
values (access_test.id('88'), 'Stopped', 'Stopped', 'cancelled', access_test.id('7a'), access_test.id('1e'));
insert into public.broadcast_recipients (broadcast_id, contact_id, status, error_message)
values (access_test.id('88'), access_test.id('2b'), 'failed', 'HTTP 500');
select access_test.act_as('admin');
select throws_ok($$update public.broadcast_recipients set status = 'pending' where broadcast_id = access_test.id('88')$$,
  '55000', 'a recipient can be sent again only while its broadcast is sending or completed (this one is cancelled)',
  'admin: cannot retry a recipient of a cancelled broadcast');
select access_test.act_as('postgres');

-- Frozen once sending: template, content, audience, schedule.
select pg_temp.broadcast('85', 'scheduled');
select access_test.act_as('admin');
select lives_ok($$update public.broadcast_messages set content = 'Better promo', scheduled_for = now() + interval '2 hours', audience = '{"type": "tags", "tags": ["vip"]}' where id = access_test.id('85')$$,
  'admin: edits a scheduled broadcast');
select access_test.act_as('postgres');
update public.broadcast_messages set status = 'sending' where id = access_test.id('85');
select access_test.act_as('admin');
select throws_ok($$update public.broadcast_messages set template_id = null where id = access_test.id('85')$$,
  '55000', 'a sending broadcast keeps its name, content, template, audience and schedule', 'admin: cannot swap the template mid-send');
select throws_ok($$update public.broadcast_messages set audience = '{"type": "tags", "tags": ["everyone"]}' where id = access_test.id('85')$$,
  '55000', 'a sending broadcast keeps its name, content, template, audience and schedule', 'admin: cannot widen the audience mid-send');
select throws_ok($$update public.broadcast_messages set content = 'Rewritten' where id = access_test.id('85')$$,
  '55000', 'a sending broadcast keeps its name, content, template, audience and schedule', 'admin: cannot rewrite the content mid-send');
select throws_ok($$update public.broadcast_messages set status = 'draft' where id = access_test.id('85')$$,
  '55000', 'a broadcast cannot go from sending to draft', 'admin: cannot take a sending broadcast back to draft');
select is(access_test.dry_run($$delete from public.broadcast_messages where id = access_test.id('85') returning status$$), '',
  'admin: cannot delete it');
select is(access_test.dry_run($$update public.broadcast_messages set status = 'cancelled' where id = access_test.id('85') returning status$$), 'cancelled',
  'admin: can cancel it');
select throws_ok($$update public.message_templates set wa_template_name = 'promo_vip' where id = access_test.id('7a')$$,
  '55000', 'a broadcast has begun sending this template: its WhatsApp name, language, parameters and text can''t change',
  'admin: cannot swap the template from the other side, by editing the template a sending broadcast uses');
select is(access_test.dry_run($$update public.message_templates set name = 'Welcome (renamed)', category = 'utility' where id = access_test.id('7a') returning name$$),
  'Welcome (renamed)', 'admin: still renames it (the frontend''s label, not what is sent)');
select access_test.act_as('postgres');
insert into public.message_templates (id, name, content, wa_template_name, language_code)
values (access_test.id('7b'), 'Sent once', 'Thanks', 'sent_once', 'es');
insert into public.broadcast_messages (id, name, content, status, template_id, sent_at, created_by)
values (access_test.id('87'), 'Done', 'Done', 'completed', access_test.id('7b'), now(), access_test.id('1e'));
select access_test.act_as('admin');
select throws_ok($$update public.message_templates set content = 'Something else' where id = access_test.id('7b')$$,
  '55000', 'a broadcast has begun sending this template: its WhatsApp name, language, parameters and text can''t change',
  'admin: cannot rewrite the template of a completed broadcast (the record of what was sent, and what a retry sends)');
select access_test.act_as('postgres');
select throws_ok($$update public.broadcast_messages set content = 'Rewritten' where id = access_test.id('85')$$,
  '55000', 'a sending broadcast keeps its name, content, template, audience and schedule', 'not even the services rewrite a sending broadcast');
select lives_ok($$update public.broadcast_messages set status_detail = 'waiting: test' where id = access_test.id('85')$$,
  'the worker still writes status_detail of a sending broadcast');
select pg_temp.broadcast('86', 'draft');
select access_test.act_as('admin');
select is(access_test.dry_run($$update public.broadcast_messages set status = 'cancelled' where id = access_test.id('86') returning status$$), 'cancelled',
  'admin: cancels a draft');
update public.broadcast_messages set status = 'cancelled' where id = access_test.id('86');
select throws_ok($$update public.broadcast_messages set name = 'Revived', status = 'draft' where id = access_test.id('86')$$,
  '55000', 'a broadcast cannot go from cancelled to draft', 'admin: a cancelled broadcast stays cancelled');

-- Conversations: reopening only the contact's latest --------------------------------------------
select access_test.act_as('agent A');
select lives_ok($$update public.conversations set status = 'pending' where id = access_test.id('3a')$$, 'agent A: sets 3a pending');
select lives_ok($$update public.conversations set status = 'archived' where id = access_test.id('3a')$$, 'agent A: archives (resolves) 3a');
select lives_ok($$update public.conversations set status = 'active' where id = access_test.id('3a')$$,
  'agent A: reopens 3a while it is still the contact''s latest');
select lives_ok($$update public.conversations set status = 'archived' where id = access_test.id('3a')$$, 'agent A: archives 3a again');

-- The customer writes again: a newer conversation, which an admin gives to agent B.
select access_test.act_as('postgres');
insert into public.conversations (id, contact_id, assigned_agent_id, created_at)
values (access_test.id('30'), access_test.id('2a'), access_test.id('1b'), now() + interval '1 second');
update public.conversations set assigned_agent_id = access_test.id('1b') where id = access_test.id('30');
select access_test.act_as('agent A');
select throws_ok($$update public.conversations set status = 'active' where id = access_test.id('3a')$$,
  '55000', 'this conversation is closed for good: only a customer''s latest conversation can be reopened',
  'agent A: cannot take the customer back by reopening the old 3a');
select throws_ok($$update public.conversations set status = 'pending' where id = access_test.id('3a')$$,
  '55000', 'this conversation is closed for good: only a customer''s latest conversation can be reopened',
  'agent A: nor by setting it pending');
select lives_ok($$update public.conversations set priority = 'high' where id = access_test.id('3a')$$,
  'agent A: still changes the old conversation''s priority');
select throws_ok(
  $$insert into public.messages (conversation_id, sender_type, sender_id, message_type, status, content)
    values (access_test.id('3a'), 'agent', access_test.id('1a'), 'text', 'pending', 'write me directly')$$,
  '55000', 'this conversation is closed for good: write in the customer''s latest conversation',
  'agent A: cannot message the customer from the old conversation either');

-- Once agent B resolves 30, the old 3a is still not the latest.
select access_test.act_as('agent B');
select lives_ok($$update public.conversations set status = 'archived' where id = access_test.id('30')$$, 'agent B: archives 30');
select access_test.act_as('agent A');
select throws_ok($$update public.conversations set status = 'active' where id = access_test.id('3a')$$,
  '55000', 'this conversation is closed for good: only a customer''s latest conversation can be reopened',
  'agent A: 3a stays closed although no conversation of the contact is open');
select access_test.act_as('admin');
select throws_ok($$update public.conversations set status = 'active' where id = access_test.id('3a')$$,
  '55000', 'this conversation is closed for good: only a customer''s latest conversation can be reopened',
  'admin: the rule is the same for admins');
select access_test.act_as('agent B');
select lives_ok($$update public.conversations set status = 'active' where id = access_test.id('30')$$, 'agent B: reopens the latest, 30');

select * from finish();
rollback;
