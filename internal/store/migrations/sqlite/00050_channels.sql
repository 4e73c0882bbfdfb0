-- +goose Up
-- Message-IDs of mail Mergedesk received for (or sent about) a ticket, so replies
-- thread by In-Reply-To/References (api.md §13.2). direction is 'in' or 'out'.
-- message_id_norm is the id without angle brackets, lower-cased; it is unique so a
-- redelivered message is recognised and not stored twice.
CREATE TABLE message_ids (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT NOT NULL REFERENCES tickets (id),
    audit_id BIGINT,
    message_id TEXT NOT NULL,
    message_id_norm TEXT NOT NULL,
    direction TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX message_ids_norm ON message_ids (message_id_norm);
CREATE INDEX message_ids_ticket ON message_ids (ticket_id);

-- Files that came with an inbound message, attached to the comment of its audit.
CREATE TABLE attachments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT NOT NULL REFERENCES tickets (id),
    audit_id BIGINT NOT NULL REFERENCES audits (id),
    event_id BIGINT,
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    content BLOB NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX attachments_audit ON attachments (audit_id);
CREATE INDEX attachments_ticket ON attachments (ticket_id);

-- +goose Down
SELECT 1;
