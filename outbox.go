package mergedesk

import (
	"fmt"
	"time"
)

// Outbox message kinds and statuses.
const (
	OutboxWebhook = "webhook" // an HTTP request to a webhook
	OutboxEmail   = "email"   // a mail through the outbound SMTP relay

	OutboxPending   = "pending"
	OutboxDelivered = "delivered"
	OutboxFailed    = "failed"
)

// OutboxStatuses are the statuses a message can have.
var OutboxStatuses = []string{OutboxPending, OutboxDelivered, OutboxFailed}

// OutboxMessage is one side effect of a trigger: written in the ticket's write
// transaction and delivered after commit, with retries.
type OutboxMessage struct {
	ID          int64
	Kind        string
	Status      string
	TicketID    int64
	TriggerID   int64
	WebhookID   string // webhook messages
	RecipientID int64  // email messages
	Recipient   string // the recipient's address
	Subject     string
	Body        string
	// Attempts counts delivery attempts started, the current one included.
	Attempts      int
	NextAttemptAt time.Time
	LastError     *string
	LastStatus    *int // HTTP status of the last webhook attempt
	CreatedAt     time.Time
	UpdatedAt     time.Time
	DeliveredAt   *time.Time
}

// MessageID is the Message-ID header of a mail message, recorded for its
// ticket when the message was queued: replies that name it in In-Reply-To or
// References thread onto the ticket.
func (m *OutboxMessage) MessageID() string {
	return fmt.Sprintf("<outbox-%d.ticket-%d@mergedesk>", m.ID, m.TicketID)
}
