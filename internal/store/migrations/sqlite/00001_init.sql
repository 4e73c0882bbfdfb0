-- +goose Up
CREATE TABLE account_settings (
    id INTEGER PRIMARY KEY,
    data TEXT NOT NULL
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    name_norm TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'end-user',
    active INTEGER NOT NULL DEFAULT TRUE,
    merged_into_id BIGINT,
    suspended INTEGER NOT NULL DEFAULT FALSE,
    external_id TEXT,
    external_id_norm TEXT,
    locale_id BIGINT NOT NULL DEFAULT 1,
    time_zone TEXT NOT NULL DEFAULT 'UTC',
    shared_phone TEXT,
    tags TEXT NOT NULL DEFAULT '',
    details TEXT,
    notes TEXT,
    alias TEXT,
    signature TEXT,
    user_fields TEXT NOT NULL DEFAULT '{}',
    remote_photo_url TEXT,
    password_hash TEXT,
    -- the profile as it was when the user was deleted or merged away (for /deleted_users)
    snapshot TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    last_login_at BIGINT,
    deactivated_at BIGINT
);
CREATE UNIQUE INDEX users_external_id ON users (external_id_norm);
CREATE INDEX users_name ON users (name_norm);
CREATE INDEX users_role ON users (role, id);
CREATE INDEX users_inactive ON users (active, deactivated_at);

CREATE TABLE identities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id),
    type TEXT NOT NULL,
    value TEXT NOT NULL,
    value_norm TEXT NOT NULL,
    verified INTEGER NOT NULL DEFAULT FALSE,
    is_primary INTEGER NOT NULL DEFAULT FALSE,
    verification_method TEXT NOT NULL DEFAULT 'none',
    undeliverable_count BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- rule M28: a value belongs to at most one user; inactive users own no identities.
CREATE UNIQUE INDEX identities_value ON identities (type, value_norm);
CREATE INDEX identities_user ON identities (user_id, type);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id),
    description TEXT,
    token_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX api_tokens_hash ON api_tokens (token_hash);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE agent_groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    name_norm TEXT NOT NULL,
    description TEXT,
    is_default INTEGER NOT NULL DEFAULT FALSE,
    deleted INTEGER NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX agent_groups_name ON agent_groups (name_norm);

CREATE TABLE organizations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    name_norm TEXT NOT NULL,
    external_id TEXT,
    external_id_norm TEXT,
    domain_names TEXT NOT NULL DEFAULT '',
    group_id BIGINT,
    shared_tickets INTEGER NOT NULL DEFAULT FALSE,
    shared_comments INTEGER NOT NULL DEFAULT FALSE,
    details TEXT,
    notes TEXT,
    tags TEXT NOT NULL DEFAULT '',
    organization_fields TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX organizations_name ON organizations (name_norm);
CREATE UNIQUE INDEX organizations_external_id ON organizations (external_id_norm);

CREATE TABLE memberships (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id),
    organization_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    is_default INTEGER NOT NULL DEFAULT FALSE,
    view_tickets INTEGER NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX memberships_user_org ON memberships (user_id, organization_id);
CREATE INDEX memberships_org ON memberships (organization_id);

CREATE TABLE tickets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    external_id TEXT,
    type TEXT,
    subject TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    priority TEXT,
    status TEXT NOT NULL DEFAULT 'new',
    requester_id BIGINT NOT NULL REFERENCES users (id),
    submitter_id BIGINT NOT NULL,
    assignee_id BIGINT,
    organization_id BIGINT,
    group_id BIGINT,
    tags TEXT NOT NULL DEFAULT '',
    custom_fields TEXT NOT NULL DEFAULT '[]',
    via TEXT NOT NULL,
    via_channel TEXT NOT NULL,
    via_followup_source_id BIGINT,
    is_public INTEGER NOT NULL DEFAULT TRUE,
    archived INTEGER NOT NULL DEFAULT FALSE,
    deleted INTEGER NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    solved_at BIGINT
);
CREATE INDEX tickets_requester ON tickets (requester_id, deleted);
CREATE INDEX tickets_assignee ON tickets (assignee_id);
CREATE INDEX tickets_organization ON tickets (organization_id);
CREATE INDEX tickets_updated ON tickets (updated_at);
CREATE INDEX tickets_external_id ON tickets (external_id);

-- kind is 'cc' (email CC) or 'follower'.
CREATE TABLE ticket_ccs (
    ticket_id BIGINT NOT NULL REFERENCES tickets (id),
    kind TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id),
    PRIMARY KEY (ticket_id, kind, user_id)
);
CREATE INDEX ticket_ccs_user ON ticket_ccs (user_id, kind);

CREATE TABLE audits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT NOT NULL REFERENCES tickets (id),
    author_id BIGINT NOT NULL,
    via TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{"system":{},"custom":{}}',
    created_at BIGINT NOT NULL
);
CREATE INDEX audits_ticket ON audits (ticket_id, id);
CREATE INDEX audits_created ON audits (created_at, id);

-- One row per audit event. Comments are events of type 'Comment' with body and
-- author columns filled, so the comment list and comment search read one table.
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    audit_id BIGINT NOT NULL REFERENCES audits (id),
    ticket_id BIGINT NOT NULL,
    type TEXT NOT NULL,
    author_id BIGINT,
    public INTEGER,
    body TEXT,
    data TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);
CREATE INDEX events_audit ON events (audit_id, id);
CREATE INDEX events_ticket_type ON events (ticket_id, type, id);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    job_type TEXT NOT NULL,
    owner_id BIGINT NOT NULL,
    status TEXT NOT NULL,
    total BIGINT NOT NULL,
    progress BIGINT NOT NULL DEFAULT 0,
    message TEXT,
    payload TEXT NOT NULL,
    results TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX jobs_status ON jobs (status, created_at);
CREATE INDEX jobs_owner ON jobs (owner_id, created_at);

CREATE TABLE posts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '',
    author_id BIGINT NOT NULL REFERENCES users (id),
    topic_id BIGINT,
    status TEXT NOT NULL DEFAULT 'none',
    pinned INTEGER NOT NULL DEFAULT FALSE,
    featured INTEGER NOT NULL DEFAULT FALSE,
    closed INTEGER NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX posts_author ON posts (author_id);

CREATE TABLE post_comments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    post_id BIGINT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    author_id BIGINT NOT NULL REFERENCES users (id),
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX post_comments_post ON post_comments (post_id);
CREATE INDEX post_comments_author ON post_comments (author_id);

CREATE TABLE votes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    post_id BIGINT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id),
    value BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX votes_post_user ON votes (post_id, user_id);
CREATE INDEX votes_user ON votes (user_id);

CREATE TABLE subscriptions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    post_id BIGINT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX subscriptions_post_user ON subscriptions (post_id, user_id);
CREATE INDEX subscriptions_user ON subscriptions (user_id);

-- +goose Down
SELECT 1;
