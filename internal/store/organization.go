package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/mergedesk/mergedesk"
)

const organizationColumns = `id, name, external_id, domain_names, group_id, shared_tickets, shared_comments,
	details, notes, tags, organization_fields, created_at, updated_at`

func scanOrganization(row interface{ Scan(...any) error }) (*mergedesk.Organization, error) {
	var o mergedesk.Organization
	var ext, details, notes sql.NullString
	var group sql.NullInt64
	var domains, tags, fields string
	var c, u int64
	if err := row.Scan(&o.ID, &o.Name, &ext, &domains, &group, &o.SharedTickets, &o.SharedComments,
		&details, &notes, &tags, &fields, &c, &u); err != nil {
		return nil, err
	}
	o.ExternalID, o.GroupID, o.Details, o.Notes = strPtr(ext), int64Ptr(group), strPtr(details), strPtr(notes)
	o.DomainNames, o.Tags, o.OrganizationFields = decodeTags(domains), decodeTags(tags), decodeObject(fields)
	o.CreatedAt, o.UpdatedAt = fromUnix(c), fromUnix(u)
	return &o, nil
}

// Organization returns one organization, or RecordNotFound.
func (db *DB) Organization(ctx context.Context, id int64) (*mergedesk.Organization, error) {
	o, err := scanOrganization(db.r().queryRow(ctx, "SELECT "+organizationColumns+" FROM organizations WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, mergedesk.NotFound()
	}
	if err != nil {
		return nil, fmt.Errorf("organization %d: %w", id, err)
	}
	return o, nil
}
