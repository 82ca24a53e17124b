-- Messaging limits per business portfolio (issue 16). Since October 2025 Meta sets the
-- messaging limit (unique users messaged outside a customer service window in a moving
-- 24 hours) per business portfolio, shared by all its numbers, and announces changes by
-- webhook (business_capability_update, phone_number_quality_update).
--
-- One portfolio ('default') with one or more numbers: the limit is learned from those
-- webhooks (the gateway parses them into events.messaging_limits, applied by
-- svc.apply_messaging_limit_events) and read by the broadcast worker at start
-- (svc.messaging_limit), which passes it to the claim as before (p_messaging_limit);
-- WHATSAPP_MESSAGING_LIMIT, when set, overrides it.

create table svc.business_portfolios (
  id text primary key,
  -- Unique users per 24 hours; -1 unlimited; null until Meta said.
  messaging_limit int check (messaging_limit is null or messaging_limit = -1 or messaging_limit > 0),
  learned_at timestamptz,
  learned_from text
);
comment on table svc.business_portfolios is
  'Business portfolios and the messaging limit Meta announced for each (shared by all their numbers).';
alter table svc.business_portfolios enable row level security;
revoke all on svc.business_portfolios from public, anon, authenticated;
grant select, insert, update on svc.business_portfolios to service_role;
insert into svc.business_portfolios (id) values ('default');

create table svc.business_numbers (
  phone_number_id text primary key,
  portfolio_id text not null default 'default' references svc.business_portfolios (id) on delete restrict
);
comment on table svc.business_numbers is
  'The business phone numbers of each portfolio (a number not listed belongs to the default portfolio).';
create index idx_business_numbers_portfolio_id on svc.business_numbers (portfolio_id);
alter table svc.business_numbers enable row level security;
revoke all on svc.business_numbers from public, anon, authenticated;
grant select, insert, update on svc.business_numbers to service_role;

-- The webhooks' limits: the last one of the list is the current one (one portfolio).
create or replace function svc.apply_messaging_limit_events(p_events jsonb, p_now timestamptz default now())
returns int
language plpgsql
set search_path = ''
as $$
declare
  v_last jsonb;
begin
  if jsonb_typeof(coalesce(p_events, '[]'::jsonb)) <> 'array' then
    raise exception 'p_events must be a JSON array of {limit}' using errcode = '22023';
  end if;
  select e into v_last
    from jsonb_array_elements(coalesce(p_events, '[]'::jsonb)) with ordinality as x(e, n)
   where jsonb_typeof(e -> 'limit') = 'number' and ((e ->> 'limit')::numeric = -1 or (e ->> 'limit')::numeric > 0)
   order by n desc limit 1;
  if v_last is null then
    return 0;
  end if;
  update svc.business_portfolios p
     set messaging_limit = (v_last ->> 'limit')::int, learned_at = p_now, learned_from = v_last ->> 'field'
   where p.id = 'default';
  return 1;
end;
$$;
comment on function svc.apply_messaging_limit_events(jsonb, timestamptz) is
  'Applies messaging limits announced by webhook (events.messaging_limits: [{limit, field}], -1 unlimited) to the portfolio; 1 when one was applied.';

-- The limit of a number's portfolio: {messaging_limit (null unknown, -1 unlimited), learned_at, portfolio_id}.
create or replace function svc.messaging_limit(p_phone_number_id text)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object('messaging_limit', p.messaging_limit, 'learned_at', p.learned_at, 'portfolio_id', p.id)
    from svc.business_portfolios p
   where p.id = coalesce((select n.portfolio_id from svc.business_numbers n where n.phone_number_id = p_phone_number_id), 'default');
$$;
comment on function svc.messaging_limit(text) is
  'The messaging limit Meta announced for the portfolio of this number (null until learned, -1 unlimited).';
