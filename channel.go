package mergedesk

import (
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Inbound channels (docs/api.md §13). ChannelEmail is SMTP's; the others are what
// POST /api/v2/channels/messages accepts.
const ChannelEmail = "email"

// MessageChannels are the channels of POST /api/v2/channels/messages.
var MessageChannels = []string{"voice", "sms", "whatsapp", "messaging", "x", "facebook", "chat", "web"}

// SenderTypes are the identity types a message's sender and CCs may be given as.
var SenderTypes = []string{IdentityPhone, IdentityEmail, IdentityTwitter,
	IdentityFacebook, IdentityMessaging}

const (
	// MaxAttachmentBytes bounds one stored attachment; larger ones are skipped.
	MaxAttachmentBytes = 7 << 20
	// MaxAttachments bounds the attachments stored per message.
	MaxAttachments = 20
	// MaxMessageCCs bounds the CCs one message may add.
	MaxMessageCCs = 50
)

// Contact is one party of an inbound message: an identity of type Type with
// Value (any common format; normalised as docs/api.md §3.3) and an optional display
// name.
type Contact struct {
	Type  string
	Value string
	Name  string
}

// Attachment is a file that came with a message.
type Attachment struct {
	FileName    string
	ContentType string
	Content     []byte
}

// InboundMessage is one interaction arriving over a channel (docs/api.md §13).
type InboundMessage struct {
	// Channel is ChannelEmail or one of MessageChannels.
	Channel string
	From    Contact
	// To is the receiving address of a mail ({"address","name"} in via); nil
	// for other channels.
	To *Contact
	// CC are further parties, resolved like From and added to the ticket's CCs.
	CC      []Contact
	Subject string
	Body    string
	// TicketID names the ticket to append to. With ExplicitTicket an unknown
	// id is an error (the API's ticket_id); otherwise (a mail's "[#id]") an
	// unknown id opens a new ticket.
	TicketID       int64
	ExplicitTicket bool
	// MessageID is the mail's Message-ID; References are the ids of its
	// In-Reply-To and References headers, most relevant first.
	MessageID   string
	References  []string
	Attachments []Attachment
}

// Received is the outcome of ReceiveMessage.
type Received struct {
	Ticket *Ticket
	// Audit is the audit as the transaction wrote it (event fields as built,
	// not as read back by TicketAudits); nil for a Duplicate.
	Audit *Audit
	// User is the sender; nil for a Duplicate.
	User          *User
	UserCreated   bool
	TicketCreated bool
	// Duplicate is set when the mail's Message-ID was received before: nothing
	// was written and Ticket is the ticket it went to.
	Duplicate bool
	// SkippedAttachments counts attachments not stored (too large or too many).
	SkippedAttachments int
}

// StoredAttachment is an attachment as stored, without its content.
type StoredAttachment struct {
	ID          int64
	TicketID    int64
	AuditID     int64
	FileName    string
	ContentType string
	Size        int64
	CreatedAt   time.Time
}

// Normalize checks what a message needs to be recorded that needs no
// database, and cleans it: NULs dropped from the text, the subject trimmed,
// control characters dropped from display names. Errors: RecordInvalid
// (InvalidValue, BlankValue or TooLong on channel, from, cc, body, ticket_id).
func (m *InboundMessage) Normalize() error {
	if m.Channel != ChannelEmail && !slices.Contains(MessageChannels, m.Channel) {
		return Invalid("channel", CodeInvalid, "Channel: %q is not one of %s",
			m.Channel, strings.Join(MessageChannels, ", "))
	}
	if err := checkContact(m.From, "from"); err != nil {
		return err
	}
	if len(m.CC) > MaxMessageCCs {
		return Invalid("cc", CodeTooLong, "Cc: at most %d entries", MaxMessageCCs)
	}
	for _, c := range m.CC {
		if err := checkContact(c, "cc"); err != nil {
			return err
		}
	}
	if strings.TrimSpace(m.Body) == "" {
		return Invalid("body", CodeBlank, "Body: cannot be blank")
	}
	if !utf8.ValidString(m.Body) || !utf8.ValidString(m.Subject) {
		return Invalid("body", CodeInvalid, "Body: is not valid UTF-8")
	}
	if m.TicketID < 0 {
		return Invalid("ticket_id", CodeInvalid, "Ticket: %d is not a ticket id", m.TicketID)
	}
	// PostgreSQL text cannot hold NUL; nothing else is rewritten.
	m.Body = strings.ReplaceAll(m.Body, "\x00", "")
	m.Subject = strings.TrimSpace(strings.ReplaceAll(m.Subject, "\x00", ""))
	m.From.Name = cleanName(m.From.Name)
	m.CC = slices.Clone(m.CC)
	for i := range m.CC {
		m.CC[i].Name = cleanName(m.CC[i].Name)
	}
	return nil
}

func checkContact(c Contact, field string) error {
	label := FieldLabel(field)
	if !slices.Contains(SenderTypes, c.Type) {
		return Invalid(field, CodeInvalid, "%s: type %q is not one of %s", label, c.Type, strings.Join(SenderTypes, ", "))
	}
	if strings.TrimSpace(c.Value) == "" {
		return Invalid(field, CodeBlank, "%s: value cannot be blank", label)
	}
	if strings.ContainsFunc(c.Value, unicode.IsControl) || !utf8.ValidString(c.Value) {
		return Invalid(field, CodeInvalid, "%s: value contains control characters", label)
	}
	return nil
}

// cleanName drops control characters and invalid UTF-8 from a display name.
func cleanName(s string) string {
	s = strings.ToValidUTF8(s, "")
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s))
}
