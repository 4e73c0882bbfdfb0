// Package outbox delivers what triggers put in the outbox table after their
// ticket write committed: webhook requests over HTTP (signed as Zendesk signs
// them) and notification mail through an SMTP relay, with retries and
// exponential backoff.
package outbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mergedesk/mergedesk"
)

// Defaults of a Worker.
const (
	DefaultMaxAttempts = 4 // the first attempt and 3 retries (docs/api.md §10.2)
	DefaultTimeout     = 10 * time.Second
	DefaultPoll        = time.Second
	DefaultLease       = time.Minute
	DefaultMailFrom    = "mergedesk@localhost"
	batchSize          = 32
)

// Worker delivers due outbox messages in the background. Set its fields, then
// Start it; Stop ends it.
type Worker struct {
	DB     Store
	Logger *slog.Logger
	// SMTPRelay is the outbound relay (host:port). Empty keeps mail in the
	// outbox, pending, until a relay is configured.
	SMTPRelay string
	// MailFrom is the envelope and header sender of notification mail.
	MailFrom string
	// Client sends webhook requests; nil uses one with a 10 s timeout.
	Client *http.Client
	// Backoff is the wait before the next attempt after attempt n (1-based)
	// failed; nil is Backoff.
	Backoff func(n int) time.Duration
	// MaxAttempts bounds the attempts per message; 0 is DefaultMaxAttempts.
	MaxAttempts int
	// Poll is how often due messages are looked for without a Wake.
	Poll time.Duration

	wake   chan struct{}
	done   chan struct{}
	cancel context.CancelFunc // stops claiming
	abort  context.CancelFunc // cancels deliveries in flight
	ctx    context.Context    // deliveries' context
}

// Backoff is the default backoff: 10 s after the first failed attempt, doubling
// each time, at most an hour.
func Backoff(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	d := 10 * time.Second << min(n-1, 9)
	return min(d, time.Hour)
}

// Start begins delivering in a goroutine.
func (w *Worker) Start() {
	if w.Logger == nil {
		w.Logger = slog.Default()
	}
	w.wake = make(chan struct{}, 1)
	w.done = make(chan struct{})
	var ctx context.Context
	ctx, w.cancel = context.WithCancel(context.Background())
	w.ctx, w.abort = context.WithCancel(context.Background())
	go w.loop(ctx)
}

// Wake tells the worker that messages were queued.
func (w *Worker) Wake() {
	if w.wake == nil {
		return
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Stop stops claiming messages and waits for deliveries in flight to finish.
// When ctx ends first they are cancelled; their messages stay claimed until the
// lease runs out and are then retried.
func (w *Worker) Stop(ctx context.Context) {
	if w.cancel == nil {
		return
	}
	w.cancel()
	select {
	case <-w.done:
	case <-ctx.Done():
		w.abort()
		<-w.done
	}
	w.abort()
}

func (w *Worker) loop(ctx context.Context) {
	defer close(w.done)
	poll := w.Poll
	if poll <= 0 {
		poll = DefaultPoll
	}
	t := time.NewTimer(poll)
	defer t.Stop()
	for {
		for ctx.Err() == nil {
			n, err := w.RunOnce(w.ctx)
			if err != nil {
				w.Logger.Error("outbox", "err", err)
				break
			}
			if n == 0 {
				break
			}
		}
		t.Reset(poll)
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-t.C:
		}
	}
}

// RunOnce claims the messages due now and delivers them, returning how many it
// claimed. The background loop calls it; tests may call it directly.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	kinds := []string{mergedesk.OutboxWebhook}
	if w.SMTPRelay != "" {
		kinds = append(kinds, mergedesk.OutboxEmail)
	}
	ms, err := w.DB.ClaimOutbox(ctx, kinds, batchSize, DefaultLease)
	if err != nil || len(ms) == 0 {
		return 0, err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ms))
	for i, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = w.deliver(ctx, m)
		}()
	}
	wg.Wait()
	return len(ms), errors.Join(errs...)
}

// attemptError is a failed delivery attempt; retry says whether another
// attempt may succeed.
type attemptError struct {
	msg        string
	status     int
	retry      bool
	retryAfter time.Duration
}

func (e *attemptError) Error() string { return e.msg }

func (w *Worker) deliver(ctx context.Context, m *mergedesk.OutboxMessage) error {
	var status int
	var err error
	switch m.Kind {
	case mergedesk.OutboxWebhook:
		status, err = w.sendWebhook(ctx, m)
	case mergedesk.OutboxEmail:
		err = w.sendMail(m)
	default:
		err = &attemptError{msg: fmt.Sprintf("unknown message kind %q", m.Kind)}
	}
	log := w.Logger.With("outbox_id", m.ID, "kind", m.Kind, "ticket", m.TicketID, "attempt", m.Attempts)
	// Record the outcome even when shutdown cancelled ctx.
	rctx := context.WithoutCancel(ctx)
	if err == nil {
		log.Info("outbox delivered", "status", status)
		return w.DB.OutboxDelivered(rctx, m.ID, status)
	}
	var ae *attemptError
	if !errors.As(err, &ae) {
		ae = &attemptError{msg: err.Error(), retry: true}
	}
	limit := w.MaxAttempts
	if limit <= 0 {
		limit = DefaultMaxAttempts
	}
	var retryAt *time.Time
	if ae.retry && m.Attempts < limit {
		backoff := w.Backoff
		if backoff == nil {
			backoff = Backoff
		}
		t := time.Now().Add(max(backoff(m.Attempts), ae.retryAfter))
		retryAt = &t
		log.Warn("outbox attempt failed, will retry", "err", ae.msg, "status", ae.status, "retry_at", t)
	} else {
		log.Error("outbox delivery failed", "err", ae.msg, "status", ae.status)
	}
	return w.DB.OutboxAttemptFailed(rctx, m.ID, ae.msg, ae.status, retryAt)
}

// Sign returns the X-Zendesk-Webhook-Signature of a request:
// base64(HMAC-SHA256(secret, timestamp + body)).
func Sign(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp))
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

var contentTypes = map[string]string{
	"json":         "application/json",
	"xml":          "application/xml",
	"form_encoded": "application/x-www-form-urlencoded",
}

func (w *Worker) sendWebhook(ctx context.Context, m *mergedesk.OutboxMessage) (int, error) {
	h, err := w.DB.Webhook(ctx, m.WebhookID)
	if mergedesk.ErrorCode(err) == mergedesk.ENotFound {
		return 0, &attemptError{msg: "the webhook was deleted"}
	}
	if err != nil {
		return 0, err
	}
	if h.Status != "active" {
		return 0, &attemptError{msg: "the webhook is inactive"}
	}
	body := []byte(m.Body)
	req, err := http.NewRequestWithContext(ctx, h.HTTPMethod, h.Endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, &attemptError{msg: err.Error()}
	}
	ts := time.Now().UTC().Format(time.RFC3339)
	req.Header.Set("Content-Type", contentTypes[h.RequestFormat])
	req.Header.Set("User-Agent", "Mergedesk Webhook")
	req.Header.Set("X-Zendesk-Webhook-Id", h.ID)
	req.Header.Set("X-Zendesk-Webhook-Invocation-Id", strconv.FormatInt(m.ID, 10))
	req.Header.Set("X-Zendesk-Webhook-Signature-Timestamp", ts)
	req.Header.Set("X-Zendesk-Webhook-Signature", Sign(h.SigningSecret, ts, body))
	if a := h.Auth; a != nil {
		str := func(k string) string { s, _ := a.Data[k].(string); return s }
		switch a.Type {
		case "basic_auth":
			req.SetBasicAuth(str("username"), str("password"))
		case "bearer_token":
			req.Header.Set("Authorization", "Bearer "+str("token"))
		}
	}
	client := w.Client
	if client == nil {
		client = &http.Client{Timeout: DefaultTimeout}
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, &attemptError{msg: err.Error(), retry: true} // connection error or timeout
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return code, nil
	case code == http.StatusTooManyRequests || code >= 500:
		ae := &attemptError{msg: "HTTP " + resp.Status, status: code, retry: true}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			ae.retryAfter = min(time.Duration(s)*time.Second, time.Hour)
		}
		return code, ae
	default:
		return code, &attemptError{msg: "HTTP " + resp.Status, status: code}
	}
}

func (w *Worker) sendMail(m *mergedesk.OutboxMessage) error {
	if m.Recipient == "" {
		return &attemptError{msg: "the recipient has no email address"}
	}
	from := w.MailFrom
	if from == "" {
		from = DefaultMailFrom
	}
	var b bytes.Buffer
	hdr := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	hdr("From", from)
	hdr("To", m.Recipient)
	hdr("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	hdr("Date", time.Now().UTC().Format(time.RFC1123Z))
	hdr("Message-ID", m.MessageID()) // recorded for the ticket: replies thread onto it
	hdr("Auto-Submitted", "auto-generated")
	hdr("X-Mergedesk-Ticket-Id", strconv.FormatInt(m.TicketID, 10))
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(strings.ReplaceAll(m.Body, "\r\n", "\n")))
	qp.Close()
	err := w.smtpSend(from, m.Recipient, b.Bytes())
	if err == nil {
		return nil
	}
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return &attemptError{msg: err.Error()} // refused for good
	}
	return &attemptError{msg: err.Error(), retry: true}
}

// smtpSend is smtp.SendMail with time limits: a relay that hangs must not stall
// the worker.
func (w *Worker) smtpSend(from, to string, msg []byte) error {
	conn, err := net.DialTimeout("tcp", w.SMTPRelay, DefaultTimeout)
	if err != nil {
		return err
	}
	conn.SetDeadline(time.Now().Add(time.Minute))
	host, _, _ := net.SplitHostPort(w.SMTPRelay)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: host}); err != nil {
			return err
		}
	}
	if err := c.Mail(from); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	wc, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := wc.Write(msg); err != nil {
		return err
	}
	if err := wc.Close(); err != nil {
		return err
	}
	return c.Quit()
}
