package store

import (
	"context"

	"github.com/mergedesk/mergedesk"
)

// ImportTicket creates a ticket as it was (docs/api.md §6.4): status (closed included),
// created_at, updated_at and solved_at are taken as given, and each comment gets
// its own audit dated at the comment's created_at, the first also carrying the
// Create events. via is "import". With archive, a closed ticket is created
// archived. Imports never run the ticket hook.
func (db *DB) ImportTicket(ctx context.Context, in mergedesk.TicketInput, actorID int64, archive bool) (*mergedesk.Ticket, error) {
	var out *mergedesk.Ticket
	err := db.Update(ctx, func(tx *Tx) error {
		id, err := importTicket(ctx, tx, in, actorID, archive)
		if err != nil {
			return err
		}
		out, err = loadTicket(ctx, tx, id)
		return err
	})
	return out, err
}

func importTicket(ctx context.Context, tx *Tx, in mergedesk.TicketInput, actorID int64, archive bool) (int64, error) {
	w := mergedesk.TicketWriter{ActorID: actorID, Via: mergedesk.NewVia("import")}
	var comments []mergedesk.CommentInput
	if !in.Comment.Blank() {
		comments = append(comments, *in.Comment)
	}
	for _, c := range in.Comments {
		if !c.Blank() {
			comments = append(comments, c)
		}
	}
	if len(comments) == 0 && in.Description != nil {
		if c := (&mergedesk.CommentInput{Body: *in.Description}); !c.Blank() {
			comments = append(comments, *c)
		}
	}
	in.Comment, in.Description = nil, nil

	created := tx.now
	switch {
	case in.CreatedAt != nil:
		created = *in.CreatedAt
	case len(comments) > 0:
		first := true
		for _, c := range comments {
			if !c.CreatedAt.IsZero() && (first || c.CreatedAt.Before(created)) {
				created, first = c.CreatedAt, false
			}
		}
	}
	updated := created
	for i := range comments {
		if comments[i].CreatedAt.IsZero() {
			comments[i].CreatedAt = created
		}
		if comments[i].CreatedAt.After(updated) {
			updated = comments[i].CreatedAt
		}
	}
	if in.UpdatedAt != nil {
		updated = *in.UpdatedAt
	}

	c, err := prepareTicket(ctx, tx, nil, in, w)
	if err != nil {
		return 0, err
	}
	t := c.Ticket
	t.CreatedAt, t.UpdatedAt = created, updated
	t.Archived = archive && t.Status == "closed"
	events := make([]mergedesk.Event, len(comments))
	for i, cm := range comments {
		if events[i], err = commentEventOf(ctx, tx, cm, actorID, false); err != nil {
			return 0, err
		}
	}
	if len(events) > 0 {
		t.Description, t.IsPublic = events[0].Fields["body"].(string), events[0].Fields["public"].(bool)
	}
	if err := checkTicketRefs(ctx, tx, nil, t); err != nil {
		return 0, err
	}
	if err := insertTicket(ctx, tx, c, in.SolvedAt); err != nil {
		return 0, err
	}
	if err := storeCCs(ctx, tx, t.ID, ccKindEmail, nil, t.EmailCCIDs); err != nil {
		return 0, err
	}
	if err := storeCCs(ctx, tx, t.ID, ccKindFollower, nil, t.FollowerIDs); err != nil {
		return 0, err
	}
	first := c.Audit
	first.CreatedAt = created
	if len(comments) > 0 {
		first.CreatedAt = comments[0].CreatedAt
		first.Events = append([]mergedesk.Event{events[0]}, first.Events...)
	}
	audits := []*mergedesk.Audit{first}
	for i := 1; i < len(comments); i++ {
		author, _ := events[i].Fields["author_id"].(int64)
		audits = append(audits, &mergedesk.Audit{TicketID: t.ID, AuthorID: author, CreatedAt: comments[i].CreatedAt,
			Via: w.Via, Metadata: []byte(DefaultAuditMetadata), Events: []mergedesk.Event{events[i]}})
	}
	for _, a := range audits {
		if err := insertAudit(ctx, tx, a); err != nil {
			return 0, err
		}
	}
	return t.ID, nil
}
