package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mergedesk/mergedesk"
)

const outboxColumns = `id, kind, status, ticket_id, trigger_id, webhook_id, recipient_id, recipient, subject, body, attempts,
	next_attempt_at, last_error, last_status, created_at, updated_at, delivered_at`

func scanOutbox(row interface{ Scan(...any) error }) (*mergedesk.OutboxMessage, error) {
	var m mergedesk.OutboxMessage
	var ticket, trigger, recipientID, status, delivered sql.NullInt64
	var webhook, recipient, subject, lastErr sql.NullString
	var next, c, u int64
	if err := row.Scan(&m.ID, &m.Kind, &m.Status, &ticket, &trigger, &webhook, &recipientID, &recipient, &subject, &m.Body,
		&m.Attempts, &next, &lastErr, &status, &c, &u, &delivered); err != nil {
		return nil, err
	}
	m.TicketID, m.TriggerID, m.RecipientID = ticket.Int64, trigger.Int64, recipientID.Int64
	m.WebhookID, m.Recipient, m.Subject = webhook.String, recipient.String, subject.String
	m.NextAttemptAt, m.CreatedAt, m.UpdatedAt, m.DeliveredAt = fromUnix(next), fromUnix(c), fromUnix(u), fromUnixPtr(delivered)
	m.LastError = strPtr(lastErr)
	if status.Valid {
		s := int(status.Int64)
		m.LastStatus = &s
	}
	return &m, nil
}

func loadOutbox(ctx context.Context, q querier, ids []int64) ([]*mergedesk.OutboxMessage, error) {
	out := []*mergedesk.OutboxMessage{}
	if len(ids) == 0 {
		return out, nil
	}
	in, args := inArgs(ids)
	rows, err := q.query(ctx, "SELECT "+outboxColumns+" FROM outbox WHERE id IN ("+in+")", args...)
	if err != nil {
		return nil, fmt.Errorf("load outbox: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		m, err := scanOutbox(rows)
		if err != nil {
			return nil, fmt.Errorf("scan outbox: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return orderBy(ids, out, func(m *mergedesk.OutboxMessage) int64 { return m.ID }), nil
}

// Enqueue adds a pending message to the outbox, due now; it is delivered only if
// the transaction commits. It sets m's id, status and times.
func (tx *Tx) Enqueue(ctx context.Context, m *mergedesk.OutboxMessage) error {
	m.Status, m.Attempts = mergedesk.OutboxPending, 0
	m.NextAttemptAt, m.CreatedAt, m.UpdatedAt = tx.now, tx.now, tx.now
	none := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	id, err := tx.insert(ctx, `INSERT INTO outbox (kind, status, ticket_id, trigger_id, webhook_id, recipient_id, recipient,
		subject, body, attempts, next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)`,
		m.Kind, m.Status, nullable(nonZero(m.TicketID)), nullable(nonZero(m.TriggerID)), none(m.WebhookID),
		nullable(nonZero(m.RecipientID)), none(m.Recipient), none(m.Subject), m.Body, unix(tx.now), unix(tx.now), unix(tx.now))
	if err != nil {
		return fmt.Errorf("enqueue %s message: %w", m.Kind, err)
	}
	m.ID = id
	if m.Kind == mergedesk.OutboxEmail && m.TicketID != 0 {
		// Recorded with the message, so that a reply to the mail threads onto
		// its ticket (docs/api.md §13.2) however late the mail is delivered. The id
		// is new (it names the outbox row), so no duplicate check is needed.
		mid := m.MessageID()
		if _, err := tx.exec(ctx, `INSERT INTO message_ids (ticket_id, audit_id, message_id, message_id_norm, direction, created_at)
			SELECT ?, NULL, ?, ?, 'out', ? WHERE EXISTS (SELECT 1 FROM tickets WHERE id = ?)`,
			m.TicketID, mid, normMessageID(mid), unix(tx.now), m.TicketID); err != nil {
			return fmt.Errorf("record message id of outbox %d: %w", m.ID, err)
		}
	}
	return nil
}

// OutboxMessage returns one message. Errors: RecordNotFound.
func (db *DB) OutboxMessage(ctx context.Context, id int64) (*mergedesk.OutboxMessage, error) {
	ms, err := loadOutbox(ctx, db.r(), []int64{id})
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, mergedesk.NotFound()
	}
	return ms[0], nil
}

// OutboxMessages lists messages in id order, only those with status when it is
// not empty. Errors: RecordInvalid (unknown status).
func (db *DB) OutboxMessages(ctx context.Context, status string, p mergedesk.Page) ([]*mergedesk.OutboxMessage, mergedesk.PageInfo, error) {
	where, args := "", []any{}
	if status != "" {
		if !slices.Contains(mergedesk.OutboxStatuses, status) {
			return nil, mergedesk.PageInfo{}, mergedesk.Invalid("status", mergedesk.CodeInvalid, "Status: %q is not one of %s",
				status, strings.Join(mergedesk.OutboxStatuses, ", "))
		}
		where, args = "status = ?", []any{status}
	}
	ids, info, err := pageIDs(ctx, db.r(), "outbox", where, args, p)
	if err != nil {
		return nil, info, fmt.Errorf("list outbox: %w", err)
	}
	ms, err := loadOutbox(ctx, db.r(), ids)
	return ms, info, err
}

// ClaimOutbox takes up to limit due pending messages of these kinds for
// delivery: it counts the attempt and pushes next_attempt_at lease ahead, so
// that a worker that dies mid-delivery leaves the message to be retried.
func (db *DB) ClaimOutbox(ctx context.Context, kinds []string, limit int, lease time.Duration) ([]*mergedesk.OutboxMessage, error) {
	if len(kinds) == 0 || limit <= 0 {
		return nil, nil
	}
	// One query per kind, each a range of the outbox_due index; merged here.
	const due = "SELECT id, next_attempt_at FROM outbox WHERE status = ? AND kind = ? AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?"
	dueIDs := func(q querier, lock string, now time.Time, n int) ([]int64, error) {
		type row struct{ id, at int64 }
		var all []row
		for _, k := range kinds {
			rows, err := q.query(ctx, due+lock, mergedesk.OutboxPending, k, unix(now), n)
			if err != nil {
				return nil, fmt.Errorf("due outbox: %w", err)
			}
			for rows.Next() {
				var r row
				if err := rows.Scan(&r.id, &r.at); err != nil {
					rows.Close()
					return nil, err
				}
				all = append(all, r)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, err
			}
		}
		slices.SortFunc(all, func(a, b row) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.id, b.id)) })
		ids := make([]int64, 0, min(n, len(all)))
		for _, r := range all[:min(n, len(all))] {
			ids = append(ids, r.id)
		}
		return ids, nil
	}
	// Look on the read pool first: an idle outbox costs no write transaction.
	if ids, err := dueIDs(db.r(), "", db.Now(), 1); err != nil || len(ids) == 0 {
		return nil, err
	}
	var out []*mergedesk.OutboxMessage
	err := db.Update(ctx, func(tx *Tx) error {
		ids, err := dueIDs(tx, tx.db.dialect.forUpdate(), tx.now, limit)
		if err != nil || len(ids) == 0 {
			return err
		}
		in, idArgs := inArgs(ids)
		if _, err := tx.exec(ctx, "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, updated_at = ? WHERE id IN ("+in+")",
			append([]any{unix(tx.now.Add(lease)), unix(tx.now)}, idArgs...)...); err != nil {
			return fmt.Errorf("claim outbox: %w", err)
		}
		out, err = loadOutbox(ctx, tx, ids)
		return err
	})
	return out, err
}

// OutboxDelivered marks a message delivered. httpStatus is 0 for mail.
func (db *DB) OutboxDelivered(ctx context.Context, id int64, httpStatus int) error {
	return db.Update(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, "UPDATE outbox SET status = ?, last_status = ?, last_error = NULL, delivered_at = ?, updated_at = ? WHERE id = ?",
			mergedesk.OutboxDelivered, nullable(nonZeroInt(httpStatus)), unix(tx.now), unix(tx.now), id)
		if err != nil {
			return fmt.Errorf("outbox %d delivered: %w", id, err)
		}
		return nil
	})
}

// OutboxAttemptFailed records a failed attempt: the message is retried at
// retryAt, or failed for good when retryAt is nil.
func (db *DB) OutboxAttemptFailed(ctx context.Context, id int64, cause string, httpStatus int, retryAt *time.Time) error {
	return db.Update(ctx, func(tx *Tx) error {
		status, next := mergedesk.OutboxFailed, tx.now
		if retryAt != nil {
			status, next = mergedesk.OutboxPending, *retryAt
		}
		_, err := tx.exec(ctx, "UPDATE outbox SET status = ?, last_error = ?, last_status = ?, next_attempt_at = ?, updated_at = ? WHERE id = ?",
			status, cause, nullable(nonZeroInt(httpStatus)), unix(next), unix(tx.now), id)
		if err != nil {
			return fmt.Errorf("outbox %d attempt failed: %w", id, err)
		}
		return nil
	})
}

func nonZeroInt(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}
