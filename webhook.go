package mergedesk

import "time"

// Webhook is an HTTP endpoint that trigger actions call.
type Webhook struct {
	ID            string
	Name          string
	Description   *string
	Endpoint      string
	HTTPMethod    string
	RequestFormat string
	Status        string
	Subscriptions []string
	// Auth holds credentials the delivery sends; never shown to clients.
	Auth          *WebhookAuth
	SigningSecret string
	CreatedAt     time.Time
	CreatedBy     int64
	UpdatedAt     time.Time
	UpdatedBy     int64
}

// WebhookAuth is a webhook's authentication: basic_auth with data
// {"username","password"} or bearer_token with data {"token"}.
type WebhookAuth struct {
	Type        string         `json:"type"`
	Data        map[string]any `json:"data"`
	AddPosition string         `json:"add_position"`
}

// WebhookWrite is the writable part of a webhook: nil fields are left alone on
// update and required (except Description, Subscriptions and Auth) on create.
type WebhookWrite struct {
	Name          *string
	Description   **string
	Endpoint      *string
	HTTPMethod    *string
	RequestFormat *string
	Status        *string
	Subscriptions *[]string
	Auth          **WebhookAuth
}

// WebhookPage is a cursor page of webhooks: ids are ordered, so a cursor is the
// id a page follows (After) or precedes (Before).
type WebhookPage struct {
	Size          int
	After, Before string
}
