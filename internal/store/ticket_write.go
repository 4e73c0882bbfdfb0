package store

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mergedesk/mergedesk"
)

// SetTicketHook installs the hook that runs on ticket creates and updates (nil
// removes it). Call it before serving requests.
func (db *DB) SetTicketHook(h mergedesk.TicketHook) { db.hook = h }

func (db *DB) ticketHook() mergedesk.TicketHook { return db.hook }

// CreateTicket creates a ticket with its first comment and audit (docs/api.md §6.2)
// and runs the ticket hook. Errors: RecordInvalid (BlankValue, InvalidValue,
// UserInactive).
func (db *DB) CreateTicket(ctx context.Context, in mergedesk.TicketInput, w mergedesk.TicketWriter) (*mergedesk.Ticket, *mergedesk.Audit, error) {
	var t *mergedesk.Ticket
	var a *mergedesk.Audit
	err := db.Update(ctx, func(tx *Tx) error {
		c, err := createTicket(ctx, tx, in, w, db.ticketHook())
		if err != nil {
			return err
		}
		t, a, err = reloadChange(ctx, tx, c)
		return err
	})
	return t, a, err
}

// UpdateTicket applies in to a ticket, adds its comment and writes one audit
// (docs/api.md §6.2), running the ticket hook. The audit is nil when nothing changed.
// Errors: RecordNotFound, UpdateConflict, RecordInvalid (ClosedTicket,
// InvalidValue, UserInactive).
func (db *DB) UpdateTicket(ctx context.Context, id int64, in mergedesk.TicketInput, w mergedesk.TicketWriter) (*mergedesk.Ticket, *mergedesk.Audit, error) {
	var t *mergedesk.Ticket
	var a *mergedesk.Audit
	err := db.Update(ctx, func(tx *Tx) error {
		c, err := updateTicket(ctx, tx, id, in, w, db.ticketHook())
		if err != nil {
			return err
		}
		t, a, err = reloadChange(ctx, tx, c)
		return err
	})
	return t, a, err
}

func reloadChange(ctx context.Context, tx *Tx, c *mergedesk.TicketChange) (*mergedesk.Ticket, *mergedesk.Audit, error) {
	t, err := loadTicket(ctx, tx, c.Ticket.ID)
	if err != nil || c.Audit.ID == 0 {
		return t, nil, err
	}
	as, err := loadAudits(ctx, tx, []int64{c.Audit.ID})
	if err != nil || len(as) == 0 {
		return t, nil, err
	}
	return t, as[0], nil
}

// DeleteTicket soft-deletes a ticket: it answers 404 and leaves every list.
func (db *DB) DeleteTicket(ctx context.Context, id int64) error {
	return db.Update(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, "UPDATE tickets SET deleted = TRUE WHERE id = ? AND deleted = FALSE", id)
		if err != nil {
			return fmt.Errorf("delete ticket %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return mergedesk.NotFound()
		}
		return nil
	})
}

// createTicket is the one way a ticket is created by people, channels and bulk
// jobs. hook may be nil.
func createTicket(ctx context.Context, tx *Tx, in mergedesk.TicketInput, w mergedesk.TicketWriter, hook mergedesk.TicketHook) (*mergedesk.TicketChange, error) {
	return createTicketFor(ctx, tx, in, w, hook, nil)
}

// createTicketFor is createTicket for a caller that has already loaded the
// requester in this transaction (a channel message's sender): requester, when
// it is the user in.RequesterID names, is used instead of loading it again.
func createTicketFor(ctx context.Context, tx *Tx, in mergedesk.TicketInput, w mergedesk.TicketWriter, hook mergedesk.TicketHook, requester *mergedesk.User) (*mergedesk.TicketChange, error) {
	comment := in.Comment
	if comment.Blank() && in.Description != nil {
		comment = &mergedesk.CommentInput{Body: *in.Description}
	}
	if comment.Blank() {
		return nil, mergedesk.Invalid("description", mergedesk.CodeBlank, "Description: cannot be blank")
	}
	in.Comment = comment
	c, err := prepareTicketFor(ctx, tx, nil, in, w, requester)
	if err != nil {
		return nil, err
	}
	if err := insertTicket(ctx, tx, c, nil); err != nil {
		return nil, err
	}
	if err := finishTicket(ctx, tx, c, hook); err != nil {
		return nil, err
	}
	return c, nil
}

// updateTicket is the one way a ticket is updated by people, channels and bulk
// jobs. hook may be nil.
func updateTicket(ctx context.Context, tx *Tx, id int64, in mergedesk.TicketInput, w mergedesk.TicketWriter, hook mergedesk.TicketHook) (*mergedesk.TicketChange, error) {
	// A no-op write takes the row lock on PostgreSQL (and is harmless on SQLite,
	// whose writers are serialised already), so concurrent updates serialise.
	res, err := tx.exec(ctx, "UPDATE tickets SET updated_at = updated_at WHERE id = ? AND deleted = FALSE", id)
	if err != nil {
		return nil, fmt.Errorf("lock ticket %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, mergedesk.NotFound()
	}
	prev, err := loadTicket(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if prev.Status == "closed" || prev.Archived {
		return nil, mergedesk.Invalid("status", mergedesk.CodeClosedTicket, "Status: closed prevents ticket update")
	}
	if in.SafeUpdate && in.UpdatedStamp != nil && !in.UpdatedStamp.Equal(prev.UpdatedAt) {
		return nil, mergedesk.Errorf(mergedesk.EUpdateConflict,
			"Ticket %d was updated at %s, after the updated_stamp %s", id, prev.UpdatedAt.Format(time.RFC3339), in.UpdatedStamp.UTC().Format(time.RFC3339))
	}
	if in.Comment.Blank() {
		in.Comment = nil
	}
	c, err := prepareTicket(ctx, tx, prev, in, w)
	if err != nil {
		return nil, err
	}
	if err := finishTicket(ctx, tx, c, hook); err != nil {
		return nil, err
	}
	return c, nil
}

// prepareTicket computes the new state of a ticket (prev nil: a new one) and the
// events of the write, without storing anything but new users (inline requesters
// and CCs by unknown email).
func prepareTicket(ctx context.Context, tx *Tx, prev *mergedesk.Ticket, in mergedesk.TicketInput, w mergedesk.TicketWriter) (*mergedesk.TicketChange, error) {
	return prepareTicketFor(ctx, tx, prev, in, w, nil)
}

// prepareTicketFor is prepareTicket with the requester possibly known already
// (createTicketFor).
func prepareTicketFor(ctx context.Context, tx *Tx, prev *mergedesk.Ticket, in mergedesk.TicketInput, w mergedesk.TicketWriter, known *mergedesk.User) (*mergedesk.TicketChange, error) {
	c := newTicketChange(tx, prev, in, w)
	t := c.Ticket
	requester, err := applyPeople(ctx, tx, c, in, w, known)
	if err != nil {
		return nil, err
	}
	if err := t.ApplyFields(in); err != nil {
		return nil, err
	}
	if err := applyOrganization(ctx, tx, c, requester, in); err != nil {
		return nil, err
	}
	if err := applyCCs(ctx, tx, t, in); err != nil {
		return nil, err
	}
	var comment *mergedesk.Event
	if in.Comment != nil {
		ev, err := commentEventOf(ctx, tx, *in.Comment, w.ActorID, true)
		if err != nil {
			return nil, err
		}
		comment = &ev
		if c.Create {
			t.Description, t.IsPublic = ev.Fields["body"].(string), ev.Fields["public"].(bool)
		}
	}
	c.Audit.Events = changeEvents(prev, t, comment)
	return c, nil
}

// newTicketChange starts the change of a ticket: a new ticket with its
// defaults when prev is nil, otherwise a copy of prev that the steps of
// prepareTicket can edit.
func newTicketChange(tx *Tx, prev *mergedesk.Ticket, in mergedesk.TicketInput, w mergedesk.TicketWriter) *mergedesk.TicketChange {
	create := prev == nil
	var t mergedesk.Ticket
	if create {
		t = mergedesk.Ticket{Status: "new", SubmitterID: w.ActorID, Via: w.Via, IsPublic: true, Tags: []string{},
			CustomFields: []mergedesk.CustomField{}, EmailCCIDs: []int64{}, FollowerIDs: []int64{},
			CreatedAt: tx.now, UpdatedAt: tx.now, ViaFollowupSourceID: in.ViaFollowupSourceID}
	} else {
		t = *prev
		t.Tags = slices.Clone(prev.Tags)
		t.CustomFields = slices.Clone(prev.CustomFields)
		t.EmailCCIDs = slices.Clone(prev.EmailCCIDs)
		t.FollowerIDs = slices.Clone(prev.FollowerIDs)
		t.UpdatedAt = tx.now
	}
	return &mergedesk.TicketChange{Create: create, Previous: prev, Ticket: &t, ActorID: w.ActorID, Via: w.Via,
		Audit: &mergedesk.Audit{AuthorID: w.ActorID, CreatedAt: tx.now, Via: w.Via,
			Metadata: []byte(DefaultAuditMetadata), Events: []mergedesk.Event{}}}
}

// applyPeople sets the requester (inline, by id, required on a create) and, on
// a create, a submitter other than the writer. It returns the requester when
// the input named one. known, if not nil, is a user loaded earlier in this
// transaction; when it is the requester named by id and active, it stands in
// for loading that user again.
func applyPeople(ctx context.Context, tx *Tx, c *mergedesk.TicketChange, in mergedesk.TicketInput, w mergedesk.TicketWriter, known *mergedesk.User) (*mergedesk.User, error) {
	var requester *mergedesk.User
	var err error
	switch {
	case in.Requester != nil:
		requester, err = inlineRequester(ctx, tx, *in.Requester)
	case in.RequesterID != nil && known != nil && known.ID == *in.RequesterID && known.Active:
		requester = known
	case in.RequesterID != nil && *in.RequesterID > 0:
		requester, err = ticketUser(ctx, tx, *in.RequesterID, "requester_id")
	case c.Create:
		err = mergedesk.Invalid("requester_id", mergedesk.CodeBlank, "Requester: cannot be blank")
	}
	if err != nil {
		return nil, err
	}
	if requester != nil {
		c.Ticket.RequesterID = requester.ID
	}
	if c.Create && in.SubmitterID != nil && *in.SubmitterID > 0 && *in.SubmitterID != w.ActorID {
		u, err := ticketUser(ctx, tx, *in.SubmitterID, "submitter_id")
		if err != nil {
			return nil, err
		}
		c.Ticket.SubmitterID = u.ID
	}
	return requester, nil
}

// applyOrganization sets the ticket's organization: the requester's default on
// a create; if given, one of the requester's organizations. A later requester
// change keeps it (M12). A new ticket without a group is then routed to the
// organization's group (docs/api.md §5), before the hook, so triggers see it.
func applyOrganization(ctx context.Context, tx *Tx, c *mergedesk.TicketChange, requester *mergedesk.User, in mergedesk.TicketInput) error {
	t := c.Ticket
	switch {
	case in.OrganizationID != nil && *in.OrganizationID != nil:
		if requester == nil {
			var err error
			if requester, err = loadUser(ctx, tx, t.RequesterID); err != nil {
				return err
			}
		}
		oid := **in.OrganizationID
		if !slices.ContainsFunc(requester.Memberships, func(m mergedesk.Membership) bool { return m.OrganizationID == oid }) {
			return mergedesk.Invalid("organization_id", mergedesk.CodeInvalid,
				"Organization: %d is not one of the requester's (user %d) organizations", oid, requester.ID)
		}
		t.OrganizationID = &oid
	case in.OrganizationID != nil:
		t.OrganizationID = nil
	case c.Create:
		t.OrganizationID = requester.DefaultOrganizationID()
	}
	if c.Create && in.GroupID == nil && t.OrganizationID != nil {
		var g int64Null
		if err := tx.queryRow(ctx, "SELECT group_id FROM organizations WHERE id = ?", *t.OrganizationID).Scan(&g); err == nil && g.Valid {
			t.GroupID = &g.Int64
		}
	}
	return nil
}

// changeEvents are the audit events of a change from prev to t: the comment
// first, then one per changed property, then the CC and follower lists.
func changeEvents(prev, t *mergedesk.Ticket, comment *mergedesk.Event) []mergedesk.Event {
	events := []mergedesk.Event{}
	if comment != nil {
		events = append(events, *comment)
	}
	events = append(events, propertyEvents(prev, t)...)
	if !slices.Equal(ccsOf(prev, false), t.EmailCCIDs) {
		events = append(events, mergedesk.Event{Type: mergedesk.EventEmailCcChange, Fields: map[string]any{
			"previous_email_ccs": idStrings(ccsOf(prev, false)), "current_email_ccs": idStrings(t.EmailCCIDs)}})
	}
	if !slices.Equal(ccsOf(prev, true), t.FollowerIDs) {
		events = append(events, mergedesk.Event{Type: mergedesk.EventFollowerChange, Fields: map[string]any{
			"previous_followers": idStrings(ccsOf(prev, true)), "current_followers": idStrings(t.FollowerIDs)}})
	}
	return events
}

// finishTicket runs the hook, checks references, and stores the ticket, its CCs
// and its audit. An update without events stores nothing and leaves c.Audit.ID 0.
func finishTicket(ctx context.Context, tx *Tx, c *mergedesk.TicketChange, hook mergedesk.TicketHook) error {
	if hook != nil {
		if err := hook(ctx, tx, c); err != nil {
			return err
		}
	}
	t := c.Ticket
	if err := checkTicketRefs(ctx, tx, c.Previous, t); err != nil {
		return err
	}
	if !c.Create && len(c.Audit.Events) == 0 {
		return nil
	}
	if !c.Create || c.Dirty() {
		if err := storeTicket(ctx, tx, t); err != nil {
			return err
		}
	}
	if err := storeCCs(ctx, tx, t.ID, ccKindEmail, ccsOf(c.Previous, false), t.EmailCCIDs); err != nil {
		return err
	}
	if err := storeCCs(ctx, tx, t.ID, ccKindFollower, ccsOf(c.Previous, true), t.FollowerIDs); err != nil {
		return err
	}
	c.Audit.TicketID = t.ID
	return insertAudit(ctx, tx, c.Audit)
}

// insertTicket inserts the row of a new ticket and sets its id. solved is the
// solved_at of an import; otherwise a solved or closed ticket is solved now.
func insertTicket(ctx context.Context, tx *Tx, c *mergedesk.TicketChange, solved *time.Time) error {
	t := c.Ticket
	if solved == nil && isSolved(t.Status) {
		solved = &t.UpdatedAt
	}
	id, err := tx.insert(ctx, `INSERT INTO tickets (external_id, type, subject, description, priority, status, requester_id,
		submitter_id, assignee_id, organization_id, group_id, tags, custom_fields, via, via_channel, via_followup_source_id,
		is_public, archived, created_at, updated_at, solved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		nullable(t.ExternalID), nullable(t.Type), t.Subject, t.Description, nullable(t.Priority), t.Status, t.RequesterID,
		t.SubmitterID, nullable(t.AssigneeID), nullable(t.OrganizationID), nullable(t.GroupID), encodeTags(t.Tags),
		encodeJSON(t.CustomFields), encodeJSON(t.Via), t.Via.Channel, nullable(t.ViaFollowupSourceID), t.IsPublic,
		t.Archived, unix(t.CreatedAt), unix(t.UpdatedAt), unixPtr(solved))
	if err != nil {
		return fmt.Errorf("insert ticket: %w", err)
	}
	t.ID = id
	c.Audit.TicketID = id
	return nil
}

// storeTicket writes the mutable columns of t. solved_at is kept while the
// ticket stays solved or closed, set when it becomes so, cleared on reopening.
func storeTicket(ctx context.Context, tx *Tx, t *mergedesk.Ticket) error {
	_, err := tx.exec(ctx, `UPDATE tickets SET external_id = ?, type = ?, subject = ?, priority = ?, status = ?,
		requester_id = ?, assignee_id = ?, organization_id = ?, group_id = ?, tags = ?, custom_fields = ?,
		updated_at = ?, solved_at = CASE WHEN ? THEN COALESCE(solved_at, ?) ELSE NULL END WHERE id = ?`,
		nullable(t.ExternalID), nullable(t.Type), t.Subject, nullable(t.Priority), t.Status, t.RequesterID,
		nullable(t.AssigneeID), nullable(t.OrganizationID), nullable(t.GroupID), encodeTags(t.Tags),
		encodeJSON(t.CustomFields), unix(t.UpdatedAt), isSolved(t.Status), unix(t.UpdatedAt), t.ID)
	if err != nil {
		return fmt.Errorf("update ticket %d: %w", t.ID, err)
	}
	return nil
}

// storeCCs turns the ticket's list of kind from prev into next with at most one
// DELETE and one INSERT.
func storeCCs(ctx context.Context, tx *Tx, ticketID int64, kind string, prev, next []int64) error {
	var gone, added []int64
	for _, id := range prev {
		if !slices.Contains(next, id) {
			gone = append(gone, id)
		}
	}
	for _, id := range next {
		if !slices.Contains(prev, id) {
			added = append(added, id)
		}
	}
	if len(gone) > 0 {
		in, args := inArgs(gone)
		if _, err := tx.exec(ctx, "DELETE FROM ticket_ccs WHERE ticket_id = ? AND kind = ? AND user_id IN ("+in+")",
			append([]any{ticketID, kind}, args...)...); err != nil {
			return fmt.Errorf("remove %ss of ticket %d: %w", kind, ticketID, err)
		}
	}
	if len(added) > 0 {
		args := make([]any, 0, 3*len(added))
		for _, id := range added {
			args = append(args, ticketID, kind, id)
		}
		q := "INSERT INTO ticket_ccs (ticket_id, kind, user_id) VALUES " + strings.TrimSuffix(strings.Repeat("(?, ?, ?), ", len(added)), ", ")
		if _, err := tx.exec(ctx, q, args...); err != nil {
			return fmt.Errorf("add %ss of ticket %d: %w", kind, ticketID, err)
		}
	}
	return nil
}

func isSolved(status string) bool { return status == "solved" || status == "closed" }

// checkTicketRefs checks the assignee and group where they changed: the
// assignee must be an active agent or admin, the group an existing one.
func checkTicketRefs(ctx context.Context, tx *Tx, prev, t *mergedesk.Ticket) error {
	if t.AssigneeID != nil && (prev == nil || prev.AssigneeID == nil || *prev.AssigneeID != *t.AssigneeID) {
		u, err := ticketUser(ctx, tx, *t.AssigneeID, "assignee_id")
		if err != nil {
			return err
		}
		if !u.IsStaff() {
			return mergedesk.Invalid("assignee_id", mergedesk.CodeInvalid, "Assignee: user %d is not an agent", u.ID)
		}
	}
	if t.GroupID != nil && (prev == nil || prev.GroupID == nil || *prev.GroupID != *t.GroupID) {
		ids, err := scanIDs(tx.query(ctx, "SELECT id FROM agent_groups WHERE id = ? AND deleted = FALSE", *t.GroupID))
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return mergedesk.Invalid("group_id", mergedesk.CodeInvalid, "Group: %d does not exist", *t.GroupID)
		}
	}
	return nil
}

// ticketUser loads an active user a ticket refers to; unknown gives InvalidValue
// and inactive UserInactive, both on field.
func ticketUser(ctx context.Context, tx *Tx, id int64, field string) (*mergedesk.User, error) {
	u, err := loadUser(ctx, tx, id)
	if mergedesk.ErrorCode(err) == mergedesk.ENotFound {
		return nil, mergedesk.Invalid(field, mergedesk.CodeInvalid, "%s: user %d does not exist", mergedesk.FieldLabel(field), id)
	}
	if err != nil {
		return nil, err
	}
	if !u.Active {
		return nil, inactiveError(field, u)
	}
	return u, nil
}

// inlineRequester finds the active user owning r.Email, unchanged, or creates an
// end user with it as an unverified primary email.
func inlineRequester(ctx context.Context, tx *Tx, r mergedesk.RequesterInput) (*mergedesk.User, error) {
	email := strings.TrimSpace(r.Email)
	if email == "" {
		return nil, mergedesk.Invalid("requester", mergedesk.CodeBlank, "Requester: email cannot be blank")
	}
	return userForEmail(ctx, tx, email, r.Name, r.LocaleID, "requester")
}

// userForEmail returns the active user owning email, or a new end user with it.
func userForEmail(ctx context.Context, tx *Tx, email, name string, locale int64, field string) (*mergedesk.User, error) {
	u, err := userByEmail(ctx, tx, email)
	if err == nil || mergedesk.ErrorCode(err) != mergedesk.ENotFound {
		return u, err
	}
	if strings.TrimSpace(name) == "" {
		name, _, _ = strings.Cut(email, "@")
	}
	u, err = createUser(ctx, tx, mergedesk.NewUser{Name: name, Email: email, LocaleID: locale})
	if err != nil {
		return nil, renameField(renameField(err, "email", field), "locale_id", field)
	}
	return loadUser(ctx, tx, u.ID)
}

// applyCCs applies the CC and follower edits of in to t, then drops the requester
// from the CC list.
func applyCCs(ctx context.Context, tx *Tx, t *mergedesk.Ticket, in mergedesk.TicketInput) error {
	ccs := t.EmailCCIDs
	edit := func(refs []mergedesk.CCRef, field string, onlyAdd bool) error {
		for _, ref := range refs {
			if ref.Delete && !onlyAdd {
				if id := ccRefID(ctx, tx, ref); id != 0 {
					ccs = slices.DeleteFunc(ccs, func(x int64) bool { return x == id })
				}
				continue
			}
			id, err := ccUser(ctx, tx, ref, field)
			if err != nil {
				return err
			}
			if !slices.Contains(ccs, id) {
				ccs = append(ccs, id)
			}
		}
		return nil
	}
	if in.Collaborators != nil {
		ccs = []int64{}
		if err := edit(*in.Collaborators, "collaborators", false); err != nil {
			return err
		}
	}
	if err := edit(in.EmailCCs, "email_ccs", false); err != nil {
		return err
	}
	if err := edit(in.AdditionalCollaborators, "additional_collaborators", true); err != nil {
		return err
	}
	ccs = slices.DeleteFunc(ccs, func(x int64) bool { return x == t.RequesterID })
	slices.Sort(ccs)
	t.EmailCCIDs = slices.Compact(ccs)

	fs := t.FollowerIDs
	for _, ref := range in.Followers {
		if ref.Delete {
			if id := ccRefID(ctx, tx, ref); id != 0 {
				fs = slices.DeleteFunc(fs, func(x int64) bool { return x == id })
			}
			continue
		}
		var u *mergedesk.User
		var err error
		switch {
		case ref.UserID > 0:
			u, err = ticketUser(ctx, tx, ref.UserID, "followers")
		case ref.Email != "":
			u, err = userByEmail(ctx, tx, ref.Email)
			if mergedesk.ErrorCode(err) == mergedesk.ENotFound {
				err = mergedesk.Invalid("followers", mergedesk.CodeInvalid, "Followers: no agent has the email %s", ref.Email)
			}
		default:
			err = mergedesk.Invalid("followers", mergedesk.CodeInvalid, "Followers: each follower needs a user_id or user_email")
		}
		if err != nil {
			return err
		}
		if !u.IsStaff() {
			return mergedesk.Invalid("followers", mergedesk.CodeInvalid, "Followers: user %d is not an agent", u.ID)
		}
		if !slices.Contains(fs, u.ID) {
			fs = append(fs, u.ID)
		}
	}
	slices.Sort(fs)
	t.FollowerIDs = slices.Compact(fs)
	return nil
}

// ccUser resolves a CC to add: an active user by id, or the user owning the
// email (created when unknown).
func ccUser(ctx context.Context, tx *Tx, ref mergedesk.CCRef, field string) (int64, error) {
	switch {
	case ref.UserID > 0:
		u, err := ticketUser(ctx, tx, ref.UserID, field)
		if err != nil {
			return 0, err
		}
		return u.ID, nil
	case strings.TrimSpace(ref.Email) != "":
		u, err := userForEmail(ctx, tx, strings.TrimSpace(ref.Email), ref.Name, 0, field)
		if err != nil {
			return 0, err
		}
		return u.ID, nil
	}
	return 0, mergedesk.Invalid(field, mergedesk.CodeInvalid, "%s: each entry needs a user id or an email", mergedesk.FieldLabel(field))
}

// ccRefID resolves a CC to remove without creating anyone; 0 when unknown.
func ccRefID(ctx context.Context, tx *Tx, ref mergedesk.CCRef) int64 {
	if ref.UserID > 0 {
		return ref.UserID
	}
	if ref.Email != "" {
		id, _ := userIDByIdentity(ctx, tx, mergedesk.IdentityEmail, strings.ToLower(strings.TrimSpace(ref.Email)))
		return id
	}
	return 0
}

// commentEventOf builds the Comment event of c. requireActive refuses inactive
// authors (imports keep historical authors).
func commentEventOf(ctx context.Context, tx *Tx, c mergedesk.CommentInput, writer int64, requireActive bool) (mergedesk.Event, error) {
	author := c.AuthorID
	if author <= 0 {
		author = writer
	} else {
		u, err := loadUser(ctx, tx, author)
		if err != nil {
			return mergedesk.Event{}, mergedesk.Invalid("author_id", mergedesk.CodeInvalid, "Author: user %d does not exist", author)
		}
		if requireActive && !u.Active {
			return mergedesk.Event{}, inactiveError("author_id", u)
		}
	}
	body, htmlBody := c.Body, c.HTMLBody
	if strings.TrimSpace(body) == "" {
		body = mergedesk.PlainText(htmlBody)
	}
	if strings.TrimSpace(htmlBody) == "" {
		htmlBody = commentHTML(body)
	}
	public := c.Public == nil || *c.Public
	return mergedesk.Event{Type: mergedesk.EventComment, Fields: map[string]any{"author_id": author, "body": body,
		"html_body": htmlBody, "public": public}}, nil
}

// propertyEvents returns the Create events of a new ticket (prev nil) or the
// Change events from prev to t, values encoded as docs/api.md §7.1 says.
func propertyEvents(prev, t *mergedesk.Ticket) []mergedesk.Event {
	type prop struct {
		name      string
		was, now  any
		setOnNew  bool // a Create event even when empty
		isPresent bool
	}
	var p mergedesk.Ticket
	if prev != nil {
		p = *prev
	}
	props := []prop{
		{"subject", p.Subject, t.Subject, false, t.Subject != ""},
		{"requester_id", mergedesk.EventID(nonZero(p.RequesterID)), mergedesk.EventID(nonZero(t.RequesterID)), true, true},
		{"status", p.Status, t.Status, true, true},
		{"priority", mergedesk.EventString(p.Priority), mergedesk.EventString(t.Priority), false, t.Priority != nil},
		{"type", mergedesk.EventString(p.Type), mergedesk.EventString(t.Type), false, t.Type != nil},
		{"group_id", mergedesk.EventID(p.GroupID), mergedesk.EventID(t.GroupID), false, t.GroupID != nil},
		{"assignee_id", mergedesk.EventID(p.AssigneeID), mergedesk.EventID(t.AssigneeID), false, t.AssigneeID != nil},
		{"organization_id", mergedesk.EventID(p.OrganizationID), mergedesk.EventID(t.OrganizationID), false, t.OrganizationID != nil},
		{"tags", tagsValue(p.Tags), tagsValue(t.Tags), false, len(t.Tags) > 0},
	}
	if prev != nil {
		props = append(props, prop{"external_id", mergedesk.EventString(p.ExternalID), mergedesk.EventString(t.ExternalID), false, false})
	}
	for _, f := range t.CustomFields {
		var was any
		if i := slices.IndexFunc(p.CustomFields, func(e mergedesk.CustomField) bool { return e.ID == f.ID }); i >= 0 {
			was = p.CustomFields[i].Value
		}
		props = append(props, prop{strconv.FormatInt(f.ID, 10), was, f.Value, false, f.Value != nil})
	}
	var out []mergedesk.Event
	for _, pr := range props {
		if prev == nil {
			if pr.setOnNew || pr.isPresent {
				out = append(out, mergedesk.Event{Type: mergedesk.EventCreate, Fields: map[string]any{"field_name": pr.name, "value": pr.now}})
			}
			continue
		}
		if !reflect.DeepEqual(pr.was, pr.now) {
			out = append(out, mergedesk.Event{Type: mergedesk.EventChange, Fields: map[string]any{
				"field_name": pr.name, "value": pr.now, "previous_value": pr.was}})
		}
	}
	return out
}

func ccsOf(t *mergedesk.Ticket, followers bool) []int64 {
	switch {
	case t == nil:
		return []int64{}
	case followers:
		return t.FollowerIDs
	}
	return t.EmailCCIDs
}

func idStrings(ids []int64) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = strconv.FormatInt(id, 10)
	}
	return out
}

func tagsValue(tags []string) []string {
	if tags == nil {
		return []string{}
	}
	return tags
}

func nonZero(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

func unixPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return unix(*t)
}
