-- A retried broadcast recipient forgets the failed attempt's wamid.
--
-- An admin's retry (failed -> pending, trigger on_broadcast_recipient_retried) kept the
-- wa_message_id of the attempt that failed. The new send records its own wamid when it is
-- accepted, but if its outcome is unknown it is held and can only be resolved by its
-- status's callback data, which resolves a recipient that has no wamid yet: the old one
-- stood in the way, the held send was re-queued on the evidence of later sends, and the
-- customer got the template twice. A late status of the old attempt also moved the
-- retried recipient. Now the retry clears the wamid with the error.

create or replace function private.requeue_broadcast_recipient()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_refusal jsonb := svc.check_contact_reachable(new.contact_id, true);
  v_status text;
begin
  if new.status = 'pending' and old.status = 'failed' then
    select b.status into v_status from public.broadcast_messages b where b.id = new.broadcast_id for update;
    if v_status not in ('sending', 'completed') then
      raise exception 'a recipient can be sent again only while its broadcast is sending or completed (this one is %)', v_status
        using errcode = '55000';
    end if;
    if v_refusal is not null then
      raise exception 'this recipient can''t be sent to again: %', lower(v_refusal ->> 'title')
        using errcode = '55000', hint = v_refusal ->> 'details';
    end if;
    new.error_message := null;
    -- The wamid was the failed attempt's: the new send gets its own, and its statuses
    -- (or its callback data, when its outcome is unknown) must find this row.
    new.wa_message_id := null;
    -- A completed broadcast is sending again until its retried recipients are final; it
    -- keeps sent_at, when it first completed.
    update public.broadcast_messages set status = 'sending', status_detail = null
     where id = new.broadcast_id and status = 'completed';
    insert into svc.broadcast_queue (broadcast_id, contact_id)
    values (new.broadcast_id, new.contact_id)
    on conflict do nothing;
  end if;
  return new;
end;
$$;
