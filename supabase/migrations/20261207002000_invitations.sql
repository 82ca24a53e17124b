-- Team access: nobody gets in by signing up (issue 11, "Hardening").
--
-- Hosted Supabase projects accept email sign-ups unless someone turns them off, so anyone
-- holding the public anon key can create an Auth user. Until now every new auth.users row
-- became an active agent, joined the assignment pool and received customers. From here:
--
--   * A new Auth user is an inactive agent: every policy helper treats an inactive user as
--     nobody (migration 0500) and automatic assignment picks only active agents
--     (migration 20261125004000), so an uninvited sign-up can do nothing until an admin
--     activates them (public.users.status) or invites their email.
--   * Operators bootstrap with app metadata: a role ('admin' or 'agent') in
--     raw_app_meta_data, which only the service role can write, gives an active user of
--     that role, on insert or when it is set later. raw_user_meta_data, which users write
--     themselves, never counts.
--   * Admins invite by email (public.invitations). When that email's Auth account exists
--     with a CONFIRMED email (invite link, magic link, or sign-up followed by the
--     confirmation link), the profile takes the invited role, becomes active and the
--     invitation is accepted. An unconfirmed address proves nothing: a stranger could sign
--     up with it first. Auth creates an invited user unconfirmed and confirms it when the
--     link is followed, so the match runs on the update that confirms, too. Emails are
--     compared case-insensitively.
--   * Inviting an email whose confirmed account already exists (an uninvited sign-up, a
--     deactivated member) accepts at once: role, active, no email sent. Inviting the email
--     of an active member is refused (23505): their role is changed in the team directory.
--   * The invitation email is Auth's own (its admin invite endpoint, POST /auth/v1/invite):
--     the webhook gateway claims pending invitations with a lease (svc.claim_invitations),
--     calls Auth with no transaction open, and records the outcome
--     (svc.record_invitation_sent / _retry / _failed). An admin sees status, attempts,
--     next_attempt_at and last_error, sets a failed (or sent) invitation back to pending
--     to send it again, or revokes an open one.

-- Tables --------------------------------------------------------------------------------

-- Extension: invitations (not in the design document).
create table public.invitations (
    id uuid primary key default extensions.uuid_generate_v4(),
    email text not null,
    role text not null default 'agent',
    -- pending: waiting for (another) attempt to send Auth's invite email
    -- sent: Auth sent it; failed: Auth refused it (last_error) or retries ran out
    -- accepted: the person's confirmed account exists and is active with this role
    -- revoked: an admin withdrew it before it was accepted
    status text not null default 'pending',
    invited_by uuid default auth.uid() references public.users (id) on delete set null,
    created_at timestamptz not null default now(),
    attempts int not null default 0,
    next_attempt_at timestamptz,
    last_error text,
    sent_at timestamptz,
    accepted_at timestamptz,
    accepted_user_id uuid references public.users (id) on delete set null,
    revoked_at timestamptz,
    lease_owner text,
    lease_expires_at timestamptz,
    constraint invitations_role_check check (role in ('admin', 'agent')),
    constraint invitations_status_check check (status in ('pending', 'sent', 'failed', 'accepted', 'revoked')),
    constraint invitations_email_format check (email ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$' and length(email) <= 320),
    constraint invitations_lease_complete check ((lease_owner is null) = (lease_expires_at is null))
);
comment on table public.invitations is
  'Admins invite people by email with a role; a confirmed Auth account with that email joins the team with it. The gateway sends Auth''s invite email.';

-- One open invitation per address (whatever its case).
create unique index invitations_open_email on public.invitations (lower(email))
  where status in ('pending', 'sent', 'failed');
-- The sender's queue.
create index invitations_due on public.invitations (next_attempt_at) where status = 'pending';
-- Foreign keys.
create index invitations_invited_by on public.invitations (invited_by);
create index invitations_accepted_user_id on public.invitations (accepted_user_id);

alter table public.invitations enable row level security;

-- Grants -----------------------------------------------------------------------------------
-- Admins (RLS decides who) read everything, write an email and a role, and change only the
-- role and the status; status, delivery state and acceptance are the database's and the
-- gateway's.
revoke all on public.invitations from anon, authenticated;
grant select on public.invitations to authenticated;
grant insert (id, email, role) on public.invitations to authenticated;
grant update (role, status) on public.invitations to authenticated;
grant select, insert, update, delete on public.invitations to service_role;

-- ====================================================================================
-- supabase/policies/invitations.sql
-- ====================================================================================

-- public.invitations: who may join the team, with which role (migration 20261207002000).
--
-- read    admins: every invitation with its delivery state (status, attempts,
--         next_attempt_at, last_error, sent_at, accepted_at)
-- insert  admins: email and role only (grant in migration 20261207002000); the status is
--         always pending, or accepted at once when that email's confirmed account exists
-- update  admins, open invitations only (pending, sent, failed): the role, and the status
--         to pending (send again) or revoked (guard trigger guard_invitations_status);
--         accepted and revoked invitations are final
-- delete  nobody through the API: a revoked invitation stays as the record

create policy "Admins can read invitations"
  on public.invitations
  for select
  to authenticated
  using ((select private.is_admin()));

create policy "Admins can invite people"
  on public.invitations
  for insert
  to authenticated
  with check ((select private.is_admin()));

create policy "Admins can change, resend and revoke open invitations"
  on public.invitations
  for update
  to authenticated
  using ((select private.is_admin()) and status in ('pending', 'sent', 'failed'))
  with check ((select private.is_admin()));

-- Guard: admins set the status only to pending or revoked --------------------------------

create or replace function private.deny_invitation_status_change()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'an invitation''s status can only be set to pending (send again) or revoked'
    using errcode = '42501', hint = 'An invitation is accepted when its person confirms their email.';
end;
$$;
comment on function private.deny_invitation_status_change() is
  'Guard trigger: raises 42501, API users set an invitation''s status only to pending or revoked.';
revoke execute on function private.deny_invitation_status_change() from public, anon, authenticated;

create trigger guard_invitations_status
  before update of status on public.invitations
  for each row
  when (old.status is distinct from new.status
        and new.status not in ('pending', 'revoked')
        and not private.current_role_bypasses_rls())
  execute function private.deny_invitation_status_change();

-- Acceptance -------------------------------------------------------------------------------

-- The role in app metadata when it is one of ours, else null (also for non-text values).
create or replace function private.app_metadata_role(p_app_meta_data jsonb)
returns text
language sql
immutable
set search_path = ''
as $$
  select case when jsonb_typeof(p_app_meta_data -> 'role') = 'string'
               and p_app_meta_data ->> 'role' in ('admin', 'agent')
              then p_app_meta_data ->> 'role' end
$$;
comment on function private.app_metadata_role(jsonb) is
  'The role (admin or agent) an operator set in an Auth user''s app metadata, or null.';
revoke execute on function private.app_metadata_role(jsonb) from public, anon, authenticated;

-- Accepts the open invitation of p_email (case-insensitive) for the user p_user_id, whose
-- email Auth has confirmed: the profile gets the invited role (the operator's app-metadata
-- role, when set, wins) and becomes active. False when no invitation is open.
create or replace function private.accept_invitation(p_user_id uuid, p_email text, p_app_role text)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_invitation public.invitations%rowtype;
begin
  select * into v_invitation
    from public.invitations i
   where lower(i.email) = lower(p_email) and i.status in ('pending', 'sent', 'failed')
   for update;
  if not found then
    return false;
  end if;
  update public.invitations
     set status = 'accepted', accepted_at = now(), accepted_user_id = p_user_id,
         next_attempt_at = null, lease_owner = null, lease_expires_at = null
   where id = v_invitation.id;
  update public.users
     set role = coalesce(p_app_role, v_invitation.role), status = 'active'
   where id = p_user_id;
  return true;
end;
$$;
comment on function private.accept_invitation(uuid, text, text) is
  'Accepts the open invitation of a confirmed email: role and active status for that user.';
revoke execute on function private.accept_invitation(uuid, text, text) from public, anon, authenticated;

-- Profiles (replaces migration 20261125000300's function) ------------------------------------

create or replace function private.sync_profile_from_auth_user()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_role text := private.app_metadata_role(new.raw_app_meta_data);
begin
  if tg_op = 'INSERT' then
    -- Uninvited and without an operator's role: an inactive agent, who can do nothing.
    insert into public.users (id, email, full_name, role, status)
    values (
      new.id,
      coalesce(new.email, new.id::text || '@users.invalid'),
      coalesce(nullif(new.raw_user_meta_data ->> 'full_name', ''), split_part(coalesce(new.email, ''), '@', 1), ''),
      coalesce(v_role, 'agent'),
      case when v_role is not null then 'active' else 'inactive' end
    );
  else
    if new.email is distinct from old.email and new.email is not null then
      update public.users set email = new.email where id = new.id;
    end if;
    -- An operator set (or changed) the role in app metadata: that role, active.
    if v_role is not null and v_role is distinct from private.app_metadata_role(old.raw_app_meta_data) then
      update public.users set role = v_role, status = 'active' where id = new.id;
    end if;
  end if;
  -- A confirmed email that an admin invited: the invitation's role, active. Only for an
  -- account without a password of its own when its address was proven (invite link,
  -- magic link): confirming an address proves who reads the mailbox, not who chose the
  -- password, and a stranger may have signed up with the address first. (A password
  -- sign-up waits for an admin to activate it in the team directory.)
  if new.email is not null and new.email_confirmed_at is not null
     and coalesce(new.encrypted_password, '') = ''
     and (tg_op = 'INSERT' or old.email_confirmed_at is null or new.email is distinct from old.email) then
    perform private.accept_invitation(new.id, new.email, v_role);
  end if;
  return new;
end;
$$;

comment on function private.sync_profile_from_auth_user() is
  'Creates the public.users profile of a new auth user (inactive unless app metadata names a role), keeps its email in sync, applies an operator''s app-metadata role, and accepts the invitation of a confirmed email.';

drop trigger on_auth_user_changed on auth.users;
create trigger on_auth_user_changed
  after insert or update of email, email_confirmed_at, raw_app_meta_data on auth.users
  for each row execute function private.sync_profile_from_auth_user();

-- New invitations ---------------------------------------------------------------------------

-- Before an invitation is stored: the email trimmed; an unconfirmed account with that
-- address removed; when that email's confirmed account exists without a password (magic
-- link), accepted at once (role, active; no email is sent); with a password, failed with
-- the reason (an admin activates it in the team directory); an active member's address is
-- refused (change their role in the team directory instead).
create or replace function private.prepare_invitation()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_user_id uuid;
begin
  new.email := btrim(new.email);
  if exists (select from public.users u where lower(u.email) = lower(new.email) and u.status = 'active') then
    raise exception 'this person is already an active member of the team'
      using errcode = '23505', hint = 'Change their role in the team directory (public.users).';
  end if;
  -- An unconfirmed account with this address is nobody's proven claim (possibly a
  -- stranger's, with a password of theirs that would survive the invitation): removed, so
  -- that Auth's invitation creates the account afresh.
  delete from auth.users a where lower(a.email) = lower(new.email) and a.email_confirmed_at is null;
  select a.id into v_user_id
    from auth.users a
   where lower(a.email) = lower(new.email) and a.email_confirmed_at is not null
   order by a.created_at
   limit 1;
  if v_user_id is null then
    new.status := 'pending';
    new.next_attempt_at := now();
    return new;
  end if;
  if exists (select from auth.users a where a.id = v_user_id and coalesce(a.encrypted_password, '') <> '') then
    -- Its password was chosen before the address was proven, maybe not by its owner: an
    -- admin who knows it is theirs activates it in the team directory.
    new.status := 'failed';
    new.last_error := 'An account with this address already exists, with a password of its own: '
      || 'check that it is this person''s and activate it in the team directory instead.';
    new.next_attempt_at := null;
    return new;
  end if;
  update public.users set role = new.role, status = 'active' where id = v_user_id;
  new.status := 'accepted';
  new.accepted_at := now();
  new.accepted_user_id := v_user_id;
  new.next_attempt_at := null;
  return new;
end;
$$;
comment on function private.prepare_invitation() is
  'New invitation: unconfirmed accounts of the address removed; pending, accepted at once (confirmed account without a password), failed (with one), refused for an active member.';
revoke execute on function private.prepare_invitation() from public, anon, authenticated;

create trigger on_invitation_created
  before insert on public.invitations
  for each row execute function private.prepare_invitation();

-- An admin's resend (status back to pending) starts a fresh series of attempts now; a
-- revocation ends the queue's interest in it.
create or replace function private.track_invitation_status()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.status = 'pending' then
    new.attempts := 0;
    new.next_attempt_at := now();
    new.last_error := null;
    new.sent_at := null;
  else
    new.revoked_at := now();
    new.next_attempt_at := null;
    new.lease_owner := null;
    new.lease_expires_at := null;
  end if;
  return new;
end;
$$;
comment on function private.track_invitation_status() is
  'Status back to pending: attempts start again now; revoked: revoked_at, out of the queue.';
revoke execute on function private.track_invitation_status() from public, anon, authenticated;

create trigger on_invitation_status_changed
  before update of status on public.invitations
  for each row
  when (old.status is distinct from new.status and new.status in ('pending', 'revoked'))
  execute function private.track_invitation_status();

-- The gateway's sender (svc) -------------------------------------------------------------------

-- Claims up to p_limit due pending invitations, leased to p_owner for p_lease_seconds:
-- [{invitation_id, email, attempts}]. A lease that expired (a sender that died) makes
-- the invitation claimable again: an invite email sent twice is harmless, lost is not.
create or replace function svc.claim_invitations(
    p_owner text,
    p_limit int default 10,
    p_lease_seconds int default 60,
    p_now timestamptz default now()
)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_claimed jsonb;
begin
  with candidates as (
    select i.id
      from public.invitations i
     where i.status = 'pending'
       and i.next_attempt_at <= p_now
       and (i.lease_owner is null or i.lease_expires_at < p_now)
     order by i.next_attempt_at, i.id
     limit p_limit
       for update skip locked
  ), leased as (
    update public.invitations i
       set lease_owner = p_owner,
           lease_expires_at = p_now + make_interval(secs => p_lease_seconds),
           attempts = i.attempts + 1
      from candidates c
     where i.id = c.id
    returning i.id, i.email, i.attempts, i.next_attempt_at
  )
  select coalesce(jsonb_agg(jsonb_build_object(
           'invitation_id', l.id, 'email', l.email, 'attempts', l.attempts)
           order by l.next_attempt_at, l.id), '[]'::jsonb)
    into v_claimed
    from leased l;
  return v_claimed;
end;
$$;
comment on function svc.claim_invitations(text, int, int, timestamptz) is
  'Claims due pending invitations with a lease: [{invitation_id, email, attempts}].';

-- Auth sent the invite email. False when the lease is no longer ours (it expired, or the
-- invitation was accepted or revoked meanwhile).
create or replace function svc.record_invitation_sent(p_invitation_id uuid, p_owner text, p_now timestamptz default now())
returns boolean
language plpgsql
set search_path = ''
as $$
begin
  update public.invitations
     set status = 'sent', sent_at = p_now, last_error = null, next_attempt_at = null,
         lease_owner = null, lease_expires_at = null
   where id = p_invitation_id and lease_owner = p_owner and status = 'pending';
  return found;
end;
$$;
comment on function svc.record_invitation_sent(uuid, text, timestamptz) is
  'Marks a claimed invitation sent (Auth accepted the invite request).';

-- A retryable error (Auth unreachable, 5xx, 429, timeout): still pending, tried again after
-- p_delay_seconds; the error stays visible in last_error.
create or replace function svc.record_invitation_retry(
    p_invitation_id uuid,
    p_owner text,
    p_delay_seconds double precision,
    p_error text,
    p_now timestamptz default now()
)
returns boolean
language plpgsql
set search_path = ''
as $$
begin
  update public.invitations
     set next_attempt_at = p_now + make_interval(secs => greatest(0, p_delay_seconds)),
         last_error = p_error, lease_owner = null, lease_expires_at = null
   where id = p_invitation_id and lease_owner = p_owner and status = 'pending';
  return found;
end;
$$;
comment on function svc.record_invitation_retry(uuid, text, double precision, text, timestamptz) is
  'Puts a claimed invitation back in the queue after a retryable error, with the error.';

-- A permanent error (Auth refused the request) or retries ran out: failed, with the error,
-- until an admin sets it back to pending.
create or replace function svc.record_invitation_failed(p_invitation_id uuid, p_owner text, p_error text)
returns boolean
language plpgsql
set search_path = ''
as $$
begin
  update public.invitations
     set status = 'failed', last_error = p_error, next_attempt_at = null,
         lease_owner = null, lease_expires_at = null
   where id = p_invitation_id and lease_owner = p_owner and status = 'pending';
  return found;
end;
$$;
comment on function svc.record_invitation_failed(uuid, text, text) is
  'Fails a claimed invitation with the error (permanent error or retries exhausted).';

revoke execute on function svc.claim_invitations(text, int, int, timestamptz) from public, anon, authenticated;
revoke execute on function svc.record_invitation_sent(uuid, text, timestamptz) from public, anon, authenticated;
revoke execute on function svc.record_invitation_retry(uuid, text, double precision, text, timestamptz) from public, anon, authenticated;
revoke execute on function svc.record_invitation_failed(uuid, text, text) from public, anon, authenticated;
grant execute on function svc.claim_invitations(text, int, int, timestamptz) to service_role;
grant execute on function svc.record_invitation_sent(uuid, text, timestamptz) to service_role;
grant execute on function svc.record_invitation_retry(uuid, text, double precision, text, timestamptz) to service_role;
grant execute on function svc.record_invitation_failed(uuid, text, text) to service_role;
