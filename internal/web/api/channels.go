package api

import (
	"net/http"
	"slices"
	"strings"

	"github.com/mergedesk/mergedesk"
)

// contactBody is a message's sender or CC (docs/api.md §13.1).
type contactBody struct {
	Type  string `json:"type"`
	Value string `json:"value"`
	Name  string `json:"name"`
}

func (c contactBody) contact() mergedesk.Contact {
	return mergedesk.Contact{Type: c.Type, Value: c.Value, Name: c.Name}
}

// messageBody is the body of POST /channels/messages.
type messageBody struct {
	Channel  string        `json:"channel"`
	From     *contactBody  `json:"from"`
	Subject  Opt[string]   `json:"subject"`
	Body     string        `json:"body"`
	TicketID Ref           `json:"ticket_id"`
	CC       []contactBody `json:"cc"`
}

func (s *Server) channelRoutes() {
	s.handle("POST /channels/messages", Staff, s.postChannelMessage)
}

// postChannelMessage records an inbound message from an integration on the
// profile that owns its sender's identity (docs/api.md §13.1).
func (s *Server) postChannelMessage(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Message *messageBody `json:"message"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	b := body.Message
	if b == nil {
		return mergedesk.Errorf(mergedesk.EParamMissing, "message parameter is missing")
	}
	if b.From == nil {
		return mergedesk.Invalid("from", mergedesk.CodeBlank, "From: cannot be blank")
	}
	if !slices.Contains(mergedesk.MessageChannels, b.Channel) {
		return mergedesk.Invalid("channel", mergedesk.CodeInvalid, "Channel: %q is not one of %s",
			b.Channel, strings.Join(mergedesk.MessageChannels, ", "))
	}
	m := mergedesk.InboundMessage{Channel: b.Channel, From: b.From.contact(), Subject: b.Subject.V, Body: b.Body}
	if p := refPtr(b.TicketID); p != nil {
		m.TicketID, m.ExplicitTicket = *p, true
	}
	for _, c := range b.CC {
		m.CC = append(m.CC, c.contact())
	}
	res, err := s.DB.ReceiveMessage(r.Context(), m)
	if err != nil {
		return err
	}
	w.Header().Set("Location", s.ticketURL(r, res.Ticket.ID))
	return writeJSON(w, http.StatusCreated, map[string]any{
		"ticket":         s.ticketView(r, res.Ticket),
		"user":           s.userView(r, res.User, s.tagging(r.Context())),
		"user_created":   res.UserCreated,
		"ticket_created": res.TicketCreated,
	})
}
