package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/identity"
)

const identityColumns = `id, user_id, type, value, verified, is_primary, verification_method, undeliverable_count, created_at, updated_at`

func loadIdentities(ctx context.Context, q querier, where string, args ...any) ([]mergedesk.Identity, error) {
	rows, err := q.query(ctx, "SELECT "+identityColumns+" FROM identities WHERE "+where+
		" ORDER BY user_id, "+typeOrder+", is_primary DESC, id", args...)
	if err != nil {
		return nil, fmt.Errorf("load identities: %w", err)
	}
	defer rows.Close()
	out := []mergedesk.Identity{}
	for rows.Next() {
		var id mergedesk.Identity
		var c, u int64
		if err := rows.Scan(&id.ID, &id.UserID, &id.Type, &id.Value, &id.Verified, &id.Primary,
			&id.VerificationMethod, &id.UndeliverableCount, &c, &u); err != nil {
			return nil, err
		}
		id.CreatedAt, id.UpdatedAt = fromUnix(c), fromUnix(u)
		out = append(out, id)
	}
	return out, rows.Err()
}

// typeOrder sorts identities by type in the order of mergedesk.IdentityTypes.
var typeOrder = func() string {
	var b strings.Builder
	b.WriteString("CASE type")
	for i, t := range mergedesk.IdentityTypes {
		fmt.Fprintf(&b, " WHEN '%s' THEN %d", t, i)
	}
	b.WriteString(" END")
	return b.String()
}()

// Identities lists a user's identities, optionally only of the given types.
func (db *DB) Identities(ctx context.Context, userID int64, types []string) ([]mergedesk.Identity, error) {
	if _, err := loadUser(ctx, db.r(), userID); err != nil {
		return nil, err
	}
	where, args := "user_id = ?", []any{userID}
	if len(types) > 0 {
		where += " AND type IN (" + strings.TrimSuffix(strings.Repeat("?,", len(types)), ",") + ")"
		for _, t := range types {
			args = append(args, t)
		}
	}
	return loadIdentities(ctx, db.r(), where, args...)
}

// Identity returns one identity of a user.
func (db *DB) Identity(ctx context.Context, userID, id int64) (*mergedesk.Identity, error) {
	return identityOf(ctx, db.r(), userID, id)
}

func identityOf(ctx context.Context, q querier, userID, id int64) (*mergedesk.Identity, error) {
	ids, err := loadIdentities(ctx, q, "user_id = ? AND id = ?", userID, id)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, mergedesk.NotFound()
	}
	return &ids[0], nil
}

// AddIdentity adds an identity to an active user (docs/api.md §3.2). check, when not
// nil, runs on the user inside the transaction before anything is written (as
// for every identity write below).
func (db *DB) AddIdentity(ctx context.Context, userID int64, ni mergedesk.NewIdentity, check func(*mergedesk.User) error) (*mergedesk.Identity, error) {
	var out *mergedesk.Identity
	err := db.Update(ctx, func(tx *Tx) error {
		u, err := checkedActiveUser(ctx, tx, userID, check)
		if err != nil {
			return err
		}
		s, err := tx.settings(ctx)
		if err != nil {
			return err
		}
		id, err := addIdentity(ctx, tx, u, ni, s.Phone.DefaultRegion, "value")
		if err != nil {
			return err
		}
		if err := touchUser(ctx, tx, userID); err != nil {
			return err
		}
		out, err = identityOf(ctx, tx, userID, id)
		return err
	})
	return out, err
}

// addIdentity normalises and inserts ni for u and returns its id. A value u already
// owns is a no-op that returns the existing id; a value another user owns gives 422
// DuplicateValue on errField. u.Identities is updated.
func addIdentity(ctx context.Context, tx *Tx, u *mergedesk.User, ni mergedesk.NewIdentity, region, errField string) (int64, error) {
	if !identity.Valid(ni.Type) {
		return 0, mergedesk.Invalid("type", mergedesk.CodeInvalid, "Type: %q is not a valid identity type", ni.Type)
	}
	stored, norm, err := identity.Normalize(ni.Type, ni.Value, region)
	if err != nil {
		return 0, renameField(err, "value", errField)
	}
	owner, err := userIDByIdentity(ctx, tx, ni.Type, norm)
	if err != nil {
		return 0, err
	}
	if owner == u.ID {
		for _, id := range u.Identities {
			if id.Type == ni.Type && strings.EqualFold(id.Value, stored) {
				return id.ID, nil
			}
		}
		return 0, nil
	}
	if owner != 0 {
		return 0, duplicateValue(errField, stored)
	}
	hasType := false
	for _, id := range u.Identities {
		if id.Type == ni.Type {
			hasType = true
		}
	}
	primary := !hasType || ni.Primary
	if primary && hasType {
		if _, err := tx.exec(ctx, "UPDATE identities SET is_primary = FALSE, updated_at = ? WHERE user_id = ? AND type = ?",
			unix(tx.now), u.ID, ni.Type); err != nil {
			return 0, err
		}
		for i := range u.Identities {
			if u.Identities[i].Type == ni.Type {
				u.Identities[i].Primary = false
			}
		}
	}
	method := "none"
	if ni.Verified {
		method = "full"
	} else if ni.VerificationMethod == "low" {
		method = "low"
	}
	now := unix(tx.now)
	id, err := tx.insert(ctx, `INSERT INTO identities (user_id, type, value, value_norm, verified, is_primary,
		verification_method, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, ni.Type, stored, norm, ni.Verified, primary, method, now, now)
	if isUniqueViolation(err) {
		return 0, duplicateValue(errField, stored)
	}
	if err != nil {
		return 0, fmt.Errorf("insert identity: %w", err)
	}
	u.Identities = append(u.Identities, mergedesk.Identity{ID: id, UserID: u.ID, Type: ni.Type, Value: stored,
		Verified: ni.Verified, Primary: primary, VerificationMethod: method, CreatedAt: tx.now, UpdatedAt: tx.now})
	if ni.Type == mergedesk.IdentityEmail {
		if err := mapDomain(ctx, tx, u, stored); err != nil {
			return 0, err
		}
	}
	return id, nil
}

func duplicateValue(field, value string) error {
	label := strings.ToUpper(field[:1]) + field[1:]
	return mergedesk.Invalid(field, mergedesk.CodeDuplicate, "%s: %s is already being used by another user", label, value)
}

// renameField moves the details of a RecordInvalid error from one key to another.
func renameField(err error, from, to string) error {
	e, ok := err.(*mergedesk.Error)
	if !ok || from == to || e.Details[from] == nil {
		return err
	}
	for i := range e.Details[from] {
		label := strings.ToUpper(to[:1]) + to[1:]
		e.Details[from][i].Description = strings.Replace(e.Details[from][i].Description, "Value", label, 1)
	}
	e.Details[to] = e.Details[from]
	delete(e.Details, from)
	return e
}

// mapDomain joins an end user without organizations to the one organization that
// lists the domain of email (docs/api.md §2.4). Merges never call it (M19).
func mapDomain(ctx context.Context, tx *Tx, u *mergedesk.User, email string) error {
	if u.Role != mergedesk.RoleEndUser || len(u.Memberships) > 0 {
		return nil
	}
	at := strings.LastIndexByte(email, '@')
	domain := strings.ToLower(email[at+1:])
	orgs, err := scanIDs(tx.query(ctx, `SELECT id FROM organizations WHERE domain_names LIKE ? ESCAPE '\' LIMIT 2`,
		"% "+likeEscape(domain)+" %"))
	if err != nil || len(orgs) != 1 {
		return err
	}
	return addMembership(ctx, tx, u, orgs[0])
}

// UpdateIdentity changes an identity's value or verifies it.
func (db *DB) UpdateIdentity(ctx context.Context, userID, id int64, value *string, verified *bool, method *string, check func(*mergedesk.User) error) (*mergedesk.Identity, error) {
	var out *mergedesk.Identity
	err := db.Update(ctx, func(tx *Tx) error {
		u, err := checkedActiveUser(ctx, tx, userID, check)
		if err != nil {
			return err
		}
		cur, err := identityOf(ctx, tx, userID, id)
		if err != nil {
			return err
		}
		now := unix(tx.now)
		if value != nil {
			s, err := tx.settings(ctx)
			if err != nil {
				return err
			}
			stored, norm, err := identity.Normalize(cur.Type, *value, s.Phone.DefaultRegion)
			if err != nil {
				return err
			}
			owner, err := userIDByIdentity(ctx, tx, cur.Type, norm)
			if err != nil {
				return err
			}
			if owner != 0 && owner != u.ID {
				return duplicateValue("value", stored)
			}
			_, err = tx.exec(ctx, "UPDATE identities SET value = ?, value_norm = ?, updated_at = ? WHERE id = ?", stored, norm, now, id)
			if isUniqueViolation(err) {
				return duplicateValue("value", stored)
			}
			if err != nil {
				return err
			}
		}
		if verified != nil && *verified {
			if _, err := tx.exec(ctx, "UPDATE identities SET verified = TRUE, verification_method = 'full', updated_at = ? WHERE id = ?", now, id); err != nil {
				return err
			}
		}
		if method != nil && (verified == nil || !*verified) {
			if *method != "none" && *method != "low" {
				return mergedesk.Errorf(mergedesk.EParamMissing, "verification_method must be none or low")
			}
			if _, err := tx.exec(ctx, "UPDATE identities SET verification_method = ?, verified = FALSE, updated_at = ? WHERE id = ?", *method, now, id); err != nil {
				return err
			}
		}
		if err := touchUser(ctx, tx, userID); err != nil {
			return err
		}
		out, err = identityOf(ctx, tx, userID, id)
		return err
	})
	return out, err
}

// MakePrimary makes an identity the primary of its type and returns all of the
// user's identities.
func (db *DB) MakePrimary(ctx context.Context, userID, id int64, check func(*mergedesk.User) error) ([]mergedesk.Identity, error) {
	var out []mergedesk.Identity
	err := db.Update(ctx, func(tx *Tx) error {
		if _, err := checkedActiveUser(ctx, tx, userID, check); err != nil {
			return err
		}
		cur, err := identityOf(ctx, tx, userID, id)
		if err != nil {
			return err
		}
		now := unix(tx.now)
		if _, err := tx.exec(ctx, `UPDATE identities SET is_primary = (id = ?), updated_at = ? WHERE user_id = ? AND type = ?`,
			id, now, userID, cur.Type); err != nil {
			return err
		}
		if err := touchUser(ctx, tx, userID); err != nil {
			return err
		}
		out, err = loadIdentities(ctx, tx, "user_id = ?", userID)
		return err
	})
	return out, err
}

// DeleteIdentity removes an identity; a deleted primary is replaced by the oldest
// remaining identity of its type.
func (db *DB) DeleteIdentity(ctx context.Context, userID, id int64, check func(*mergedesk.User) error) error {
	return db.Update(ctx, func(tx *Tx) error {
		if _, err := checkedActiveUser(ctx, tx, userID, check); err != nil {
			return err
		}
		cur, err := identityOf(ctx, tx, userID, id)
		if err != nil {
			return err
		}
		if _, err := tx.exec(ctx, "DELETE FROM identities WHERE id = ?", id); err != nil {
			return err
		}
		if cur.Primary {
			if _, err := tx.exec(ctx, `UPDATE identities SET is_primary = TRUE WHERE id =
				(SELECT MIN(id) FROM identities WHERE user_id = ? AND type = ?)`, userID, cur.Type); err != nil {
				return err
			}
		}
		return touchUser(ctx, tx, userID)
	})
}
