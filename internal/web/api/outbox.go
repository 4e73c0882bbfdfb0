package api

import (
	"net/http"
	"strconv"

	"github.com/mergedesk/mergedesk"
)

// outboxJSON is an outbox message [ext]: a webhook call or a notification mail
// that a trigger queued, with its delivery state.
type outboxJSON struct {
	ID            int64   `json:"id"`
	URL           string  `json:"url"`
	Kind          string  `json:"kind"`
	Status        string  `json:"status"`
	TicketID      *int64  `json:"ticket_id"`
	TriggerID     *int64  `json:"trigger_id"`
	WebhookID     *string `json:"webhook_id"`
	RecipientID   *int64  `json:"recipient_id"`
	Recipient     *string `json:"recipient"`
	Subject       *string `json:"subject"`
	Body          string  `json:"body"`
	Attempts      int     `json:"attempts"`
	NextAttemptAt *string `json:"next_attempt_at"`
	LastError     *string `json:"last_error"`
	LastStatus    *int    `json:"last_response_status"`
	CreatedAt     string  `json:"created_at"`
	UpdatedAt     string  `json:"updated_at"`
	DeliveredAt   *string `json:"delivered_at"`
}

func (s *Server) outboxView(r *http.Request, m *mergedesk.OutboxMessage) *outboxJSON {
	id := func(n int64) *int64 {
		if n == 0 {
			return nil
		}
		return &n
	}
	str := func(v string) *string {
		if v == "" {
			return nil
		}
		return &v
	}
	out := &outboxJSON{ID: m.ID, URL: s.url(r, "/outbox/"+strconv.FormatInt(m.ID, 10)), Kind: m.Kind, Status: m.Status,
		TicketID: id(m.TicketID), TriggerID: id(m.TriggerID), WebhookID: str(m.WebhookID), RecipientID: id(m.RecipientID),
		Recipient: str(m.Recipient), Subject: str(m.Subject), Body: m.Body, Attempts: m.Attempts, LastError: m.LastError,
		LastStatus: m.LastStatus, CreatedAt: ts(m.CreatedAt), UpdatedAt: ts(m.UpdatedAt), DeliveredAt: tsPtr(m.DeliveredAt)}
	if m.Status == mergedesk.OutboxPending {
		out.NextAttemptAt = str(ts(m.NextAttemptAt))
	}
	return out
}

func (s *Server) outboxRoutes() {
	s.handle("GET /outbox", Admin, s.listOutbox)
	s.handle("GET /outbox/{id}", Admin, s.getOutbox)
}

// listOutbox lists outbox messages in id order, both paging styles; ?status=
// filters (pending, delivered, failed).
func (s *Server) listOutbox(w http.ResponseWriter, r *http.Request) error {
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	ms, info, err := s.DB.OutboxMessages(r.Context(), r.URL.Query().Get("status"), p)
	if err != nil {
		return err
	}
	out := make([]*outboxJSON, len(ms))
	for i, m := range ms {
		out[i] = s.outboxView(r, m)
	}
	first, last := ends(ms, func(m *mergedesk.OutboxMessage) int64 { return m.ID })
	return s.list(w, r, "outbox_messages", out, p, info, first, last)
}

func (s *Server) getOutbox(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	m, err := s.DB.OutboxMessage(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"outbox_message": s.outboxView(r, m)})
}
