package outbox_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/smtp"
	"sync"
	"testing"
	"time"

	"github.com/mergedesk/mergedesk"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/mergedesk/mergedesk/internal/channel"
	"github.com/mergedesk/mergedesk/internal/outbox"
	"github.com/mergedesk/mergedesk/internal/store"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
	"github.com/mergedesk/mergedesk/internal/trigger"
)

// relay is an in-test SMTP relay that keeps the mail it is given.
type relay struct {
	mu   sync.Mutex
	mail [][]byte
}

func (r *relay) NewSession(*gosmtp.Conn) (gosmtp.Session, error) { return &relaySession{r: r}, nil }

type relaySession struct{ r *relay }

func (s *relaySession) Reset()                                 {}
func (s *relaySession) Logout() error                          { return nil }
func (s *relaySession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (s *relaySession) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (s *relaySession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.r.mu.Lock()
	s.r.mail = append(s.r.mail, b)
	s.r.mu.Unlock()
	return nil
}

func (r *relay) wait(t *testing.T, n int) []byte {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		r.mu.Lock()
		if len(r.mail) >= n {
			b := r.mail[n-1]
			r.mu.Unlock()
			return b
		}
		r.mu.Unlock()
	}
	t.Fatalf("the relay got no mail %d", n)
	return nil
}

func sendMail(t *testing.T, addr, from, msg string) {
	t.Helper()
	if err := smtp.SendMail(addr, nil, from, []string{"support@mergedesk.test"}, []byte(msg)); err != nil {
		t.Fatalf("send mail: %v", err)
	}
}

// TestNotificationReplyThreads follows the real SMTP path both ways: a mail
// opens a ticket, a trigger's notification goes out through the relay, and the
// customer's reply, which names that notification only in In-Reply-To (its
// subject carries no ticket number), is appended to the same ticket
// (docs/api.md §13.2: a Message-ID Mergedesk recorded for a ticket, outbound).
func TestNotificationReplyThreads(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		eng := trigger.Install(db)
		title := "Acknowledge"
		conds := mergedesk.Conditions{All: []mergedesk.Condition{{Field: "update_type", Operator: "is", Value: "Create"}}}
		acts := []mergedesk.Action{{Field: "notification_user", Value: []string{"requester_id", "We got your message", "Hello {{ticket.requester.name}}"}}}
		if _, err := db.CreateTrigger(ctx, mergedesk.TriggerWrite{Title: &title, Conditions: &conds, Actions: &acts}); err != nil {
			t.Fatal(err)
		}

		rl := &relay{}
		srv := gosmtp.NewServer(rl)
		srv.Domain = "relay.test"
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		w := &outbox.Worker{DB: db, SMTPRelay: ln.Addr().String(), Poll: 50 * time.Millisecond}
		eng.Notify = w.Wake
		w.Start()
		t.Cleanup(func() { w.Stop(context.Background()) })

		in, err := channel.ListenSMTP("127.0.0.1:0", &channel.Inbox{DB: db})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { in.Close(context.Background()) })
		addr := in.Addr().String()

		sendMail(t, addr, "ann@example.com", "From: Ann <ann@example.com>\r\nTo: support@mergedesk.test\r\nSubject: Broken printer\r\n"+
			"Message-ID: <first@example.com>\r\n\r\nIt prints nothing.\r\n")
		ts, _, err := db.Tickets(ctx, mergedesk.TicketFilter{}, mergedesk.Page{Size: 10})
		if err != nil || len(ts) != 1 {
			t.Fatalf("tickets %v (%v), want the one the mail opened", ts, err)
		}
		ticket := ts[0]

		note, err := mail.ReadMessage(bytes.NewReader(rl.wait(t, 1)))
		if err != nil {
			t.Fatal(err)
		}
		mid := note.Header.Get("Message-ID")
		if mid == "" {
			t.Fatal("the notification has no Message-ID")
		}

		sendMail(t, addr, "ann@example.com", "From: Ann <ann@example.com>\r\nTo: support@mergedesk.test\r\nSubject: Re: We got your message\r\n"+
			"Message-ID: <second@example.com>\r\nIn-Reply-To: "+mid+"\r\nReferences: "+mid+"\r\n\r\nStill nothing.\r\n")
		ts, _, err = db.Tickets(ctx, mergedesk.TicketFilter{}, mergedesk.Page{Size: 10})
		if err != nil || len(ts) != 1 {
			t.Fatalf("%d tickets (%v) after the reply to %s, want it appended to ticket %d", len(ts), err, mid, ticket.ID)
		}
		as, _, err := db.TicketAudits(ctx, ticket.ID, mergedesk.Page{Size: 10})
		if err != nil {
			t.Fatal(err)
		}
		var bodies []string
		for _, a := range as {
			for _, e := range a.Events {
				if e.Type == mergedesk.EventComment {
					bodies = append(bodies, fmt.Sprint(e.Fields["body"]))
				}
			}
		}
		if len(bodies) != 2 || bodies[1] != "Still nothing." {
			t.Errorf("comments of ticket %d = %q, want the first mail's and the reply's", ticket.ID, bodies)
		}
	})
}
