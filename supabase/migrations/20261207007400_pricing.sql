-- What Meta bills (issue 16). Since per-message pricing (July 2025) a status webhook may
-- carry pricing {billable, pricing_model, category, type}; the gateway parses it (events'
-- statuses[].pricing, lower case) and the status applier hands those statuses to
-- svc.record_pricing, which keeps it on the message or broadcast recipient with the
-- status's time. Admins (only) read the billable counts per category and day, and per
-- broadcast: public.billing_by_day, public.billing_by_broadcast.

-- Storage ----------------------------------------------------------------------------------------

alter table public.messages add column pricing jsonb;
comment on column public.messages.pricing is
  'Meta''s pricing of this sent message: {billable, pricing_model, category, type, at} (at: the status time it came with); null until a status carried it.';
alter table public.broadcast_recipients add column pricing jsonb;
comment on column public.broadcast_recipients.pricing is
  'Meta''s pricing of this recipient''s template: {billable, pricing_model, category, type, at}; null until a status carried it.';
alter table public.messages
  add constraint messages_pricing_object check (pricing is null or jsonb_typeof(pricing) = 'object');
alter table public.broadcast_recipients
  add constraint broadcast_recipients_pricing_object check (pricing is null or jsonb_typeof(pricing) = 'object');

-- Recording -----------------------------------------------------------------------------------------

-- p_statuses: the webhook's parsed statuses ([{wamid, timestamp, pricing, ...}]); those
-- without pricing are passed over. The first pricing of a message is kept, a changed one
-- replaces it (Meta repeats it on delivered and read).
create or replace function svc.record_pricing(p_statuses jsonb)
returns int
language plpgsql
set search_path = ''
as $$
declare
  v_messages int;
  v_recipients int;
begin
  if jsonb_typeof(coalesce(p_statuses, '[]'::jsonb)) <> 'array' then
    raise exception 'p_statuses must be a JSON array' using errcode = '22023';
  end if;
  with priced as (
    select distinct on (s ->> 'wamid') s ->> 'wamid' as wamid,
           jsonb_build_object(
             'billable', (s -> 'pricing' ->> 'billable')::boolean,
             'pricing_model', s -> 'pricing' ->> 'pricing_model',
             'category', s -> 'pricing' ->> 'category',
             'type', s -> 'pricing' ->> 'type',
             'at', s ->> 'timestamp') as pricing
      from jsonb_array_elements(coalesce(p_statuses, '[]'::jsonb)) s
     where jsonb_typeof(s -> 'pricing') = 'object'
       and jsonb_typeof(s -> 'pricing' -> 'billable') = 'boolean'
       and s -> 'pricing' ->> 'category' is not null
       and s ->> 'wamid' is not null
     order by s ->> 'wamid', s ->> 'timestamp'
  ), on_messages as (
    update public.messages m
       set pricing = p.pricing || jsonb_build_object('at', coalesce(m.pricing ->> 'at', p.pricing ->> 'at'))
      from priced p
     where m.wa_message_id = p.wamid
       and (m.pricing - 'at') is distinct from (p.pricing - 'at')
    returning 1
  ), on_recipients as (
    update public.broadcast_recipients r
       set pricing = p.pricing || jsonb_build_object('at', coalesce(r.pricing ->> 'at', p.pricing ->> 'at'))
      from priced p
     where r.wa_message_id = p.wamid
       and (r.pricing - 'at') is distinct from (p.pricing - 'at')
    returning 1
  )
  select (select count(*) from on_messages), (select count(*) from on_recipients)
    into v_messages, v_recipients;
  return v_messages + v_recipients;
end;
$$;
comment on function svc.record_pricing(jsonb) is
  'Keeps the pricing of statuses ([{wamid, timestamp, pricing}]) on their messages and broadcast recipients; how many rows changed.';

-- Reading (admins only) -------------------------------------------------------------------------------

create or replace function private.billing_by_day(p_from date, p_to date)
returns table (day date, category text, billable bigint, free bigint)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if not coalesce(private.is_admin(), false) then
    raise exception 'only admins can read what WhatsApp bills' using errcode = '42501';
  end if;
  return query
  select (x.at at time zone 'UTC')::date, x.category,
         count(*) filter (where x.billable), count(*) filter (where not x.billable)
    from (select (m.pricing ->> 'at')::timestamptz as at, m.pricing ->> 'category' as category,
                 (m.pricing ->> 'billable')::boolean as billable
            from public.messages m where m.pricing is not null
          union all
          select (r.pricing ->> 'at')::timestamptz, r.pricing ->> 'category', (r.pricing ->> 'billable')::boolean
            from public.broadcast_recipients r where r.pricing is not null) x
   where (x.at at time zone 'UTC')::date between p_from and p_to
   group by 1, 2
   order by 1, 2;
end;
$$;
comment on function private.billing_by_day(date, date) is
  'For public.billing_by_day: checks the caller is an admin.';
revoke execute on function private.billing_by_day(date, date) from public, anon, authenticated;
grant execute on function private.billing_by_day(date, date) to authenticated;

create or replace function public.billing_by_day(p_from date, p_to date)
returns table (day date, category text, billable bigint, free bigint)
language sql
stable
security invoker
set search_path = ''
begin atomic
  select * from private.billing_by_day(p_from, p_to);
end;
comment on function public.billing_by_day(date, date) is
  'Admins: messages Meta priced per UTC day (of the status that carried the pricing) and category, billable and free, replies and broadcasts together. 42501 for others.';
revoke execute on function public.billing_by_day(date, date) from public, anon, authenticated;
grant execute on function public.billing_by_day(date, date) to authenticated;

create or replace function private.billing_by_broadcast(p_broadcast_id uuid)
returns table (broadcast_id uuid, category text, billable bigint, free bigint, unpriced bigint)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if not coalesce(private.is_admin(), false) then
    raise exception 'only admins can read what WhatsApp bills' using errcode = '42501';
  end if;
  return query
  select r.broadcast_id, r.pricing ->> 'category',
         count(*) filter (where (r.pricing ->> 'billable')::boolean),
         count(*) filter (where not (r.pricing ->> 'billable')::boolean),
         count(*) filter (where r.pricing is null)
    from public.broadcast_recipients r
   where r.broadcast_id = p_broadcast_id and r.status <> 'pending'
   group by 1, 2
   order by 2 nulls last;
end;
$$;
comment on function private.billing_by_broadcast(uuid) is
  'For public.billing_by_broadcast: checks the caller is an admin.';
revoke execute on function private.billing_by_broadcast(uuid) from public, anon, authenticated;
grant execute on function private.billing_by_broadcast(uuid) to authenticated;

create or replace function public.billing_by_broadcast(p_broadcast_id uuid)
returns table (broadcast_id uuid, category text, billable bigint, free bigint, unpriced bigint)
language sql
stable
security invoker
set search_path = ''
begin atomic
  select * from private.billing_by_broadcast(p_broadcast_id);
end;
comment on function public.billing_by_broadcast(uuid) is
  'Admins: a broadcast''s recipients by the category Meta priced them in, billable and free (unpriced: sent or failed, no pricing yet: category null). 42501 for others.';
revoke execute on function public.billing_by_broadcast(uuid) from public, anon, authenticated;
grant execute on function public.billing_by_broadcast(uuid) to authenticated;
