package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/store"
)

// The floor is what MergeUsers is measured against: the least set-based SQL
// that writes exactly the rows a merge writes (floorStatements), run in one
// transaction on the store's own writer connection (DB.Update, so the same
// pragmas, the same checkpointer and the same commit) and nothing else. It is
// a lower bound: every decision the rules make (which identities move, which
// profile fields change, the ticket counts, both snapshots) is taken before
// the clock starts, from a preview and the source's profile, so the floor
// reads nothing; the merge has to read all of it under its lock.

// floorPlan is what the floor writes that the rules decide, computed untimed.
type floorPlan struct {
	s, t, actor     int64
	tickets, ccs    int
	identitiesMoved string // JSON, as the merge record holds it
	fields          string // JSON
	sourceSnapshot  string // the merge record's picture of the source
	deletedSnapshot string // users.snapshot of the source (for /deleted_users)
	lacking         []string
	addOrgs         []int64
	defaultOrg      *int64
	sharedPhone     *string
}

// planFloor decides, untimed, what the floor for merging s into t writes.
func planFloor(ctx context.Context, db *store.DB, s, t, actor int64) (floorPlan, error) {
	p := floorPlan{s: s, t: t, actor: actor}
	plan, err := db.PreviewMerge(ctx, s, t)
	if err != nil {
		return p, err
	}
	if err := plan.Refusal(); err != nil {
		return p, err
	}
	src, err := db.User(ctx, s)
	if err != nil {
		return p, err
	}
	moved := []mergedesk.MovedIdentity{}
	for _, m := range plan.Moves {
		moved = append(moved, mergedesk.MovedIdentity{ID: m.ID, Type: m.Type, Value: m.Value, Primary: m.Primary, Verified: m.Verified})
		if m.Primary {
			p.lacking = append(p.lacking, m.Type)
		}
	}
	p.tickets, p.ccs = plan.Tickets.Requested, plan.Tickets.CCd
	p.identitiesMoved, p.fields = mustJSON(moved), mustJSON(plan.Fields)
	p.sourceSnapshot = string(src.MergeSnapshot())
	p.deletedSnapshot = mustJSON(src.Deleted())
	p.addOrgs, p.defaultOrg, p.sharedPhone = plan.AddOrgIDs, plan.DefaultOrgID, plan.SharedPhone
	return p, nil
}

// floorVars are the values the floor's statements bind.
type floorVars struct {
	floorPlan
	dialect      string
	mergeID, now int64
}

// floorStatements write, after the merge record, every row a merge writes.
// agg is the dialect's ordered JSON array of text; the CC list events use it
// the way the store does, so the rows are byte for byte the same.
var floorStatements = []struct {
	name string
	q    func(dialect string, agg func(string) string) string
	args func(v floorVars) []any
}{
	{"INSERT audits SELECT", func(string, func(string) string) string {
		// A UNION of two index searches: with OR, PostgreSQL scans every ticket.
		return `INSERT INTO audits (ticket_id, author_id, via, metadata, created_at, user_merge_id)
			SELECT x.id, ?, ?, ?, ?, ? FROM (SELECT id FROM tickets WHERE requester_id = ? AND deleted = FALSE
				UNION SELECT t.id FROM ticket_ccs c JOIN tickets t ON t.id = c.ticket_id
				WHERE c.user_id = ? AND c.kind = 'cc' AND t.archived = FALSE AND t.deleted = FALSE) x`
	}, func(v floorVars) []any {
		via := mergedesk.NewVia("user_merge")
		via.Source.From = map[string]any{"user_id": v.s}
		via.Source.To = map[string]any{"user_id": v.t}
		rel := "user_merge"
		via.Source.Rel = &rel
		meta := fmt.Sprintf(`{"system":{},"custom":{"user_merge_id":%d}}`, v.mergeID)
		return []any{v.actor, mustJSON(via), meta, v.now, v.mergeID, v.s, v.s}
	}},
	{"INSERT events Change SELECT", func(string, func(string) string) string {
		return `INSERT INTO events (audit_id, ticket_id, type, data, created_at)
			SELECT a.id, a.ticket_id, 'Change', ?, ? FROM audits a JOIN tickets t ON t.id = a.ticket_id
			WHERE a.user_merge_id = ? AND t.requester_id = ?`
	}, func(v floorVars) []any {
		return []any{fmt.Sprintf(`{"field_name":"requester_id","value":"%d","previous_value":"%d"}`, v.t, v.s), v.now, v.mergeID, v.s}
	}},
	// k: the audited non-archived tickets whose CC list changes; prev: their CC
	// lists; cur: the lists with the source replaced by the target, without
	// duplicates, and without the target where it is (or becomes) the requester.
	// SQLite does better with per-ticket subqueries, PostgreSQL with joins and
	// GROUP BY; both write the same text.
	{"INSERT events EmailCcChange SELECT", func(dialect string, agg func(string) string) string {
		if dialect == "sqlite" {
			return `INSERT INTO events (audit_id, ticket_id, type, data, created_at)
				SELECT k.audit_id, k.ticket_id, 'EmailCcChange',
					'{"previous_email_ccs":' || (SELECT ` + agg("c.user_id") + ` FROM ticket_ccs c WHERE c.ticket_id = k.ticket_id AND c.kind = 'cc')
					|| ',"current_email_ccs":' || (SELECT ` + agg("x.u") + ` FROM (
						SELECT DISTINCT CASE WHEN c.user_id = ? THEN ? ELSE c.user_id END AS u FROM ticket_ccs c
						WHERE c.ticket_id = k.ticket_id AND c.kind = 'cc') x WHERE x.u <> ? OR k.requester_id NOT IN (?, ?))
					|| '}', ?
				FROM (SELECT a.id AS audit_id, t.id AS ticket_id, t.requester_id FROM audits a JOIN tickets t ON t.id = a.ticket_id
					WHERE a.user_merge_id = ? AND t.archived = FALSE AND EXISTS (SELECT 1 FROM ticket_ccs c
						WHERE c.ticket_id = t.id AND c.kind = 'cc' AND (c.user_id = ? OR (t.requester_id = ? AND c.user_id = ?)))) k`
		}
		return `WITH k AS (
				SELECT a.id AS audit_id, t.id AS ticket_id, t.requester_id FROM audits a JOIN tickets t ON t.id = a.ticket_id
				WHERE a.user_merge_id = ? AND t.archived = FALSE AND EXISTS (SELECT 1 FROM ticket_ccs c
					WHERE c.ticket_id = t.id AND c.kind = 'cc' AND (c.user_id = ? OR (t.requester_id = ? AND c.user_id = ?)))),
			prev AS (SELECT c.ticket_id, ` + agg("c.user_id") + ` AS j FROM ticket_ccs c JOIN k ON k.ticket_id = c.ticket_id
				WHERE c.kind = 'cc' GROUP BY c.ticket_id),
			cur AS (SELECT x.ticket_id, ` + agg("x.u") + ` AS j FROM (
					SELECT DISTINCT c.ticket_id, k.requester_id AS r, CASE WHEN c.user_id = ? THEN ? ELSE c.user_id END AS u
					FROM ticket_ccs c JOIN k ON k.ticket_id = c.ticket_id WHERE c.kind = 'cc') x
				WHERE x.u <> ? OR x.r NOT IN (?, ?) GROUP BY x.ticket_id)
			INSERT INTO events (audit_id, ticket_id, type, data, created_at)
			SELECT k.audit_id, k.ticket_id, 'EmailCcChange',
				'{"previous_email_ccs":' || prev.j || ',"current_email_ccs":' || COALESCE(cur.j, '[]') || '}', ?
			FROM k JOIN prev ON prev.ticket_id = k.ticket_id LEFT JOIN cur ON cur.ticket_id = k.ticket_id`
	}, func(v floorVars) []any {
		if v.dialect == "sqlite" {
			return []any{v.s, v.t, v.t, v.s, v.t, v.now, v.mergeID, v.s, v.s, v.t}
		}
		return []any{v.mergeID, v.s, v.s, v.t, v.s, v.t, v.t, v.s, v.t, v.now}
	}},
	{"DELETE target CCs (it requests)", func(string, func(string) string) string {
		return `DELETE FROM ticket_ccs WHERE kind = 'cc' AND user_id = ? AND ticket_id IN
			(SELECT id FROM tickets WHERE requester_id = ? AND archived = FALSE AND deleted = FALSE)`
	}, func(v floorVars) []any { return []any{v.t, v.s} }},
	{"INSERT target CCs SELECT", func(string, func(string) string) string {
		return `INSERT INTO ticket_ccs (ticket_id, kind, user_id) SELECT c.ticket_id, 'cc', ? FROM ticket_ccs c
			JOIN tickets t ON t.id = c.ticket_id WHERE c.kind = 'cc' AND c.user_id = ? AND t.archived = FALSE AND t.deleted = FALSE
			AND t.requester_id <> ? AND t.requester_id <> ?
			AND NOT EXISTS (SELECT 1 FROM ticket_ccs e WHERE e.ticket_id = c.ticket_id AND e.kind = 'cc' AND e.user_id = ?)`
	}, func(v floorVars) []any { return []any{v.t, v.s, v.s, v.t, v.t} }},
	{"DELETE source CCs", func(string, func(string) string) string {
		return `DELETE FROM ticket_ccs WHERE kind = 'cc' AND user_id = ? AND EXISTS
			(SELECT 1 FROM tickets t WHERE t.id = ticket_ccs.ticket_id AND t.archived = FALSE AND t.deleted = FALSE)`
	}, func(v floorVars) []any { return []any{v.s} }},
	{"UPDATE tickets requester", func(string, func(string) string) string {
		return `UPDATE tickets SET requester_id = CASE WHEN requester_id = ? THEN ? ELSE requester_id END, updated_at = ?
			WHERE id IN (SELECT ticket_id FROM audits WHERE user_merge_id = ?)`
	}, func(v floorVars) []any { return []any{v.s, v.t, v.now, v.mergeID} }},
	{"UPDATE identities", nil, nil}, // floorIdentities: the list of types varies
	{"memberships, users, api tokens", func(string, func(string) string) string {
		return `DELETE FROM memberships WHERE user_id = ?;
			DELETE FROM api_tokens WHERE user_id = ?;
			UPDATE users SET active = FALSE, merged_into_id = ?, external_id = NULL, external_id_norm = NULL,
				shared_phone = NULL, snapshot = ?, deactivated_at = ?, updated_at = ? WHERE id = ?;
			UPDATE users SET updated_at = ? WHERE id = ?`
	}, func(v floorVars) []any {
		return []any{v.s, v.s, v.t, v.deletedSnapshot, v.now, v.now, v.s, v.now, v.t}
	}},
}

// floorMerge writes p's rows with floorStatements in one transaction through
// db.Update and returns the merge record's id and each statement's time (the
// last includes the commit).
func floorMerge(ctx context.Context, db *store.DB, p floorPlan) (int64, []time.Duration, error) {
	dialect := db.Dialect()
	agg := func(x string) string { return "json_group_array(CAST(" + x + " AS TEXT) ORDER BY " + x + ")" }
	if dialect == "postgres" {
		agg = func(x string) string {
			return "COALESCE(CAST(json_agg(CAST(" + x + " AS TEXT) ORDER BY " + x + ") AS TEXT), '[]')"
		}
	}
	var mergeID int64
	var times []time.Duration
	var commitFrom time.Time
	err := db.Update(ctx, func(tx *store.Tx) error {
		times = times[:0]
		v := floorVars{floorPlan: p, dialect: dialect, now: tx.Now().Unix()}
		start := time.Now()
		if err := tx.QueryRow(ctx, `INSERT INTO user_merges (actor_id, source_id, target_id, tickets_moved, ccs_moved,
			identities_moved, fields, source_snapshot, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			p.actor, p.s, p.t, p.tickets, p.ccs, p.identitiesMoved, p.fields, p.sourceSnapshot, v.now).Scan(&v.mergeID); err != nil {
			return fmt.Errorf("insert merge record: %w", err)
		}
		mergeID = v.mergeID
		for _, st := range floorStatements {
			var qs []string
			var args []any
			if st.args == nil {
				q, a := floorIdentities(v)
				qs, args = []string{q}, a
			} else {
				// The last entry is several statements: run them one by one,
				// binding each its share of the arguments.
				qs, args = strings.Split(st.q(dialect, agg), ";"), st.args(v)
			}
			for _, q := range qs {
				n := strings.Count(q, "?")
				if _, err := tx.Exec(ctx, q, args[:n]...); err != nil {
					return fmt.Errorf("%s: %w", st.name, err)
				}
				args = args[n:]
			}
			if st.name == "memberships, users, api tokens" {
				if err := floorOrgs(ctx, tx, v); err != nil {
					return err
				}
			}
			times = append(times, time.Since(start))
			start = time.Now()
		}
		commitFrom = start
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	times[len(times)-1] += time.Since(commitFrom) // the commit counts with the last step
	return mergeID, times, nil
}

// floorIdentities moves the identities: primary only for a type the target
// lacked (the types are bound, so the text varies with their number).
func floorIdentities(v floorVars) (string, []any) {
	primary, args := "FALSE", []any{v.t}
	if len(v.lacking) > 0 {
		primary = "CASE WHEN type IN (" + strings.TrimSuffix(strings.Repeat("?,", len(v.lacking)), ",") + ") THEN is_primary ELSE FALSE END"
		for _, t := range v.lacking {
			args = append(args, t)
		}
	}
	return "UPDATE identities SET user_id = ?, is_primary = " + primary + ", updated_at = ? WHERE user_id = ?", append(args, v.now, v.s)
}

// floorOrgs writes the memberships and shared phone the rules give the target.
func floorOrgs(ctx context.Context, tx *store.Tx, v floorVars) error {
	for _, org := range v.addOrgs {
		isDefault := v.defaultOrg != nil && *v.defaultOrg == org
		if _, err := tx.Exec(ctx, `INSERT INTO memberships (user_id, organization_id, is_default, view_tickets, created_at, updated_at)
			VALUES (?, ?, ?, TRUE, ?, ?)`, v.t, org, isDefault, v.now, v.now); err != nil {
			return fmt.Errorf("add membership: %w", err)
		}
	}
	if v.sharedPhone != nil {
		if _, err := tx.Exec(ctx, "UPDATE users SET shared_phone = ? WHERE id = ?", *v.sharedPhone, v.t); err != nil {
			return err
		}
	}
	return nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
