package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mergedesk/mergedesk"
)

const userColumns = `id, name, role, active, merged_into_id, suspended, external_id, locale_id, time_zone,
	shared_phone, tags, details, notes, alias, signature, user_fields, remote_photo_url,
	created_at, updated_at, last_login_at`

func scanUser(rows interface{ Scan(...any) error }) (*mergedesk.User, error) {
	var (
		u                                              mergedesk.User
		merged, lastLogin                              sql.NullInt64
		ext, shared, details, notes, alias, sig, photo sql.NullString
		tags, fields                                   string
		created, updated                               int64
	)
	err := rows.Scan(&u.ID, &u.Name, &u.Role, &u.Active, &merged, &u.Suspended, &ext, &u.LocaleID, &u.TimeZone,
		&shared, &tags, &details, &notes, &alias, &sig, &fields, &photo, &created, &updated, &lastLogin)
	if err != nil {
		return nil, err
	}
	u.MergedIntoID, u.ExternalID, u.SharedPhone = int64Ptr(merged), strPtr(ext), strPtr(shared)
	u.Tags, u.Details, u.Notes, u.Alias, u.Signature = decodeTags(tags), strPtr(details), strPtr(notes), strPtr(alias), strPtr(sig)
	u.UserFields, u.RemotePhotoURL = decodeObject(fields), strPtr(photo)
	u.CreatedAt, u.UpdatedAt, u.LastLoginAt = fromUnix(created), fromUnix(updated), fromUnixPtr(lastLogin)
	u.Identities, u.Memberships = []mergedesk.Identity{}, []mergedesk.Membership{}
	return &u, nil
}

// loadUsers returns the users with the given ids, in that order, with their
// identities and memberships. Unknown ids are skipped.
func loadUsers(ctx context.Context, q querier, ids []int64) ([]*mergedesk.User, error) {
	if len(ids) == 0 {
		return []*mergedesk.User{}, nil
	}
	in, args := inArgs(ids)
	if tx, ok := q.(*Tx); ok && tx.db.dialect.rowLocks() {
		// A write that uses a user waits for a merge holding it (FOR UPDATE) and
		// then reads the merge's result; ascending order avoids lock cycles.
		locked, err := tx.query(ctx, "SELECT id FROM users WHERE id IN ("+in+") ORDER BY id"+tx.db.dialect.forShare(), args...)
		if err != nil {
			return nil, fmt.Errorf("lock users: %w", err)
		}
		locked.Close()
	}
	rows, err := q.query(ctx, "SELECT "+userColumns+", "+hasMembership("users.id")+" FROM users WHERE id IN ("+in+")", args...)
	if err != nil {
		return nil, fmt.Errorf("load users: %w", err)
	}
	defer rows.Close()
	users := make([]*mergedesk.User, 0, len(ids))
	byID := make(map[int64]*mergedesk.User, len(ids))
	anyMember := false
	for rows.Next() {
		var member bool
		u, err := scanUser(scanWith{rows, &member})
		if err != nil {
			return nil, fmt.Errorf("scan user: %w", err)
		}
		users = append(users, u)
		byID[u.ID] = u
		anyMember = anyMember || member
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	if err := loadRelations(ctx, q, byID, in, args, anyMember); err != nil {
		return nil, err
	}
	return orderBy(ids, users, func(u *mergedesk.User) int64 { return u.ID }), nil
}

// hasMembership is the SQL that tells whether the user with id col belongs to
// any organization, read with the user row so that users in none (most end
// users) cost no memberships query.
func hasMembership(col string) string {
	return "EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = " + col + ")"
}

// loadRelations loads the identities of the users in byID (selected by in and
// args, as loadUsers writes them) and, when any of them is a member of an
// organization, their memberships.
func loadRelations(ctx context.Context, q querier, byID map[int64]*mergedesk.User, in string, args []any, anyMember bool) error {
	idents, err := loadIdentities(ctx, q, "user_id IN ("+in+")", args...)
	if err != nil {
		return err
	}
	for _, id := range idents {
		if u := byID[id.UserID]; u != nil {
			u.Identities = append(u.Identities, id)
		}
	}
	if !anyMember {
		return nil
	}
	ms, err := loadMemberships(ctx, q, "m.user_id IN ("+in+")", args...)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if u := byID[m.UserID]; u != nil {
			u.Memberships = append(u.Memberships, m)
		}
	}
	return nil
}

func loadUser(ctx context.Context, q querier, id int64) (*mergedesk.User, error) {
	us, err := loadUsers(ctx, q, []int64{id})
	if err != nil {
		return nil, err
	}
	if len(us) == 0 {
		return nil, mergedesk.NotFound()
	}
	return us[0], nil
}

// User returns any user that ever existed, active or not. Unknown: RecordNotFound.
func (db *DB) User(ctx context.Context, id int64) (*mergedesk.User, error) {
	return loadUser(ctx, db.r(), id)
}

// UsersByIDs returns the users with these ids in this order; unknown ids are skipped.
func (db *DB) UsersByIDs(ctx context.Context, ids []int64) ([]*mergedesk.User, error) {
	return loadUsers(ctx, db.r(), ids)
}

// Users lists active users matching f.
func (db *DB) Users(ctx context.Context, f mergedesk.UserFilter, p mergedesk.Page) ([]*mergedesk.User, mergedesk.PageInfo, error) {
	where := []string{"active = TRUE"}
	var args []any
	if len(f.Roles) > 0 {
		where = append(where, "role IN ("+strings.TrimSuffix(strings.Repeat("?,", len(f.Roles)), ",")+")")
		for _, r := range f.Roles {
			args = append(args, r)
		}
	}
	if f.ExternalID != nil {
		where = append(where, "external_id_norm = ?")
		args = append(args, strings.ToLower(*f.ExternalID))
	}
	if f.OrgID != nil {
		where = append(where, "id IN (SELECT user_id FROM memberships WHERE organization_id = ?)")
		args = append(args, *f.OrgID)
	}
	ids, info, err := pageIDs(ctx, db.r(), "users", strings.Join(where, " AND "), args, p)
	if err != nil {
		return nil, info, fmt.Errorf("list users: %w", err)
	}
	us, err := loadUsers(ctx, db.r(), ids)
	return us, info, err
}

// ShowManyUsers returns the active users among ids or external ids (at most 100).
func (db *DB) ShowManyUsers(ctx context.Context, ids []int64, externalIDs []string) ([]*mergedesk.User, error) {
	var where string
	var args []any
	switch {
	case len(ids) > 0:
		var in string
		in, args = inArgs(ids)
		where = "id IN (" + in + ")"
	case len(externalIDs) > 0:
		where = "external_id_norm IN (" + strings.TrimSuffix(strings.Repeat("?,", len(externalIDs)), ",") + ")"
		for _, e := range externalIDs {
			args = append(args, strings.ToLower(e))
		}
	default:
		return []*mergedesk.User{}, nil
	}
	found, err := scanIDs(db.r().query(ctx, "SELECT id FROM users WHERE active = TRUE AND "+where+" ORDER BY id", args...))
	if err != nil {
		return nil, err
	}
	return loadUsers(ctx, db.r(), found)
}

// UserIDByIdentity returns the id of the active user owning the normalised value
// of an identity of type typ, or 0.
func userIDByIdentity(ctx context.Context, q querier, typ, norm string) (int64, error) {
	var id int64
	err := q.queryRow(ctx, "SELECT user_id FROM identities WHERE type = ? AND value_norm = ?", typ, norm).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return id, err
}

// UserByEmail returns the active user that owns email (case-insensitive), or
// RecordNotFound.
func (db *DB) UserByEmail(ctx context.Context, email string) (*mergedesk.User, error) {
	return userByEmail(ctx, db.r(), email)
}

func userByEmail(ctx context.Context, q querier, email string) (*mergedesk.User, error) {
	norm := strings.ToLower(strings.TrimSpace(email))
	// The owner may be merged away while we wait for its lock; its identities
	// then belong to the target, so look again (rule M29).
	for attempt := 0; ; attempt++ {
		id, err := userIDByIdentity(ctx, q, mergedesk.IdentityEmail, norm)
		if err != nil {
			return nil, err
		}
		if id == 0 {
			return nil, mergedesk.NotFound()
		}
		u, err := loadUser(ctx, q, id)
		if err != nil || u.Active {
			return u, err
		}
		if attempt == 5 {
			// Merged away again and again while we looked: refuse rather than
			// hand back an inactive owner.
			return nil, inactiveError("email", u)
		}
	}
}

// UserByExternalID returns the active user with this external id, or RecordNotFound.
func (db *DB) UserByExternalID(ctx context.Context, ext string) (*mergedesk.User, error) {
	return userByExternalID(ctx, db.r(), ext)
}

func userByExternalID(ctx context.Context, q querier, ext string) (*mergedesk.User, error) {
	var id int64
	err := q.queryRow(ctx, "SELECT id FROM users WHERE external_id_norm = ?", strings.ToLower(ext)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, mergedesk.NotFound()
	}
	if err != nil {
		return nil, err
	}
	return loadUser(ctx, q, id)
}

// Autocomplete returns up to limit active users whose name, or a word of it,
// starts with prefix, ordered by name.
func (db *DB) Autocomplete(ctx context.Context, prefix string, limit int) ([]*mergedesk.User, error) {
	p := strings.ToLower(strings.TrimSpace(prefix))
	if p == "" {
		return []*mergedesk.User{}, nil
	}
	ids, err := scanIDs(db.r().query(ctx, `SELECT id FROM users WHERE active = TRUE
		AND (name_norm LIKE ? ESCAPE '\' OR name_norm LIKE ? ESCAPE '\') ORDER BY name_norm, id LIMIT ?`,
		likeEscape(p)+"%", "% "+likeEscape(p)+"%", limit))
	if err != nil {
		return nil, fmt.Errorf("autocomplete: %w", err)
	}
	return loadUsers(ctx, db.r(), ids)
}

// Related returns ticket counts for a user; closed and archived tickets count.
func (db *DB) Related(ctx context.Context, id int64) (mergedesk.UserRelated, error) {
	var r mergedesk.UserRelated
	err := db.r().queryRow(ctx, `SELECT
		(SELECT COUNT(*) FROM tickets WHERE requester_id = ? AND deleted = FALSE),
		(SELECT COUNT(*) FROM ticket_ccs c JOIN tickets t ON t.id = c.ticket_id WHERE c.user_id = ? AND c.kind = 'cc' AND t.deleted = FALSE),
		(SELECT COUNT(*) FROM tickets WHERE assignee_id = ? AND deleted = FALSE)`, id, id, id).Scan(&r.Requested, &r.CCd, &r.Assigned)
	return r, err
}

// activeUser loads a user for a write and refuses inactive users.
//
// It takes the user's row lock for writing first: the writes that use it update
// the user too (updated_at), and two transactions that each held a shared lock
// and then wanted to write would deadlock on PostgreSQL.
func activeUser(ctx context.Context, tx *Tx, id int64) (*mergedesk.User, error) {
	if err := lockUser(ctx, tx, id); err != nil {
		return nil, err
	}
	u, err := loadUser(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if !u.Active {
		return nil, inactiveError("user", u)
	}
	return u, nil
}

// inactiveError is the 422 UserInactive of a write that would use an inactive user.
func inactiveError(field string, u *mergedesk.User) error {
	if u.MergedIntoID != nil {
		return mergedesk.Invalid(field, mergedesk.CodeUserInactive,
			"User %d is inactive: it was merged into user %d", u.ID, *u.MergedIntoID)
	}
	return mergedesk.Invalid(field, mergedesk.CodeUserInactive, "User %d is inactive (deleted)", u.ID)
}

// touchUser marks a user changed. Every identity and membership write and a
// merge's target come through here, so it also queues the user for duplicate
// detection (rule D8).
func touchUser(ctx context.Context, tx *Tx, id int64) error {
	if _, err := tx.exec(ctx, "UPDATE users SET updated_at = ? WHERE id = ?", unix(tx.now), id); err != nil {
		return err
	}
	return enqueueDuplicates(ctx, tx, id)
}

var _ = time.Second
