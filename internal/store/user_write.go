package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/identity"
)

// CreateUser creates a user with its identities and organization (docs/api.md §2.3).
func (db *DB) CreateUser(ctx context.Context, nu mergedesk.NewUser) (*mergedesk.User, error) {
	var out *mergedesk.User
	err := db.Update(ctx, func(tx *Tx) error {
		u, err := createUser(ctx, tx, nu)
		if err != nil {
			return err
		}
		out, err = loadUser(ctx, tx, u.ID)
		return err
	})
	return out, err
}

// NameNorm is the form names are matched and sorted by.
func NameNorm(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func createUser(ctx context.Context, tx *Tx, nu mergedesk.NewUser) (*mergedesk.User, error) {
	if err := nu.Normalize(); err != nil {
		return nil, err
	}
	name, role, locale, tz := nu.Name, nu.Role, nu.LocaleID, nu.TimeZone
	s, err := tx.settings(ctx)
	if err != nil {
		return nil, err
	}
	var shared *string
	if nu.SharedPhone && nu.Phone != "" {
		p, err := identity.Phone(nu.Phone, s.Phone.DefaultRegion)
		if err != nil {
			return nil, renameField(err, "value", "phone")
		}
		shared = &p
	}
	ext, extNorm := externalID(nu.ExternalID)
	tags := nu.Tags
	if !s.Users.Tagging {
		tags = nil
	}
	fields := nu.UserFields
	if fields == nil {
		fields = map[string]any{}
	}
	now := unix(tx.now)
	id, err := tx.insert(ctx, `INSERT INTO users (name, name_norm, role, suspended, external_id, external_id_norm,
		locale_id, time_zone, shared_phone, tags, details, notes, alias, signature, user_fields, remote_photo_url,
		password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		name, NameNorm(name), role, nu.Suspended, ext, extNorm, locale, tz, nullable(shared), encodeTags(tags),
		nullable(nu.Details), nullable(nu.Notes), nullable(nu.Alias), nullable(nu.Signature), encodeJSON(fields),
		nullable(nu.RemotePhotoURL), nil, now, now)
	if isUniqueViolation(err) {
		return nil, mergedesk.Invalid("external_id", mergedesk.CodeDuplicate, "External: %s is already being used by another user", *nu.ExternalID)
	}
	if err != nil {
		return nil, fmt.Errorf("insert user: %w", err)
	}
	u := &mergedesk.User{ID: id, Name: name, Role: role, Active: true}
	region := s.Phone.DefaultRegion
	// Organization first, so domain mapping does not add a second one.
	orgID := nu.OrganizationID
	if orgID == nil && nu.OrganizationName != nil {
		oid, err := findOrCreateOrganization(ctx, tx, *nu.OrganizationName)
		if err != nil {
			return nil, err
		}
		orgID = &oid
	}
	if orgID != nil {
		if err := addMembership(ctx, tx, u, *orgID); err != nil {
			return nil, err
		}
	}
	if nu.Email != "" {
		if _, err := addIdentity(ctx, tx, u, mergedesk.NewIdentity{Type: mergedesk.IdentityEmail, Value: nu.Email,
			Verified: nu.Verified, Primary: true}, region, "email"); err != nil {
			return nil, err
		}
	}
	if nu.Phone != "" && !nu.SharedPhone {
		if _, err := addIdentity(ctx, tx, u, mergedesk.NewIdentity{Type: mergedesk.IdentityPhone, Value: nu.Phone,
			Verified: nu.Verified, Primary: true}, region, "phone"); err != nil {
			return nil, err
		}
	}
	for _, ni := range nu.Identities {
		ni.Verified = ni.Verified || nu.Verified
		if _, err := addIdentity(ctx, tx, u, ni, region, "value"); err != nil {
			return nil, err
		}
	}
	if nu.Password != "" {
		if err := setPassword(ctx, tx, id, nu.Password); err != nil {
			return nil, err
		}
	}
	// Every create path (API, create_many, create_or_update, auto-capture)
	// comes through here: rule D8.
	if role == mergedesk.RoleEndUser {
		if err := enqueueDuplicates(ctx, tx, id); err != nil {
			return nil, err
		}
	}
	return u, nil
}

func externalID(p *string) (any, any) {
	if p == nil || strings.TrimSpace(*p) == "" {
		return nil, nil
	}
	v := strings.TrimSpace(*p)
	return v, strings.ToLower(v)
}

// findOrCreateOrganization returns the organization named name (case-insensitive),
// creating it when there is none.
func findOrCreateOrganization(ctx context.Context, tx *Tx, name string) (int64, error) {
	name = strings.TrimSpace(name)
	ids, err := scanIDs(tx.query(ctx, "SELECT id FROM organizations WHERE name_norm = ?", NameNorm(name)))
	if err != nil {
		return 0, err
	}
	if len(ids) > 0 {
		return ids[0], nil
	}
	now := unix(tx.now)
	return tx.insert(ctx, `INSERT INTO organizations (name, name_norm, created_at, updated_at) VALUES (?, ?, ?, ?)`,
		name, NameNorm(name), now, now)
}

// UpdateUser applies upd to an active user (docs/api.md §2.4). check, when not nil,
// runs on the user inside the transaction before anything is written.
func (db *DB) UpdateUser(ctx context.Context, id int64, upd mergedesk.UserUpdate, check func(*mergedesk.User) error) (*mergedesk.User, error) {
	var out *mergedesk.User
	err := db.Update(ctx, func(tx *Tx) error {
		if err := updateUser(ctx, tx, id, upd, check); err != nil {
			return err
		}
		var err error
		out, err = loadUser(ctx, tx, id)
		return err
	})
	return out, err
}

func updateUser(ctx context.Context, tx *Tx, id int64, upd mergedesk.UserUpdate, check func(*mergedesk.User) error) error {
	u, err := checkedActiveUser(ctx, tx, id, check)
	if err != nil {
		return err
	}
	s, err := tx.settings(ctx)
	if err != nil {
		return err
	}
	set := []string{"updated_at = ?"}
	args := []any{unix(tx.now)}
	col := func(c string, v any) {
		set = append(set, c+" = ?")
		args = append(args, v)
	}
	if upd.Name != nil && strings.TrimSpace(*upd.Name) != "" { // "" means no change (docs/api.md §1.3)
		name, err := mergedesk.CheckName(*upd.Name)
		if err != nil {
			return err
		}
		col("name", name)
		col("name_norm", NameNorm(name))
	}
	if upd.Role != nil && *upd.Role != u.Role {
		if !mergedesk.ValidRole(*upd.Role) {
			return mergedesk.Invalid("role", mergedesk.CodeInvalid, "Role: %q is not a valid role", *upd.Role)
		}
		col("role", *upd.Role)
	}
	if upd.Suspended != nil {
		col("suspended", *upd.Suspended)
	}
	if upd.ExternalID != nil {
		ext, norm := externalID(*upd.ExternalID)
		col("external_id", ext)
		col("external_id_norm", norm)
	}
	if upd.LocaleID != nil {
		if mergedesk.LocaleByID(*upd.LocaleID) == nil {
			return mergedesk.Invalid("locale_id", mergedesk.CodeInvalid, "Locale: %d is not a supported locale", *upd.LocaleID)
		}
		col("locale_id", *upd.LocaleID)
	}
	if upd.TimeZone != nil {
		if mergedesk.IANATimeZone(*upd.TimeZone) == "" {
			return mergedesk.Invalid("time_zone", mergedesk.CodeInvalid, "Time zone: %q is not a known time zone", *upd.TimeZone)
		}
		col("time_zone", *upd.TimeZone)
	}
	if upd.Tags != nil && s.Users.Tagging {
		col("tags", encodeTags(*upd.Tags))
	}
	for c, p := range map[string]**string{"details": upd.Details, "notes": upd.Notes, "alias": upd.Alias,
		"signature": upd.Signature, "remote_photo_url": upd.RemotePhotoURL} {
		if p != nil {
			col(c, nullable(*p))
		}
	}
	if upd.UserFields != nil {
		f := maps.Clone(u.UserFields)
		for k, v := range upd.UserFields {
			if v == nil {
				delete(f, k)
			} else {
				f[k] = v
			}
		}
		col("user_fields", encodeJSON(f))
	}
	if upd.Phone != nil {
		switch {
		case *upd.Phone == "":
			col("shared_phone", nil)
		case upd.SharedPhoneNumber != nil && *upd.SharedPhoneNumber:
			p, err := identity.Phone(*upd.Phone, s.Phone.DefaultRegion)
			if err != nil {
				return renameField(err, "value", "phone")
			}
			col("shared_phone", p)
		}
	}
	_, err = tx.exec(ctx, "UPDATE users SET "+strings.Join(set, ", ")+" WHERE id = ?", append(args, id)...)
	if isUniqueViolation(err) {
		return mergedesk.Invalid("external_id", mergedesk.CodeDuplicate, "External: %s is already being used by another user", **upd.ExternalID)
	}
	if err != nil {
		return fmt.Errorf("update user %d: %w", id, err)
	}
	if upd.OrganizationID != nil {
		if err := replaceMemberships(ctx, tx, u, *upd.OrganizationID); err != nil {
			return err
		}
	}
	region := s.Phone.DefaultRegion
	if upd.Email != nil && strings.TrimSpace(*upd.Email) != "" {
		verified := upd.Verified != nil && *upd.Verified
		iid, err := addIdentity(ctx, tx, u, mergedesk.NewIdentity{Type: mergedesk.IdentityEmail, Value: *upd.Email, Verified: verified}, region, "email")
		if err != nil {
			return err
		}
		if verified && iid != 0 {
			if _, err := tx.exec(ctx, "UPDATE identities SET verified = TRUE, verification_method = 'full' WHERE id = ?", iid); err != nil {
				return err
			}
		}
	} else if upd.Verified != nil && *upd.Verified {
		if _, err := tx.exec(ctx, `UPDATE identities SET verified = TRUE, verification_method = 'full'
			WHERE user_id = ? AND type = 'email' AND is_primary = TRUE`, id); err != nil {
			return err
		}
	}
	if upd.Phone != nil && *upd.Phone != "" && (upd.SharedPhoneNumber == nil || !*upd.SharedPhoneNumber) {
		if _, err := addIdentity(ctx, tx, u, mergedesk.NewIdentity{Type: mergedesk.IdentityPhone, Value: *upd.Phone}, region, "phone"); err != nil {
			return err
		}
	}
	// Rule D8: what detection compares changed (a role change makes the user
	// take part or leave).
	if upd.Name != nil || upd.UserFields != nil || upd.OrganizationID != nil || upd.Email != nil || upd.Phone != nil ||
		upd.Role != nil && *upd.Role != u.Role {
		return enqueueDuplicates(ctx, tx, id)
	}
	return nil
}

// DeleteUser soft-deletes a user (docs/api.md §2.3): its identities are released, it
// leaves its organizations, its tickets keep it as requester. check, when not
// nil, runs on the user inside the transaction before anything is written.
func (db *DB) DeleteUser(ctx context.Context, id, actorID int64, check func(*mergedesk.User) error) (*mergedesk.User, error) {
	if id == actorID {
		return nil, mergedesk.Invalid("base", mergedesk.CodeSelfDelete, "You cannot delete yourself")
	}
	var out *mergedesk.User
	err := db.Update(ctx, func(tx *Tx) error {
		u, err := checkedActiveUser(ctx, tx, id, check)
		if err != nil {
			return err
		}
		if err := deactivateUser(ctx, tx, u, nil); err != nil {
			return err
		}
		out, err = loadUser(ctx, tx, id)
		return err
	})
	return out, err
}

// deactivateUser takes a snapshot of u for /deleted_users and releases everything
// it owns. mergedInto is set for merges.
func deactivateUser(ctx context.Context, tx *Tx, u *mergedesk.User, mergedInto *int64) error {
	snap := u.Deleted()
	now := unix(tx.now)
	for _, q := range []string{"DELETE FROM identities WHERE user_id = ?", "DELETE FROM memberships WHERE user_id = ?",
		"DELETE FROM api_tokens WHERE user_id = ?"} {
		if _, err := tx.exec(ctx, q, u.ID); err != nil {
			return fmt.Errorf("deactivate user %d: %w", u.ID, err)
		}
	}
	if _, err := tx.exec(ctx, `UPDATE users SET active = FALSE, merged_into_id = ?, external_id = NULL, external_id_norm = NULL,
		shared_phone = NULL, snapshot = ?, deactivated_at = ?, updated_at = ? WHERE id = ?`,
		nullable(mergedInto), encodeJSON(snap), now, now, u.ID); err != nil {
		return err
	}
	return dropDuplicates(ctx, tx, u.ID)
}

// DeletedUsers lists deleted and merged-away users, newest id first is not
// promised: ascending id like every list.
func (db *DB) DeletedUsers(ctx context.Context, p mergedesk.Page) ([]mergedesk.DeletedUser, mergedesk.PageInfo, error) {
	ids, info, err := pageIDs(ctx, db.r(), "users", "active = FALSE", nil, p)
	if err != nil {
		return nil, info, err
	}
	out := make([]mergedesk.DeletedUser, 0, len(ids))
	for _, id := range ids {
		d, err := db.DeletedUser(ctx, id)
		if err != nil {
			return nil, info, err
		}
		out = append(out, *d)
	}
	return out, info, nil
}

// DeletedUser returns one deleted or merged-away user.
func (db *DB) DeletedUser(ctx context.Context, id int64) (*mergedesk.DeletedUser, error) {
	var snap string
	var merged, at, updated int64Null
	err := db.r().queryRow(ctx, "SELECT COALESCE(snapshot, ''), merged_into_id, deactivated_at, updated_at FROM users WHERE id = ? AND active = FALSE", id).
		Scan(&snap, &merged, &at, &updated)
	if err != nil {
		return nil, mergedesk.NotFound()
	}
	var d mergedesk.DeletedUser
	if err := decodeInto(snap, &d); err != nil {
		return nil, err
	}
	d.MergedIntoID = int64Ptr(merged.NullInt64)
	d.DeletedAt = fromUnixPtr(at.NullInt64)
	d.UpdatedAt = fromUnix(updated.Int64)
	return &d, nil
}

// Tags returns a user's tags.
func (db *DB) UserTags(ctx context.Context, id int64) ([]string, error) {
	u, err := loadUser(ctx, db.r(), id)
	if err != nil {
		return nil, err
	}
	return u.Tags, nil
}

// SetUserTags adds (mode "add"), replaces ("set") or removes ("remove") tags.
// check, when not nil, runs on the user inside the transaction first.
func (db *DB) SetUserTags(ctx context.Context, id int64, mode string, tags []string, check func(*mergedesk.User) error) ([]string, error) {
	var out []string
	err := db.Update(ctx, func(tx *Tx) error {
		u, err := checkedActiveUser(ctx, tx, id, check)
		if err != nil {
			return err
		}
		next := u.Tags
		switch mode {
		case "add":
			next = mergedesk.NormTags(append(next, tags...))
		case "set":
			next = mergedesk.NormTags(tags)
		case "remove":
			drop := map[string]bool{}
			for _, t := range mergedesk.NormTags(tags) {
				drop[t] = true
			}
			next = []string{}
			for _, t := range u.Tags {
				if !drop[t] {
					next = append(next, t)
				}
			}
		default:
			return errors.New("bad tag mode")
		}
		if _, err := tx.exec(ctx, "UPDATE users SET tags = ?, updated_at = ? WHERE id = ?", encodeTags(next), unix(tx.now), id); err != nil {
			return err
		}
		out = decodeTags(encodeTags(next))
		return nil
	})
	return out, err
}

// CreateOrUpdateUser matches an active user by external id, then by email (any
// email identity); a match gets upd, otherwise nu is created. check runs on the
// match (nil for a create) before anything is written, and again on the match
// once updateUser has locked it. It reports whether the user was created.
func (db *DB) CreateOrUpdateUser(ctx context.Context, nu mergedesk.NewUser, upd mergedesk.UserUpdate, check func(*mergedesk.User) error) (*mergedesk.User, bool, error) {
	var out *mergedesk.User
	var created bool
	err := db.Update(ctx, func(tx *Tx) error {
		var match *mergedesk.User
		var err error
		if nu.ExternalID != nil && *nu.ExternalID != "" {
			match, err = userByExternalID(ctx, tx, *nu.ExternalID)
		}
		if match == nil && nu.Email != "" {
			match, err = userByEmail(ctx, tx, nu.Email)
		}
		if err != nil && mergedesk.ErrorCode(err) != mergedesk.ENotFound {
			return err
		}
		if check != nil {
			if err := check(match); err != nil {
				return err
			}
		}
		id := int64(0)
		if match != nil {
			if err := updateUser(ctx, tx, match.ID, upd, check); err != nil {
				return err
			}
			id = match.ID
		} else {
			u, err := createUser(ctx, tx, nu)
			if err != nil {
				return err
			}
			id, created = u.ID, true
		}
		out, err = loadUser(ctx, tx, id)
		return err
	})
	return out, created, err
}
