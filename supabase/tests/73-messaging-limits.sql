-- Messaging limits per business portfolio: learned from Meta's webhooks, read per number.
begin;
select plan(7);

select is(svc.messaging_limit('PN-1') ->> 'messaging_limit', null, 'nothing learned yet: unknown');
select is(svc.apply_messaging_limit_events('[{"limit":2000,"field":"business_capability_update"}]'), 1,
  'a capability webhook''s limit is applied');
select is((svc.messaging_limit('PN-1') ->> 'messaging_limit')::int, 2000, 'a number not listed belongs to the default portfolio');
insert into svc.business_portfolios (id) values ('other');
insert into svc.business_numbers (phone_number_id, portfolio_id) values ('PN-2', 'default'), ('PN-3', 'other');
select is((svc.messaging_limit('PN-2') ->> 'messaging_limit')::int, 2000, 'every number of the portfolio shares its limit');
select is(svc.messaging_limit('PN-3') ->> 'messaging_limit', null, 'another portfolio has its own');
select is(svc.apply_messaging_limit_events('[{"limit":10000,"field":"phone_number_quality_update"},{"limit":-1,"field":"business_capability_update"},{"limit":"x"}]'), 1,
  'the last valid limit of a webhook is the current one');
select is(svc.messaging_limit('PN-1') ->> 'messaging_limit', '-1', 'unlimited is -1');

select * from finish();
rollback;
