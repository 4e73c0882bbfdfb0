package api

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	"github.com/mergedesk/mergedesk"
)

// webhookJSON is the webhook object of docs/api.md §10.2. Authentication shows its
// type and position, never its data.
type webhookJSON struct {
	ID             string         `json:"id"`
	Name           string         `json:"name"`
	Description    *string        `json:"description"`
	Endpoint       string         `json:"endpoint"`
	HTTPMethod     string         `json:"http_method"`
	RequestFormat  string         `json:"request_format"`
	Status         string         `json:"status"`
	Subscriptions  []string       `json:"subscriptions"`
	Authentication map[string]any `json:"authentication"`
	CreatedAt      string         `json:"created_at"`
	CreatedBy      string         `json:"created_by"`
	UpdatedAt      string         `json:"updated_at"`
	UpdatedBy      string         `json:"updated_by"`
}

func (s *Server) webhookView(h *mergedesk.Webhook) *webhookJSON {
	out := &webhookJSON{ID: h.ID, Name: h.Name, Description: h.Description, Endpoint: h.Endpoint, HTTPMethod: h.HTTPMethod,
		RequestFormat: h.RequestFormat, Status: h.Status, Subscriptions: h.Subscriptions, CreatedAt: ts(h.CreatedAt),
		CreatedBy: strconv.FormatInt(h.CreatedBy, 10), UpdatedAt: ts(h.UpdatedAt), UpdatedBy: strconv.FormatInt(h.UpdatedBy, 10)}
	if h.Auth != nil {
		out.Authentication = map[string]any{"type": h.Auth.Type, "add_position": h.Auth.AddPosition}
	}
	return out
}

// webhookBody is the writable part of a webhook in a request.
type webhookBody struct {
	Name           Opt[string]   `json:"name"`
	Description    Opt[string]   `json:"description"`
	Endpoint       Opt[string]   `json:"endpoint"`
	HTTPMethod     Opt[string]   `json:"http_method"`
	RequestFormat  Opt[string]   `json:"request_format"`
	Status         Opt[string]   `json:"status"`
	Subscriptions  Opt[[]string] `json:"subscriptions"`
	Authentication Opt[struct {
		Type        string         `json:"type"`
		Data        map[string]any `json:"data"`
		AddPosition string         `json:"add_position"`
	}] `json:"authentication"`
}

func decodeWebhook(r *http.Request) (mergedesk.WebhookWrite, error) {
	var env struct {
		Webhook *webhookBody `json:"webhook"`
	}
	var w mergedesk.WebhookWrite
	if err := decode(r, &env); err != nil {
		return w, err
	}
	b := env.Webhook
	if b == nil {
		return w, mergedesk.Errorf(mergedesk.EParamMissing, "webhook parameter is missing")
	}
	w.Name, w.Endpoint, w.HTTPMethod = b.Name.Ptr(), b.Endpoint.Ptr(), b.HTTPMethod.Ptr()
	w.RequestFormat, w.Status, w.Description = b.RequestFormat.Ptr(), b.Status.Ptr(), strUpdate(b.Description)
	if b.Subscriptions.Set && !b.Subscriptions.Null {
		w.Subscriptions = &b.Subscriptions.V
	}
	if b.Authentication.Set {
		var a *mergedesk.WebhookAuth
		if !b.Authentication.Null {
			v := b.Authentication.V
			a = &mergedesk.WebhookAuth{Type: v.Type, Data: v.Data, AddPosition: v.AddPosition}
		}
		w.Auth = &a
	}
	return w, nil
}

func (s *Server) webhookRoutes() {
	s.handle("GET /webhooks", Admin, s.listWebhooks)
	s.handle("GET /webhooks/{id}", Admin, s.getWebhook)
	s.handle("POST /webhooks", Admin, s.createWebhook)
	s.handle("PUT /webhooks/{id}", Admin, s.updateWebhook)
	s.handle("PATCH /webhooks/{id}", Admin, s.updateWebhook)
	s.handle("DELETE /webhooks/{id}", Admin, s.deleteWebhook)
	s.handle("GET /webhooks/{id}/signing_secret", Admin, s.webhookSecret)
}

// Webhook cursors are opaque: base64url of "w:<id>".
func encodeWebhookCursor(id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("w:" + id))
}

func decodeWebhookCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(b), "w:") || len(b) < 3 {
		return "", mergedesk.Errorf(mergedesk.EBadCursor, "page cursor %q is invalid", truncate(c, 40))
	}
	return string(b[2:]), nil
}

// listWebhooks is cursor only (docs/api.md §1.5).
func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p := mergedesk.WebhookPage{Size: clampSize(q.Get("page[size]"))}
	var err error
	if p.After, err = decodeWebhookCursor(q.Get("page[after]")); err != nil {
		return err
	}
	if p.Before, err = decodeWebhookCursor(q.Get("page[before]")); err != nil {
		return err
	}
	hs, info, err := s.DB.Webhooks(r.Context(), p)
	if err != nil {
		return err
	}
	out := make([]*webhookJSON, len(hs))
	for i, h := range hs {
		out[i] = s.webhookView(h)
	}
	meta := map[string]any{"has_more": info.HasMore, "after_cursor": nil, "before_cursor": nil}
	links := map[string]any{"next": nil, "prev": nil}
	u := s.requestURL(r)
	size := strconv.Itoa(p.Size)
	if len(hs) > 0 {
		first, last := encodeWebhookCursor(hs[0].ID), encodeWebhookCursor(hs[len(hs)-1].ID)
		meta["after_cursor"], meta["before_cursor"] = last, first
		if info.HasMore {
			links["next"] = withQuery(u, map[string]string{"page[size]": size, "page[after]": last}, "page[before]")
		}
		if info.HasPrev {
			links["prev"] = withQuery(u, map[string]string{"page[size]": size, "page[before]": first}, "page[after]")
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"webhooks": out, "meta": meta, "links": links})
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) error {
	h, err := s.DB.Webhook(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"webhook": s.webhookView(h)})
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) error {
	ww, err := decodeWebhook(r)
	if err != nil {
		return err
	}
	h, err := s.DB.CreateWebhook(r.Context(), ww, callerFrom(r.Context()).ID)
	if err != nil {
		return err
	}
	w.Header().Set("Location", s.url(r, "/webhooks/"+h.ID))
	return writeJSON(w, http.StatusCreated, map[string]any{"webhook": s.webhookView(h)})
}

func (s *Server) updateWebhook(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := s.DB.Webhook(r.Context(), id); err != nil {
		return err
	}
	ww, err := decodeWebhook(r)
	if err != nil {
		return err
	}
	if err := s.DB.UpdateWebhook(r.Context(), id, ww, callerFrom(r.Context()).ID); err != nil {
		return err
	}
	return writeJSON(w, http.StatusNoContent, nil)
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	if err := s.DB.DeleteWebhook(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	return writeJSON(w, http.StatusNoContent, nil)
}

func (s *Server) webhookSecret(w http.ResponseWriter, r *http.Request) error {
	h, err := s.DB.Webhook(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"signing_secret": map[string]any{"algorithm": "SHA256", "secret": h.SigningSecret}})
}
