package channel_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/channel"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
)

// FuzzMailToTicket feeds arbitrary bytes through the whole mail path (parse,
// resolve, store) on SQLite. It must never panic, and a mail that is refused
// must leave nothing behind: no user, ticket or audit.
func FuzzMailToTicket(f *testing.F) {
	for _, seed := range []string{
		mail("From: Ann <ann@example.com>\nTo: support@mergedesk.test\nCc: bo@example.com\nSubject: hi [#1]\nMessage-ID: <a@b>\n", "body"),
		mail("From: a@example.com\nSubject: =?ISO-8859-1?Q?Gr=FC=DFe?=\nContent-Type: text/plain; charset=ISO-8859-1\nContent-Transfer-Encoding: quoted-printable\n", "K=F6ln"),
		mail("From: a@example.com\nContent-Type: text/html\n", "<p>hi</p>"),
		mail("From: a@example.com\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=X\n",
			"--X\nContent-Type: text/plain\n\nhi\n--X\nContent-Disposition: attachment; filename=a.bin\nContent-Transfer-Encoding: base64\n\nAAEC\n--X--\n"),
		mail("From: a@example.com\nContent-Type: multipart/alternative\n", "--\n"),
		mail("From: a@example.com\nIn-Reply-To: <a@b>\nReferences: <x> <a@b>\n", "reply"),
		mail("From: a@example.com\nAuto-Submitted: auto-replied\n", "ooo"),
		"From: \x00@x\r\n\r\n\xff\xfe",
		"",
		"garbage",
	} {
		f.Add([]byte(seed))
	}
	db := storetest.MustOpen(f, "sqlite:"+filepath.Join(f.TempDir(), "fuzz.db"))
	inbox := &channel.Inbox{DB: db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx := context.Background()
	counts := func(t *testing.T) (users, tickets int) {
		_, ui, err := db.Users(ctx, mergedesk.UserFilter{}, mergedesk.Page{Size: 1})
		if err != nil {
			t.Fatal(err)
		}
		_, ti, err := db.Tickets(ctx, mergedesk.TicketFilter{}, mergedesk.Page{Size: 1})
		if err != nil {
			t.Fatal(err)
		}
		return ui.Total, ti.Total
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		u0, t0 := counts(t)
		res, err := inbox.Deliver(ctx, raw, "sender@client.example", []string{"support@mergedesk.test"})
		u1, t1 := counts(t)
		switch {
		case err != nil:
			if mergedesk.ErrorCode(err) == mergedesk.EInternal && !channel.IsParseError(err) {
				t.Fatalf("internal error: %v", err)
			}
			if u1 != u0 || t1 != t0 {
				t.Fatalf("refused mail (%v) stored something: users %d→%d, tickets %d→%d", err, u0, u1, t0, t1)
			}
		case res == nil: // dropped as automatic
			if u1 != u0 || t1 != t0 {
				t.Fatalf("dropped mail stored something")
			}
		default:
			if res.Ticket == nil || res.Ticket.ID == 0 || (res.User == nil && !res.Duplicate) {
				t.Fatalf("accepted mail without a ticket: %+v", res)
			}
			if _, err := db.Ticket(ctx, res.Ticket.ID); err != nil {
				t.Fatalf("ticket %d not readable: %v", res.Ticket.ID, err)
			}
		}
	})
}
