package channel_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/smtp"
	"net/textproto"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/channel"
	"github.com/mergedesk/mergedesk/internal/store"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
)

// mailEnv is an SMTP listener on one database.
type mailEnv struct {
	t    *testing.T
	db   *store.DB
	addr string
}

func eachDB(t *testing.T, fn func(t *testing.T, e *mailEnv)) {
	t.Helper()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		srv, err := channel.ListenSMTP("127.0.0.1:0", &channel.Inbox{DB: db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := srv.Close(ctx); err != nil {
				t.Errorf("close smtp: %v", err)
			}
		})
		fn(t, &mailEnv{t: t, db: db, addr: srv.Addr().String()})
	})
}

// send runs one SMTP conversation and returns the server's verdict on the
// message (nil: accepted).
func (e *mailEnv) send(from string, to []string, msg string) error {
	e.t.Helper()
	c, err := smtp.Dial(e.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example"); err != nil {
		e.t.Fatal(err)
	}
	if err := c.Mail(from); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// mustSend sends a message that must be accepted.
func (e *mailEnv) mustSend(msg string) {
	e.t.Helper()
	if err := e.send("sender@client.example", []string{"support@mergedesk.test"}, msg); err != nil {
		e.t.Fatalf("send: %v\n%s", err, msg)
	}
}

func smtpCode(err error) int {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

// tickets returns every ticket, oldest first.
func (e *mailEnv) tickets() []*mergedesk.Ticket {
	e.t.Helper()
	ts, _, err := e.db.Tickets(context.Background(), mergedesk.TicketFilter{}, mergedesk.Page{Size: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	return ts
}

func (e *mailEnv) counts() (users, tickets int) {
	e.t.Helper()
	_, ui, err := e.db.Users(context.Background(), mergedesk.UserFilter{}, mergedesk.Page{Size: 1})
	if err != nil {
		e.t.Fatal(err)
	}
	return ui.Total, len(e.tickets())
}

func (e *mailEnv) user(email string) *mergedesk.User {
	e.t.Helper()
	u, err := e.db.UserByEmail(context.Background(), email)
	if err != nil {
		e.t.Fatalf("user %s: %v", email, err)
	}
	return u
}

func (e *mailEnv) comments(ticketID int64) []mergedesk.Comment {
	e.t.Helper()
	cs, _, err := e.db.TicketComments(context.Background(), ticketID, mergedesk.Page{Size: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	return cs
}

func mail(headers, body string) string {
	return strings.ReplaceAll(strings.TrimLeft(headers, "\n"), "\n", "\r\n") + "\r\n" + strings.ReplaceAll(body, "\n", "\r\n")
}

func TestSMTPNewTicket(t *testing.T) {
	eachDB(t, func(t *testing.T, e *mailEnv) {
		bo, err := e.db.CreateUser(context.Background(), mergedesk.NewUser{Name: "Bo", Email: "Bo@Example.com"})
		if err != nil {
			t.Fatal(err)
		}
		e.mustSend(mail(`
From: Ann Example <Ann@Example.com>
To: Support <support@mergedesk.test>, carl@example.com
Cc: bo@example.com, not-an-address
Subject: Refund please
Message-ID: <m1@example.com>
Content-Type: text/plain; charset=utf-8
`, "I was charged twice.\n"))
		ts := e.tickets()
		if len(ts) != 1 {
			t.Fatalf("%d tickets, want 1", len(ts))
		}
		tk := ts[0]
		ann := e.user("ann@example.com")
		if ann.Name != "Ann Example" || ann.Identities[0].Verified || ann.Role != mergedesk.RoleEndUser {
			t.Errorf("requester %+v, want a new unverified end user named Ann Example", ann)
		}
		carl := e.user("carl@example.com")
		if tk.RequesterID != ann.ID || tk.Subject != "Refund please" || tk.Description != "I was charged twice." {
			t.Errorf("ticket requester %d subject %q description %q", tk.RequesterID, tk.Subject, tk.Description)
		}
		if want := []int64{bo.ID, carl.ID}; !slices.Equal(tk.EmailCCIDs, want) {
			t.Errorf("ccs %v, want %v (Bo by any case, Carl created)", tk.EmailCCIDs, want)
		}
		if tk.Via.Channel != "email" || tk.Via.Source.From["address"] != "Ann@Example.com" || tk.Via.Source.From["name"] != "Ann Example" ||
			tk.Via.Source.To["address"] != "support@mergedesk.test" || tk.Via.Source.To["name"] != "Support" {
			t.Errorf("via %+v", tk.Via)
		}
		// The same sender in another case lands on the same profile.
		e.mustSend(mail(`
From: ANN@EXAMPLE.COM
To: support@mergedesk.test
Subject: Another thing
`, "Also this.\n"))
		if ts := e.tickets(); len(ts) != 2 || ts[1].RequesterID != ann.ID {
			t.Errorf("second mail: tickets %d, requester %d; want Ann's second ticket", len(ts), ts[len(ts)-1].RequesterID)
		}
	})
}

func TestSMTPThreading(t *testing.T) {
	eachDB(t, func(t *testing.T, e *mailEnv) {
		ctx := context.Background()
		e.mustSend(mail(`
From: Ann <ann@example.com>
To: support@mergedesk.test
Subject: Broken laptop
Message-ID: <first@example.com>
`, "It does not boot."))
		tk := e.tickets()[0]
		solved := "solved"
		if _, _, err := e.db.UpdateTicket(ctx, tk.ID, mergedesk.TicketInput{Status: &solved},
			mergedesk.TicketWriter{ActorID: tk.RequesterID, Via: mergedesk.NewVia("api")}); err != nil {
			t.Fatal(err)
		}
		t.Run("SubjectTag", func(t *testing.T) {
			e.mustSend(mail(`
From: ann@example.com
To: support@mergedesk.test
Subject: Re: [#`+fmt.Sprint(tk.ID)+`] Broken laptop
`, "Still broken."))
			got, _ := e.db.Ticket(ctx, tk.ID)
			if n := len(e.tickets()); n != 1 || got.Status != "open" {
				t.Fatalf("tickets %d, status %s; want the reply on ticket %d, reopened", n, got.Status, tk.ID)
			}
			cs := e.comments(tk.ID)
			if last := cs[len(cs)-1]; last.Body != "Still broken." || last.AuthorID != tk.RequesterID {
				t.Errorf("last comment %+v", last)
			}
		})
		t.Run("InReplyTo", func(t *testing.T) {
			e.mustSend(mail(`
From: Dan <dan@example.com>
To: support@mergedesk.test
Subject: Re: laptop
In-Reply-To: <FIRST@example.com>
References: <unknown@x> <first@example.com>
`, "I am Ann's colleague."))
			got, _ := e.db.Ticket(ctx, tk.ID)
			dan := e.user("dan@example.com")
			if n := len(e.tickets()); n != 1 || !slices.Contains(got.EmailCCIDs, dan.ID) {
				t.Fatalf("tickets %d ccs %v; want Dan's reply on ticket %d and Dan CC'd", n, got.EmailCCIDs, tk.ID)
			}
		})
		t.Run("ClosedOpensFollowUp", func(t *testing.T) {
			closed := "closed"
			if _, _, err := e.db.UpdateTicket(ctx, tk.ID, mergedesk.TicketInput{Status: &closed},
				mergedesk.TicketWriter{ActorID: tk.RequesterID, Via: mergedesk.NewVia("api")}); err != nil {
				t.Fatal(err)
			}
			e.mustSend(mail(`
From: ann@example.com
To: support@mergedesk.test
Subject: Re: [#`+fmt.Sprint(tk.ID)+`] Broken laptop
`, "It broke again."))
			ts := e.tickets()
			if len(ts) != 2 || ts[1].ViaFollowupSourceID == nil || *ts[1].ViaFollowupSourceID != tk.ID {
				t.Fatalf("want a follow-up of %d, got %d tickets", tk.ID, len(ts))
			}
		})
		t.Run("UnknownTagOpensTicket", func(t *testing.T) {
			e.mustSend(mail(`
From: ann@example.com
To: support@mergedesk.test
Subject: [#987654] what?
`, "New question."))
			if n := len(e.tickets()); n != 3 {
				t.Fatalf("%d tickets, want a new one", n)
			}
		})
	})
}

func TestSMTPContent(t *testing.T) {
	eachDB(t, func(t *testing.T, e *mailEnv) {
		ctx := context.Background()
		t.Run("HTMLOnly", func(t *testing.T) {
			e.mustSend(mail(`
From: h@example.com
To: support@mergedesk.test
Subject: html
Content-Type: text/html; charset=utf-8
`, "<html><body><p>Hello <b>there</b></p><script>alert(1)</script></body></html>"))
			tk := e.tickets()[len(e.tickets())-1]
			if !strings.Contains(tk.Description, "Hello") || strings.Contains(tk.Description, "<b>") {
				t.Errorf("description %q, want text reduced from HTML", tk.Description)
			}
		})
		t.Run("Latin1", func(t *testing.T) {
			e.mustSend(mail(`
From: =?ISO-8859-1?Q?J=FCrgen_M=FCller?= <jm@example.com>
To: support@mergedesk.test
Subject: =?ISO-8859-1?Q?Gr=FC=DFe?=
MIME-Version: 1.0
Content-Type: text/plain; charset=ISO-8859-1
Content-Transfer-Encoding: quoted-printable
`, "Sch=F6ne Gr=FC=DFe aus K=F6ln"))
			tk := e.tickets()[len(e.tickets())-1]
			if tk.Subject != "Grüße" || tk.Description != "Schöne Grüße aus Köln" {
				t.Errorf("subject %q description %q", tk.Subject, tk.Description)
			}
			if u := e.user("jm@example.com"); u.Name != "Jürgen Müller" {
				t.Errorf("name %q, want Jürgen Müller", u.Name)
			}
		})
		t.Run("Attachment", func(t *testing.T) {
			e.mustSend(mail(`
From: a@example.com
To: support@mergedesk.test
Subject: with file
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="XYZ"
`, `--XYZ
Content-Type: text/plain; charset=utf-8

See the log.
--XYZ
Content-Type: text/plain; name="log.txt"
Content-Disposition: attachment; filename="log.txt"
Content-Transfer-Encoding: base64

aGVsbG8gbG9n
--XYZ--
`))
			tk := e.tickets()[len(e.tickets())-1]
			as, err := e.db.TicketAttachments(ctx, tk.ID)
			if err != nil || len(as) != 1 || as[0].FileName != "log.txt" || as[0].Size != 9 {
				t.Fatalf("attachments %+v (%v), want log.txt of 9 bytes", as, err)
			}
			if b, _ := e.db.AttachmentContent(ctx, as[0].ID); string(b) != "hello log" {
				t.Errorf("content %q", b)
			}
			if tk.Description != "See the log." {
				t.Errorf("description %q", tk.Description)
			}
		})
	})
}

func TestSMTPRefusedAndDropped(t *testing.T) {
	eachDB(t, func(t *testing.T, e *mailEnv) {
		users0, tickets0 := e.counts()
		nothingStored := func(t *testing.T) {
			t.Helper()
			if u, tk := e.counts(); u != users0 || tk != tickets0 {
				t.Errorf("stored something: users %d→%d, tickets %d→%d", users0, u, tickets0, tk)
			}
		}
		dropped := []struct{ name, headers string }{
			{"AutoSubmitted", "From: ooo@example.com\nAuto-Submitted: auto-replied\nSubject: Out of office\n"},
			{"PrecedenceBulk", "From: news@example.com\nPrecedence: bulk\nSubject: Newsletter\n"},
			{"PrecedenceList", "From: list@example.com\nPrecedence: list\nSubject: [list] hi\n"},
			{"MailerDaemon", "From: MAILER-DAEMON@mx.example.com\nSubject: Undelivered Mail Returned to Sender\n"},
			{"Loop", "From: support@mergedesk.test\nSubject: loop\n"},
		}
		for _, tt := range dropped {
			t.Run("Dropped"+tt.name, func(t *testing.T) {
				e.mustSend(mail("To: support@mergedesk.test\n"+tt.headers, "automatic"))
				nothingStored(t)
			})
		}
		t.Run("AutoSubmittedNoIsKept", func(t *testing.T) {
			e.mustSend(mail("From: person@example.com\nTo: support@mergedesk.test\nAuto-Submitted: no\nSubject: hi\n", "real mail"))
			users0, tickets0 = e.counts()
			if tickets0 != 1 {
				t.Fatalf("%d tickets, want 1", tickets0)
			}
		})
		refused := []struct {
			name     string
			msg      string
			wantCode int
		}{
			{"BrokenMIMENoBoundary", mail("From: x@example.com\nTo: support@mergedesk.test\nSubject: b\nMIME-Version: 1.0\nContent-Type: multipart/mixed\n",
				"--\nContent-Type: text/plain\n\nhi\n"), 554},
			{"NotMail", "\x00\x01\x02 this is not a message\r\n", 554},
			{"MissingFrom", mail("To: support@mergedesk.test\nSubject: who?\n", "anonymous"), 550},
			{"InvalidFrom", mail("From: not an address\nTo: support@mergedesk.test\nSubject: bad\n", "x"), 550},
		}
		for _, tt := range refused {
			t.Run("Refused"+tt.name, func(t *testing.T) {
				err := e.send("sender@client.example", []string{"support@mergedesk.test"}, tt.msg)
				if smtpCode(err) != tt.wantCode {
					t.Fatalf("err = %v, want %d", err, tt.wantCode)
				}
				nothingStored(t)
			})
		}
		t.Run("RefusedInvalidRecipient", func(t *testing.T) {
			err := e.send("sender@client.example", []string{"not an address"}, mail("From: a@example.com\n", "x"))
			if c := smtpCode(err); c/100 != 5 {
				t.Fatalf("err = %v, want 5xx", err)
			}
			nothingStored(t)
		})
		t.Run("TooLarge", func(t *testing.T) {
			head := mail("From: big@example.com\nTo: support@mergedesk.test\nSubject: big\n", "")
			line := strings.Repeat("a", 998) + "\r\n"
			var b strings.Builder
			b.WriteString(head)
			for b.Len()+len(line) <= channel.MaxMailBytes+1 {
				b.WriteString(line)
			}
			// Pad to exactly 10 MiB + 1 byte, ending in CRLF.
			if rest := channel.MaxMailBytes + 1 - b.Len(); rest > 0 {
				b.WriteString(strings.Repeat("b", rest-2) + "\r\n")
			}
			if b.Len() != channel.MaxMailBytes+1 {
				t.Fatalf("built %d bytes", b.Len())
			}
			err := e.send("big@example.com", []string{"support@mergedesk.test"}, b.String())
			if smtpCode(err) != 552 {
				t.Fatalf("err = %v, want 552", err)
			}
			nothingStored(t)
		})
		t.Run("SuspendedSender", func(t *testing.T) {
			ctx := context.Background()
			u, err := e.db.CreateUser(ctx, mergedesk.NewUser{Name: "Sus", Email: "sus@example.com", Suspended: true})
			if err != nil {
				t.Fatal(err)
			}
			_ = u
			users0, tickets0 = e.counts()
			err = e.send("sus@example.com", []string{"support@mergedesk.test"}, mail("From: sus@example.com\nSubject: hi\n", "x"))
			if c := smtpCode(err); c != 550 {
				t.Fatalf("err = %v, want 550", err)
			}
			nothingStored(t)
		})
	})
}
