package store

import (
	"context"
	"fmt"
)

// SeedTickets inserts n tickets requested by requesterID with set-based SQL, for
// benchmarks and load tests: the first half open with ccs as email CCs, the
// second half closed and archived (with the same CCs). Every ticket gets one
// audit holding a Create event, like a ticket created through the API. tag marks
// the batch (tickets.external_id = tag).
func (db *DB) SeedTickets(ctx context.Context, requesterID int64, n int, ccs []int64, tag string) error {
	return db.Update(ctx, func(tx *Tx) error {
		now := unix(tx.now)
		via := `{"channel":"api","source":{"from":{},"to":{},"rel":null}}`
		if _, err := tx.exec(ctx, `WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
			INSERT INTO tickets (external_id, subject, description, status, requester_id, submitter_id, via, via_channel,
				archived, created_at, updated_at)
			SELECT ?, 'Seeded ticket ' || CAST(i AS TEXT), 'seeded', CASE WHEN i * 2 <= ? THEN 'open' ELSE 'closed' END,
				?, ?, ?, 'api', i * 2 > ?, ?, ? FROM seq`,
			n, tag, n, requesterID, requesterID, via, n, now, now); err != nil {
			return fmt.Errorf("seed tickets: %w", err)
		}
		for _, cc := range ccs {
			if _, err := tx.exec(ctx, `INSERT INTO ticket_ccs (ticket_id, kind, user_id)
				SELECT id, 'cc', ? FROM tickets WHERE external_id = ? AND requester_id <> ?`, cc, tag, cc); err != nil {
				return fmt.Errorf("seed ccs: %w", err)
			}
		}
		if _, err := tx.exec(ctx, `INSERT INTO audits (ticket_id, author_id, via, metadata, created_at)
			SELECT id, requester_id, via, ?, created_at FROM tickets WHERE external_id = ?`, DefaultAuditMetadata, tag); err != nil {
			return fmt.Errorf("seed audits: %w", err)
		}
		_, err := tx.exec(ctx, `INSERT INTO events (audit_id, ticket_id, type, data, created_at)
			SELECT a.id, a.ticket_id, 'Create', '{"field_name":"requester_id","value":"' || CAST(t.requester_id AS TEXT) || '"}', a.created_at
			FROM audits a JOIN tickets t ON t.id = a.ticket_id WHERE t.external_id = ?`, tag)
		return err
	})
}
