-- The inbox, part 3: search (issue 7; pg_trgm, as the design document asks).
--
--   public.search_contacts(p_query, p_limit, p_offset)  contacts by name, phone or email fragment
--   public.search_messages(p_query, p_limit, p_offset)  messages by a fragment of their text
--
-- Both are SECURITY INVOKER and return rows of the table itself (setof public.contacts /
-- public.messages, so PostgREST can embed related rows), read under the caller's RLS:
-- an agent gets only contacts and messages of the conversations assigned to them, an
-- admin everything. Results: best match first (pg_trgm word similarity to the query),
-- then the most recent; pages of p_limit (at most 100) from p_offset, within the 100
-- newest matches (a broader query shows its 100 newest matches: refine it to go further).
-- Queries shorter than 3 characters (trigrams) return nothing.
--
-- Why a definer helper finds the candidates: under RLS, Postgres evaluates a table's
-- policy before any non-leakproof condition of the query, and may therefore not use such
-- a condition as an index condition. ILIKE and the pg_trgm operators are not leakproof,
-- so in a SECURITY INVOKER query the trigram indexes are never used (measured: a message
-- search as an agent was a sequential scan of all 1M messages). The helpers
-- private.search_contact_window / private.search_message_window run with definer rights,
-- restrict themselves to what the caller sees (the rule of the conversations' select
-- policy: an active agent's assigned conversations, everything for an active admin) and
-- answer only ids and ranks; the RPCs then read the rows by primary key under RLS, which
-- re-checks every row.
--
-- Matching: a contact matches when its name, phone or email contains the query
-- (case-insensitive), or its name is similar to it (pg_trgm word similarity >= 0.5:
-- "gonzales" finds "González"); a query of digits, spaces and + ( ) - looks for those
-- digits in the phone. A message matches when its text contains the query
-- (case-insensitive). Accents count ("envio" does not find "envío").

-- Indexes -------------------------------------------------------------------------------------

-- Fragments of name, phone or email, in one expression (also used by the search).
create index idx_contacts_search_trgm on public.contacts
  using gin ((coalesce(full_name, '') || ' ' || coalesce(phone, '') || ' ' || coalesce(email, '')) extensions.gin_trgm_ops);
-- Names similar to the query.
create index idx_contacts_full_name_trgm on public.contacts using gin (full_name extensions.gin_trgm_ops);
-- Fragments of message text.
create index idx_messages_content_trgm on public.messages using gin (content extensions.gin_trgm_ops);
-- An agent's conversations, most recently active first (the message search reads them in
-- that order; the inbox list is the same query).
create index idx_conversations_agent_last_message on public.conversations (assigned_agent_id, last_message_at desc);

-- Helpers ----------------------------------------------------------------------------------------

-- The query as searched: trimmed, inner whitespace collapsed; null when under 3 characters.
create or replace function private.search_query(p_query text)
returns text
language sql
immutable
set search_path = ''
as $$
  select nullif(q, '') from (
    select case when char_length(t) >= 3 then t end as q
      from (select regexp_replace(btrim(coalesce(p_query, '')), '\s+', ' ', 'g') as t) s
  ) n
$$;
comment on function private.search_query(text) is
  'The search text: trimmed, whitespace collapsed; null when shorter than 3 characters.';

-- A LIKE pattern matching the text anywhere, with the text's own % _ \ taken literally.
create or replace function private.contains_pattern(p_text text)
returns text
language sql
immutable
set search_path = ''
as $$
  select '%' || replace(replace(replace(p_text, '\', '\\'), '%', '\%'), '_', '\_') || '%'
$$;
comment on function private.contains_pattern(text) is 'ILIKE pattern: contains p_text literally.';

-- Contacts the caller may see that match, ranked: the 100 most recently contacted
-- matches, best match first. Ids and ranks only.
create or replace function private.search_contact_window(p_query text)
returns table (id uuid, rank real)
language plpgsql
stable
security definer
rows 100
set search_path = ''
set plan_cache_mode = force_custom_plan
set pg_trgm.word_similarity_threshold = 0.5
as $$
declare
  v_user uuid := private.active_user_id();
  v_admin boolean := private.is_admin();
  v_q text := private.search_query(p_query);
  v_phone boolean;
  v_pattern text;
  v_scope uuid[];
  v_ids uuid[];
begin
  if v_user is null or v_q is null then
    return;
  end if;
  -- A phone number as people type it: its digits.
  v_phone := v_q ~ '^[+0-9 ().-]+$' and char_length(regexp_replace(v_q, '\D', '', 'g')) >= 3;
  v_pattern := private.contains_pattern(case when v_phone then regexp_replace(v_q, '\D', '', 'g') else v_q end);
  if not v_admin then
    v_scope := array(select distinct c.contact_id from public.conversations c where c.assigned_agent_id = v_user);
  end if;

  v_ids := array(
    select k.id
      from public.contacts k
     where ((coalesce(k.full_name, '') || ' ' || coalesce(k.phone, '') || ' ' || coalesce(k.email, '')) ilike v_pattern
            or (not v_phone and v_q operator(extensions.<%) k.full_name))
       and (v_admin or k.id = any (v_scope))
     order by k.last_contacted_at desc nulls last, k.id
     limit 100);

  return query
    select k.id,
           extensions.word_similarity(v_q, coalesce(k.full_name, '') || ' ' || coalesce(k.phone, '') || ' ' || coalesce(k.email, ''))
      from unnest(v_ids) with ordinality as w(id, ord)
      join public.contacts k on k.id = w.id
     order by 2 desc, w.ord;
end;
$$;
comment on function private.search_contact_window(text) is
  'For public.search_contacts: ids and ranks of the caller''s matching contacts (index-backed, access checked here, RLS re-checked by the caller).';

-- Messages the caller may see that contain the query, ranked: the 100 newest matches
-- (most recently active conversation first), best match first. Ids and ranks only.
--
-- Two ways to find them, chosen by how common the query is among the caller's messages:
-- a frequent fragment is found fastest by reading the caller's newest messages until 100
-- match; a rare one by the trigram index (whose cost grows with the matches among all
-- messages). A first look at the caller's 1,000 newest messages measures the frequency.
-- Planner settings: custom plans (the caller and the query are constants to the planner),
-- and no sequential scans, hash or merge joins: for a query rare among the caller's
-- messages but common among everyone's, the planner otherwise reads all messages to hash
-- them against the caller's conversations (1 s at 1M messages) instead of reading the
-- caller's messages by conversation (tens of ms). And no JIT: plans with a disabled node
-- look expensive enough to compile.
create or replace function private.search_message_window(p_query text)
returns table (id uuid, rank real)
language plpgsql
stable
security definer
rows 100
set search_path = ''
set plan_cache_mode = force_custom_plan
set max_parallel_workers_per_gather = 0
set enable_seqscan = off
set enable_hashjoin = off
set enable_mergejoin = off
-- Disabled plan nodes cost 10^10, above jit_above_cost: no JIT compile per search.
set jit = off
as $$
declare
  c_window constant int := 100;
  c_sample constant int := 1000;
  c_budget constant int := 5000;
  v_user uuid := private.active_user_id();
  v_admin boolean := private.is_admin();
  v_q text := private.search_query(p_query);
  v_pattern text;
  v_ids uuid[];
  v_seen int;
  v_sample text[];
  v_words text[];
  v_rare text;
  v_index_pattern text;
  v_sql text;
begin
  if v_user is null or v_q is null then
    return;
  end if;
  v_pattern := private.contains_pattern(v_q);

  -- 1. The caller's newest messages: the sample, or (frequent query) until 100 match.
  select count(*)::int, (array_agg(s.id) filter (where s.hit))[1:c_window], array_agg(s.content)
    into v_seen, v_ids, v_sample
    from (
      select m.id, m.content, m.content ilike v_pattern as hit
        from public.conversations c
       cross join lateral (
         select m.id, m.content, m.created_at from public.messages m where m.conversation_id = c.id) m
       where v_admin or c.assigned_agent_id = v_user
       order by c.last_message_at desc, c.id, m.created_at desc
       limit c_sample
    ) s;

  if v_seen = c_sample and coalesce(cardinality(v_ids), 0) < c_window then
    if cardinality(v_ids) * c_budget >= c_window * c_sample then
      -- Frequent enough to find 100 within the budget: read on.
      v_ids := array(
        select s.id from (
          select m.id, m.content
            from public.conversations c
           cross join lateral (
             select m.id, m.content, m.created_at from public.messages m where m.conversation_id = c.id) m
           where v_admin or c.assigned_agent_id = v_user
           order by c.last_message_at desc, c.id, m.created_at desc
           limit c_budget) s
         where s.content ilike v_pattern
         limit c_window);
    end if;
    if coalesce(cardinality(v_ids), 0) < c_window then
      -- Rare: the trigram index, within the caller's conversations. The index is asked
      -- for every trigram of the query, except when one of its words did not occur in the
      -- sample at all: then for that word alone (the whole query is checked on the rows),
      -- so that "pedido 8991", where every message says "pedido", costs the lookup of
      -- "8991" (1 ms) and not the intersection with the lists of "pedido" (30 ms).
      v_index_pattern := v_pattern;
      v_words := array(select distinct w from regexp_split_to_table(v_q, ' ') as w where char_length(w) >= 3);
      if cardinality(v_words) > 1 then
        select w.w into v_rare
          from unnest(v_words, array(select private.contains_pattern(x) from unnest(v_words) as x)) as w(w, p)
         where not exists (select from unnest(v_sample) as x where x ilike w.p)
         order by char_length(w.w) desc, w.w
         limit 1;
        if v_rare is not null then
          v_index_pattern := private.contains_pattern(v_rare);
        end if;
      end if;
      v_sql := format(
        'select m.id, m.conversation_id, m.created_at from public.messages m where m.content ilike %L', v_index_pattern);
      if v_index_pattern <> v_pattern then
        -- Checked on the rows, not in the index (an expression the index does not match).
        v_sql := v_sql || format(' and (m.content || '''') ilike %L', v_pattern);
      end if;
      if not v_admin then
        v_sql := v_sql || format(
          ' and m.conversation_id in (select c.id from public.conversations c where c.assigned_agent_id = %L)', v_user);
      end if;
      execute format(
        'select array(select s.id from (%s) s
                       order by (select c.last_message_at from public.conversations c where c.id = s.conversation_id) desc,
                                s.conversation_id, s.created_at desc, s.id desc
                       limit %s)', v_sql, c_window)
        into v_ids;
    end if;
  end if;

  return query
    select m.id, extensions.word_similarity(v_q, m.content)
      from unnest(v_ids) with ordinality as w(id, ord)
      join public.messages m on m.id = w.id
     order by 2 desc, w.ord;
end;
$$;
comment on function private.search_message_window(text) is
  'For public.search_messages: ids and ranks of the caller''s messages containing the query (index-backed, access checked here, RLS re-checked by the caller).';

revoke execute on function private.search_query(text) from public, anon, authenticated;
revoke execute on function private.contains_pattern(text) from public, anon, authenticated;
revoke execute on function private.search_contact_window(text) from public, anon, authenticated;
revoke execute on function private.search_message_window(text) from public, anon, authenticated;
grant execute on function private.search_contact_window(text) to authenticated;
grant execute on function private.search_message_window(text) to authenticated;

-- The RPCs ------------------------------------------------------------------------------------------
-- SQL-standard bodies (begin atomic): parsed at creation, so they reach the private
-- helpers by oid and callers need no USAGE on schema private; whole-row results (`select
-- k`), so that columns added to the tables later come along.

create or replace function public.search_contacts(p_query text, p_limit int default 20, p_offset int default 0)
returns setof public.contacts
language sql
stable
security invoker
set search_path = ''
begin atomic
  select k
    from private.search_contact_window(p_query) with ordinality as s(id, rank, ord)
    join public.contacts k on k.id = s.id
   order by s.ord
  offset greatest(coalesce(p_offset, 0), 0)
   limit least(greatest(coalesce(p_limit, 20), 0), 100);
end;
comment on function public.search_contacts(text, int, int) is
  'Contacts the caller sees whose name, phone or email contains the query (or whose name is similar), best match first; p_limit (max 100) from p_offset within the 100 most recently contacted matches.';

create or replace function public.search_messages(p_query text, p_limit int default 20, p_offset int default 0)
returns setof public.messages
language sql
stable
security invoker
set search_path = ''
begin atomic
  select m
    from private.search_message_window(p_query) with ordinality as s(id, rank, ord)
    join public.messages m on m.id = s.id
   order by s.ord
  offset greatest(coalesce(p_offset, 0), 0)
   limit least(greatest(coalesce(p_limit, 20), 0), 100);
end;
comment on function public.search_messages(text, int, int) is
  'Messages the caller sees whose text contains the query, best match first; p_limit (max 100) from p_offset within the 100 newest matches.';

revoke execute on function public.search_contacts(text, int, int) from public, anon, authenticated;
revoke execute on function public.search_messages(text, int, int) from public, anon, authenticated;
grant execute on function public.search_contacts(text, int, int) to authenticated;
grant execute on function public.search_messages(text, int, int) to authenticated;
