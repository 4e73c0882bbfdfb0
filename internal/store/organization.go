package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"strings"

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
	return loadOrganization(ctx, db.r(), id)
}

func loadOrganization(ctx context.Context, q querier, id int64) (*mergedesk.Organization, error) {
	o, err := scanOrganization(q.queryRow(ctx, "SELECT "+organizationColumns+" FROM organizations WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, mergedesk.NotFound()
	}
	if err != nil {
		return nil, fmt.Errorf("organization %d: %w", id, err)
	}
	return o, nil
}

// OrganizationsByIDs returns the organizations with these ids in this order;
// unknown ids are skipped.
func (db *DB) OrganizationsByIDs(ctx context.Context, ids []int64) ([]*mergedesk.Organization, error) {
	return loadOrganizations(ctx, db.r(), ids)
}

func loadOrganizations(ctx context.Context, q querier, ids []int64) ([]*mergedesk.Organization, error) {
	out := []*mergedesk.Organization{}
	if len(ids) == 0 {
		return out, nil
	}
	in, args := inArgs(ids)
	rows, err := q.query(ctx, "SELECT "+organizationColumns+" FROM organizations WHERE id IN ("+in+")", args...)
	if err != nil {
		return nil, fmt.Errorf("load organizations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		o, err := scanOrganization(rows)
		if err != nil {
			return nil, fmt.Errorf("scan organization: %w", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return orderBy(ids, out, func(o *mergedesk.Organization) int64 { return o.ID }), nil
}

// Organizations lists organizations matching f in id order.
func (db *DB) Organizations(ctx context.Context, f mergedesk.OrganizationFilter, p mergedesk.Page) ([]*mergedesk.Organization, mergedesk.PageInfo, error) {
	where := []string{"1 = 1"}
	var args []any
	if f.ExternalID != nil {
		where = append(where, "external_id_norm = ?")
		args = append(args, strings.ToLower(strings.TrimSpace(*f.ExternalID)))
	}
	if f.Name != nil {
		where = append(where, "name_norm = ?")
		args = append(args, NameNorm(*f.Name))
	}
	ids, info, err := pageIDs(ctx, db.r(), "organizations", strings.Join(where, " AND "), args, p)
	if err != nil {
		return nil, info, fmt.Errorf("list organizations: %w", err)
	}
	os, err := loadOrganizations(ctx, db.r(), ids)
	return os, info, err
}

// ShowManyOrganizations returns the organizations among ids, or else among
// external ids (the caller bounds both to 100), in id order.
func (db *DB) ShowManyOrganizations(ctx context.Context, ids []int64, externalIDs []string) ([]*mergedesk.Organization, error) {
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
			args = append(args, strings.ToLower(strings.TrimSpace(e)))
		}
	default:
		return []*mergedesk.Organization{}, nil
	}
	found, err := scanIDs(db.r().query(ctx, "SELECT id FROM organizations WHERE "+where+" ORDER BY id", args...))
	if err != nil {
		return nil, fmt.Errorf("show many organizations: %w", err)
	}
	return loadOrganizations(ctx, db.r(), found)
}

// AutocompleteOrganizations returns up to limit organizations whose name starts
// with prefix (ignoring case), ordered by name.
func (db *DB) AutocompleteOrganizations(ctx context.Context, prefix string, limit int) ([]*mergedesk.Organization, error) {
	p := NameNorm(prefix)
	if p == "" {
		return []*mergedesk.Organization{}, nil
	}
	ids, err := scanIDs(db.r().query(ctx, `SELECT id FROM organizations WHERE name_norm LIKE ? ESCAPE '\'
		ORDER BY name_norm, id LIMIT ?`, likeEscape(p)+"%", limit))
	if err != nil {
		return nil, fmt.Errorf("autocomplete organizations: %w", err)
	}
	return loadOrganizations(ctx, db.r(), ids)
}

// CreateOrganization creates an organization (docs/api.md §4.1). Errors: RecordInvalid
// (name BlankValue, TooLong or DuplicateValue; external_id DuplicateValue;
// group_id InvalidValue).
func (db *DB) CreateOrganization(ctx context.Context, w mergedesk.OrganizationWrite) (*mergedesk.Organization, error) {
	var out *mergedesk.Organization
	err := db.Update(ctx, func(tx *Tx) error {
		if w.Name == nil || strings.TrimSpace(*w.Name) == "" {
			return mergedesk.Invalid("name", mergedesk.CodeBlank, "Name: cannot be blank")
		}
		now := unix(tx.now)
		id, err := tx.insert(ctx, `INSERT INTO organizations (name, name_norm, created_at, updated_at) VALUES (?, ?, ?, ?)`,
			strings.TrimSpace(*w.Name), NameNorm(*w.Name), now, now)
		if isUniqueViolation(err) {
			return duplicateOrganizationName(*w.Name)
		}
		if err != nil {
			return fmt.Errorf("insert organization: %w", err)
		}
		if err := updateOrganization(ctx, tx, id, w); err != nil {
			return err
		}
		out, err = loadOrganization(ctx, tx, id)
		return err
	})
	return out, err
}

// UpdateOrganization applies w to an organization (docs/api.md §4.1). Errors:
// RecordNotFound, and those of CreateOrganization.
func (db *DB) UpdateOrganization(ctx context.Context, id int64, w mergedesk.OrganizationWrite) (*mergedesk.Organization, error) {
	var out *mergedesk.Organization
	err := db.Update(ctx, func(tx *Tx) error {
		if err := updateOrganization(ctx, tx, id, w); err != nil {
			return err
		}
		var err error
		out, err = loadOrganization(ctx, tx, id)
		return err
	})
	return out, err
}

func duplicateOrganizationName(name string) error {
	return mergedesk.Invalid("name", mergedesk.CodeDuplicate, "Name: %s has already been taken", strings.TrimSpace(name))
}

func updateOrganization(ctx context.Context, tx *Tx, id int64, w mergedesk.OrganizationWrite) error {
	o, err := loadOrganization(ctx, tx, id)
	if err != nil {
		return err
	}
	set := []string{"updated_at = ?"}
	args := []any{unix(tx.now)}
	col := func(c string, v any) {
		set = append(set, c+" = ?")
		args = append(args, v)
	}
	if w.Name != nil && strings.TrimSpace(*w.Name) != "" {
		name, err := mergedesk.CheckName(*w.Name)
		if err != nil {
			return err
		}
		col("name", name)
		col("name_norm", NameNorm(name))
	}
	if w.ExternalID != nil {
		ext, norm := externalID(*w.ExternalID)
		col("external_id", ext)
		col("external_id_norm", norm)
	}
	domainsChanged := false
	if w.DomainNames != nil {
		d := encodeTags(domainNames(*w.DomainNames))
		col("domain_names", d)
		domainsChanged = d != encodeTags(o.DomainNames)
	}
	if w.GroupID != nil {
		if g := *w.GroupID; g != nil {
			if err := liveGroup(ctx, tx, *g); err != nil {
				return err
			}
		}
		col("group_id", nullable(*w.GroupID))
	}
	if w.SharedTickets != nil {
		col("shared_tickets", *w.SharedTickets)
	}
	if w.SharedComments != nil {
		col("shared_comments", *w.SharedComments)
	}
	if w.Details != nil {
		col("details", nullable(*w.Details))
	}
	if w.Notes != nil {
		col("notes", nullable(*w.Notes))
	}
	if w.Tags != nil {
		col("tags", encodeTags(*w.Tags))
	}
	if w.OrganizationFields != nil {
		f := maps.Clone(o.OrganizationFields)
		for k, v := range w.OrganizationFields {
			if v == nil {
				delete(f, k)
			} else {
				f[k] = v
			}
		}
		col("organization_fields", encodeJSON(f))
	}
	_, err = tx.exec(ctx, "UPDATE organizations SET "+strings.Join(set, ", ")+" WHERE id = ?", append(args, id)...)
	if isUniqueViolation(err) {
		// Two unique indexes; the driver's message names the one that failed.
		if w.ExternalID != nil && *w.ExternalID != nil && strings.Contains(uniqueViolationDetail(err), "external_id") {
			return mergedesk.Invalid("external_id", mergedesk.CodeDuplicate, "External: %s has already been taken", strings.TrimSpace(**w.ExternalID))
		}
		if w.Name != nil {
			return duplicateOrganizationName(*w.Name)
		}
	}
	if err != nil {
		return fmt.Errorf("update organization %d: %w", id, err)
	}
	if domainsChanged {
		// The domains are evidence of every member's (OrgDomains, rule D3),
		// so the members' suggestions are recomputed (rule D8).
		return enqueueOrganizationMembers(ctx, tx, id)
	}
	return nil
}

// domainNames drops the leading "@" people paste in; encodeTags then lower-cases
// and de-duplicates, as for tags.
func domainNames(in []string) []string {
	out := make([]string, 0, len(in))
	for _, d := range in {
		for _, f := range strings.Fields(d) {
			out = append(out, strings.TrimPrefix(f, "@"))
		}
	}
	return out
}

// DeleteOrganization deletes an organization (docs/api.md §4.1): its memberships go,
// each member that lost its default gets the next one by name, and tickets keep
// their organization_id as history. Errors: RecordNotFound.
func (db *DB) DeleteOrganization(ctx context.Context, id int64) error {
	return db.Update(ctx, func(tx *Tx) error {
		if _, err := loadOrganization(ctx, tx, id); err != nil {
			return err
		}
		members, err := scanIDs(tx.query(ctx, "SELECT user_id FROM memberships WHERE organization_id = ? ORDER BY user_id", id))
		if err != nil {
			return fmt.Errorf("delete organization %d: %w", id, err)
		}
		if _, err := tx.exec(ctx, "DELETE FROM memberships WHERE organization_id = ?", id); err != nil {
			return fmt.Errorf("delete organization %d: %w", id, err)
		}
		if _, err := tx.exec(ctx, "DELETE FROM organizations WHERE id = ?", id); err != nil {
			return fmt.Errorf("delete organization %d: %w", id, err)
		}
		for _, uid := range members {
			if err := promoteDefault(ctx, tx, uid); err != nil {
				return fmt.Errorf("delete organization %d: %w", id, err)
			}
			if err := touchUser(ctx, tx, uid); err != nil {
				return err
			}
		}
		return nil
	})
}
