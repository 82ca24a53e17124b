-- Access matrix: public.contacts. An agent sees a contact only through a conversation
-- assigned to them and edits its profile fields; admins see every contact and alone
-- block or unblock; phone and WhatsApp ids are never editable; the services create them.
begin;
\ir fixtures/access.sql
select plan(32);

-- anon: no grant at all --------------------------------------------------------------
select access_test.act_as('anon');
select throws_ok($$select * from public.contacts$$, '42501', null, 'anon: select contacts is denied');
select throws_ok($$insert into public.contacts (phone) values ('+5491100000100')$$, '42501', null, 'anon: insert contacts is denied');
select throws_ok($$update public.contacts set location = 'Lima'$$, '42501', null, 'anon: update contacts is denied');
select throws_ok($$delete from public.contacts$$, '42501', null, 'anon: delete contacts is denied');

-- agent A ----------------------------------------------------------------------------
select access_test.act_as('agent A');
select is(access_test.seen('public.contacts'), '2a', 'agent A: reads only the contact of their conversation');
select throws_ok($$insert into public.contacts (phone) values ('+5491100000100')$$, '42501', null, 'agent A: insert contacts is denied');
select is(access_test.dry_run($$update public.contacts set location = 'Lima' returning right(id::text, 2)$$), '2a', 'agent A: update reaches only 2a');
select throws_ok($$delete from public.contacts$$, '42501', null, 'agent A: delete contacts is denied');

-- agent B ----------------------------------------------------------------------------
select access_test.act_as('agent B');
select is(access_test.seen('public.contacts'), '2b', 'agent B: reads only the contact of their conversation');
select throws_ok($$insert into public.contacts (phone) values ('+5491100000100')$$, '42501', null, 'agent B: insert contacts is denied');
select is(access_test.dry_run($$update public.contacts set location = 'Lima' returning right(id::text, 2)$$), '2b', 'agent B: update reaches only 2b');
select throws_ok($$delete from public.contacts$$, '42501', null, 'agent B: delete contacts is denied');

-- admin ------------------------------------------------------------------------------
select access_test.act_as('admin');
select is(access_test.seen('public.contacts'), '2a,2b,2d,2e,2f', 'admin: reads every contact, with or without a conversation');
select throws_ok($$insert into public.contacts (phone) values ('+5491100000100')$$, '42501', null, 'admin: insert contacts is denied (the services create them)');
select is(access_test.dry_run($$update public.contacts set location = 'Lima' returning right(id::text, 2)$$), '2a,2b,2d,2e,2f', 'admin: update reaches every contact');
select throws_ok($$delete from public.contacts$$, '42501', null, 'admin: delete contacts is denied');

-- inactive agent ---------------------------------------------------------------------
select access_test.act_as('inactive agent');
select is(access_test.seen('public.contacts'), '', 'inactive agent: reads nothing, not even the contact of 3d');
select throws_ok($$insert into public.contacts (phone) values ('+5491100000100')$$, '42501', null, 'inactive agent: insert contacts is denied');
select is(access_test.dry_run($$update public.contacts set location = 'Lima' returning right(id::text, 2)$$), '', 'inactive agent: update reaches nothing');
select throws_ok($$delete from public.contacts$$, '42501', null, 'inactive agent: delete contacts is denied');

-- Protected columns ------------------------------------------------------------------
select access_test.act_as('agent A');
select is(access_test.dry_run($$update public.contacts set full_name = 'Ana', email = 'ana@example.test', location = 'Rosario', tags = '{vip}', language = 'en', timezone = 'America/Argentina/Buenos_Aires', metadata = '{"crm": 7}' where id = access_test.id('2a') returning right(id::text, 2)$$),
  '2a', 'agent A: edits every profile field of their contact');
select throws_ok($$update public.contacts set phone = '+5491100000199' where id = access_test.id('2a')$$,
  '42501', null, 'agent A: cannot change a contact''s phone');
select throws_ok($$update public.contacts set wa_id = '5491100000199' where id = access_test.id('2a')$$,
  '42501', null, 'agent A: cannot change a contact''s wa_id');
select throws_ok($$update public.contacts set wa_user_id = 'US.1' where id = access_test.id('2a')$$,
  '42501', null, 'agent A: cannot change a contact''s wa_user_id');
select throws_ok($$update public.contacts set opted_out_at = null, last_contacted_at = now() where id = access_test.id('2a')$$,
  '42501', null, 'agent A: cannot change the services'' columns (opted_out_at, last_contacted_at)');
select throws_ok($$update public.contacts set status = 'blocked' where id = access_test.id('2a')$$,
  '42501', 'only an admin can block or unblock a contact', 'agent A: cannot block their contact');
select is(access_test.dry_run($$update public.contacts set status = 'active' where id = access_test.id('2a') returning right(id::text, 2)$$),
  '2a', 'agent A: writing the status it already has is no change, and allowed');
select is(access_test.dry_run($$update public.contacts set full_name = 'Not mine' where id = access_test.id('2b') returning right(id::text, 2)$$),
  '', 'agent A: cannot edit agent B''s contact');

select access_test.act_as('admin');
select is(access_test.dry_run($$update public.contacts set status = 'blocked' where id = access_test.id('2b') returning right(id::text, 2)$$),
  '2b', 'admin: blocks a contact');
select throws_ok($$update public.contacts set phone = '+5491100000199' where id = access_test.id('2b')$$,
  '42501', null, 'admin: cannot change a contact''s phone either');

select access_test.act_as('postgres');
update public.contacts set status = 'blocked' where id = access_test.id('2a');
select access_test.act_as('admin');
select is(access_test.dry_run($$update public.contacts set status = 'active' where id = access_test.id('2a') returning right(id::text, 2)$$),
  '2a', 'admin: unblocks a contact');
select access_test.act_as('agent A');
select throws_ok($$update public.contacts set status = 'active' where id = access_test.id('2a')$$,
  '42501', 'only an admin can block or unblock a contact', 'agent A: cannot unblock their contact');

select * from finish();
rollback;
