package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/duplicates"
)

// Duplicate detection's storage (docs/duplicates-runtime.md): the suggested
// pairs, the blocking keys of every active end user, the queue of users to
// re-evaluate (rule D8) and the scan state with the estimated model. The
// scoring itself is internal/duplicates; internal/detector runs it.

// activeEndUser is the SQL condition of rule D1 on the users table.
const activeEndUser = "active = TRUE AND role = 'end-user'"

// profileBatch is how many users a scan reads per round trip: three queries per
// batch (users, identities, memberships), whatever the number of users.
const profileBatch = 5000

// enqueueDuplicates queues users for re-evaluation by the live detector, in
// the transaction of the change that calls for it (rule D8). It does nothing
// when duplicate detection is off (duplicates.enabled false).
func enqueueDuplicates(ctx context.Context, tx *Tx, ids ...int64) error {
	if len(ids) == 0 {
		return nil
	}
	if on, err := detectionOn(ctx, tx); err != nil || !on {
		return err
	}
	now := unix(tx.now)
	for c := range chunks(len(ids), 500) {
		part := ids[c.lo:c.hi]
		args := make([]any, 0, 2*len(part))
		for _, id := range part {
			args = append(args, id, now)
		}
		q := "INSERT INTO duplicate_queue (user_id, queued_at) VALUES " + tx.db.dialect.values(len(part), 2) +
			" ON CONFLICT (user_id) DO NOTHING"
		if _, err := tx.tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("enqueue duplicates: %w", err)
		}
	}
	return nil
}

// enqueueOrganizationMembers queues the active end users who are members of
// organization orgID, in one statement whatever their number: a change of its
// domain_names changes the evidence of each of them (rule D8). Like
// enqueueDuplicates, it does nothing while detection is off.
func enqueueOrganizationMembers(ctx context.Context, tx *Tx, orgID int64) error {
	if on, err := detectionOn(ctx, tx); err != nil || !on {
		return err
	}
	_, err := tx.exec(ctx, `INSERT INTO duplicate_queue (user_id, queued_at)
		SELECT m.user_id, ? FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.organization_id = ? AND u.active = TRUE AND u.role = 'end-user'
		ON CONFLICT (user_id) DO NOTHING`, unix(tx.now), orgID)
	if err != nil {
		return fmt.Errorf("enqueue members of organization %d: %w", orgID, err)
	}
	return nil
}

// detectionOn reports whether duplicate detection is on (duplicates.enabled),
// from the store's settings cache.
func detectionOn(ctx context.Context, tx *Tx) (bool, error) {
	s, err := tx.db.Settings(ctx)
	if err != nil {
		return false, err
	}
	return s.Duplicates.Enabled, nil
}

// dropDuplicates removes at once what detection holds about a user who is
// deleted or merged away (rule D8): its open suggestions and its keys. Its
// former partners are queued, since their groups may split. Dismissed and
// merged rows stay as the record of D7 and D13.
func dropDuplicates(ctx context.Context, tx *Tx, userID int64) error {
	partners, err := scanIDs(tx.query(ctx, `SELECT user_b FROM duplicate_suggestions WHERE user_a = ? AND status = 'open'
		UNION SELECT user_a FROM duplicate_suggestions WHERE user_b = ? AND status = 'open'`, userID, userID))
	if err != nil {
		return fmt.Errorf("drop duplicates of %d: %w", userID, err)
	}
	for _, st := range []struct {
		q    string
		args []any
	}{
		{"DELETE FROM duplicate_suggestions WHERE status = 'open' AND (user_a = ? OR user_b = ?)", []any{userID, userID}},
		{"DELETE FROM duplicate_keys WHERE user_id = ?", []any{userID}},
		{"DELETE FROM duplicate_queue WHERE user_id = ?", []any{userID}},
	} {
		if _, err := tx.exec(ctx, st.q, st.args...); err != nil {
			return fmt.Errorf("drop duplicates of %d: %w", userID, err)
		}
	}
	return enqueueDuplicates(ctx, tx, partners...)
}

// resolveDuplicateOnMerge applies rule D13 inside a merge: an open suggestion
// of the pair is marked merged and recorded on the merge record.
func resolveDuplicateOnMerge(ctx context.Context, tx *Tx, rec *mergedesk.UserMerge) error {
	a, b := min(rec.SourceID, rec.TargetID), max(rec.SourceID, rec.TargetID)
	var id int64
	var score float64
	err := tx.queryRow(ctx, "SELECT id, score FROM duplicate_suggestions WHERE user_a = ? AND user_b = ? AND status = 'open'", a, b).
		Scan(&id, &score)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("merge suggestion: %w", err)
	}
	if _, err := tx.exec(ctx, "UPDATE duplicate_suggestions SET status = 'merged', updated_at = ? WHERE id = ?", unix(tx.now), id); err != nil {
		return fmt.Errorf("merge suggestion: %w", err)
	}
	if _, err := tx.exec(ctx, "UPDATE user_merges SET duplicate_suggestion_id = ?, duplicate_score = ? WHERE id = ?", id, score, rec.ID); err != nil {
		return fmt.Errorf("merge suggestion: %w", err)
	}
	rec.DuplicateSuggestionID, rec.DuplicateScore = &id, &score
	return nil
}

// --- Profiles ---

// DuplicateProfiles returns the profiles of the active end users among ids,
// by id; others are left out (rule D1). fields are the compared user-field
// keys (duplicates.user_fields).
func (db *DB) DuplicateProfiles(ctx context.Context, ids []int64, fields []string) ([]*duplicates.Profile, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	in, args := inArgs(ids)
	return loadProfiles(ctx, db.r(), "id IN ("+in+")", args, "user_id IN ("+in+")", args, fields)
}

// EachDuplicateProfile calls fn with every active end user's profile in id
// order, reading profileBatch users at a time with three set-based queries,
// so that a scan of a million users holds one batch of rows at a time.
func (db *DB) EachDuplicateProfile(ctx context.Context, fields []string, fn func(*duplicates.Profile) error) error {
	var after int64
	for {
		ids, err := scanIDs(db.r().query(ctx, "SELECT id FROM users WHERE "+activeEndUser+" AND id > ? ORDER BY id LIMIT ?", after, profileBatch))
		if err != nil {
			return fmt.Errorf("scan profiles: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		lo, hi := ids[0], ids[len(ids)-1]
		ps, err := loadProfiles(ctx, db.r(), "id BETWEEN ? AND ?", []any{lo, hi}, "user_id BETWEEN ? AND ?", []any{lo, hi}, fields)
		if err != nil {
			return err
		}
		for _, p := range ps {
			if err := fn(p); err != nil {
				return err
			}
		}
		after = hi
	}
}

// loadProfiles reads the active end users matching userWhere and their
// identities and organizations (relWhere on user_id), by id.
func loadProfiles(ctx context.Context, q querier, userWhere string, userArgs []any, relWhere string, relArgs []any, fields []string) ([]*duplicates.Profile, error) {
	rows, err := q.query(ctx, "SELECT id, name, user_fields FROM users WHERE "+activeEndUser+" AND "+userWhere+" ORDER BY id", userArgs...)
	if err != nil {
		return nil, fmt.Errorf("load profiles: %w", err)
	}
	var out []*duplicates.Profile
	byID := map[int64]*duplicates.Profile{}
	for rows.Next() {
		p := &duplicates.Profile{}
		var uf string
		if err := rows.Scan(&p.ID, &p.Name, &uf); err != nil {
			rows.Close()
			return nil, err
		}
		p.Fields = profileFields(uf, fields)
		out = append(out, p)
		byID[p.ID] = p
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, nil
	}
	rows, err = q.query(ctx, "SELECT user_id, type, value FROM identities WHERE "+relWhere+" ORDER BY user_id, id", relArgs...)
	if err != nil {
		return nil, fmt.Errorf("load profile identities: %w", err)
	}
	for rows.Next() {
		var uid int64
		var typ, v string
		if err := rows.Scan(&uid, &typ, &v); err != nil {
			rows.Close()
			return nil, err
		}
		p := byID[uid]
		if p == nil {
			continue // an agent's identity in the same id range
		}
		switch typ {
		case mergedesk.IdentityEmail, mergedesk.IdentityGoogle:
			p.Emails = append(p.Emails, strings.ToLower(v))
		case mergedesk.IdentityPhone:
			p.Phones = append(p.Phones, v)
		default:
			p.Handles = append(p.Handles, duplicates.Handle{Type: typ, Value: v})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = q.query(ctx, `SELECT m.user_id, m.organization_id, o.domain_names FROM memberships m
		JOIN organizations o ON o.id = m.organization_id WHERE m.`+relWhere+` ORDER BY m.user_id, m.organization_id`, relArgs...)
	if err != nil {
		return nil, fmt.Errorf("load profile organizations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var uid, org int64
		var domains string
		if err := rows.Scan(&uid, &org, &domains); err != nil {
			return nil, err
		}
		if p := byID[uid]; p != nil {
			p.OrgIDs = append(p.OrgIDs, org)
			p.OrgDomains = append(p.OrgDomains, strings.Fields(domains)...)
		}
	}
	return out, rows.Err()
}

// profileFields picks the compared user fields out of a user's user_fields
// JSON, in the setting's order, "" when unset.
func profileFields(raw string, keys []string) []string {
	if len(keys) == 0 {
		return nil
	}
	out := make([]string, len(keys))
	m := decodeObject(raw)
	for i, k := range keys {
		switch v := m[k].(type) {
		case nil:
		case string:
			out[i] = v
		case float64:
			out[i] = strconv.FormatFloat(v, 'f', -1, 64)
		case bool:
			out[i] = strconv.FormatBool(v)
		default:
			out[i] = encodeJSON(v)
		}
	}
	return out
}

// DuplicateFacts returns what the suggested direction of a pair depends on
// (rule D6) for each of ids that exists.
func (db *DB) DuplicateFacts(ctx context.Context, ids []int64) (map[int64]mergedesk.DuplicateFacts, error) {
	out := map[int64]mergedesk.DuplicateFacts{}
	if len(ids) == 0 {
		return out, nil
	}
	in, args := inArgs(ids)
	rows, err := db.r().query(ctx, `SELECT u.id, u.created_at,
		CASE WHEN EXISTS (SELECT 1 FROM identities i WHERE i.user_id = u.id AND i.verified = TRUE) THEN 1 ELSE 0 END
		FROM users u WHERE u.id IN (`+in+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("duplicate facts: %w", err)
	}
	for rows.Next() {
		var f mergedesk.DuplicateFacts
		var c int64
		var v int
		if err := rows.Scan(&f.UserID, &c, &v); err != nil {
			rows.Close()
			return nil, err
		}
		f.CreatedAt, f.Verified = fromUnix(c), v == 1
		out[f.UserID] = f
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = db.r().query(ctx, "SELECT requester_id, COUNT(*) FROM tickets WHERE requester_id IN ("+in+") AND deleted = FALSE GROUP BY requester_id", args...)
	if err != nil {
		return nil, fmt.Errorf("duplicate facts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		f := out[id]
		f.Tickets = n
		out[id] = f
	}
	return out, rows.Err()
}

// --- Keys ---

// CountActiveEndUsers is the number of active end users (the Users of the
// score's statistics, rule D4).
func (db *DB) CountActiveEndUsers(ctx context.Context) (int, error) {
	var n int
	err := db.r().queryRow(ctx, "SELECT COUNT(*) FROM users WHERE "+activeEndUser).Scan(&n)
	return n, err
}

// DuplicateKeyCounts returns how many users hold each of keys.
func (db *DB) DuplicateKeyCounts(ctx context.Context, keys []uint64) (map[uint64]int, error) {
	out := make(map[uint64]int, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	in, args := inArgs(keyInts(keys))
	rows, err := db.r().query(ctx, "SELECT key_hash, COUNT(*) FROM duplicate_keys WHERE key_hash IN ("+in+") GROUP BY key_hash", args...)
	return keyCounts(rows, err, out)
}

// keyCounts reads (key, count) rows into out.
func keyCounts(rows *sql.Rows, err error, out map[uint64]int) (map[uint64]int, error) {
	if err != nil {
		return nil, fmt.Errorf("duplicate key counts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k int64
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[uint64(k)] = n
	}
	return out, rows.Err()
}

// DuplicateKeyCountsUpTo returns how many users hold each of keys, counting at
// most limit per key (a key at limit is held by limit users or more): a live
// lookup reads a common surname's count without walking its whole block.
func (db *DB) DuplicateKeyCountsUpTo(ctx context.Context, keys []uint64, limit int) (map[uint64]int, error) {
	keys = dedupeKeys(keys)
	out := make(map[uint64]int, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	parts := make([]string, len(keys))
	args := make([]any, 0, 3*len(keys))
	for i, k := range keys {
		// The limit is written in: SQLite re-prepares a statement on every
		// run when a bound LIMIT changes.
		parts[i] = "SELECT CAST(? AS BIGINT), (SELECT COUNT(*) FROM (SELECT 1 FROM duplicate_keys WHERE key_hash = ? LIMIT " + strconv.Itoa(max(limit, 0)) + ") x)"
		args = append(args, int64(k), int64(k))
	}
	rows, err := db.r().query(ctx, strings.Join(parts, " UNION ALL "), args...)
	return keyCounts(rows, err, out)
}

// DuplicateCandidates returns the users other than userID that share one of
// keys, at most perKey per key (the newest users of a key). The cap keeps a
// live comparison bounded when a key is as common as a frequent surname or a
// shared company domain: without it one edit would compare the user with
// thousands (docs/duplicates-runtime.md, "What is capped").
func (db *DB) DuplicateCandidates(ctx context.Context, userID int64, keys []uint64, perKey int) ([]int64, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	var parts []string
	var args []any
	for _, k := range dedupeKeys(keys) {
		parts = append(parts, "SELECT x.user_id FROM (SELECT user_id FROM duplicate_keys WHERE key_hash = ? AND user_id <> ? ORDER BY user_id DESC LIMIT "+strconv.Itoa(max(perKey, 0))+") x")
		args = append(args, int64(k), userID)
	}
	ids, err := scanIDs(db.r().query(ctx, "SELECT DISTINCT user_id FROM ("+strings.Join(parts, " UNION ALL ")+") c ORDER BY user_id", args...))
	if err != nil {
		return nil, fmt.Errorf("duplicate candidates of %d: %w", userID, err)
	}
	return ids, nil
}

// SetDuplicateKeys replaces a user's blocking keys.
func (db *DB) SetDuplicateKeys(ctx context.Context, userID int64, keys []uint64) error {
	return db.ReplaceDuplicateKeys(ctx, userID, userID, map[int64][]uint64{userID: keys})
}

// ReplaceDuplicateKeys replaces the keys of every user with an id in
// [lo, hi] by keys, in one short transaction with multi-row inserts: a scan
// rebuilds the table range by range, never locking it for long.
func (db *DB) ReplaceDuplicateKeys(ctx context.Context, lo, hi int64, keys map[int64][]uint64) error {
	var rows []any
	for uid, ks := range keys {
		for _, k := range dedupeKeys(ks) {
			rows = append(rows, int64(k), uid)
		}
	}
	return db.Update(ctx, func(tx *Tx) error {
		if _, err := tx.exec(ctx, "DELETE FROM duplicate_keys WHERE user_id BETWEEN ? AND ?", lo, hi); err != nil {
			return fmt.Errorf("replace duplicate keys: %w", err)
		}
		for c := range chunks(len(rows)/2, 2000) {
			q := "INSERT INTO duplicate_keys (key_hash, user_id) VALUES " + tx.db.dialect.values(c.hi-c.lo, 2) + " ON CONFLICT DO NOTHING"
			if _, err := tx.tx.ExecContext(ctx, q, rows[2*c.lo:2*c.hi]...); err != nil {
				return fmt.Errorf("replace duplicate keys: %w", err)
			}
		}
		return nil
	})
}

// keyDigestMask keeps the low 36 bits of a key for a user's key digest: the
// sum of 30 keys so masked fits in an int64 on both dialects.
const keyDigestMask = 1<<36 - 1

// keyDigest is a user's key count and the sum of its masked keys: two sets
// of keys with the same digest are taken to be the same set.
type keyDigest struct{ n, sum int64 }

// SyncDuplicateKeys makes keys the keys of every user with an id in [lo, hi]
// (a user in the range not in keys has none), in one short transaction, and
// writes only what changed: users whose stored keys have the same digest are
// left alone, so a scan after the first writes the few users whose keys the
// live worker has not written already. It returns the users rewritten.
func (db *DB) SyncDuplicateKeys(ctx context.Context, lo, hi int64, keys map[int64][]uint64) (int, error) {
	written := 0
	err := db.Update(ctx, func(tx *Tx) error {
		var err error
		written, err = syncKeys(ctx, tx, "user_id BETWEEN ? AND ?", []any{lo, hi}, keys)
		return err
	})
	return written, err
}

// SetDuplicateKeysMany replaces the keys of each user in keys (nil: none) in
// one transaction, leaving users whose stored keys are the same alone.
func (db *DB) SetDuplicateKeysMany(ctx context.Context, keys map[int64][]uint64) error {
	if len(keys) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(keys))
	for id := range keys {
		ids = append(ids, id)
	}
	in, args := inArgs(ids)
	return db.Update(ctx, func(tx *Tx) error {
		_, err := syncKeys(ctx, tx, "user_id IN ("+in+")", args, keys)
		return err
	})
}

// syncKeys makes keys the keys of the users matching where (a user matching
// it who is not in keys has none) and returns how many users it wrote.
func syncKeys(ctx context.Context, tx *Tx, where string, whereArgs []any, keys map[int64][]uint64) (int, error) {
	written := 0
	err := func() error {
		rows, err := tx.query(ctx, "SELECT user_id, COUNT(*), SUM(key_hash & ?) FROM duplicate_keys WHERE "+where+" GROUP BY user_id",
			append([]any{int64(keyDigestMask)}, whereArgs...)...)
		if err != nil {
			return fmt.Errorf("sync duplicate keys: %w", err)
		}
		stored := map[int64]keyDigest{}
		for rows.Next() {
			var uid int64
			var d keyDigest
			if err := rows.Scan(&uid, &d.n, &d.sum); err != nil {
				rows.Close()
				return err
			}
			stored[uid] = d
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		var drop []int64
		type row struct {
			key uint64
			uid int64
		}
		var add []row
		for uid, ks := range keys {
			ks = dedupeKeys(ks)
			d := keyDigest{n: int64(len(ks))}
			for _, k := range ks {
				d.sum += int64(k & keyDigestMask)
			}
			old, ok := stored[uid]
			delete(stored, uid)
			if ok && old == d {
				continue
			}
			if ok {
				drop = append(drop, uid)
			}
			written++
			for _, k := range ks {
				add = append(add, row{k, uid})
			}
		}
		for uid := range stored { // no longer an active end user
			drop = append(drop, uid)
		}
		for c := range chunks(len(drop), 500) {
			in, args := inArgs(drop[c.lo:c.hi])
			if _, err := tx.exec(ctx, "DELETE FROM duplicate_keys WHERE user_id IN ("+in+")", args...); err != nil {
				return fmt.Errorf("sync duplicate keys: %w", err)
			}
		}
		// In key order, so the key index is written page after page.
		slices.SortFunc(add, func(a, b row) int { return cmp.Or(cmp.Compare(int64(a.key), int64(b.key)), cmp.Compare(a.uid, b.uid)) })
		args := make([]any, 0, 2*min(len(add), 2000))
		for c := range chunks(len(add), 2000) {
			args = args[:0]
			for _, r := range add[c.lo:c.hi] {
				args = append(args, int64(r.key), r.uid)
			}
			q := "INSERT INTO duplicate_keys (key_hash, user_id) VALUES " + tx.db.dialect.values(c.hi-c.lo, 2) + " ON CONFLICT DO NOTHING"
			if _, err := tx.tx.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("sync duplicate keys: %w", err)
			}
		}
		return nil
	}()
	return written, err
}

func keyInts(keys []uint64) []int64 {
	out := make([]int64, len(keys))
	for i, k := range keys {
		out[i] = int64(k)
	}
	return out
}

func dedupeKeys(keys []uint64) []uint64 {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	return slices.Compact(keys)
}

// --- Queue ---

// EnqueueDuplicates queues users for re-evaluation (a failed evaluation, a
// restored suggestion), when detection is on.
func (db *DB) EnqueueDuplicates(ctx context.Context, ids []int64) error {
	return db.Update(ctx, func(tx *Tx) error { return enqueueDuplicates(ctx, tx, ids...) })
}

// ClaimDuplicateQueue takes up to n queued users off the queue, oldest first.
func (db *DB) ClaimDuplicateQueue(ctx context.Context, n int) ([]int64, error) {
	var out []int64
	err := db.Update(ctx, func(tx *Tx) error {
		ids, err := scanIDs(tx.query(ctx, "SELECT user_id FROM duplicate_queue ORDER BY queued_at, user_id LIMIT ?", n))
		if err != nil || len(ids) == 0 {
			out = nil
			return err
		}
		in, args := inArgs(ids)
		if _, err := tx.exec(ctx, "DELETE FROM duplicate_queue WHERE user_id IN ("+in+")", args...); err != nil {
			return err
		}
		out = ids
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim duplicate queue: %w", err)
	}
	return out, nil
}

// --- Model and scan state ---

// DuplicateModel returns the model the last scan saved (JSON), or nil.
func (db *DB) DuplicateModel(ctx context.Context) (json.RawMessage, error) {
	var m sql.NullString
	err := db.r().queryRow(ctx, "SELECT model FROM duplicate_state WHERE id = 1").Scan(&m)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("duplicate model: %w", err)
	}
	if !m.Valid {
		return nil, nil
	}
	return json.RawMessage(m.String), nil
}

// SaveDuplicateModel stores the model a scan estimated.
func (db *DB) SaveDuplicateModel(ctx context.Context, model json.RawMessage) error {
	return db.Update(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, "UPDATE duplicate_state SET model = ?, updated_at = ? WHERE id = 1", string(model), unix(tx.now))
		return err
	})
}

// BeginDuplicateScan starts or resumes the scan of job jobID. A new scan takes
// the next generation and starts at cursor 0; the scan that was running under
// jobID keeps its generation and resumes after the last user id it recorded.
func (db *DB) BeginDuplicateScan(ctx context.Context, jobID string) (gen, cursor int64, err error) {
	err = db.Update(ctx, func(tx *Tx) error {
		var job sql.NullString
		if err := tx.queryRow(ctx, "SELECT gen, scan_job_id, scan_cursor FROM duplicate_state WHERE id = 1").Scan(&gen, &job, &cursor); err != nil {
			return err
		}
		if job.Valid && job.String == jobID {
			return nil
		}
		gen, cursor = gen+1, 0
		_, err := tx.exec(ctx, "UPDATE duplicate_state SET gen = ?, scan_job_id = ?, scan_cursor = 0, updated_at = ? WHERE id = 1", gen, jobID, unix(tx.now))
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("begin duplicate scan: %w", err)
	}
	return gen, cursor, nil
}

// SaveScanChunk writes the pairs a scan found for users up to cursor (a user
// id) and records the cursor, in one short transaction (rule D10).
func (db *DB) SaveScanChunk(ctx context.Context, gen, cursor int64, pairs []mergedesk.DuplicateSuggestion) error {
	return db.Update(ctx, func(tx *Tx) error {
		if err := upsertSuggestions(ctx, tx, gen, pairs); err != nil {
			return err
		}
		_, err := tx.exec(ctx, "UPDATE duplicate_state SET scan_cursor = ?, updated_at = ? WHERE id = 1", cursor, unix(tx.now))
		return err
	})
}

// FinishDuplicateScan deletes the open suggestions no write of generation gen
// or later confirmed (the scan replaces open suggestions; dismissed and merged
// ones stay, rule D7) and closes the scan.
func (db *DB) FinishDuplicateScan(ctx context.Context, gen int64) error {
	return db.Update(ctx, func(tx *Tx) error {
		if _, err := tx.exec(ctx, "DELETE FROM duplicate_suggestions WHERE status = 'open' AND gen < ?", gen); err != nil {
			return fmt.Errorf("finish duplicate scan: %w", err)
		}
		_, err := tx.exec(ctx, "UPDATE duplicate_state SET scan_job_id = NULL, scan_cursor = 0, updated_at = ? WHERE id = 1", unix(tx.now))
		return err
	})
}

// --- Suggestions ---

// upsertSuggestions writes open suggestions of generation gen. A pair that is
// dismissed or merged keeps its row untouched: a dismissed pair is never
// suggested again (rule D7).
//
// Pairs whose users are no longer both active end users are skipped: the
// detector scored them outside this transaction, and a user deleted or merged
// meanwhile must not get a suggestion back after dropDuplicates removed its
// own (rule D8). On PostgreSQL the users are share-locked, so a deactivation
// either committed before (and is seen) or waits for this transaction (and
// its dropDuplicates removes what this one wrote).
func upsertSuggestions(ctx context.Context, tx *Tx, gen int64, pairs []mergedesk.DuplicateSuggestion) error {
	if len(pairs) == 0 {
		return nil
	}
	ids := mergedesk.SuggestionUsers(pairs)
	live := make(map[int64]bool, len(ids))
	for c := range chunks(len(ids), 1000) {
		in, args := inArgs(ids[c.lo:c.hi])
		found, err := scanIDs(tx.query(ctx, "SELECT id FROM users WHERE id IN ("+in+") AND "+activeEndUser+" ORDER BY id"+tx.db.dialect.forShare(), args...))
		if err != nil {
			return fmt.Errorf("save suggestions: %w", err)
		}
		for _, id := range found {
			live[id] = true
		}
	}
	now := unix(tx.now)
	var rows [][]any
	// One statement may not upsert a pair twice (PostgreSQL refuses): the
	// last entry of a pair wins, as it would row by row.
	at := make(map[[2]int64]int, len(pairs))
	for _, p := range pairs {
		a, b := min(p.UserIDs[0], p.UserIDs[1]), max(p.UserIDs[0], p.UserIDs[1])
		if !live[a] || !live[b] {
			continue
		}
		row := []any{a, b, p.Score, encodeJSON(nonNilReasons(p.Reasons)), max(p.GroupID, 0), p.SuggestedTargetID, gen, now, now}
		if i, ok := at[[2]int64{a, b}]; ok {
			rows[i] = row
			continue
		}
		at[[2]int64{a, b}] = len(rows)
		rows = append(rows, row)
	}
	// Multi-row upserts, 500 pairs (4,500 parameters) each.
	for c := range chunks(len(rows), 500) {
		var args []any
		values := make([]string, 0, c.hi-c.lo)
		for _, r := range rows[c.lo:c.hi] {
			values = append(values, "(?, ?, ?, ?, ?, 'open', ?, ?, ?, ?)")
			args = append(args, r...)
		}
		if _, err := tx.exec(ctx, `INSERT INTO duplicate_suggestions (user_a, user_b, score, reasons, group_id, status,
			suggested_target_id, gen, created_at, updated_at) VALUES `+strings.Join(values, ", ")+`
			ON CONFLICT (user_a, user_b) DO UPDATE SET score = excluded.score, reasons = excluded.reasons,
			suggested_target_id = excluded.suggested_target_id, gen = excluded.gen, updated_at = excluded.updated_at,
			group_id = CASE WHEN duplicate_suggestions.group_id = 0 THEN excluded.group_id ELSE duplicate_suggestions.group_id END
			WHERE duplicate_suggestions.status = 'open'`, args...); err != nil {
			return fmt.Errorf("save suggestions: %w", err)
		}
	}
	return nil
}

func nonNilReasons(r []mergedesk.DuplicateReason) []mergedesk.DuplicateReason {
	if r == nil {
		return []mergedesk.DuplicateReason{}
	}
	return r
}

// ReplaceUserDuplicates makes pairs the open suggestions of userID: its other
// open suggestions are deleted, dismissed and merged ones kept (rule D7). The
// rows take the current scan generation, so a running scan keeps them.
func (db *DB) ReplaceUserDuplicates(ctx context.Context, userID int64, pairs []mergedesk.DuplicateSuggestion) error {
	return db.Update(ctx, func(tx *Tx) error {
		var gen int64
		if err := tx.queryRow(ctx, "SELECT gen FROM duplicate_state WHERE id = 1").Scan(&gen); err != nil {
			return fmt.Errorf("replace duplicates of %d: %w", userID, err)
		}
		keep := make([]int64, 0, len(pairs))
		for _, p := range pairs {
			keep = append(keep, p.Other(userID))
		}
		q, args := "DELETE FROM duplicate_suggestions WHERE status = 'open' AND (user_a = ? OR user_b = ?)", []any{userID, userID}
		if len(keep) > 0 {
			in, kargs := inArgs(keep)
			q += " AND NOT ((user_a = ? AND user_b IN (" + in + ")) OR (user_b = ? AND user_a IN (" + in + ")))"
			args = append(append(append(append(args, userID), kargs...), userID), kargs...)
		}
		if _, err := tx.exec(ctx, q, args...); err != nil {
			return fmt.Errorf("replace duplicates of %d: %w", userID, err)
		}
		return upsertSuggestions(ctx, tx, gen, pairs)
	})
}

// OpenDuplicatePairs returns the open pairs touching any of ids (the
// neighbourhood walked to recompute a group, rule D9).
func (db *DB) OpenDuplicatePairs(ctx context.Context, ids []int64) ([][2]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	in, args := inArgs(ids)
	rows, err := db.r().query(ctx, "SELECT user_a, user_b FROM duplicate_suggestions WHERE status = 'open' AND user_a IN ("+in+
		") UNION SELECT user_a, user_b FROM duplicate_suggestions WHERE status = 'open' AND user_b IN ("+in+")", append(args, args...)...)
	if err != nil {
		return nil, fmt.Errorf("open duplicate pairs: %w", err)
	}
	return scanPairs(rows)
}

// AllOpenDuplicatePairs returns every open pair (a scan's group pass).
func (db *DB) AllOpenDuplicatePairs(ctx context.Context) ([][2]int64, error) {
	rows, err := db.r().query(ctx, "SELECT user_a, user_b FROM duplicate_suggestions WHERE status = 'open' ORDER BY user_a, user_b")
	if err != nil {
		return nil, fmt.Errorf("open duplicate pairs: %w", err)
	}
	return scanPairs(rows)
}

func scanPairs(rows *sql.Rows) ([][2]int64, error) {
	defer rows.Close()
	var out [][2]int64
	for rows.Next() {
		var p [2]int64
		if err := rows.Scan(&p[0], &p[1]); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// SetDuplicateGroups sets the group of the open suggestions of each user in
// groups (user id → group id, rule D9), a few hundred groups per transaction.
func (db *DB) SetDuplicateGroups(ctx context.Context, groups map[int64]int64) error {
	users := make([]int64, 0, len(groups))
	for u := range groups {
		users = append(users, u)
	}
	slices.Sort(users)
	// Set-based: each statement joins the open suggestions to 500 (user,
	// group) rows; each transaction runs a few of them.
	const rows, perTx = 500, 20
	for t := range chunks(len(users), rows*perTx) {
		err := db.Update(ctx, func(tx *Tx) error {
			for c := range chunks(t.hi-t.lo, rows) {
				part := users[t.lo+c.lo : t.lo+c.hi]
				vals := make([]string, len(part))
				args := make([]any, 0, 2*len(part))
				for i, u := range part {
					vals[i] = "(CAST(? AS BIGINT), CAST(? AS BIGINT))"
					args = append(args, u, groups[u])
				}
				q := `UPDATE duplicate_suggestions SET group_id = v.column2 FROM (VALUES ` + strings.Join(vals, ", ") + `) AS v
					WHERE duplicate_suggestions.user_a = v.column1 AND duplicate_suggestions.status = 'open'
					AND duplicate_suggestions.group_id <> v.column2`
				if _, err := tx.exec(ctx, q, args...); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("set duplicate groups: %w", err)
		}
	}
	return nil
}

// CountDuplicateGroups returns the number of open suggestions and of their groups.
func (db *DB) CountDuplicateGroups(ctx context.Context) (suggestions, groups int, err error) {
	err = db.r().queryRow(ctx, "SELECT COUNT(*), COUNT(DISTINCT group_id) FROM duplicate_suggestions WHERE status = 'open'").Scan(&suggestions, &groups)
	return suggestions, groups, err
}

const suggestionColumns = `id, user_a, user_b, score, reasons, group_id, status, suggested_target_id, dismissed_by_id,
	dismissed_at, created_at, updated_at`

func scanSuggestion(row interface{ Scan(...any) error }) (*mergedesk.DuplicateSuggestion, error) {
	var s mergedesk.DuplicateSuggestion
	var reasons string
	var by, at sql.NullInt64
	var c, u int64
	if err := row.Scan(&s.ID, &s.UserIDs[0], &s.UserIDs[1], &s.Score, &reasons, &s.GroupID, &s.Status, &s.SuggestedTargetID,
		&by, &at, &c, &u); err != nil {
		return nil, err
	}
	if err := decodeInto(reasons, &s.Reasons); err != nil {
		return nil, fmt.Errorf("decode reasons of suggestion %d: %w", s.ID, err)
	}
	s.Reasons = nonNilReasons(s.Reasons)
	s.DismissedByID, s.DismissedAt = int64Ptr(by), fromUnixPtr(at)
	s.CreatedAt, s.UpdatedAt = fromUnix(c), fromUnix(u)
	return &s, nil
}

// DuplicateSuggestion returns one stored suggestion, or RecordNotFound.
func (db *DB) DuplicateSuggestion(ctx context.Context, id int64) (*mergedesk.DuplicateSuggestion, error) {
	return suggestionByID(ctx, db.r(), id)
}

func suggestionByID(ctx context.Context, q querier, id int64) (*mergedesk.DuplicateSuggestion, error) {
	s, err := scanSuggestion(q.queryRow(ctx, "SELECT "+suggestionColumns+" FROM duplicate_suggestions WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, mergedesk.NotFound()
	}
	return s, err
}

// UserDuplicateSuggestions returns every stored suggestion (any status) of a user.
func (db *DB) UserDuplicateSuggestions(ctx context.Context, userID int64) ([]*mergedesk.DuplicateSuggestion, error) {
	rows, err := db.r().query(ctx, "SELECT "+suggestionColumns+" FROM duplicate_suggestions WHERE user_a = ? UNION ALL SELECT "+
		suggestionColumns+" FROM duplicate_suggestions WHERE user_b = ?", userID, userID)
	return scanRows(rows, err, func(r *sql.Rows) (*mergedesk.DuplicateSuggestion, error) { return scanSuggestion(r) })
}

// DuplicateSuggestions lists stored suggestions, best score first (then
// newest), in either pagination style. f must be normalized.
func (db *DB) DuplicateSuggestions(ctx context.Context, f mergedesk.SuggestionFilter, p mergedesk.Page) ([]*mergedesk.DuplicateSuggestion, mergedesk.PageInfo, error) {
	var where []string
	var args []any
	if f.Status != "" && f.Status != "all" {
		where, args = append(where, "status = ?"), append(args, f.Status)
	}
	if f.MinScore != nil {
		where, args = append(where, "score >= ?"), append(args, *f.MinScore)
	}
	if f.UserID != nil {
		where, args = append(where, "(user_a = ? OR user_b = ?)"), append(args, *f.UserID, *f.UserID)
	}
	if f.GroupID != nil {
		where, args = append(where, "group_id = ?"), append(args, *f.GroupID)
	}
	req := idPage(p)
	req.desc = true // best score first, then the newest suggestion
	return paginate(ctx, db.r(), list{cols: suggestionColumns, from: "duplicate_suggestions", where: strings.Join(where, " AND "),
		args: args, order: []string{"score"}, lostCursor: true}, req,
		func(r *sql.Rows) (*mergedesk.DuplicateSuggestion, error) { return scanSuggestion(r) })
}

// DismissDuplicate marks a suggestion "not the same person" (rule D7), with
// who and when. Dismissing a dismissed suggestion changes nothing; a merged
// one gives RecordInvalid on status.
func (db *DB) DismissDuplicate(ctx context.Context, id, actorID int64) (*mergedesk.DuplicateSuggestion, error) {
	return db.changeSuggestion(ctx, id, mergedesk.SuggestionOpen, func(tx *Tx, _ *mergedesk.DuplicateSuggestion) error {
		now := unix(tx.now)
		_, err := tx.exec(ctx, "UPDATE duplicate_suggestions SET status = 'dismissed', dismissed_by_id = ?, dismissed_at = ?, updated_at = ? WHERE id = ?",
			actorID, now, now, id)
		return err
	})
}

// RestoreDuplicate undoes a dismissal: the suggestion is open again and both
// users are queued, so the pair is scored afresh (and dropped if it no longer
// reaches the threshold). Restoring an open suggestion changes nothing; a
// merged one gives RecordInvalid on status.
func (db *DB) RestoreDuplicate(ctx context.Context, id int64) (*mergedesk.DuplicateSuggestion, error) {
	return db.changeSuggestion(ctx, id, mergedesk.SuggestionDismissed, func(tx *Tx, s *mergedesk.DuplicateSuggestion) error {
		var gen int64
		if err := tx.queryRow(ctx, "SELECT gen FROM duplicate_state WHERE id = 1").Scan(&gen); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, "UPDATE duplicate_suggestions SET status = 'open', dismissed_by_id = NULL, dismissed_at = NULL, gen = ?, updated_at = ? WHERE id = ?",
			gen, unix(tx.now), id); err != nil {
			return err
		}
		return enqueueDuplicates(ctx, tx, s.UserIDs[0], s.UserIDs[1])
	})
}

// changeSuggestion runs change on suggestion id when its status is from, in
// one transaction, and returns the suggestion as it then is. Any other status
// changes nothing, except merged, which gives RecordInvalid on status.
func (db *DB) changeSuggestion(ctx context.Context, id int64, from string, change func(*Tx, *mergedesk.DuplicateSuggestion) error) (*mergedesk.DuplicateSuggestion, error) {
	var out *mergedesk.DuplicateSuggestion
	err := db.Update(ctx, func(tx *Tx) error {
		s, err := suggestionByID(ctx, tx, id)
		if err != nil {
			return err
		}
		switch s.Status {
		case mergedesk.SuggestionMerged:
			return mergedesk.Invalid("status", mergedesk.CodeInvalid, "Suggestion %d was merged", id)
		case from:
			if err := change(tx, s); err != nil {
				return err
			}
		}
		out, err = suggestionByID(ctx, tx, id)
		return err
	})
	return out, err
}

// DuplicateScores returns every stored pair with its score, whatever its
// status, for measuring detection against labels (`mergedesk bench duplicates`).
func (db *DB) DuplicateScores(ctx context.Context) ([]mergedesk.DuplicateSuggestion, error) {
	rows, err := db.r().query(ctx, "SELECT user_a, user_b, score FROM duplicate_suggestions")
	return scanRows(rows, err, func(r *sql.Rows) (mergedesk.DuplicateSuggestion, error) {
		var s mergedesk.DuplicateSuggestion
		err := r.Scan(&s.UserIDs[0], &s.UserIDs[1], &s.Score)
		return s, err
	})
}
