package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/merge"
)

// gatherMerge reads everything a merge decision depends on. Inside a merge it
// runs in the transaction after both users are locked; for a preview it reads
// from the read pool.
func gatherMerge(ctx context.Context, q querier, sourceID, targetID int64) (merge.Input, error) {
	var in merge.Input
	users, err := loadUsers(ctx, q, []int64{sourceID, targetID})
	if err != nil {
		return in, err
	}
	for _, u := range users {
		if u.ID == sourceID {
			in.Source.User = u
		}
		if u.ID == targetID {
			in.Target.User = u
		}
	}
	if in.Source.User == nil || in.Target.User == nil {
		return in, mergedesk.NotFound()
	}
	if in.Settings, err = loadSettings(ctx, q); err != nil {
		return in, err
	}
	rows, err := q.query(ctx, `SELECT requester_id, COUNT(*), SUM(CASE WHEN archived THEN 1 ELSE 0 END) FROM tickets
		WHERE requester_id IN (?, ?) AND deleted = FALSE GROUP BY requester_id`, sourceID, targetID)
	if err != nil {
		return in, fmt.Errorf("merge ticket counts: %w", err)
	}
	for rows.Next() {
		var id int64
		var n, archived int
		if err := rows.Scan(&id, &n, &archived); err != nil {
			rows.Close()
			return in, err
		}
		if id == sourceID {
			in.Source.Requested, in.Archived = n, archived
		}
		if id == targetID {
			in.Target.Requested = n
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return in, err
	}
	if sourceID != targetID {
		// Non-archived tickets whose CC list changes (M10): the source is CC'd, or
		// the source requests it and the target is CC'd (the target leaves the CCs
		// of tickets it now requests).
		err = q.queryRow(ctx, `SELECT COUNT(*) FROM (
			SELECT c.ticket_id FROM ticket_ccs c JOIN tickets t ON t.id = c.ticket_id
				WHERE c.kind = 'cc' AND c.user_id = ? AND t.archived = FALSE AND t.deleted = FALSE
			UNION SELECT c.ticket_id FROM ticket_ccs c JOIN tickets t ON t.id = c.ticket_id
				WHERE c.kind = 'cc' AND c.user_id = ? AND t.requester_id = ? AND t.archived = FALSE AND t.deleted = FALSE) x`,
			sourceID, targetID, sourceID).Scan(&in.CCsChanged)
		if err != nil {
			return in, fmt.Errorf("merge cc count: %w", err)
		}
	}
	for _, side := range []*merge.Side{&in.Source, &in.Target} {
		h := &side.HelpCenter
		if h.Posts, h.Comments, h.Votes, h.Subscriptions, err = helpCenterCounts(ctx, q, side.User.ID); err != nil {
			return in, err
		}
	}
	return in, nil
}

// PreviewMerge returns what merging source into target would do (M31), without
// writing anything. Unknown users give RecordNotFound.
func (db *DB) PreviewMerge(ctx context.Context, sourceID, targetID int64) (*merge.Plan, error) {
	in, err := gatherMerge(ctx, db.r(), sourceID, targetID)
	if err != nil {
		return nil, err
	}
	return merge.Decide(in), nil
}

// MergeUsers merges source into target on behalf of actor (docs/api.md §12.1, rules
// M1–M30), atomically: both users are locked in ascending id order before
// anything is read, eligibility and the optional preview version are checked on
// what the lock guarantees, and every change, the audits and the merge record
// commit together or not at all. Tickets and CCs move with set-based SQL; no
// ticket hook (trigger) runs (M11). It returns the target after the merge and
// the record.
func (db *DB) MergeUsers(ctx context.Context, sourceID, targetID, actorID int64, version string) (*mergedesk.User, *mergedesk.UserMerge, error) {
	var target *mergedesk.User
	var rec *mergedesk.UserMerge
	err := db.Update(ctx, func(tx *Tx) error {
		if err := lockUsers(ctx, tx, sourceID, targetID); err != nil {
			return err
		}
		if err := lockMergeTickets(ctx, tx, sourceID); err != nil {
			return err
		}
		in, err := gatherMerge(ctx, tx, sourceID, targetID)
		if err != nil {
			return err
		}
		plan := merge.Decide(in)
		if err := plan.Refusal(); err != nil {
			return err
		}
		if version != "" && version != plan.Version {
			return mergedesk.Errorf(mergedesk.EMergeStale, "The users changed since the preview (version %s, now %s); preview again.", version, plan.Version)
		}
		if rec, err = applyMerge(ctx, tx, in, plan, actorID); err != nil {
			return fmt.Errorf("merge %d into %d: %w", sourceID, targetID, err)
		}
		target, err = loadUser(ctx, tx, targetID)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return target, rec, nil
}

// lockUsers takes row locks on the users in ascending id order, so concurrent
// merges of the same users serialise instead of deadlocking. Unknown ids are
// left to the caller's RecordNotFound.
func lockUsers(ctx context.Context, tx *Tx, ids ...int64) error {
	if !tx.db.dialect.rowLocks() {
		return nil
	}
	in, args := inArgs(ids)
	rows, err := tx.query(ctx, "SELECT id FROM users WHERE id IN ("+in+") ORDER BY id"+tx.db.dialect.forUpdate(), args...)
	if err != nil {
		return fmt.Errorf("lock users: %w", err)
	}
	rows.Close()
	return rows.Err()
}

// lockMergeTickets locks the tickets the merge of source will touch (those it
// requests, and the non-archived ones it is CC'd on) before the merge counts
// them (PostgreSQL). Holding source's row lock stops tickets from joining that
// set, but a ticket update moves a ticket out of it (a new requester) with only
// the ticket's lock; without this lock such an update could commit between the
// merge's statements and leave a merge audit without its requester change, or
// a record whose counts disagree with its audits (M8, M9).
func lockMergeTickets(ctx context.Context, tx *Tx, sourceID int64) error {
	if !tx.db.dialect.rowLocks() {
		return nil
	}
	rows, err := tx.query(ctx, `SELECT id FROM tickets WHERE deleted = FALSE AND (requester_id = ?
		OR (archived = FALSE AND id IN (SELECT ticket_id FROM ticket_ccs WHERE kind = 'cc' AND user_id = ?)))
		ORDER BY id`+tx.db.dialect.forNoKeyUpdate(), sourceID, sourceID)
	if err != nil {
		return fmt.Errorf("lock tickets of user %d: %w", sourceID, err)
	}
	rows.Close()
	return rows.Err()
}

// applyMerge writes a decided merge: the record, the audits and their events,
// the tickets and CCs, the identities, the organizations and the source's
// deactivation (docs: rules M8–M29).
func applyMerge(ctx context.Context, tx *Tx, in merge.Input, plan *merge.Plan, actorID int64) (*mergedesk.UserMerge, error) {
	s, t := in.Source.User, in.Target.User
	rec, err := insertMergeRecord(ctx, tx, in, plan, actorID)
	if err != nil {
		return nil, err
	}
	if err := resolveDuplicateOnMerge(ctx, tx, rec); err != nil {
		return nil, err
	}
	if err := insertMergeAudits(ctx, tx, s.ID, t.ID, actorID, rec.ID); err != nil {
		return nil, err
	}
	if err := moveTickets(ctx, tx, s.ID, t.ID, rec.ID); err != nil {
		return nil, err
	}
	if err := moveIdentities(ctx, tx, s.ID, t.ID, plan.Moves); err != nil {
		return nil, err
	}
	if err := mergeOrganizations(ctx, tx, t.ID, plan); err != nil {
		return nil, err
	}
	// The source: inactive, merged_into_id, nothing owned (M29). Its identities
	// have moved already; s still holds them so that /deleted_users shows the
	// email and phone it had just before the merge (docs/api.md §2.3).
	if err := deactivateUser(ctx, tx, s, &t.ID); err != nil {
		return nil, err
	}
	return rec, touchUser(ctx, tx, t.ID)
}

// insertMergeRecord writes the merge record, with the source's snapshot.
func insertMergeRecord(ctx context.Context, tx *Tx, in merge.Input, plan *merge.Plan, actorID int64) (*mergedesk.UserMerge, error) {
	s, t := in.Source.User, in.Target.User
	rec := &mergedesk.UserMerge{ActorID: actorID, SourceID: s.ID, TargetID: t.ID, TicketsMoved: in.Source.Requested,
		CCsMoved: in.CCsChanged, Fields: plan.Fields, CreatedAt: tx.now}
	for _, m := range plan.Moves {
		rec.IdentitiesMoved = append(rec.IdentitiesMoved, mergedesk.MovedIdentity{ID: m.ID, Type: m.Type, Value: m.Value, Primary: m.Primary, Verified: m.Verified})
	}
	if rec.IdentitiesMoved == nil {
		rec.IdentitiesMoved = []mergedesk.MovedIdentity{}
	}
	rec.SourceSnapshot = s.MergeSnapshot()
	var err error
	rec.ID, err = tx.insert(ctx, `INSERT INTO user_merges (actor_id, source_id, target_id, tickets_moved, ccs_moved,
		identities_moved, fields, source_snapshot, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		actorID, s.ID, t.ID, rec.TicketsMoved, rec.CCsMoved, encodeJSON(rec.IdentitiesMoved), encodeJSON(rec.Fields),
		string(rec.SourceSnapshot), unix(tx.now))
	if err != nil {
		return nil, fmt.Errorf("insert merge record: %w", err)
	}
	return rec, nil
}

// insertMergeAudits writes one audit per touched ticket (M9, M10): every
// ticket the source requests, and every non-archived ticket it is CC'd on;
// then each audit's events, computed before the tickets change.
func insertMergeAudits(ctx context.Context, tx *Tx, sID, tID, actorID, mergeID int64) error {
	now := unix(tx.now)
	d := tx.db.dialect
	via := mergedesk.NewVia("user_merge")
	via.Source.From = map[string]any{"user_id": sID}
	via.Source.To = map[string]any{"user_id": tID}
	rel := "user_merge"
	via.Source.Rel = &rel
	meta := fmt.Sprintf(`{"system":{},"custom":{"user_merge_id":%d}}`, mergeID)
	// A UNION of two index lookups: with an OR, PostgreSQL scans every ticket.
	if _, err := tx.exec(ctx, `INSERT INTO audits (ticket_id, author_id, via, metadata, created_at, user_merge_id)
		SELECT x.id, ?, ?, ?, ?, ? FROM (SELECT id FROM tickets WHERE requester_id = ? AND deleted = FALSE
		UNION SELECT t.id FROM ticket_ccs c JOIN tickets t ON t.id = c.ticket_id
			WHERE c.kind = 'cc' AND c.user_id = ? AND t.archived = FALSE AND t.deleted = FALSE) x`,
		actorID, encodeJSON(via), meta, now, mergeID, sID, sID); err != nil {
		return fmt.Errorf("insert merge audits: %w", err)
	}
	// The requester Change event: the same text for every ticket.
	change := fmt.Sprintf(`{"field_name":"requester_id","value":"%d","previous_value":"%d"}`, tID, sID)
	if _, err := tx.exec(ctx, `INSERT INTO events (audit_id, ticket_id, type, data, created_at)
		SELECT a.id, a.ticket_id, 'Change', ?, ? FROM audits a JOIN tickets t ON t.id = a.ticket_id
		WHERE a.user_merge_id = ? AND t.requester_id = ?`, change, now, mergeID, sID); err != nil {
		return fmt.Errorf("insert requester events: %w", err)
	}
	// The EmailCcChange event, computed from the CC lists before they change: the
	// target replaces the source, without a duplicate, and is left out where it is
	// (or becomes) the requester.
	prev := d.jsonTextArray("c.user_id", "c.user_id")
	cur := d.jsonTextArray("x.u", "x.u")
	if _, err := tx.exec(ctx, `INSERT INTO events (audit_id, ticket_id, type, data, created_at)
		SELECT a.id, a.ticket_id, 'EmailCcChange',
			'{"previous_email_ccs":' || (SELECT `+prev+` FROM ticket_ccs c WHERE c.ticket_id = t.id AND c.kind = 'cc')
			|| ',"current_email_ccs":' || (SELECT `+cur+` FROM (
				SELECT c.user_id AS u FROM ticket_ccs c WHERE c.ticket_id = t.id AND c.kind = 'cc' AND c.user_id <> ? AND c.user_id <> ?
				UNION SELECT ? AS u WHERE t.requester_id <> ? AND t.requester_id <> ?
					AND EXISTS (SELECT 1 FROM ticket_ccs c WHERE c.ticket_id = t.id AND c.kind = 'cc' AND c.user_id IN (?, ?))) x)
			|| '}', ?
		FROM audits a JOIN tickets t ON t.id = a.ticket_id
		WHERE a.user_merge_id = ? AND t.archived = FALSE AND (
			t.id IN (SELECT ticket_id FROM ticket_ccs WHERE kind = 'cc' AND user_id = ?)
			OR (t.requester_id = ? AND t.id IN (SELECT ticket_id FROM ticket_ccs WHERE kind = 'cc' AND user_id = ?)))`,
		sID, tID, tID, sID, tID, sID, tID, now, mergeID, sID, sID, tID); err != nil {
		return fmt.Errorf("insert cc events: %w", err)
	}
	return nil
}

// moveTickets moves the CCs (M10), on non-archived tickets only: the target
// leaves tickets it now requests, joins where the source was (unless already
// there or requester), and the source leaves; then the requester (M9) of every
// audited ticket, closed and archived included; the organization stays (M12).
func moveTickets(ctx context.Context, tx *Tx, sID, tID, mergeID int64) error {
	for _, st := range []struct {
		q    string
		args []any
	}{
		{`DELETE FROM ticket_ccs WHERE kind = 'cc' AND user_id = ? AND ticket_id IN
			(SELECT id FROM tickets WHERE requester_id = ? AND archived = FALSE AND deleted = FALSE)`, []any{tID, sID}},
		{`INSERT INTO ticket_ccs (ticket_id, kind, user_id) SELECT c.ticket_id, 'cc', ? FROM ticket_ccs c
			JOIN tickets t ON t.id = c.ticket_id WHERE c.kind = 'cc' AND c.user_id = ? AND t.archived = FALSE AND t.deleted = FALSE
			AND t.requester_id <> ? AND t.requester_id <> ?
			AND NOT EXISTS (SELECT 1 FROM ticket_ccs e WHERE e.ticket_id = c.ticket_id AND e.kind = 'cc' AND e.user_id = ?)`,
			[]any{tID, sID, sID, tID, tID}},
		// EXISTS, not IN: SQLite would scan every ticket to build the IN list.
		{`DELETE FROM ticket_ccs WHERE kind = 'cc' AND user_id = ? AND EXISTS
			(SELECT 1 FROM tickets t WHERE t.id = ticket_ccs.ticket_id AND t.archived = FALSE AND t.deleted = FALSE)`, []any{sID}},
		{`UPDATE tickets SET requester_id = CASE WHEN requester_id = ? THEN ? ELSE requester_id END, updated_at = ?
			WHERE id IN (SELECT ticket_id FROM audits WHERE user_merge_id = ?)`, []any{sID, tID, unix(tx.now), mergeID}},
	} {
		if _, err := tx.exec(ctx, st.q, st.args...); err != nil {
			return fmt.Errorf("move tickets: %w", err)
		}
	}
	return nil
}

// moveIdentities moves the source's identities (M13, M16, M27, M28), keeping
// id and verified state; primary only for a type the target lacked.
func moveIdentities(ctx context.Context, tx *Tx, sID, tID int64, moves []merge.IdentityMove) error {
	var lacking []string
	for _, m := range moves {
		if m.Primary {
			lacking = append(lacking, m.Type)
		}
	}
	primary := "FALSE"
	args := []any{tID}
	if len(lacking) > 0 {
		primary = "CASE WHEN type IN (" + strings.TrimSuffix(strings.Repeat("?,", len(lacking)), ",") + ") THEN is_primary ELSE FALSE END"
		for _, typ := range lacking {
			args = append(args, typ)
		}
	}
	if _, err := tx.exec(ctx, "UPDATE identities SET user_id = ?, is_primary = "+primary+", updated_at = ? WHERE user_id = ?",
		append(args, unix(tx.now), sID)...); err != nil {
		return fmt.Errorf("move identities: %w", err)
	}
	return nil
}

// mergeOrganizations gives the target the source's organizations (M19, never
// by domain mapping) and, where the rules say so, its shared phone.
func mergeOrganizations(ctx context.Context, tx *Tx, tID int64, plan *merge.Plan) error {
	now := unix(tx.now)
	for _, org := range plan.AddOrgIDs {
		isDefault := plan.DefaultOrgID != nil && *plan.DefaultOrgID == org
		if _, err := tx.exec(ctx, `INSERT INTO memberships (user_id, organization_id, is_default, view_tickets, created_at, updated_at)
			VALUES (?, ?, ?, TRUE, ?, ?)`, tID, org, isDefault, now, now); err != nil {
			return fmt.Errorf("add membership: %w", err)
		}
	}
	if plan.SharedPhone != nil {
		if _, err := tx.exec(ctx, "UPDATE users SET shared_phone = ? WHERE id = ?", *plan.SharedPhone, tID); err != nil {
			return fmt.Errorf("shared phone: %w", err)
		}
	}
	return nil
}

const userMergeColumns = `id, actor_id, source_id, target_id, tickets_moved, ccs_moved, identities_moved, fields, source_snapshot, created_at,
	duplicate_suggestion_id, duplicate_score`

func scanUserMerge(row interface{ Scan(...any) error }) (*mergedesk.UserMerge, error) {
	var m mergedesk.UserMerge
	var ids, fields, snap string
	var c int64
	var sid sql.NullInt64
	var score sql.NullFloat64
	if err := row.Scan(&m.ID, &m.ActorID, &m.SourceID, &m.TargetID, &m.TicketsMoved, &m.CCsMoved, &ids, &fields, &snap, &c, &sid, &score); err != nil {
		return nil, err
	}
	m.DuplicateSuggestionID = int64Ptr(sid)
	if score.Valid {
		m.DuplicateScore = &score.Float64
	}
	if err := json.Unmarshal([]byte(ids), &m.IdentitiesMoved); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(fields), &m.Fields); err != nil {
		return nil, err
	}
	m.SourceSnapshot, m.CreatedAt = json.RawMessage(snap), fromUnix(c)
	return &m, nil
}

// UserMerge returns one merge record.
func (db *DB) UserMerge(ctx context.Context, id int64) (*mergedesk.UserMerge, error) {
	m, err := scanUserMerge(db.r().queryRow(ctx, "SELECT "+userMergeColumns+" FROM user_merges WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, mergedesk.NotFound()
	}
	return m, err
}

// UserMerges lists merge records newest first, optionally those where userID is
// the source or the target.
func (db *DB) UserMerges(ctx context.Context, userID *int64, p mergedesk.Page) ([]*mergedesk.UserMerge, mergedesk.PageInfo, error) {
	where, args := "1=1", []any{}
	if userID != nil {
		where, args = "(source_id = ? OR target_id = ?)", []any{*userID, *userID}
	}
	p.Desc = true
	ids, info, err := pageIDs(ctx, db.r(), "user_merges", where, args, p)
	if err != nil {
		return nil, info, err
	}
	out := make([]*mergedesk.UserMerge, 0, len(ids))
	for _, id := range ids {
		m, err := db.UserMerge(ctx, id)
		if err != nil {
			return nil, info, err
		}
		out = append(out, m)
	}
	return out, info, nil
}
