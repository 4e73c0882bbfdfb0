package api_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mergedesk/mergedesk/internal/outbox"
)

// startOutbox installs triggers and runs an outbox worker on e's database, as
// Main does; relay "" keeps mail in the outbox.
func startOutbox(t *testing.T, e *env, relay string, backoff func(int) time.Duration) *outbox.Worker {
	t.Helper()
	eng := withTriggers(e)
	w := &outbox.Worker{DB: e.DB, SMTPRelay: relay, Backoff: backoff, Poll: 50 * time.Millisecond, Logger: e.Server.Logger}
	eng.Notify = w.Wake
	w.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		w.Stop(ctx)
	})
	return w
}

func mkWebhook(t *testing.T, e *env, body map[string]any) string {
	t.Helper()
	hook := map[string]any{"name": "CRM sync", "http_method": "POST", "request_format": "json", "status": "active"}
	for k, v := range body {
		hook[k] = v
	}
	m := e.Must(http.StatusCreated, "POST", "/webhooks", map[string]any{"webhook": hook})
	return obj(t, m, "webhook")["id"].(string)
}

// waitOutbox polls an outbox message until pred holds.
func waitOutbox(t *testing.T, e *env, id int64, what string, pred func(m map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		m := obj(t, e.Must(http.StatusOK, "GET", fmt.Sprintf("/outbox/%d", id), nil), "outbox_message")
		if pred(m) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox message %d: %s never happened: %v", id, what, m)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// onlyOutbox returns the only outbox message.
func onlyOutbox(t *testing.T, e *env) map[string]any {
	t.Helper()
	l := e.Must(http.StatusOK, "GET", "/outbox", nil)["outbox_messages"].([]any)
	if len(l) != 1 {
		t.Fatalf("outbox = %v, want one message", l)
	}
	return l[0].(map[string]any)
}

// hookServer records the requests it gets and answers with statuses in turn
// (the last one repeats).
type hookServer struct {
	*httptest.Server
	mu       sync.Mutex
	reqs     []*http.Request
	bodies   []string
	statuses []int
}

func newHookServer(t *testing.T, statuses ...int) *hookServer {
	h := &hookServer{statuses: statuses}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.reqs = append(h.reqs, r)
		h.bodies = append(h.bodies, string(b))
		st := h.statuses[min(len(h.reqs), len(h.statuses))-1]
		h.mu.Unlock()
		w.WriteHeader(st)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) calls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.reqs)
}

func TestWebhookCRUD(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		m := e.Must(http.StatusCreated, "POST", "/webhooks", map[string]any{"webhook": map[string]any{"name": "CRM", "endpoint": "https://crm.example.com/hook",
			"http_method": "post", "request_format": "json", "status": "active",
			"authentication": map[string]any{"type": "bearer_token", "data": map[string]any{"token": "s3cret"}, "add_position": "header"}}})
		w := obj(t, m, "webhook")
		wid, _ := w["id"].(string)
		if len(wid) != 26 || w["http_method"] != "POST" || fmt.Sprint(w["subscriptions"]) != "[conditional_ticket_events]" ||
			w["created_by"] != fmt.Sprint(e.Admin.ID) || w["description"] != nil {
			t.Errorf("created webhook = %v", w)
		}
		if raw, _ := json.Marshal(w); strings.Contains(string(raw), "s3cret") {
			t.Errorf("webhook shows its credentials: %s", raw)
		}
		sec := obj(t, e.Must(http.StatusOK, "GET", "/webhooks/"+wid+"/signing_secret", nil), "signing_secret")
		if sec["algorithm"] != "SHA256" || len(sec["secret"].(string)) < 32 {
			t.Errorf("signing_secret = %v", sec)
		}
		e.Must(http.StatusNoContent, "PATCH", "/webhooks/"+wid, map[string]any{"webhook": map[string]any{"status": "inactive"}})
		e.Must(http.StatusNoContent, "PUT", "/webhooks/"+wid+".json", map[string]any{"webhook": map[string]any{"name": "CRM 2", "description": "d"}})
		w = obj(t, e.Must(http.StatusOK, "GET", "/webhooks/"+wid, nil), "webhook")
		if w["status"] != "inactive" || w["name"] != "CRM 2" || w["description"] != "d" || w["endpoint"] != "https://crm.example.com/hook" {
			t.Errorf("updated webhook = %v", w)
		}

		for _, bad := range []struct {
			name  string
			patch map[string]any
			field string
		}{
			{"ErrNoName", map[string]any{"name": nil}, "name"},
			{"ErrNoEndpoint", map[string]any{"endpoint": ""}, "endpoint"},
			{"ErrEndpointScheme", map[string]any{"endpoint": "ftp://x/y"}, "endpoint"},
			{"ErrMethod", map[string]any{"http_method": "TRACE"}, "http_method"},
			{"ErrFormat", map[string]any{"request_format": "yaml"}, "request_format"},
			{"ErrStatus", map[string]any{"status": "paused"}, "status"},
			{"ErrEventSubscription", map[string]any{"subscriptions": []string{"zen:event-type:user.created"}}, "subscriptions"},
			{"ErrAuthType", map[string]any{"authentication": map[string]any{"type": "api_key", "data": map[string]any{}}}, "authentication"},
		} {
			t.Run(bad.name, func(t *testing.T) {
				body := map[string]any{"name": "X", "endpoint": "http://127.0.0.1:1/x", "http_method": "POST", "request_format": "json", "status": "active"}
				for k, v := range bad.patch {
					if v == nil {
						delete(body, k)
					} else {
						body[k] = v
					}
				}
				s, m := e.Do("POST", "/webhooks", e.AdminToken, map[string]any{"webhook": body})
				if s != 422 {
					t.Fatalf("POST /webhooks = %d %v, want 422", s, m)
				}
				if _, ok := obj(t, m, "details")[bad.field]; !ok {
					t.Errorf("details = %v, want %s", m["details"], bad.field)
				}
			})
		}

		// Cursor paging over string ids.
		second := mkWebhook(t, e, map[string]any{"endpoint": "http://127.0.0.1:1/b"})
		page := e.Must(http.StatusOK, "GET", "/webhooks?page[size]=1", nil)
		if l := page["webhooks"].([]any); len(l) != 1 || l[0].(map[string]any)["id"] != wid || obj(t, page, "meta")["has_more"] != true {
			t.Fatalf("first page = %v", page)
		}
		next := obj(t, page, "links")["next"].(string)
		page = e.Must(http.StatusOK, "GET", strings.TrimPrefix(next, e.URL), nil)
		if l := page["webhooks"].([]any); len(l) != 1 || l[0].(map[string]any)["id"] != second || obj(t, page, "meta")["has_more"] != false {
			t.Errorf("second page = %v", page)
		}
		e.Must(http.StatusBadRequest, "GET", "/webhooks?page[after]=!!", nil)

		if s, _ := e.Do("GET", "/webhooks", e.AgentToken, nil); s != http.StatusForbidden {
			t.Errorf("agent GET /webhooks = %d, want 403", s)
		}
		e.Must(http.StatusNoContent, "DELETE", "/webhooks/"+wid, nil)
		e.Must(http.StatusNotFound, "GET", "/webhooks/"+wid, nil)
		e.Must(http.StatusNotFound, "PATCH", "/webhooks/"+wid, map[string]any{"webhook": map[string]any{}})
	})
}

// TestWebhookDelivery: a trigger's webhook is called after commit, signed as
// Zendesk signs, with the template rendered into valid JSON.
func TestWebhookDelivery(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		startOutbox(t, e, "", nil)
		hs := newHookServer(t, http.StatusOK)
		wid := mkWebhook(t, e, map[string]any{"endpoint": hs.URL + "/hook",
			"authentication": map[string]any{"type": "basic_auth", "data": map[string]any{"username": "u", "password": "p"}}})
		secret := obj(t, e.Must(http.StatusOK, "GET", "/webhooks/"+wid+"/signing_secret", nil), "signing_secret")["secret"].(string)
		tid := mkTrigger(t, e, "Notify CRM", []any{cond("update_type", "is", "Create")}, nil,
			[]any{act("notification_webhook", []any{wid, `{"ticket":"{{ticket.id}}","title":"{{ticket.title}}","who":"{{ticket.requester.email}}"}`})})

		m := e.Must(http.StatusCreated, "POST", "/tickets", map[string]any{"ticket": map[string]any{"subject": `Say "hi"`,
			"requester_id": e.EndUser.ID, "comment": map[string]any{"body": "x"}}})
		ticketID := id(t, obj(t, m, "ticket"))
		want := fmt.Sprintf(`{"ticket":"%d","title":"Say \"hi\"","who":"eve@mergedesk.test"}`, ticketID)
		ext := eventsOf(t, m, "External")
		if len(ext) != 1 || ext[0]["resource"] != wid || ext[0]["body"] != want ||
			obj(t, obj(t, ext[0], "via"), "source")["rel"] != "trigger" {
			t.Fatalf("External events = %v", ext)
		}
		msg := onlyOutbox(t, e)
		msg = waitOutbox(t, e, id(t, msg), "delivery", func(m map[string]any) bool { return m["status"] == "delivered" })
		if msg["attempts"] != float64(1) || msg["last_response_status"] != float64(200) || msg["webhook_id"] != wid ||
			msg["trigger_id"] != float64(tid) || msg["delivered_at"] == nil {
			t.Errorf("delivered message = %v", msg)
		}
		if hs.calls() != 1 {
			t.Fatalf("webhook called %d times, want 1", hs.calls())
		}
		req, body := hs.reqs[0], hs.bodies[0]
		if body != want || req.Method != "POST" || req.URL.Path != "/hook" || req.Header.Get("Content-Type") != "application/json" ||
			req.Header.Get("X-Zendesk-Webhook-Id") != wid {
			t.Errorf("request = %s %s %v %q", req.Method, req.URL, req.Header, body)
		}
		if u, p, ok := req.BasicAuth(); !ok || u != "u" || p != "p" {
			t.Errorf("basic auth = %q %q %v", u, p, ok)
		}
		ts := req.Header.Get("X-Zendesk-Webhook-Signature-Timestamp")
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(ts + body))
		if got, want := req.Header.Get("X-Zendesk-Webhook-Signature"), base64.StdEncoding.EncodeToString(mac.Sum(nil)); ts == "" || got != want {
			t.Errorf("signature = %q (timestamp %q), want %q", got, ts, want)
		}
	})
}

// TestWebhookRetry: a 500 is retried after the backoff, then delivered; a
// webhook that keeps failing is given up after the first attempt and 3 retries.
func TestWebhookRetry(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		var mu sync.Mutex
		var waits []int
		startOutbox(t, e, "", func(n int) time.Duration {
			mu.Lock()
			waits = append(waits, n)
			mu.Unlock()
			if n == 1 {
				return time.Second // seen in next_attempt_at (seconds)
			}
			return 0
		})
		flaky := newHookServer(t, http.StatusInternalServerError, http.StatusOK)
		fwid := mkWebhook(t, e, map[string]any{"endpoint": flaky.URL})
		mkTrigger(t, e, "Flaky", []any{cond("current_tags", "includes", "flaky")}, nil, []any{act("notification_webhook", []any{fwid, "{}"})})
		mkTicket(t, e, map[string]any{"subject": "Flaky", "requester_id": e.EndUser.ID, "tags": []string{"flaky"}})
		msgID := id(t, onlyOutbox(t, e))
		first := waitOutbox(t, e, msgID, "a failed first attempt", func(m map[string]any) bool { return m["attempts"] == float64(1) && m["last_error"] != nil })
		if first["status"] != "pending" || first["last_response_status"] != float64(500) {
			t.Errorf("after the 500: %v", first)
		}
		next, _ := time.Parse(time.RFC3339, fmt.Sprint(first["next_attempt_at"]))
		upd, _ := time.Parse(time.RFC3339, fmt.Sprint(first["updated_at"]))
		if !next.After(upd) {
			t.Errorf("next_attempt_at %v is not after the failed attempt at %v", next, upd)
		}
		done := waitOutbox(t, e, msgID, "delivery", func(m map[string]any) bool { return m["status"] == "delivered" })
		if done["attempts"] != float64(2) || flaky.calls() != 2 {
			t.Errorf("delivered after %v attempts and %d calls, want 2", done["attempts"], flaky.calls())
		}

		down := newHookServer(t, http.StatusServiceUnavailable)
		dwid := mkWebhook(t, e, map[string]any{"endpoint": down.URL})
		mkTrigger(t, e, "Down", []any{cond("current_tags", "includes", "down")}, nil, []any{act("notification_webhook", []any{dwid, "{}"})})
		mkTicket(t, e, map[string]any{"subject": "Down", "requester_id": e.EndUser.ID, "tags": []string{"down"}})
		var downID int64
		for _, m := range e.Must(http.StatusOK, "GET", "/outbox", nil)["outbox_messages"].([]any) {
			if m.(map[string]any)["webhook_id"] == dwid {
				downID = id(t, m.(map[string]any))
			}
		}
		failed := waitOutbox(t, e, downID, "giving up", func(m map[string]any) bool { return m["status"] == "failed" })
		if failed["attempts"] != float64(outbox.DefaultMaxAttempts) || down.calls() != outbox.DefaultMaxAttempts {
			t.Errorf("gave up after %v attempts and %d calls, want %d", failed["attempts"], down.calls(), outbox.DefaultMaxAttempts)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(waits) == 0 || waits[0] != 1 {
			t.Errorf("backoff called with %v, want attempt numbers from 1", waits)
		}
	})
}

// TestWebhookInactiveOrDeleted: an inactive webhook is never called; a
// deleted one makes triggers skip the action.
func TestWebhookInactiveOrDeleted(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		startOutbox(t, e, "", nil)
		hs := newHookServer(t, http.StatusOK)
		inactive := mkWebhook(t, e, map[string]any{"endpoint": hs.URL, "status": "inactive"})
		gone := mkWebhook(t, e, map[string]any{"endpoint": hs.URL})
		mkTrigger(t, e, "Both", []any{cond("update_type", "is", "Create")}, nil,
			[]any{act("notification_webhook", []any{inactive, "{}"}), act("notification_webhook", []any{gone, "{}"}), act("priority", "high")})
		e.Must(http.StatusNoContent, "DELETE", "/webhooks/"+gone, nil)

		m := e.Must(http.StatusCreated, "POST", "/tickets", map[string]any{"ticket": map[string]any{"subject": "Quiet",
			"requester_id": e.EndUser.ID, "comment": map[string]any{"body": "x"}}})
		if obj(t, m, "ticket")["priority"] != "high" {
			t.Errorf("the trigger's other actions did not run: %v", obj(t, m, "ticket"))
		}
		if ext := eventsOf(t, m, "External"); len(ext) != 0 {
			t.Errorf("External events = %v, want none", ext)
		}
		if l := e.Must(http.StatusOK, "GET", "/outbox", nil)["outbox_messages"].([]any); len(l) != 0 {
			t.Errorf("outbox = %v, want empty", l)
		}

		// A webhook deactivated after the write is not called either.
		e.Must(http.StatusNoContent, "PATCH", "/webhooks/"+inactive, map[string]any{"webhook": map[string]any{"status": "active"}})
		e.Must(http.StatusCreated, "POST", "/tickets", map[string]any{"ticket": map[string]any{"subject": "Later",
			"requester_id": e.EndUser.ID, "comment": map[string]any{"body": "x"}}})
		e.Must(http.StatusNoContent, "PATCH", "/webhooks/"+inactive, map[string]any{"webhook": map[string]any{"status": "inactive"}})
		// The worker may have been quicker than the PATCH: either it was
		// delivered while active, or it failed without a call.
		msg := waitOutbox(t, e, id(t, onlyOutbox(t, e)), "an outcome", func(m map[string]any) bool { return m["status"] != "pending" })
		if msg["status"] == "failed" && hs.calls() != 0 {
			t.Errorf("an inactive webhook was called: %v", msg)
		}
	})
}

// smtpSink is an in-test SMTP server that keeps what it receives.
type smtpSink struct {
	mu   sync.Mutex
	mail []sunkMail
}

type sunkMail struct {
	from string
	to   []string
	data []byte
}

func (s *smtpSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{sink: s}, nil }

type sinkSession struct {
	sink *smtpSink
	cur  sunkMail
}

func (s *sinkSession) Reset()        { s.cur = sunkMail{} }
func (s *sinkSession) Logout() error { return nil }
func (s *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	s.cur.from = from
	return nil
}
func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.to = append(s.cur.to, to)
	return nil
}
func (s *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = b
	s.sink.mu.Lock()
	s.sink.mail = append(s.sink.mail, s.cur)
	s.sink.mu.Unlock()
	return nil
}

// TestNotificationSMTPRelay: with a relay configured, a notification_user
// action is mailed through a real SMTP conversation.
func TestNotificationSMTPRelay(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		sink := &smtpSink{}
		srv := smtp.NewServer(sink)
		srv.Domain = "relay.test"
		srv.AllowInsecureAuth = true
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		startOutbox(t, e, ln.Addr().String(), nil)

		mkTrigger(t, e, "Acknowledge", []any{cond("update_type", "is", "Create")}, nil,
			[]any{act("notification_user", []any{"requester_id", "Re: {{ticket.title}} [#{{ticket.id}}]", "Hello {{ticket.requester.name}}, we got it. Ça marche."})})
		ticketID := mkTicket(t, e, map[string]any{"subject": "Réclamation", "requester_id": e.EndUser.ID})
		msg := waitOutbox(t, e, id(t, onlyOutbox(t, e)), "delivery", func(m map[string]any) bool { return m["status"] == "delivered" })
		if msg["kind"] != "email" || msg["recipient"] != "eve@mergedesk.test" {
			t.Errorf("message = %v", msg)
		}
		sink.mu.Lock()
		defer sink.mu.Unlock()
		if len(sink.mail) != 1 {
			t.Fatalf("relay got %d mails, want 1", len(sink.mail))
		}
		got := sink.mail[0]
		if fmt.Sprint(got.to) != "[eve@mergedesk.test]" || got.from != outbox.DefaultMailFrom {
			t.Errorf("envelope from %q to %v", got.from, got.to)
		}
		pm, err := mail.ReadMessage(strings.NewReader(string(got.data)))
		if err != nil {
			t.Fatalf("parse mail: %v\n%s", err, got.data)
		}
		subject, _ := new(mime.WordDecoder).DecodeHeader(pm.Header.Get("Subject"))
		if want := fmt.Sprintf("Re: Réclamation [#%d]", ticketID); subject != want {
			t.Errorf("Subject = %q, want %q", subject, want)
		}
		if !strings.Contains(string(got.data), "Hello Eve Enduser, we got it.") || pm.Header.Get("To") != "eve@mergedesk.test" {
			t.Errorf("mail =\n%s", got.data)
		}
	})
}
