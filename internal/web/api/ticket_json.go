package api

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/mergedesk/mergedesk"
)

// ticketJSON is the ticket object of docs/api.md §6.1, fields in the documented order.
type ticketJSON struct {
	ID                   int64                   `json:"id"`
	URL                  string                  `json:"url"`
	ExternalID           *string                 `json:"external_id"`
	Via                  mergedesk.Via           `json:"via"`
	CreatedAt            string                  `json:"created_at"`
	UpdatedAt            string                  `json:"updated_at"`
	Type                 *string                 `json:"type"`
	Subject              string                  `json:"subject"`
	RawSubject           string                  `json:"raw_subject"`
	Description          string                  `json:"description"`
	Priority             *string                 `json:"priority"`
	Status               string                  `json:"status"`
	RequesterID          int64                   `json:"requester_id"`
	SubmitterID          int64                   `json:"submitter_id"`
	AssigneeID           *int64                  `json:"assignee_id"`
	OrganizationID       *int64                  `json:"organization_id"`
	GroupID              *int64                  `json:"group_id"`
	CollaboratorIDs      []int64                 `json:"collaborator_ids"`
	EmailCCIDs           []int64                 `json:"email_cc_ids"`
	FollowerIDs          []int64                 `json:"follower_ids"`
	Tags                 []string                `json:"tags"`
	CustomFields         []mergedesk.CustomField `json:"custom_fields"`
	Fields               []mergedesk.CustomField `json:"fields"`
	IsPublic             bool                    `json:"is_public"`
	Archived             bool                    `json:"archived"`
	ViaFollowupSourceID  *int64                  `json:"via_followup_source_id"`
	Recipient            *string                 `json:"recipient"`
	ForumTopicID         *int64                  `json:"forum_topic_id"`
	ProblemID            *int64                  `json:"problem_id"`
	HasIncidents         bool                    `json:"has_incidents"`
	DueAt                *string                 `json:"due_at"`
	SatisfactionRating   *struct{}               `json:"satisfaction_rating"`
	SharingAgreementIDs  []int64                 `json:"sharing_agreement_ids"`
	FollowupIDs          []int64                 `json:"followup_ids"`
	BrandID              *int64                  `json:"brand_id"`
	TicketFormID         *int64                  `json:"ticket_form_id"`
	CustomStatusID       *int64                  `json:"custom_status_id"`
	AllowChannelback     bool                    `json:"allow_channelback"`
	AllowAttachments     bool                    `json:"allow_attachments"`
	FromMessagingChannel bool                    `json:"from_messaging_channel"`
	// ResultType is set in search results only.
	ResultType string `json:"result_type,omitempty"`
}

// messagingChannels are the via channels whose tickets come from messaging.
var messagingChannels = map[string]bool{"native_messaging": true, "whatsapp": true}

func (s *Server) ticketURL(r *http.Request, id int64) string {
	return s.url(r, "/tickets/"+strconv.FormatInt(id, 10))
}

// ticketView renders a ticket (docs/api.md §6.1).
func (s *Server) ticketView(r *http.Request, t *mergedesk.Ticket) *ticketJSON {
	ccs := nonNil(t.EmailCCIDs)
	fol := nonNil(t.FollowerIDs)
	collab := make([]int64, 0, len(ccs)+len(fol))
	collab = append(collab, ccs...)
	for _, id := range fol {
		if !containsID(collab, id) {
			collab = append(collab, id)
		}
	}
	fields := make([]mergedesk.CustomField, len(t.CustomFields))
	for i, f := range t.CustomFields {
		fields[i] = mergedesk.CustomField{ID: f.ID, Value: wireFieldValue(f.Value)}
	}
	tags := t.Tags
	if tags == nil {
		tags = []string{}
	}
	via := t.Via
	if via.Source.From == nil {
		via.Source.From = map[string]any{}
	}
	if via.Source.To == nil {
		via.Source.To = map[string]any{}
	}
	return &ticketJSON{ID: t.ID, URL: s.ticketURL(r, t.ID), ExternalID: t.ExternalID, Via: via,
		CreatedAt: ts(t.CreatedAt), UpdatedAt: ts(t.UpdatedAt), Type: t.Type, Subject: t.Subject, RawSubject: t.Subject,
		Description: t.Description, Priority: t.Priority, Status: t.Status, RequesterID: t.RequesterID,
		SubmitterID: t.SubmitterID, AssigneeID: t.AssigneeID, OrganizationID: t.OrganizationID, GroupID: t.GroupID,
		CollaboratorIDs: collab, EmailCCIDs: ccs, FollowerIDs: fol, Tags: tags, CustomFields: fields, Fields: fields,
		IsPublic: t.IsPublic, Archived: t.Archived, ViaFollowupSourceID: t.ViaFollowupSourceID,
		SharingAgreementIDs: []int64{}, FollowupIDs: []int64{}, AllowAttachments: true,
		FromMessagingChannel: messagingChannels[t.Via.Channel]}
}

func (s *Server) ticketsView(r *http.Request, list []*mergedesk.Ticket) []*ticketJSON {
	out := make([]*ticketJSON, len(list))
	for i, t := range list {
		out[i] = s.ticketView(r, t)
	}
	return out
}

// wireFieldValue keeps a custom field value a string, bool, null or [string]:
// never a JSON number (go-zendesk fails on numbers).
func wireFieldValue(v any) any {
	switch x := v.(type) {
	case nil, string, bool, []string:
		return x
	case json.Number:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// auditJSON is an audit (docs/api.md §7.1).
type auditJSON struct {
	ID        int64            `json:"id"`
	TicketID  int64            `json:"ticket_id"`
	CreatedAt string           `json:"created_at"`
	AuthorID  int64            `json:"author_id"`
	Metadata  json.RawMessage  `json:"metadata"`
	Via       mergedesk.Via    `json:"via"`
	Events    []map[string]any `json:"events"`
}

func auditView(a *mergedesk.Audit) *auditJSON {
	meta := a.Metadata
	if len(meta) == 0 || !json.Valid(meta) {
		meta = json.RawMessage(`{"system":{},"custom":{}}`)
	}
	evs := make([]map[string]any, len(a.Events))
	for i, e := range a.Events {
		m := make(map[string]any, len(e.Fields)+2)
		for k, v := range e.Fields {
			m[k] = v
		}
		m["id"], m["type"] = e.ID, e.Type
		evs[i] = m
	}
	return &auditJSON{ID: a.ID, TicketID: a.TicketID, CreatedAt: ts(a.CreatedAt), AuthorID: a.AuthorID,
		Metadata: meta, Via: a.Via, Events: evs}
}

func auditsView(as []*mergedesk.Audit) []*auditJSON {
	out := make([]*auditJSON, len(as))
	for i, a := range as {
		out[i] = auditView(a)
	}
	return out
}

// commentJSON is a ticket comment (docs/api.md §6.3).
type commentJSON struct {
	ID          int64          `json:"id"`
	Type        string         `json:"type"`
	AuthorID    int64          `json:"author_id"`
	Body        string         `json:"body"`
	HTMLBody    string         `json:"html_body"`
	PlainBody   string         `json:"plain_body"`
	Public      bool           `json:"public"`
	Attachments []any          `json:"attachments"`
	AuditID     int64          `json:"audit_id"`
	Via         mergedesk.Via  `json:"via"`
	Metadata    map[string]any `json:"metadata"`
	CreatedAt   string         `json:"created_at"`
}

func commentView(c mergedesk.Comment) commentJSON {
	return commentJSON{ID: c.ID, Type: "Comment", AuthorID: c.AuthorID, Body: c.Body, HTMLBody: c.HTMLBody,
		PlainBody: c.Body, Public: c.Public, Attachments: []any{}, AuditID: c.AuditID, Via: c.Via,
		Metadata: map[string]any{"system": map[string]any{}, "custom": map[string]any{}}, CreatedAt: ts(c.CreatedAt)}
}

func nonNil(ids []int64) []int64 {
	if ids == nil {
		return []int64{}
	}
	return ids
}

func containsID(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
