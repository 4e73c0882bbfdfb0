package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/mergedesk/mergedesk"
)

func loadMemberships(ctx context.Context, q querier, where string, args ...any) ([]mergedesk.Membership, error) {
	rows, err := q.query(ctx, `SELECT m.id, m.user_id, m.organization_id, o.name, m.is_default, m.view_tickets, m.created_at, m.updated_at
		FROM memberships m JOIN organizations o ON o.id = m.organization_id WHERE `+where+
		` ORDER BY m.user_id, m.is_default DESC, o.name_norm, m.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("load memberships: %w", err)
	}
	defer rows.Close()
	out := []mergedesk.Membership{}
	for rows.Next() {
		var m mergedesk.Membership
		var c, u int64
		if err := rows.Scan(&m.ID, &m.UserID, &m.OrganizationID, &m.OrganizationName, &m.Default, &m.ViewTickets, &c, &u); err != nil {
			return nil, err
		}
		m.CreatedAt, m.UpdatedAt = fromUnix(c), fromUnix(u)
		out = append(out, m)
	}
	return out, rows.Err()
}

// addMembership makes u a member of org; the first membership is the default.
// Multiple-organization rules are the caller's (see checkMultipleOrgs).
func addMembership(ctx context.Context, tx *Tx, u *mergedesk.User, orgID int64) error {
	for _, m := range u.Memberships {
		if m.OrganizationID == orgID {
			return mergedesk.Invalid("organization_id", mergedesk.CodeDuplicate, "User %d is already a member of organization %d", u.ID, orgID)
		}
	}
	var name string
	if err := tx.queryRow(ctx, "SELECT name FROM organizations WHERE id = ?", orgID).Scan(&name); err != nil {
		return mergedesk.Invalid("organization_id", mergedesk.CodeInvalid, "Organization %d does not exist", orgID)
	}
	isDefault := len(u.Memberships) == 0
	now := unix(tx.now)
	id, err := tx.insert(ctx, `INSERT INTO memberships (user_id, organization_id, is_default, view_tickets, created_at, updated_at)
		VALUES (?, ?, ?, TRUE, ?, ?)`, u.ID, orgID, isDefault, now, now)
	if isUniqueViolation(err) {
		return mergedesk.Invalid("organization_id", mergedesk.CodeDuplicate, "User %d is already a member of organization %d", u.ID, orgID)
	}
	if err != nil {
		return fmt.Errorf("insert membership: %w", err)
	}
	u.Memberships = append(u.Memberships, mergedesk.Membership{ID: id, UserID: u.ID, OrganizationID: orgID,
		OrganizationName: name, Default: isDefault, ViewTickets: true, CreatedAt: tx.now, UpdatedAt: tx.now})
	return nil
}

// replaceMemberships replaces all of u's memberships with one default membership
// of orgID, or none when orgID is nil (writing a user's organization_id).
func replaceMemberships(ctx context.Context, tx *Tx, u *mergedesk.User, orgID *int64) error {
	if orgID != nil && len(u.Memberships) == 1 && u.Memberships[0].OrganizationID == *orgID {
		return nil
	}
	if _, err := tx.exec(ctx, "DELETE FROM memberships WHERE user_id = ?", u.ID); err != nil {
		return err
	}
	u.Memberships = nil
	if orgID == nil {
		return nil
	}
	return addMembership(ctx, tx, u, *orgID)
}

// promoteDefault makes the first remaining membership by organization name the
// default when a user has memberships but no default.
func promoteDefault(ctx context.Context, tx *Tx, userID int64) error {
	_, err := tx.exec(ctx, `UPDATE memberships SET is_default = TRUE WHERE id = (
		SELECT m.id FROM memberships m JOIN organizations o ON o.id = m.organization_id
		WHERE m.user_id = ? ORDER BY o.name_norm, m.id LIMIT 1)
		AND NOT EXISTS (SELECT 1 FROM memberships WHERE user_id = ? AND is_default = TRUE)`, userID, userID)
	return err
}

// checkMultipleOrgs refuses a second membership when the account allows one
// organization per user (docs/api.md §4.2). Writing a user's organization_id replaces
// instead and never calls it.
func checkMultipleOrgs(ctx context.Context, tx *Tx, u *mergedesk.User) error {
	if len(u.Memberships) == 0 {
		return nil
	}
	s, err := tx.settings(ctx)
	if err != nil {
		return err
	}
	if s.Users.MultipleOrganizations {
		return nil
	}
	return mergedesk.Invalid("organization_id", mergedesk.CodeMultipleOrgs,
		"Organization: user %d already belongs to an organization and this account allows only one per user", u.ID)
}

// setDefaultMembership makes membership id the only default of user userID. The
// old default is cleared first: the memberships_one_default index allows no
// moment with two.
func setDefaultMembership(ctx context.Context, tx *Tx, userID, id int64) error {
	now := unix(tx.now)
	if _, err := tx.exec(ctx, `UPDATE memberships SET is_default = FALSE, updated_at = ?
		WHERE user_id = ? AND is_default = TRUE AND id <> ?`, now, userID, id); err != nil {
		return fmt.Errorf("make membership %d default: %w", id, err)
	}
	if _, err := tx.exec(ctx, "UPDATE memberships SET is_default = TRUE, updated_at = ? WHERE id = ? AND is_default = FALSE", now, id); err != nil {
		return fmt.Errorf("make membership %d default: %w", id, err)
	}
	return touchUser(ctx, tx, userID)
}

// lockUser serialises membership writes of one user. SQLite already runs one
// writer at a time; on PostgreSQL this no-op update holds the user's row lock
// until commit, so two concurrent requests cannot both see "no memberships"
// and both add a default (or a second organization when only one is allowed).
func lockUser(ctx context.Context, tx *Tx, userID int64) error {
	if _, err := tx.exec(ctx, "UPDATE users SET updated_at = updated_at WHERE id = ?", userID); err != nil {
		return fmt.Errorf("lock user %d: %w", userID, err)
	}
	return nil
}

// Membership returns one organization membership, or RecordNotFound.
func (db *DB) Membership(ctx context.Context, id int64) (*mergedesk.Membership, error) {
	return loadMembership(ctx, db.r(), id)
}

func loadMembership(ctx context.Context, q querier, id int64) (*mergedesk.Membership, error) {
	ms, err := loadMemberships(ctx, q, "m.id = ?", id)
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, mergedesk.NotFound()
	}
	return &ms[0], nil
}

// Memberships lists memberships matching f. A list narrowed to one user is in
// that user's order (default first, then by organization name; docs/api.md §4.2);
// any other list is in id order.
func (db *DB) Memberships(ctx context.Context, f mergedesk.MembershipFilter, p mergedesk.Page) ([]mergedesk.Membership, mergedesk.PageInfo, error) {
	where := []string{"1 = 1"}
	var args []any
	if f.UserID != nil {
		where = append(where, "m.user_id = ?")
		args = append(args, *f.UserID)
	}
	if f.OrganizationID != nil {
		where = append(where, "m.organization_id = ?")
		args = append(args, *f.OrganizationID)
	}
	var ids []int64
	var info mergedesk.PageInfo
	var err error
	if f.UserID != nil {
		l := userMemberships
		l.where, l.args = strings.Join(where, " AND "), args
		p.Desc = false // the user's order only
		ids, info, err = paginate(ctx, db.r(), l, idPage(p), scanID)
	} else {
		ids, info, err = pageIDs(ctx, db.r(), "memberships m", strings.Join(where, " AND "), args, p)
	}
	if err != nil {
		return nil, info, fmt.Errorf("list memberships: %w", err)
	}
	if len(ids) == 0 {
		return []mergedesk.Membership{}, info, nil
	}
	in, idArgs := inArgs(ids)
	ms, err := loadMemberships(ctx, db.r(), "m.id IN ("+in+")", idArgs...)
	if err != nil {
		return nil, info, err
	}
	return orderBy(ids, ms, func(m mergedesk.Membership) int64 { return m.ID }), info, nil
}

// userMemberships is the list of one user's memberships in that user's order:
// the default first, then by organization name. A cursor whose membership is
// gone continues in id order around it.
var userMemberships = list{
	from:       "memberships m JOIN organizations o ON o.id = m.organization_id",
	key:        "m.id",
	order:      []string{"(CASE WHEN m.is_default THEN 0 ELSE 1 END)", "o.name_norm"},
	lostCursor: true,
}

// CreateMembership makes an active user a member of an organization (docs/api.md
// §4.2). The user's first membership is its default; makeDefault makes a later
// one the default. check, when not nil, runs on the user before anything is
// written. Errors: RecordInvalid (user_id InvalidValue or UserInactive;
// organization_id InvalidValue, DuplicateValue or MultipleOrganizationsDisabled).
func (db *DB) CreateMembership(ctx context.Context, userID, orgID int64, makeDefault bool, check func(*mergedesk.User) error) (*mergedesk.Membership, error) {
	var out *mergedesk.Membership
	err := db.Update(ctx, func(tx *Tx) error {
		if err := lockUser(ctx, tx, userID); err != nil {
			return err
		}
		u, err := loadUser(ctx, tx, userID)
		if mergedesk.ErrorCode(err) == mergedesk.ENotFound {
			return mergedesk.Invalid("user_id", mergedesk.CodeInvalid, "User: %d does not exist", userID)
		}
		if err != nil {
			return err
		}
		if !u.Active {
			return inactiveError("user_id", u)
		}
		if check != nil {
			if err := check(u); err != nil {
				return err
			}
		}
		if _, err := loadOrganization(ctx, tx, orgID); err != nil {
			if mergedesk.ErrorCode(err) == mergedesk.ENotFound {
				return mergedesk.Invalid("organization_id", mergedesk.CodeInvalid, "Organization: %d does not exist", orgID)
			}
			return err
		}
		for _, m := range u.Memberships {
			if m.OrganizationID == orgID {
				return mergedesk.Invalid("organization_id", mergedesk.CodeDuplicate,
					"Organization: user %d is already a member of organization %d", userID, orgID)
			}
		}
		if err := checkMultipleOrgs(ctx, tx, u); err != nil {
			return err
		}
		if err := addMembership(ctx, tx, u, orgID); err != nil {
			return err
		}
		m := u.Memberships[len(u.Memberships)-1]
		switch {
		case makeDefault && !m.Default:
			if err := setDefaultMembership(ctx, tx, userID, m.ID); err != nil {
				return err
			}
		case m.Default:
			if err := touchUser(ctx, tx, userID); err != nil {
				return err
			}
		}
		out, err = loadMembership(ctx, tx, m.ID)
		return err
	})
	return out, err
}

// DeleteMembership removes a membership (docs/api.md §4.2); if it was the default,
// the user's first remaining membership by organization name becomes the default.
// check, when not nil, runs on the member first. Errors: RecordNotFound.
func (db *DB) DeleteMembership(ctx context.Context, id int64, check func(*mergedesk.User) error) error {
	return db.Update(ctx, func(tx *Tx) error {
		m, err := loadMembership(ctx, tx, id)
		if err != nil {
			return err
		}
		return deleteMembership(ctx, tx, m, check)
	})
}

// LeaveOrganization removes a user's membership of an organization, as
// DeleteMembership. Errors: RecordNotFound (no such user or membership).
func (db *DB) LeaveOrganization(ctx context.Context, userID, orgID int64, check func(*mergedesk.User) error) error {
	return db.Update(ctx, func(tx *Tx) error {
		m, err := membershipOf(ctx, tx, userID, orgID)
		if err != nil {
			return err
		}
		return deleteMembership(ctx, tx, m, check)
	})
}

func membershipOf(ctx context.Context, tx *Tx, userID, orgID int64) (*mergedesk.Membership, error) {
	ms, err := loadMemberships(ctx, tx, "m.user_id = ? AND m.organization_id = ?", userID, orgID)
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, mergedesk.NotFound()
	}
	return &ms[0], nil
}

func deleteMembership(ctx context.Context, tx *Tx, m *mergedesk.Membership, check func(*mergedesk.User) error) error {
	if err := lockUser(ctx, tx, m.UserID); err != nil {
		return err
	}
	if check != nil {
		u, err := loadUser(ctx, tx, m.UserID)
		if err != nil {
			return err
		}
		if err := check(u); err != nil {
			return err
		}
	}
	if _, err := tx.exec(ctx, "DELETE FROM memberships WHERE id = ?", m.ID); err != nil {
		return fmt.Errorf("delete membership %d: %w", m.ID, err)
	}
	// m was read before the lock, so whether it was the default is not trusted;
	// promoteDefault does nothing while a default remains.
	if err := promoteDefault(ctx, tx, m.UserID); err != nil {
		return fmt.Errorf("delete membership %d: %w", m.ID, err)
	}
	return touchUser(ctx, tx, m.UserID)
}

// MakeDefaultOrganization makes the user's membership of orgID its default and
// returns it (PUT /users/{uid}/organizations/{oid}/make_default). Errors:
// RecordNotFound (no such user or membership), RecordInvalid (UserInactive).
func (db *DB) MakeDefaultOrganization(ctx context.Context, userID, orgID int64, check func(*mergedesk.User) error) (*mergedesk.Membership, error) {
	var out *mergedesk.Membership
	err := db.Update(ctx, func(tx *Tx) error {
		if _, err := checkedActiveUser(ctx, tx, userID, check); err != nil {
			return err
		}
		m, err := membershipOf(ctx, tx, userID, orgID)
		if err != nil {
			return err
		}
		if err := setDefaultMembership(ctx, tx, userID, m.ID); err != nil {
			return err
		}
		out, err = loadMembership(ctx, tx, m.ID)
		return err
	})
	return out, err
}

// MakeDefaultMembership makes membership id, which must be the user's, its
// default and returns all of the user's memberships in order
// (PUT /users/{uid}/organization_memberships/{id}/make_default). Errors as
// MakeDefaultOrganization.
func (db *DB) MakeDefaultMembership(ctx context.Context, userID, id int64, check func(*mergedesk.User) error) ([]mergedesk.Membership, error) {
	var out []mergedesk.Membership
	err := db.Update(ctx, func(tx *Tx) error {
		if _, err := checkedActiveUser(ctx, tx, userID, check); err != nil {
			return err
		}
		m, err := loadMembership(ctx, tx, id)
		if err != nil {
			return err
		}
		if m.UserID != userID {
			return mergedesk.NotFound()
		}
		if err := setDefaultMembership(ctx, tx, userID, m.ID); err != nil {
			return err
		}
		out, err = loadMemberships(ctx, tx, "m.user_id = ?", userID)
		return err
	})
	return out, err
}

// checkedActiveUser is activeUser followed by check, when not nil, on the user
// as this transaction reads it: the row is locked (PostgreSQL) or the writer
// transaction holds the database (SQLite), so a concurrent role change either
// committed before and is seen, or waits until this write is done. Every store
// write to a user on someone's behalf decides authorization here, not on an
// earlier read of the caller's.
func checkedActiveUser(ctx context.Context, tx *Tx, userID int64, check func(*mergedesk.User) error) (*mergedesk.User, error) {
	u, err := activeUser(ctx, tx, userID)
	if err != nil {
		return nil, err
	}
	if check != nil {
		if err := check(u); err != nil {
			return nil, err
		}
	}
	return u, nil
}
