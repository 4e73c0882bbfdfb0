package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// maxViolationsPerCheck bounds what one broken invariant reports: a bug that
// breaks it on 10,000 tickets should not produce 10,000 lines.
const maxViolationsPerCheck = 20

// invariant is one consistency rule as a query that returns the rows breaking
// it; format turns one row into a sentence.
type invariant struct {
	name   string
	query  string
	format func(cols []sql.NullInt64) string
}

// invariants are the rules that hold after every committed transaction, whatever
// interleaving or crash preceded it (rules M8, M9, M10, M28, M29, M30). Each is
// one set-based query over indexed columns, so checking a database with hundreds
// of thousands of tickets takes well under a second.
var invariants = []invariant{
	{"ticket requester exists",
		`SELECT t.id, t.requester_id FROM tickets t LEFT JOIN users u ON u.id = t.requester_id WHERE u.id IS NULL ORDER BY t.id`,
		func(c []sql.NullInt64) string {
			return fmt.Sprintf("ticket %d: requester %d does not exist", c[0].Int64, c[1].Int64)
		}},
	{"identity owner exists and is active",
		`SELECT i.id, i.user_id FROM identities i LEFT JOIN users u ON u.id = i.user_id
			WHERE u.id IS NULL OR u.active = FALSE ORDER BY i.id`,
		func(c []sql.NullInt64) string {
			return fmt.Sprintf("identity %d: owner %d is inactive or missing (M29)", c[0].Int64, c[1].Int64)
		}},
	{"identity value has one owner",
		`SELECT MIN(id), MAX(id), COUNT(*), COUNT(DISTINCT user_id) FROM identities
			GROUP BY type, value_norm HAVING COUNT(*) > 1 ORDER BY MIN(id)`,
		func(c []sql.NullInt64) string {
			return fmt.Sprintf("identities %d..%d: %d copies of one value owned by %d users (M28)", c[0].Int64, c[1].Int64, c[2].Int64, c[3].Int64)
		}},
	{"one primary per identity type",
		`SELECT user_id, MIN(id), SUM(CASE WHEN is_primary THEN 1 ELSE 0 END) FROM identities
			GROUP BY user_id, type HAVING SUM(CASE WHEN is_primary THEN 1 ELSE 0 END) <> 1 ORDER BY user_id`,
		func(c []sql.NullInt64) string {
			return fmt.Sprintf("user %d: %d primary identities of the type of identity %d (M27)", c[0].Int64, c[2].Int64, c[1].Int64)
		}},
	{"inactive user has no memberships",
		`SELECT m.user_id, COUNT(*) FROM memberships m JOIN users u ON u.id = m.user_id
			WHERE u.active = FALSE GROUP BY m.user_id ORDER BY m.user_id`,
		func(c []sql.NullInt64) string {
			return fmt.Sprintf("user %d: inactive but member of %d organizations", c[0].Int64, c[1].Int64)
		}},
	{"active user is not merged",
		`SELECT id, merged_into_id FROM users WHERE active = TRUE AND merged_into_id IS NOT NULL ORDER BY id`,
		func(c []sql.NullInt64) string {
			return fmt.Sprintf("user %d: active but merged_into_id = %d", c[0].Int64, c[1].Int64)
		}},
	{"merged user has exactly one matching merge record",
		`SELECT u.id, u.merged_into_id, COUNT(m.id), MIN(m.target_id) FROM users u LEFT JOIN user_merges m ON m.source_id = u.id
			WHERE u.merged_into_id IS NOT NULL GROUP BY u.id, u.merged_into_id
			HAVING COUNT(m.id) <> 1 OR MIN(m.target_id) <> u.merged_into_id ORDER BY u.id`,
		func(c []sql.NullInt64) string {
			return fmt.Sprintf("user %d: merged into %d but has %d merge records (target %d)", c[0].Int64, c[1].Int64, c[2].Int64, c[3].Int64)
		}},
	{"merge source is inactive",
		`SELECT m.id, m.source_id, m.target_id FROM user_merges m JOIN users u ON u.id = m.source_id
			WHERE u.active = TRUE OR u.merged_into_id IS NULL OR u.merged_into_id <> m.target_id ORDER BY m.id`,
		func(c []sql.NullInt64) string {
			return fmt.Sprintf("merge %d: source %d is active or not merged into target %d (M29)", c[0].Int64, c[1].Int64, c[2].Int64)
		}},
	{"merge source requests no tickets",
		`SELECT m.id, m.source_id, COUNT(*) FROM user_merges m JOIN tickets t ON t.requester_id = m.source_id AND t.deleted = FALSE
			GROUP BY m.id, m.source_id ORDER BY m.id`,
		func(c []sql.NullInt64) string {
			return fmt.Sprintf("merge %d: source %d still requests %d tickets (M9)", c[0].Int64, c[1].Int64, c[2].Int64)
		}},
	{"merged-away user is no live CC",
		`SELECT c.ticket_id, c.user_id FROM ticket_ccs c JOIN users u ON u.id = c.user_id
			JOIN tickets t ON t.id = c.ticket_id
			WHERE c.kind = 'cc' AND u.merged_into_id IS NOT NULL AND t.archived = FALSE AND t.deleted = FALSE ORDER BY c.ticket_id`,
		func(c []sql.NullInt64) string {
			return fmt.Sprintf("ticket %d: merged-away user %d is still CC'd (M10)", c[0].Int64, c[1].Int64)
		}},
	{"merge audit has its record",
		`SELECT a.user_merge_id, COUNT(*) FROM audits a LEFT JOIN user_merges m ON m.id = a.user_merge_id
			WHERE a.user_merge_id IS NOT NULL AND m.id IS NULL GROUP BY a.user_merge_id ORDER BY a.user_merge_id`,
		func(c []sql.NullInt64) string {
			return fmt.Sprintf("user_merge_id %d: %d audits without a merge record (M8)", c[0].Int64, c[1].Int64)
		}},
	// Every ticket a merge moved carries one requester Change event in an audit
	// of that merge, and every ticket whose CCs it changed one EmailCcChange; the
	// record counts both, so the counts agree whatever happened to the tickets since.
	{"merge record's tickets have their audits",
		`SELECT m.id, m.tickets_moved, m.ccs_moved,
			(SELECT COUNT(*) FROM audits a JOIN events e ON e.audit_id = a.id WHERE a.user_merge_id = m.id AND e.type = 'Change'),
			(SELECT COUNT(*) FROM audits a JOIN events e ON e.audit_id = a.id WHERE a.user_merge_id = m.id AND e.type = 'EmailCcChange'),
			(SELECT COUNT(*) FROM audits a WHERE a.user_merge_id = m.id)
		FROM user_merges m ORDER BY m.id`,
		nil}, // filtered in Go: see mergeAuditMismatch
	{"one audit per ticket and merge",
		`SELECT ticket_id, user_merge_id, COUNT(*) FROM audits WHERE user_merge_id IS NOT NULL
			GROUP BY ticket_id, user_merge_id HAVING COUNT(*) > 1 ORDER BY ticket_id`,
		func(c []sql.NullInt64) string {
			return fmt.Sprintf("ticket %d: %d audits for merge %d (M9)", c[0].Int64, c[2].Int64, c[1].Int64)
		}},
	{"requester is not CC'd",
		`SELECT t.id, t.requester_id FROM tickets t JOIN ticket_ccs c ON c.ticket_id = t.id AND c.kind = 'cc' AND c.user_id = t.requester_id
			WHERE t.archived = FALSE ORDER BY t.id`,
		func(c []sql.NullInt64) string {
			return fmt.Sprintf("ticket %d: requester %d is in its own CC list (M10)", c[0].Int64, c[1].Int64)
		}},
	{"CC rows are unique",
		`SELECT ticket_id, user_id, COUNT(*) FROM ticket_ccs GROUP BY ticket_id, kind, user_id HAVING COUNT(*) > 1 ORDER BY ticket_id`,
		func(c []sql.NullInt64) string {
			return fmt.Sprintf("ticket %d: user %d listed %d times", c[0].Int64, c[1].Int64, c[2].Int64)
		}},
}

// mergeAuditMismatch reports a merge record whose audits disagree with its
// counts; "" when they agree. Columns: id, tickets_moved, ccs_moved, requester
// Change events, EmailCcChange events, audits.
func mergeAuditMismatch(c []sql.NullInt64) string {
	id, tickets, ccs, changes, ccChanges, audits := c[0].Int64, c[1].Int64, c[2].Int64, c[3].Int64, c[4].Int64, c[5].Int64
	// A touched ticket is requested by the source, or has its CCs changed, or
	// both: so max(tickets, ccs) <= audits <= tickets + ccs.
	if changes == tickets && ccChanges == ccs && audits >= max(tickets, ccs) && audits <= tickets+ccs {
		return ""
	}
	return fmt.Sprintf("merge %d: moved %d tickets and changed %d CC lists, but has %d requester changes and %d CC changes in %d audits (M9, M10)",
		id, tickets, ccs, changes, ccChanges, audits)
}

// CheckInvariants returns a sentence for every broken consistency rule of the
// database (at most a few per rule), or none. It reads from the read pool and
// takes no locks; run it on a quiet database. Tests use it after crashes and
// concurrent merges to prove that merges are atomic (M8).
func (db *DB) CheckInvariants(ctx context.Context) ([]string, error) {
	var out []string
	for _, inv := range invariants {
		format := inv.format
		limit := maxViolationsPerCheck
		if format == nil {
			format, limit = mergeAuditMismatch, -1
		}
		got, err := db.violations(ctx, inv.query, format, limit)
		if err != nil {
			return out, fmt.Errorf("check %s: %w", inv.name, err)
		}
		out = append(out, got...)
	}
	return out, nil
}

// violations runs q and formats its rows, skipping those format maps to "".
// limit < 0 reads every row.
func (db *DB) violations(ctx context.Context, q string, format func([]sql.NullInt64) string, limit int) ([]string, error) {
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit+1)
	}
	rows, err := db.r().query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	cols := make([]sql.NullInt64, len(names))
	dest := make([]any, len(cols))
	for i := range cols {
		dest[i] = &cols[i]
	}
	var out []string
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		if limit > 0 && len(out) == limit {
			out = append(out, "... and more like "+strings.TrimSpace(out[len(out)-1]))
			break
		}
		if s := format(cols); s != "" {
			out = append(out, s)
		}
	}
	return out, rows.Err()
}
