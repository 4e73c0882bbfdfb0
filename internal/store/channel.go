package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/identity"
)

// phoneChannels write their sender into via as {"phone","name"} (§13.1 step 6).
var phoneChannels = map[string]bool{"voice": true, "sms": true, "whatsapp": true}

// Limits of an inbound message.
const (

	// MaxSubjectLen bounds a stored subject, in characters.
	MaxSubjectLen = 255
	// maxReceiveAttempts bounds the retries of a message whose capture raced
	// another transaction for the same identity.
	maxReceiveAttempts = 5
)

// errCaptureRace marks a transaction that lost a race to capture an identity: a
// concurrent transaction created a user with the same value first. The whole
// transaction is retried and then finds that user.
var errCaptureRace = errors.New("identity captured concurrently")

// ReceiveMessage records an inbound message on the profile it belongs to, in
// one transaction (docs/api.md §13.1, §13.2; on SQLite a savepoint of a transaction
// shared with concurrent messages): it resolves the sender and CCs by
// identity (capturing unknown ones as new end users), then appends a comment
// to the ticket the message threads onto or opens a new ticket (a follow-up
// when that ticket is closed), running the ticket hook. Errors: RecordInvalid
// (InvalidValue, BlankValue on channel, from, body, cc, ticket_id;
// UserSuspended on requester).
func (db *DB) ReceiveMessage(ctx context.Context, m mergedesk.InboundMessage) (*mergedesk.Received, error) {
	if err := m.Normalize(); err != nil {
		return nil, err
	}
	// Identity normalisation is pure: done here, outside the write lock, with
	// the cached settings (as bulk imports do).
	s, err := db.Settings(ctx)
	if err != nil {
		return nil, err
	}
	pm := prepareMessage(m, s.Phone.DefaultRegion)
	var out *mergedesk.Received
	if db.dialect.oneWriter() {
		// Concurrent messages share transactions (groupcommit.go).
		out, err = db.receiveGrouped(ctx, pm)
	} else {
		for attempt := 0; attempt < maxReceiveAttempts; attempt++ {
			err = db.Update(ctx, func(tx *Tx) error {
				var err error
				out, err = receive(ctx, tx, pm, db.ticketHook())
				return err
			})
			if !errors.Is(err, errCaptureRace) && !isUniqueViolation(err) {
				break
			}
		}
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// preparedMessage is a checked message with its contacts normalised.
type preparedMessage struct {
	mergedesk.InboundMessage
	from normContact
	cc   []normContact
}

// normContact is a contact with its identity value normalised (docs/api.md §3.3):
// stored is the form kept, norm the comparable one; err is the normalisation's
// error, reported when the transaction reaches the contact.
type normContact struct {
	mergedesk.Contact
	stored, norm string
	err          error
}

func prepareMessage(m mergedesk.InboundMessage, region string) preparedMessage {
	pm := preparedMessage{InboundMessage: m, from: normalizeContact(m.From, region)}
	for _, c := range m.CC {
		pm.cc = append(pm.cc, normalizeContact(c, region))
	}
	return pm
}

func normalizeContact(c mergedesk.Contact, region string) normContact {
	n := normContact{Contact: c}
	n.stored, n.norm, n.err = identity.Normalize(c.Type, c.Value, region)
	return n
}

// receive is ReceiveMessage's transaction.
func receive(ctx context.Context, tx *Tx, pm preparedMessage, hook mergedesk.TicketHook) (*mergedesk.Received, error) {
	m := pm.InboundMessage
	out := &mergedesk.Received{}

	// A redelivered mail (same Message-ID) is recognised and not stored twice.
	if id := normMessageID(m.MessageID); id != "" {
		tid, err := ticketByMessageID(ctx, tx, []string{id}, "in")
		if err != nil {
			return nil, err
		}
		if tid != 0 {
			if out.Ticket, err = loadTicket(ctx, tx, tid); err != nil {
				return nil, err
			}
			out.Duplicate = true
			return out, nil
		}
	}

	sender, stored, created, err := resolveContact(ctx, tx, pm.from, "from")
	if err != nil {
		return nil, err
	}
	if sender.Suspended {
		return nil, mergedesk.Invalid("requester", mergedesk.CodeUserSuspended, "Requester: user %d is suspended", sender.ID)
	}
	out.User, out.UserCreated = sender, created
	var ccs []mergedesk.CCRef
	for _, c := range pm.cc {
		u, _, _, err := resolveContact(ctx, tx, c, "cc")
		if err != nil {
			return nil, err
		}
		if u.ID != sender.ID && u.Active && !u.Suspended {
			ccs = append(ccs, mergedesk.CCRef{UserID: u.ID})
		}
	}

	hook = withSender(hook, sender)
	via := messageVia(m, stored, sender)
	w := mergedesk.TicketWriter{ActorID: sender.ID, Via: via}
	// The author defaults to the writer, the sender (no second user load).
	comment := &mergedesk.CommentInput{Body: m.Body}

	// Which ticket does it thread onto?
	target, err := threadTicket(ctx, tx, m)
	if err != nil {
		return nil, err
	}
	var c *mergedesk.TicketChange
	if target != nil && target.Status != "closed" && !target.Archived {
		in := mergedesk.TicketInput{Comment: comment, AdditionalCollaborators: ccs}
		if target.Status == "pending" || target.Status == "hold" || target.Status == "solved" {
			open := "open"
			in.Status = &open
		}
		if sender.ID != target.RequesterID && !slices.Contains(target.EmailCCIDs, sender.ID) {
			in.AdditionalCollaborators = append(in.AdditionalCollaborators, mergedesk.CCRef{UserID: sender.ID})
		}
		if c, err = updateTicket(ctx, tx, target.ID, in, w, hook); err != nil {
			return nil, err
		}
	} else {
		subject := m.Subject
		if subject == "" {
			subject = strings.Join(strings.Fields(m.Body), " ")
			subject = truncateRunes(subject, 60)
		}
		subject = truncateRunes(subject, MaxSubjectLen)
		in := mergedesk.TicketInput{Subject: &subject, RequesterID: &sender.ID, Comment: comment, AdditionalCollaborators: ccs}
		if target != nil {
			in.ViaFollowupSourceID = &target.ID
		}
		if c, err = createTicketFor(ctx, tx, in, w, hook, sender); err != nil {
			return nil, err
		}
		out.TicketCreated = true
	}

	if c.Audit.ID != 0 {
		if err := storeAttachments(ctx, tx, c, m.Attachments, out); err != nil {
			return nil, err
		}
	}
	if id := normMessageID(m.MessageID); id != "" {
		if err := recordMessageID(ctx, tx, c.Ticket.ID, c.Audit.ID, m.MessageID, "in"); err != nil {
			return nil, err
		}
	}
	// The ticket and sender are returned as the transaction stored them:
	// reading them back after commit cost a fifth of a message's CPU time and
	// gave the same values (TestReceiveMessageResultIsStored).
	out.Ticket = c.Ticket
	if c.Audit.ID != 0 {
		out.Audit = c.Audit
	}
	return out, nil
}

// withSender hands the ticket hook the sender as this transaction resolved it
// when the hook asks for that user (the trigger engine reads the requester of
// every change it notifies about, and the recipient of each notification),
// instead of loading it again: nothing the message writes before the hook
// runs changes a user that exists already.
func withSender(hook mergedesk.TicketHook, sender *mergedesk.User) mergedesk.TicketHook {
	if hook == nil {
		return nil
	}
	return func(ctx context.Context, tx mergedesk.TicketTx, c *mergedesk.TicketChange) error {
		return hook(ctx, senderTx{tx, sender}, c)
	}
}

// senderTx is the TicketTx of a message's write: User returns the sender
// without a query.
type senderTx struct {
	mergedesk.TicketTx
	sender *mergedesk.User
}

func (s senderTx) User(ctx context.Context, id int64) (*mergedesk.User, error) {
	if id == s.sender.ID {
		return s.sender, nil
	}
	return s.TicketTx.User(ctx, id)
}

// resolveContact returns the active user owning the contact's identity, or a
// new end user with it as an unverified primary identity (auto-capture), and
// the identity's stored form. A user's shared phone number is not an identity
// and never matches. errField names the contact in errors.
func resolveContact(ctx context.Context, tx *Tx, c normContact, errField string) (*mergedesk.User, string, bool, error) {
	stored, norm, err := c.stored, c.norm, c.err
	if err != nil {
		return nil, "", false, renameField(renameField(err, "value", errField), "type", errField)
	}
	u, err := userByIdentity(ctx, tx, c.Type, norm)
	if err == nil || mergedesk.ErrorCode(err) != mergedesk.ENotFound {
		return u, stored, false, err
	}
	name := strings.TrimSpace(c.Name)
	if name == "" {
		name = stored
	}
	name = truncateRunes(name, mergedesk.MaxNameLen)
	nu := mergedesk.NewUser{Name: name}
	switch c.Type {
	case mergedesk.IdentityEmail:
		nu.Email = stored
	case mergedesk.IdentityPhone:
		nu.Phone = stored
	default:
		nu.Identities = []mergedesk.NewIdentity{{Type: c.Type, Value: stored, Primary: true}}
	}
	created, err := createUser(ctx, tx, nu)
	if mergedesk.FieldCode(err, "email") == mergedesk.CodeDuplicate ||
		mergedesk.FieldCode(err, "phone") == mergedesk.CodeDuplicate ||
		mergedesk.FieldCode(err, "value") == mergedesk.CodeDuplicate || isUniqueViolation(err) {
		// Nobody owned the value a moment ago: another transaction captured it.
		return nil, "", false, fmt.Errorf("capture %s %s: %w", c.Type, stored, errCaptureRace)
	}
	if err != nil {
		return nil, "", false, renameField(err, "name", errField)
	}
	u, err = loadUser(ctx, tx, created.ID)
	return u, stored, true, err
}

// userByIdentity returns the active user owning the normalised value of an
// identity of type typ, or RecordNotFound. An owner merged away meanwhile has
// handed its identities to the target (rule M29), so the lookup is repeated;
// a stale owner is followed along merged_into_id.
func userByIdentity(ctx context.Context, tx *Tx, typ, norm string) (*mergedesk.User, error) {
	for attempt := 0; attempt < 4; attempt++ {
		u, err := identityOwner(ctx, tx, typ, norm)
		if err != nil {
			return nil, err
		}
		if u == nil {
			return nil, mergedesk.NotFound()
		}
		if u.Active {
			return u, nil
		}
		for hops := 0; u.MergedIntoID != nil && hops < 8; hops++ {
			if u, err = loadUser(ctx, tx, *u.MergedIntoID); err != nil {
				return nil, err
			}
			if u.Active {
				return u, nil
			}
		}
	}
	return nil, mergedesk.NotFound()
}

// identityOwnerSQL reads the owner of an identity with the columns and the
// membership flag loadUsers reads, and its identities (one row each, in
// loadIdentities' order): the owner has at least the identity it was found by.
var identityOwnerSQL = "SELECT " + qualify("u", userColumns) + ", " + hasMembership("u.id") + ", " + qualify("o", identityColumns) +
	" FROM identities i JOIN users u ON u.id = i.user_id JOIN identities o ON o.user_id = u.id" +
	" WHERE i.type = ? AND i.value_norm = ? ORDER BY " + strings.Replace(typeOrder, "CASE type", "CASE o.type", 1) + ", o.is_primary DESC, o.id"

// identityOwner returns the user owning the normalised value of an identity of
// type typ, as loadUser returns it, or nil. Every message resolves its sender,
// so where no row lock has to be taken before the user is read (SQLite), the
// identity, its owner and the owner's identities are one statement instead of
// three.
func identityOwner(ctx context.Context, tx *Tx, typ, norm string) (*mergedesk.User, error) {
	if tx.db.dialect.rowLocks() {
		// loadUser locks the user before reading it, so that a merge holding
		// it is waited for and its result read.
		id, err := userIDByIdentity(ctx, tx, typ, norm)
		if err != nil || id == 0 {
			return nil, err
		}
		u, err := loadUser(ctx, tx, id)
		if mergedesk.ErrorCode(err) == mergedesk.ENotFound {
			return nil, nil
		}
		return u, err
	}
	rows, err := tx.query(ctx, identityOwnerSQL, typ, norm)
	if err != nil {
		return nil, fmt.Errorf("load owner of %s identity: %w", typ, err)
	}
	defer rows.Close()
	var u *mergedesk.User
	var member bool
	for rows.Next() {
		var id mergedesk.Identity
		var c, up int64
		row, err := scanUser(scanAlso{rows, []any{&member, &id.ID, &id.UserID, &id.Type, &id.Value, &id.Verified, &id.Primary,
			&id.VerificationMethod, &id.UndeliverableCount, &c, &up}})
		if err != nil {
			return nil, fmt.Errorf("scan owner of %s identity: %w", typ, err)
		}
		if u == nil {
			u = row
		}
		id.CreatedAt, id.UpdatedAt = fromUnix(c), fromUnix(up)
		u.Identities = append(u.Identities, id)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	if u == nil || !member {
		return u, nil
	}
	u.Memberships, err = loadMemberships(ctx, tx, "m.user_id IN (?)", u.ID)
	return u, err
}

// scanAlso scans a row into the destinations its caller names followed by
// more.
type scanAlso struct {
	rows interface{ Scan(...any) error }
	more []any
}

func (s scanAlso) Scan(dest ...any) error { return s.rows.Scan(slices.Concat(dest, s.more)...) }

// qualify prefixes each column of a comma-separated list with table.
func qualify(table, cols string) string {
	fs := strings.Split(cols, ",")
	for i, f := range fs {
		fs[i] = table + "." + strings.TrimSpace(f)
	}
	return strings.Join(fs, ", ")
}

// messageVia is the via of a message's audit and new ticket (§13.1 step 6,
// §13.2). stored is the sender's identity value as stored.
func messageVia(m mergedesk.InboundMessage, stored string, sender *mergedesk.User) mergedesk.Via {
	channel := m.Channel
	switch channel {
	case "messaging":
		channel = "native_messaging"
	case "x":
		channel = "twitter"
	}
	v := mergedesk.NewVia(channel)
	name := strings.TrimSpace(m.From.Name)
	if name == "" {
		name = sender.Name
	}
	switch {
	case m.Channel == mergedesk.ChannelEmail:
		v.Source.From = map[string]any{"address": stored, "name": name}
		if m.To != nil {
			v.Source.To = map[string]any{"address": m.To.Value, "name": m.To.Name}
		}
	case phoneChannels[m.Channel]:
		v.Source.From = map[string]any{"phone": stored, "name": name}
	default:
		v.Source.From = map[string]any{"value": stored, "name": name}
	}
	return v
}

// threadTicket returns the ticket a message continues, or nil for a new one:
// the named ticket, else the ticket of a referenced Message-ID.
func threadTicket(ctx context.Context, tx *Tx, m mergedesk.InboundMessage) (*mergedesk.Ticket, error) {
	if m.TicketID > 0 {
		t, err := loadTicket(ctx, tx, m.TicketID)
		switch {
		case err == nil:
			return t, nil
		case err != nil && mergedesk.ErrorCode(err) != mergedesk.ENotFound:
			return nil, err
		case m.ExplicitTicket:
			return nil, mergedesk.Invalid("ticket_id", mergedesk.CodeInvalid, "Ticket: %d does not exist", m.TicketID)
		}
	}
	var refs []string
	for _, r := range m.References {
		if n := normMessageID(r); n != "" {
			refs = append(refs, n)
		}
	}
	if len(refs) == 0 {
		return nil, nil
	}
	tid, err := ticketByMessageID(ctx, tx, refs, "")
	if err != nil || tid == 0 {
		return nil, err
	}
	t, err := loadTicket(ctx, tx, tid)
	if mergedesk.ErrorCode(err) == mergedesk.ENotFound {
		return nil, nil
	}
	return t, err
}

// ticketByMessageID returns the non-deleted ticket recorded for the first of ids
// that has one (direction "" for either), or 0.
func ticketByMessageID(ctx context.Context, q querier, ids []string, direction string) (int64, error) {
	if len(ids) > 50 {
		ids = ids[:50]
	}
	args := make([]any, 0, len(ids)+1)
	for _, id := range ids {
		args = append(args, id)
	}
	where := "m.message_id_norm IN (" + strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",") + ")"
	if direction != "" {
		where += " AND m.direction = ?"
		args = append(args, direction)
	}
	rows, err := q.query(ctx, "SELECT m.message_id_norm, m.ticket_id FROM message_ids m JOIN tickets t ON t.id = m.ticket_id WHERE "+
		where+" AND t.deleted = FALSE", args...)
	if err != nil {
		return 0, fmt.Errorf("find message ids: %w", err)
	}
	defer rows.Close()
	found := map[string]int64{}
	for rows.Next() {
		var id string
		var tid int64
		if err := rows.Scan(&id, &tid); err != nil {
			return 0, err
		}
		found[id] = tid
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, id := range ids {
		if tid := found[id]; tid != 0 {
			return tid, nil
		}
	}
	return 0, nil
}

// RecordMessageID remembers the Message-ID of a mail sent about a ticket, so
// replies to it thread onto the ticket (docs/api.md §13.2). Recording an id twice is
// a no-op.
func (db *DB) RecordMessageID(ctx context.Context, ticketID int64, messageID string) error {
	if normMessageID(messageID) == "" {
		return mergedesk.Invalid("message_id", mergedesk.CodeBlank, "Message-ID: cannot be blank")
	}
	return db.Update(ctx, func(tx *Tx) error {
		if err := ticketExists(ctx, tx, ticketID); err != nil {
			return err
		}
		return recordMessageID(ctx, tx, ticketID, 0, messageID, "out")
	})
}

func recordMessageID(ctx context.Context, tx *Tx, ticketID, auditID int64, messageID, direction string) error {
	norm := normMessageID(messageID)
	var audit any
	if auditID != 0 {
		audit = auditID
	}
	ids, err := scanIDs(tx.query(ctx, "SELECT id FROM message_ids WHERE message_id_norm = ?", norm))
	if err != nil || len(ids) > 0 {
		return err
	}
	_, err = tx.exec(ctx, `INSERT INTO message_ids (ticket_id, audit_id, message_id, message_id_norm, direction, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, ticketID, audit, truncateRunes(strings.TrimSpace(messageID), 998), norm, direction, unix(tx.now))
	if err != nil {
		return fmt.Errorf("record message id of ticket %d: %w", ticketID, err)
	}
	return nil
}

// normMessageID is the comparable form of a Message-ID: without angle brackets
// and white space, lower-cased; "" when there is nothing left.
func normMessageID(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "<")
	s = strings.TrimSuffix(s, ">")
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) > 500 || !utf8.ValidString(s) || strings.ContainsAny(s, " \t\r\n<>") {
		return ""
	}
	return s
}

// storeAttachments stores the files of a message against the comment of the
// audit c wrote; too large or too many are counted in out.SkippedAttachments.
func storeAttachments(ctx context.Context, tx *Tx, c *mergedesk.TicketChange, files []mergedesk.Attachment, out *mergedesk.Received) error {
	var eventID any
	for _, e := range c.Audit.Events {
		if e.Type == mergedesk.EventComment && e.ID != 0 {
			eventID = e.ID
			break
		}
	}
	stored := 0
	for _, f := range files {
		if len(f.Content) > mergedesk.MaxAttachmentBytes || stored >= mergedesk.MaxAttachments {
			out.SkippedAttachments++
			continue
		}
		name := truncateRunes(strings.TrimSpace(f.FileName), 255)
		if name == "" || !utf8.ValidString(name) {
			name = "attachment"
		}
		ct := strings.TrimSpace(f.ContentType)
		if ct == "" || !utf8.ValidString(ct) || len(ct) > 255 {
			ct = "application/octet-stream"
		}
		content := f.Content
		if content == nil {
			content = []byte{}
		}
		if _, err := tx.exec(ctx, `INSERT INTO attachments (ticket_id, audit_id, event_id, file_name, content_type, size, content, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, c.Ticket.ID, c.Audit.ID, eventID, name, ct, len(content), content, unix(tx.now)); err != nil {
			return fmt.Errorf("store attachment of ticket %d: %w", c.Ticket.ID, err)
		}
		stored++
	}
	return nil
}

// TicketAttachments lists the attachments stored for a ticket, oldest first.
func (db *DB) TicketAttachments(ctx context.Context, ticketID int64) ([]mergedesk.StoredAttachment, error) {
	rows, err := db.r().query(ctx, `SELECT id, ticket_id, audit_id, file_name, content_type, size, created_at
		FROM attachments WHERE ticket_id = ? ORDER BY id`, ticketID)
	if err != nil {
		return nil, fmt.Errorf("list attachments of ticket %d: %w", ticketID, err)
	}
	defer rows.Close()
	out := []mergedesk.StoredAttachment{}
	for rows.Next() {
		var a mergedesk.StoredAttachment
		var created int64
		if err := rows.Scan(&a.ID, &a.TicketID, &a.AuditID, &a.FileName, &a.ContentType, &a.Size, &created); err != nil {
			return nil, err
		}
		a.CreatedAt = fromUnix(created)
		out = append(out, a)
	}
	return out, rows.Err()
}

// AttachmentContent returns the bytes of an attachment, or RecordNotFound.
func (db *DB) AttachmentContent(ctx context.Context, id int64) ([]byte, error) {
	var b []byte
	err := db.r().queryRow(ctx, "SELECT content FROM attachments WHERE id = ?", id).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, mergedesk.NotFound()
	}
	return b, err
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}
