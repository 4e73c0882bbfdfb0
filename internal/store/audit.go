package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"html"
	"strings"

	"github.com/mergedesk/mergedesk"
)

// Audit rows are kept simple enough that set-based writers (the user merge) can
// produce them with INSERT ... SELECT:
//
//	audits (ticket_id, author_id, via, metadata, created_at)
//	  via and metadata are JSON texts: via as mergedesk.Via, metadata as
//	  {"system":{},"custom":{...}}.
//	events (audit_id, ticket_id, type, author_id, public, body, data, created_at)
//	  author_id, public and body are set for type 'Comment' only (its data holds
//	  {"html_body":...}); every other type has them NULL and data holds the
//	  event's wire keys except id and type, exactly as docs/api.md §7.1 writes them:
//	  Create   {"field_name":"requester_id","value":"502"}
//	  Change   {"field_name":"requester_id","value":"502","previous_value":"501"}
//	  EmailCcChange  {"previous_email_ccs":["501"],"current_email_ccs":["502"]}
//	  FollowerChange {"previous_followers":[],"current_followers":["12"]}
//	  An event written by a trigger adds "via" to data.
//
// Ids in values are strings, so a merge writes, for example,
// '{"field_name":"requester_id","value":"' || CAST(? AS TEXT) || '","previous_value":"' || CAST(? AS TEXT) || '"}'.

// DefaultAuditMetadata is the metadata of an audit that has nothing to add.
const DefaultAuditMetadata = `{"system":{},"custom":{}}`

const auditColumns = "id, ticket_id, author_id, via, metadata, created_at"

// loadAudits returns the audits with these ids, in that order, with their events
// (one query for the events of the whole page).
func loadAudits(ctx context.Context, q querier, ids []int64) ([]*mergedesk.Audit, error) {
	if len(ids) == 0 {
		return []*mergedesk.Audit{}, nil
	}
	in, args := inArgs(ids)
	rows, err := q.query(ctx, "SELECT "+auditColumns+" FROM audits WHERE id IN ("+in+")", args...)
	if err != nil {
		return nil, fmt.Errorf("load audits: %w", err)
	}
	defer rows.Close()
	out := make([]*mergedesk.Audit, 0, len(ids))
	byID := make(map[int64]*mergedesk.Audit, len(ids))
	for rows.Next() {
		var a mergedesk.Audit
		var via, meta string
		var created int64
		if err := rows.Scan(&a.ID, &a.TicketID, &a.AuthorID, &via, &meta, &created); err != nil {
			return nil, fmt.Errorf("scan audit: %w", err)
		}
		a.Via, a.Metadata, a.CreatedAt = decodeVia(via), json.RawMessage(meta), fromUnix(created)
		a.Events = []mergedesk.Event{}
		out = append(out, &a)
		byID[a.ID] = &a
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	evs, err := q.query(ctx, "SELECT id, audit_id, type, author_id, public, body, data FROM events WHERE audit_id IN ("+in+") ORDER BY audit_id, id", args...)
	if err != nil {
		return nil, fmt.Errorf("load events: %w", err)
	}
	defer evs.Close()
	for evs.Next() {
		var (
			id, auditID int64
			typ, data   string
			author      sql.NullInt64
			public      sql.NullBool
			body        sql.NullString
		)
		if err := evs.Scan(&id, &auditID, &typ, &author, &public, &body, &data); err != nil {
			return nil, fmt.Errorf("scan event: %w", err)
		}
		fields := decodeObject(data)
		if typ == mergedesk.EventComment {
			fields["author_id"] = author.Int64
			fields["body"] = body.String
			fields["plain_body"] = body.String
			fields["public"] = public.Bool
			fields["audit_id"] = auditID
			if _, ok := fields["html_body"]; !ok {
				fields["html_body"] = commentHTML(body.String)
			}
			fields["attachments"] = []any{}
		}
		if a := byID[auditID]; a != nil {
			a.Events = append(a.Events, mergedesk.Event{ID: id, Type: typ, Fields: fields})
		}
	}
	if err := evs.Err(); err != nil {
		return nil, err
	}
	return orderBy(ids, out, func(a *mergedesk.Audit) int64 { return a.ID }), nil
}

// insertAudit writes a (its ticket, author, via, metadata, created_at and events)
// and sets the ids of a and its events. Events go in with one statement.
func insertAudit(ctx context.Context, tx *Tx, a *mergedesk.Audit) error {
	meta := string(a.Metadata)
	if meta == "" {
		meta = DefaultAuditMetadata
	}
	created := unix(a.CreatedAt)
	id, err := tx.insert(ctx, "INSERT INTO audits (ticket_id, author_id, via, metadata, created_at) VALUES (?, ?, ?, ?, ?)",
		a.TicketID, a.AuthorID, encodeJSON(a.Via), meta, created)
	if err != nil {
		return fmt.Errorf("insert audit of ticket %d: %w", a.TicketID, err)
	}
	a.ID = id
	if len(a.Events) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("INSERT INTO events (audit_id, ticket_id, type, author_id, public, body, data, created_at) VALUES ")
	args := make([]any, 0, 8*len(a.Events))
	for i, e := range a.Events {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
		var author, public, body any
		data := e.Fields
		if e.Type == mergedesk.EventComment {
			author, public, body = e.Fields["author_id"], e.Fields["public"], e.Fields["body"]
			data = map[string]any{"html_body": e.Fields["html_body"]}
		}
		if data == nil {
			data = map[string]any{}
		}
		args = append(args, id, a.TicketID, e.Type, author, public, body, encodeJSON(data), created)
	}
	if _, err := tx.exec(ctx, b.String(), args...); err != nil {
		return fmt.Errorf("insert events of audit %d: %w", id, err)
	}
	evIDs, err := scanIDs(tx.query(ctx, "SELECT id FROM events WHERE audit_id = ? ORDER BY id", id))
	if err != nil {
		return err
	}
	for i := range a.Events {
		if i < len(evIDs) {
			a.Events[i].ID = evIDs[i]
		}
	}
	return nil
}

// TicketAudits lists the audits of a non-deleted ticket, oldest first.
func (db *DB) TicketAudits(ctx context.Context, ticketID int64, p mergedesk.Page) ([]*mergedesk.Audit, mergedesk.PageInfo, error) {
	if err := ticketExists(ctx, db.r(), ticketID); err != nil {
		return nil, mergedesk.PageInfo{}, err
	}
	ids, info, err := pageIDs(ctx, db.r(), "audits", "ticket_id = ?", []any{ticketID}, p)
	if err != nil {
		return nil, info, fmt.Errorf("list audits of ticket %d: %w", ticketID, err)
	}
	as, err := loadAudits(ctx, db.r(), ids)
	return as, info, err
}

// TicketAudit returns one audit of a non-deleted ticket, or RecordNotFound.
func (db *DB) TicketAudit(ctx context.Context, ticketID, auditID int64) (*mergedesk.Audit, error) {
	if err := ticketExists(ctx, db.r(), ticketID); err != nil {
		return nil, err
	}
	ids, err := scanIDs(db.r().query(ctx, "SELECT id FROM audits WHERE id = ? AND ticket_id = ?", auditID, ticketID))
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, mergedesk.NotFound()
	}
	as, err := loadAudits(ctx, db.r(), ids)
	if err != nil {
		return nil, err
	}
	return as[0], nil
}

// TicketAuditCount returns how many audits a non-deleted ticket has.
func (db *DB) TicketAuditCount(ctx context.Context, ticketID int64) (int, error) {
	if err := ticketExists(ctx, db.r(), ticketID); err != nil {
		return 0, err
	}
	var n int
	err := db.r().queryRow(ctx, "SELECT COUNT(*) FROM audits WHERE ticket_id = ?", ticketID).Scan(&n)
	return n, err
}

// AllAudits lists the audits of every non-deleted ticket (archived included) in
// (created_at, id) order, descending when p.Desc (GET /ticket_audits). Cursor
// paging only: p.Cursor is implied.
func (db *DB) AllAudits(ctx context.Context, p mergedesk.Page) ([]*mergedesk.Audit, mergedesk.PageInfo, error) {
	p.Cursor = true
	ids, info, err := paginate(ctx, db.r(), list{from: "audits", where: "ticket_id IN (SELECT id FROM tickets WHERE deleted = FALSE)",
		order: []string{"created_at"}}, idPage(p), scanID)
	if err != nil {
		return nil, info, fmt.Errorf("list audits: %w", err)
	}
	as, err := loadAudits(ctx, db.r(), ids)
	return as, info, err
}

// TicketComments lists the comments of a non-deleted ticket, oldest first unless
// p.Desc.
func (db *DB) TicketComments(ctx context.Context, ticketID int64, p mergedesk.Page) ([]mergedesk.Comment, mergedesk.PageInfo, error) {
	if err := ticketExists(ctx, db.r(), ticketID); err != nil {
		return nil, mergedesk.PageInfo{}, err
	}
	ids, info, err := pageIDs(ctx, db.r(), "events", "ticket_id = ? AND type = 'Comment'", []any{ticketID}, p)
	if err != nil {
		return nil, info, fmt.Errorf("list comments of ticket %d: %w", ticketID, err)
	}
	out := []mergedesk.Comment{}
	if len(ids) == 0 {
		return out, info, nil
	}
	in, args := inArgs(ids)
	rows, err := db.r().query(ctx, `SELECT e.id, e.ticket_id, e.audit_id, e.author_id, e.body, e.data, e.public, a.via, e.created_at
		FROM events e JOIN audits a ON a.id = e.audit_id WHERE e.id IN (`+in+`)`, args...)
	if err != nil {
		return nil, info, fmt.Errorf("load comments: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c mergedesk.Comment
		var author sql.NullInt64
		var body sql.NullString
		var public sql.NullBool
		var data, via string
		var created int64
		if err := rows.Scan(&c.ID, &c.TicketID, &c.AuditID, &author, &body, &data, &public, &via, &created); err != nil {
			return nil, info, err
		}
		c.AuthorID, c.Body, c.Public = author.Int64, body.String, public.Bool
		c.HTMLBody, _ = decodeObject(data)["html_body"].(string)
		if c.HTMLBody == "" {
			c.HTMLBody = commentHTML(c.Body)
		}
		c.Via, c.CreatedAt = decodeVia(via), fromUnix(created)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, info, err
	}
	return orderBy(ids, out, func(c mergedesk.Comment) int64 { return c.ID }), info, nil
}

// ticketExists answers RecordNotFound for unknown and deleted tickets.
func ticketExists(ctx context.Context, q querier, id int64) error {
	ids, err := scanIDs(q.query(ctx, "SELECT id FROM tickets WHERE id = ? AND deleted = FALSE", id))
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return mergedesk.NotFound()
	}
	return nil
}

// commentHTML renders a plain-text body as Zendesk's comment HTML.
func commentHTML(body string) string {
	if body == "" {
		return ""
	}
	paras := strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n\n")
	var b strings.Builder
	b.WriteString(`<div class="zd-comment" dir="auto">`)
	for _, p := range paras {
		b.WriteString("<p>")
		b.WriteString(strings.ReplaceAll(html.EscapeString(p), "\n", "<br>"))
		b.WriteString("</p>")
	}
	b.WriteString("</div>")
	return b.String()
}
