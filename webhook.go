package mergedesk

import (
	"net/url"
	"slices"
	"strings"
	"time"
)

// Webhook values (docs/api.md §10.2).
var (
	WebhookMethods       = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}
	WebhookFormats       = []string{"json", "xml", "form_encoded"}
	WebhookStatuses      = []string{"active", "inactive"}
	WebhookAuthTypes     = []string{"basic_auth", "bearer_token"}
	WebhookSubscriptions = []string{"conditional_ticket_events"}
)

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

// CheckRequired refuses a blank required field: on create (create true) every
// required field must be given and not blank; on update a given one must not
// be blank. Errors: RecordInvalid (BlankValue).
func (w WebhookWrite) CheckRequired(create bool) error {
	for _, req := range []struct {
		field string
		v     *string
	}{{"name", w.Name}, {"endpoint", w.Endpoint}, {"http_method", w.HTTPMethod}, {"request_format", w.RequestFormat}, {"status", w.Status}} {
		if (req.v == nil && create) || (req.v != nil && strings.TrimSpace(*req.v) == "") {
			return Invalid(req.field, CodeBlank, "%s: cannot be blank", FieldLabel(req.field))
		}
	}
	return nil
}

// Apply validates w and applies it to h. Errors: RecordInvalid (InvalidValue
// on endpoint, http_method, request_format, status, subscriptions,
// authentication; BlankValue on authentication data).
func (h *Webhook) Apply(w WebhookWrite) error {
	enum := func(field string, v *string, allowed []string, upper bool) (string, error) {
		s := strings.TrimSpace(*v)
		if upper {
			s = strings.ToUpper(s)
		} else {
			s = strings.ToLower(s)
		}
		if !slices.Contains(allowed, s) {
			return "", Invalid(field, CodeInvalid, "%s: %q is not one of %s", FieldLabel(field), *v, strings.Join(allowed, ", "))
		}
		return s, nil
	}
	var err error
	if w.Name != nil {
		h.Name = strings.TrimSpace(*w.Name)
	}
	if w.Description != nil {
		h.Description = nil
		if d := *w.Description; d != nil && strings.TrimSpace(*d) != "" {
			v := strings.TrimSpace(*d)
			h.Description = &v
		}
	}
	if w.Endpoint != nil {
		e := strings.TrimSpace(*w.Endpoint)
		u, perr := url.Parse(e)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return Invalid("endpoint", CodeInvalid, "Endpoint: %q is not an http or https URL", e)
		}
		h.Endpoint = e
	}
	if w.HTTPMethod != nil {
		if h.HTTPMethod, err = enum("http_method", w.HTTPMethod, WebhookMethods, true); err != nil {
			return err
		}
	}
	if w.RequestFormat != nil {
		if h.RequestFormat, err = enum("request_format", w.RequestFormat, WebhookFormats, false); err != nil {
			return err
		}
	}
	if w.Status != nil {
		if h.Status, err = enum("status", w.Status, WebhookStatuses, false); err != nil {
			return err
		}
	}
	if w.Subscriptions != nil {
		subs := *w.Subscriptions
		if len(subs) == 0 {
			subs = []string{"conditional_ticket_events"}
		}
		for _, s := range subs {
			if !slices.Contains(WebhookSubscriptions, s) {
				return Invalid("subscriptions", CodeInvalid,
					"Subscriptions: %q is not supported: only conditional_ticket_events (trigger actions) are", s)
			}
		}
		h.Subscriptions = []string{"conditional_ticket_events"}
	}
	if w.Auth != nil {
		a := *w.Auth
		if a != nil {
			if !slices.Contains(WebhookAuthTypes, a.Type) {
				return Invalid("authentication", CodeInvalid, "Authentication: type %q is not one of %s",
					a.Type, strings.Join(WebhookAuthTypes, ", "))
			}
			if a.AddPosition == "" {
				a.AddPosition = "header"
			}
			if a.AddPosition != "header" {
				return Invalid("authentication", CodeInvalid, "Authentication: add_position must be header")
			}
			need := []string{"token"}
			if a.Type == "basic_auth" {
				need = []string{"username", "password"}
			}
			for _, k := range need {
				if s, _ := a.Data[k].(string); s == "" {
					return Invalid("authentication", CodeBlank, "Authentication: data.%s cannot be blank", k)
				}
			}
		}
		h.Auth = a
	}
	return nil
}
