package store

import (
	"context"
	"fmt"

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
