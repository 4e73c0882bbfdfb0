package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/mergedesk/mergedesk"
)

const ticketColumns = `id, external_id, type, subject, description, priority, status, requester_id, submitter_id,
	assignee_id, organization_id, group_id, tags, custom_fields, via, via_followup_source_id, is_public, archived,
	created_at, updated_at`

func scanTicket(row interface{ Scan(...any) error }) (*mergedesk.Ticket, error) {
	var (
		t                            mergedesk.Ticket
		ext, typ, prio               sql.NullString
		assignee, org, group, follow sql.NullInt64
		tags, fields, via            string
		created, updated             int64
	)
	if err := row.Scan(&t.ID, &ext, &typ, &t.Subject, &t.Description, &prio, &t.Status, &t.RequesterID, &t.SubmitterID,
		&assignee, &org, &group, &tags, &fields, &via, &follow, &t.IsPublic, &t.Archived, &created, &updated); err != nil {
		return nil, err
	}
	t.ExternalID, t.Type, t.Priority = strPtr(ext), strPtr(typ), strPtr(prio)
	t.AssigneeID, t.OrganizationID, t.GroupID, t.ViaFollowupSourceID = int64Ptr(assignee), int64Ptr(org), int64Ptr(group), int64Ptr(follow)
	t.Tags = decodeTags(tags)
	t.CustomFields = []mergedesk.CustomField{}
	if err := decodeInto(fields, &t.CustomFields); err != nil {
		return nil, fmt.Errorf("ticket %d custom fields: %w", t.ID, err)
	}
	if t.CustomFields == nil {
		t.CustomFields = []mergedesk.CustomField{}
	}
	for i, f := range t.CustomFields {
		if list, ok := f.Value.([]any); ok {
			ss := make([]string, 0, len(list))
			for _, v := range list {
				s, _ := v.(string)
				ss = append(ss, s)
			}
			t.CustomFields[i].Value = ss
		}
	}
	t.Via = decodeVia(via)
	t.CreatedAt, t.UpdatedAt = fromUnix(created), fromUnix(updated)
	t.EmailCCIDs, t.FollowerIDs = []int64{}, []int64{}
	return &t, nil
}

func decodeVia(s string) mergedesk.Via {
	v := mergedesk.NewVia("")
	_ = decodeInto(s, &v)
	if v.Source.From == nil {
		v.Source.From = map[string]any{}
	}
	if v.Source.To == nil {
		v.Source.To = map[string]any{}
	}
	return v
}

// loadTickets returns the non-deleted tickets with the given ids, in that order,
// with their CCs and followers (two queries for the whole page). Unknown and
// deleted ids are skipped.
func loadTickets(ctx context.Context, q querier, ids []int64) ([]*mergedesk.Ticket, error) {
	if len(ids) == 0 {
		return []*mergedesk.Ticket{}, nil
	}
	in, args := inArgs(ids)
	rows, err := q.query(ctx, "SELECT "+ticketColumns+" FROM tickets WHERE deleted = FALSE AND id IN ("+in+")", args...)
	if err != nil {
		return nil, fmt.Errorf("load tickets: %w", err)
	}
	defer rows.Close()
	out := make([]*mergedesk.Ticket, 0, len(ids))
	byID := make(map[int64]*mergedesk.Ticket, len(ids))
	for rows.Next() {
		t, err := scanTicket(rows)
		if err != nil {
			return nil, fmt.Errorf("scan ticket: %w", err)
		}
		out = append(out, t)
		byID[t.ID] = t
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	ccs, err := q.query(ctx, "SELECT ticket_id, kind, user_id FROM ticket_ccs WHERE ticket_id IN ("+in+") ORDER BY ticket_id, kind, user_id", args...)
	if err != nil {
		return nil, fmt.Errorf("load ticket ccs: %w", err)
	}
	defer ccs.Close()
	for ccs.Next() {
		var tid, uid int64
		var kind string
		if err := ccs.Scan(&tid, &kind, &uid); err != nil {
			return nil, err
		}
		t := byID[tid]
		switch {
		case t == nil:
		case kind == ccKindEmail:
			t.EmailCCIDs = append(t.EmailCCIDs, uid)
		case kind == ccKindFollower:
			t.FollowerIDs = append(t.FollowerIDs, uid)
		}
	}
	if err := ccs.Err(); err != nil {
		return nil, err
	}
	return orderBy(ids, out, func(t *mergedesk.Ticket) int64 { return t.ID }), nil
}

// ticket_ccs.kind values.
const (
	ccKindEmail    = "cc"
	ccKindFollower = "follower"
)

func loadTicket(ctx context.Context, q querier, id int64) (*mergedesk.Ticket, error) {
	ts, err := loadTickets(ctx, q, []int64{id})
	if err != nil {
		return nil, err
	}
	if len(ts) == 0 {
		return nil, mergedesk.NotFound()
	}
	return ts[0], nil
}

// Ticket returns a ticket that is not deleted (archived ones included), or
// RecordNotFound.
func (db *DB) Ticket(ctx context.Context, id int64) (*mergedesk.Ticket, error) {
	return loadTicket(ctx, db.r(), id)
}

// TicketsByIDs returns the non-deleted tickets among ids, in that order (show_many,
// search results). Unknown and deleted ids are skipped.
func (db *DB) TicketsByIDs(ctx context.Context, ids []int64) ([]*mergedesk.Ticket, error) {
	return loadTickets(ctx, db.r(), ids)
}

// ticketSorts maps sort_by values to expressions over the tickets table.
var ticketSorts = map[string]string{
	"created_at": "created_at",
	"updated_at": "updated_at",
	"status":     rankExpr("status", mergedesk.TicketStatuses),
	"priority":   rankExpr("priority", mergedesk.TicketPriorities),
}

// rankExpr is a CASE expression giving col's rank in values (0 for NULL).
func rankExpr(col string, values []string) string {
	var b strings.Builder
	b.WriteString("CASE " + col)
	for i, v := range values {
		fmt.Fprintf(&b, " WHEN '%s' THEN %d", v, i+1)
	}
	b.WriteString(" ELSE 0 END")
	return b.String()
}

// Tickets lists non-deleted tickets matching f.
func (db *DB) Tickets(ctx context.Context, f mergedesk.TicketFilter, p mergedesk.Page) ([]*mergedesk.Ticket, mergedesk.PageInfo, error) {
	where := []string{"deleted = FALSE"}
	var args []any
	if f.ExternalID != nil {
		where = append(where, "external_id = ?")
		args = append(args, *f.ExternalID)
	}
	if f.RequesterID != nil {
		where = append(where, "requester_id = ?")
		args = append(args, *f.RequesterID)
	}
	if f.AssigneeID != nil {
		where = append(where, "assignee_id = ?")
		args = append(args, *f.AssigneeID)
	}
	if f.OrganizationID != nil {
		where = append(where, "organization_id = ?")
		args = append(args, *f.OrganizationID)
	}
	if f.CCUserID != nil {
		where = append(where, "id IN (SELECT ticket_id FROM ticket_ccs WHERE user_id = ? AND kind = 'cc')")
		args = append(args, *f.CCUserID)
	}
	l := list{from: "tickets", where: strings.Join(where, " AND "), args: args}
	if sort := ticketSorts[f.SortBy]; sort != "" {
		l.order = []string{sort}
	}
	ids, info, err := paginate(ctx, db.r(), l, idPage(p), scanID)
	if err != nil {
		return nil, info, fmt.Errorf("list tickets: %w", err)
	}
	ts, err := loadTickets(ctx, db.r(), ids)
	return ts, info, err
}
