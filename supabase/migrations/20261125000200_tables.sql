-- The design document's tables, with the deliberate extensions documented in the README
-- ("Differences from the design document").
-- RLS is enabled on every table here; policies and grants come in their own migrations,
-- so until then the API roles see nothing.

-- users ------------------------------------------------------------------------------
-- Extension 1: a profile of an auth.users row (same id), created by a trigger.
create table public.users (
    id uuid primary key default extensions.uuid_generate_v4()
        references auth.users (id) on delete cascade,
    email text unique not null,
    full_name text not null,
    avatar_url text,
    role text not null check (role in ('admin', 'agent')),
    status text default 'active' check (status in ('active', 'inactive')),
    created_at timestamp with time zone default now(),
    last_seen_at timestamp with time zone,
    preferences jsonb default '{}',
    phone text
);
comment on table public.users is 'Agents and admins; one profile per auth.users row.';

-- contacts ---------------------------------------------------------------------------
create table public.contacts (
    id uuid primary key default extensions.uuid_generate_v4(),
    -- Extension: nullable, because WhatsApp users with a username may arrive with only a
    -- business-scoped user id (wa_user_id) and no phone number.
    phone text unique,
    wa_id text unique,
    full_name text,
    email text,
    location text,
    avatar_url text,
    status text default 'active' check (status in ('active', 'blocked')),
    last_contacted_at timestamp with time zone,
    created_at timestamp with time zone default now(),
    metadata jsonb,
    tags text[],
    language text default 'es',
    timezone text,
    -- Extension: WhatsApp's business-scoped user id (e.g. 'US.13491208655302741918').
    wa_user_id text unique,
    -- Extension 7: opted out (STOP keyword or error 131050); broadcasts skip them.
    opted_out_at timestamp with time zone,
    constraint contacts_identified check (phone is not null or wa_id is not null or wa_user_id is not null)
);
comment on table public.contacts is 'WhatsApp customers.';

-- conversations ----------------------------------------------------------------------
create table public.conversations (
    id uuid primary key default extensions.uuid_generate_v4(),
    contact_id uuid references public.contacts (id) not null,
    assigned_agent_id uuid references public.users (id),
    status text default 'active' check (status in ('active', 'archived', 'pending')),
    last_message_at timestamp with time zone,
    created_at timestamp with time zone default now(),
    metadata jsonb,
    priority text default 'normal' check (priority in ('low', 'normal', 'high', 'urgent')),
    last_agent_response_at timestamp with time zone,
    first_response_time interval
);

-- Extension 5: at most one open (not archived) conversation per contact.
create unique index conversations_one_open_per_contact
    on public.conversations (contact_id)
    where status is distinct from 'archived';

-- messages ---------------------------------------------------------------------------
create table public.messages (
    id uuid primary key default extensions.uuid_generate_v4(),
    conversation_id uuid references public.conversations (id) not null,
    sender_type text not null check (sender_type in ('agent', 'contact')),
    sender_id uuid not null,
    content text,
    -- Extension 4: WhatsApp's other kinds (documents are 'file').
    message_type text not null check (message_type in (
        'text', 'image', 'file', 'location', 'template',
        'audio', 'video', 'sticker', 'contacts', 'interactive', 'reaction', 'unsupported')),
    -- Extension 2: 'pending' = written by an agent, queued for sending.
    status text not null check (status in ('pending', 'sent', 'delivered', 'read', 'failed')),
    media_url text,
    metadata jsonb,
    created_at timestamp with time zone default now(),
    delivered_at timestamp with time zone,
    read_at timestamp with time zone,
    error_data jsonb,
    reply_to_message_id uuid references public.messages (id),
    -- Extension 3: WhatsApp's message id (wamid), for idempotent ingestion and statuses.
    wa_message_id text unique
);

-- labels -----------------------------------------------------------------------------
create table public.labels (
    id uuid primary key default extensions.uuid_generate_v4(),
    name text not null,
    color text,
    created_by uuid references public.users (id),
    created_at timestamp with time zone default now()
);

create table public.conversation_labels (
    conversation_id uuid references public.conversations (id),
    label_id uuid references public.labels (id),
    created_by uuid references public.users (id),
    created_at timestamp with time zone default now(),
    primary key (conversation_id, label_id)
);

-- notes ------------------------------------------------------------------------------
create table public.notes (
    id uuid primary key default extensions.uuid_generate_v4(),
    conversation_id uuid references public.conversations (id) not null,
    content text not null,
    created_by uuid references public.users (id),
    created_at timestamp with time zone default now(),
    updated_at timestamp with time zone
);

-- message_templates ------------------------------------------------------------------
create table public.message_templates (
    id uuid primary key default extensions.uuid_generate_v4(),
    name text not null,
    content text not null,
    category text,
    created_by uuid references public.users (id),
    created_at timestamp with time zone default now(),
    updated_at timestamp with time zone,
    -- Extension 6: the approved WhatsApp template this row stands for.
    wa_template_name text,
    language_code text,
    -- Ordered list of body parameter sources, e.g. '["contact.full_name"]'.
    parameters jsonb not null default '[]' check (jsonb_typeof(parameters) = 'array'),
    constraint message_templates_wa_identity unique (wa_template_name, language_code),
    constraint message_templates_identity_complete
        check ((wa_template_name is null) = (language_code is null))
);

-- broadcast_messages -----------------------------------------------------------------
create table public.broadcast_messages (
    id uuid primary key default extensions.uuid_generate_v4(),
    name text not null,
    content text not null,
    -- Extension 6: 'cancelled'.
    status text default 'draft' check (status in ('draft', 'scheduled', 'sending', 'completed', 'cancelled')),
    scheduled_for timestamp with time zone,
    created_by uuid references public.users (id),
    created_at timestamp with time zone default now(),
    sent_at timestamp with time zone,
    -- Extension 6: the template sent, and the audience (explicit recipients or a tag filter).
    template_id uuid references public.message_templates (id),
    audience jsonb not null default '{"type": "explicit"}'
        check (audience ->> 'type' is not null and audience ->> 'type' in ('explicit', 'tags')),
    constraint broadcast_messages_scheduled_has_time
        check (status is distinct from 'scheduled' or scheduled_for is not null)
);

create table public.broadcast_recipients (
    broadcast_id uuid references public.broadcast_messages (id),
    contact_id uuid references public.contacts (id),
    status text default 'pending' check (status in ('pending', 'sent', 'delivered', 'failed')),
    sent_at timestamp with time zone,
    delivered_at timestamp with time zone,
    error_message text,
    -- Extension 3.
    wa_message_id text unique,
    primary key (broadcast_id, contact_id)
);

-- Indexes of the design document -------------------------------------------------------
create index idx_conversations_contact_id on public.conversations (contact_id);
create index idx_conversations_assigned_agent_id on public.conversations (assigned_agent_id);
create index idx_conversations_last_message_at on public.conversations (last_message_at desc);
create index idx_messages_conversation_id on public.messages (conversation_id);
create index idx_messages_created_at on public.messages (created_at desc);
create index idx_conversation_labels_conversation_id on public.conversation_labels (conversation_id);
create index idx_conversation_labels_label_id on public.conversation_labels (label_id);
create index idx_notes_conversation_id on public.notes (conversation_id);

-- Indexes for foreign keys the design document leaves unindexed (advisors: unindexed FKs).
create index idx_messages_reply_to_message_id on public.messages (reply_to_message_id);
create index idx_labels_created_by on public.labels (created_by);
create index idx_conversation_labels_created_by on public.conversation_labels (created_by);
create index idx_notes_created_by on public.notes (created_by);
create index idx_message_templates_created_by on public.message_templates (created_by);
create index idx_broadcast_messages_created_by on public.broadcast_messages (created_by);
create index idx_broadcast_messages_template_id on public.broadcast_messages (template_id);
create index idx_broadcast_recipients_contact_id on public.broadcast_recipients (contact_id);

-- RLS on every table from the start.
alter table public.users enable row level security;
alter table public.contacts enable row level security;
alter table public.conversations enable row level security;
alter table public.messages enable row level security;
alter table public.labels enable row level security;
alter table public.conversation_labels enable row level security;
alter table public.notes enable row level security;
alter table public.message_templates enable row level security;
alter table public.broadcast_messages enable row level security;
alter table public.broadcast_recipients enable row level security;

-- Only the services (service_role, which bypasses RLS) reach the tables until the
-- access-control migrations grant the API roles their share.
grant select, insert, update, delete on all tables in schema public to service_role;
