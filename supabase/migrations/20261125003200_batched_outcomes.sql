-- Recording send outcomes in batches: at hundreds of messages per second one PostgREST
-- round trip per outcome costs more than the work itself. Each outcome is recorded
-- exactly as its single-row function does (same checks of lease ownership); the answer
-- says, in the order given, whether each claim was still the caller's.

-- [{ "message_id", "outcome": "sent" | "failed" | "retry", "wamid", "error",
--    "opted_out", "delay_seconds" }] -> [boolean]
create or replace function svc.record_outbound_outcomes(p_owner text, p_outcomes jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  o jsonb;
  v_results jsonb := '[]'::jsonb;
  v_ok boolean;
begin
  for o in select value from jsonb_array_elements(p_outcomes) loop
    v_ok := case o ->> 'outcome'
      when 'sent' then svc.record_outbound_sent((o ->> 'message_id')::uuid, p_owner, o ->> 'wamid')
      when 'failed' then svc.record_outbound_failed((o ->> 'message_id')::uuid, p_owner, o -> 'error',
                                                    coalesce((o ->> 'opted_out')::boolean, false))
      when 'retry' then svc.record_outbound_retry((o ->> 'message_id')::uuid, p_owner,
                                                  coalesce((o ->> 'delay_seconds')::double precision, 0), o -> 'error')
    end;
    if v_ok is null then
      raise exception 'unknown outcome %', o ->> 'outcome' using errcode = '22023';
    end if;
    v_results := v_results || to_jsonb(v_ok);
  end loop;
  return v_results;
end;
$$;
comment on function svc.record_outbound_outcomes(text, jsonb) is
  'Records several reply outcomes (sent, failed, retry) in one call; answers per outcome whether the claim was still ours.';

-- [{ "broadcast_id", "contact_id", "outcome": "sent" | "failed" | "retry", "wamid",
--    "error_message", "opted_out", "delay_seconds" }] -> [boolean]
create or replace function svc.record_broadcast_outcomes(p_owner text, p_outcomes jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  o jsonb;
  v_results jsonb := '[]'::jsonb;
  v_ok boolean;
begin
  for o in select value from jsonb_array_elements(p_outcomes) loop
    v_ok := case o ->> 'outcome'
      when 'sent' then svc.record_broadcast_sent((o ->> 'broadcast_id')::uuid, (o ->> 'contact_id')::uuid, p_owner, o ->> 'wamid')
      when 'failed' then svc.record_broadcast_failed((o ->> 'broadcast_id')::uuid, (o ->> 'contact_id')::uuid, p_owner,
                                                     o ->> 'error_message', coalesce((o ->> 'opted_out')::boolean, false))
      when 'retry' then svc.record_broadcast_retry((o ->> 'broadcast_id')::uuid, (o ->> 'contact_id')::uuid, p_owner,
                                                   coalesce((o ->> 'delay_seconds')::double precision, 0), o ->> 'error_message')
    end;
    if v_ok is null then
      raise exception 'unknown outcome %', o ->> 'outcome' using errcode = '22023';
    end if;
    v_results := v_results || to_jsonb(v_ok);
  end loop;
  return v_results;
end;
$$;
comment on function svc.record_broadcast_outcomes(text, jsonb) is
  'Records several broadcast recipient outcomes in one call; answers per outcome whether the claim was still ours.';

revoke execute on function svc.record_outbound_outcomes(text, jsonb) from public, anon, authenticated;
revoke execute on function svc.record_broadcast_outcomes(text, jsonb) from public, anon, authenticated;
grant execute on function svc.record_outbound_outcomes(text, jsonb) to service_role;
grant execute on function svc.record_broadcast_outcomes(text, jsonb) to service_role;
