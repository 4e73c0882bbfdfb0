-- +goose Up
-- Business rules (api.md §10.1). conditions and actions are the wire JSON;
-- category_id is kept as the JSON value the client sent, to echo it.
CREATE TABLE triggers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    description TEXT,
    active INTEGER NOT NULL DEFAULT TRUE,
    position BIGINT NOT NULL,
    is_default INTEGER NOT NULL DEFAULT FALSE,
    category_id TEXT,
    conditions TEXT NOT NULL,
    actions TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX triggers_position ON triggers (active, position, id);

-- Webhooks (api.md §10.2): string ids, ULID-like, so they sort by creation.
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT,
    endpoint TEXT NOT NULL,
    http_method TEXT NOT NULL,
    request_format TEXT NOT NULL,
    status TEXT NOT NULL,
    subscriptions TEXT NOT NULL,
    auth_type TEXT,
    auth_data TEXT,
    auth_add_position TEXT,
    signing_secret TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by BIGINT NOT NULL
);

-- The durable outbox of trigger side effects: written in the ticket's write
-- transaction, delivered after commit by the outbox worker.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    ticket_id BIGINT,
    trigger_id BIGINT,
    webhook_id TEXT,
    recipient_id BIGINT,
    recipient TEXT,
    subject TEXT,
    body TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    last_status BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    delivered_at BIGINT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at, id);

-- +goose Down
SELECT 1;
