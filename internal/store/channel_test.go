package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/store"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
)

func mustReceive(tb testing.TB, db *store.DB, m mergedesk.InboundMessage) *mergedesk.Received {
	tb.Helper()
	res, err := db.ReceiveMessage(context.Background(), m)
	if err != nil {
		tb.Fatalf("receive %s from %s %q: %v", m.Channel, m.From.Type, m.From.Value, err)
	}
	return res
}

func phoneMsg(channel, number, body string) mergedesk.InboundMessage {
	return mergedesk.InboundMessage{Channel: channel, From: mergedesk.Contact{Type: mergedesk.IdentityPhone, Value: number}, Body: body}
}

// countRows returns how many users and tickets exist, to check that a refused
// message stored nothing.
func countRows(tb testing.TB, db *store.DB) (users, tickets int) {
	tb.Helper()
	ctx := context.Background()
	_, ui, err := db.Users(ctx, mergedesk.UserFilter{}, mergedesk.Page{Size: 1})
	if err != nil {
		tb.Fatal(err)
	}
	_, ti, err := db.Tickets(ctx, mergedesk.TicketFilter{}, mergedesk.Page{Size: 1})
	if err != nil {
		tb.Fatal(err)
	}
	return ui.Total, ti.Total
}

func TestReceiveMessageChannels(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ann := mustTicketUser(t, db, mergedesk.NewUser{Name: "Ann", Phone: "+1 415-555-0101", Email: "ann@example.com",
			Identities: []mergedesk.NewIdentity{{Type: "twitter", Value: "@AnnX"}, {Type: "facebook", Value: "fb-ann"},
				{Type: "messaging", Value: "msg-ann"}}})
		tests := []struct {
			channel  string
			from     mergedesk.Contact
			wantVia  string
			wantFrom map[string]any
		}{
			{"voice", mergedesk.Contact{Type: "phone_number", Value: "(415) 555-0101", Name: "Caller"}, "voice",
				map[string]any{"phone": "+14155550101", "name": "Caller"}},
			{"sms", mergedesk.Contact{Type: "phone_number", Value: "415 555 0101"}, "sms",
				map[string]any{"phone": "+14155550101", "name": "Ann"}},
			{"whatsapp", mergedesk.Contact{Type: "phone_number", Value: "001 415 555 0101"}, "whatsapp",
				map[string]any{"phone": "+14155550101", "name": "Ann"}},
			{"messaging", mergedesk.Contact{Type: "messaging", Value: "msg-ann"}, "native_messaging",
				map[string]any{"value": "msg-ann", "name": "Ann"}},
			{"x", mergedesk.Contact{Type: "twitter", Value: "@annx"}, "twitter",
				map[string]any{"value": "annx", "name": "Ann"}},
			{"facebook", mergedesk.Contact{Type: "facebook", Value: "fb-ann"}, "facebook",
				map[string]any{"value": "fb-ann", "name": "Ann"}},
			{"chat", mergedesk.Contact{Type: "email", Value: "ANN@example.com"}, "chat",
				map[string]any{"value": "ANN@example.com", "name": "Ann"}},
			{"web", mergedesk.Contact{Type: "phone_number", Value: "+1 (415) 555-0101"}, "web",
				map[string]any{"value": "+14155550101", "name": "Ann"}},
		}
		for _, tt := range tests {
			t.Run(tt.channel, func(t *testing.T) {
				res := mustReceive(t, db, mergedesk.InboundMessage{Channel: tt.channel, From: tt.from, Body: "Hello from " + tt.channel})
				if res.User.ID != ann.ID || res.UserCreated {
					t.Fatalf("sender = user %d (created %v), want Ann %d", res.User.ID, res.UserCreated, ann.ID)
				}
				if !res.TicketCreated || res.Ticket.RequesterID != ann.ID || res.Ticket.SubmitterID != ann.ID {
					t.Fatalf("ticket %+v, want a new ticket requested and submitted by Ann", res.Ticket)
				}
				if got := res.Ticket.Via.Channel; got != tt.wantVia {
					t.Errorf("ticket via.channel = %q, want %q", got, tt.wantVia)
				}
				if diff := cmp.Diff(tt.wantFrom, res.Audit.Via.Source.From); diff != "" {
					t.Errorf("audit via.source.from (-want +got):\n%s", diff)
				}
				if res.Audit.Via.Source.Rel != nil {
					t.Errorf("via.source.rel = %v, want null", *res.Audit.Via.Source.Rel)
				}
				if res.Ticket.Subject != "Hello from "+tt.channel {
					t.Errorf("subject = %q, want the body", res.Ticket.Subject)
				}
			})
		}
		// Every interaction is on Ann's profile.
		ts, _, err := db.Tickets(context.Background(), mergedesk.TicketFilter{RequesterID: &ann.ID}, mergedesk.Page{Size: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(ts) != len(tests) {
			t.Errorf("Ann requests %d tickets, want %d", len(ts), len(tests))
		}
	})
}

func TestReceiveMessageCapture(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		t.Run("PhoneFormatsOneUser", func(t *testing.T) {
			first := mustReceive(t, db, phoneMsg("sms", "(212) 555-0199", "one"))
			if !first.UserCreated || first.User.Name != "+12125550199" {
				t.Fatalf("first message: created %v name %q, want a new user named by the number", first.UserCreated, first.User.Name)
			}
			if len(first.User.Identities) != 1 || first.User.Identities[0].Verified || !first.User.Identities[0].Primary {
				t.Fatalf("identities %+v, want one unverified primary phone", first.User.Identities)
			}
			for _, f := range []string{"212-555-0199", "+1 212 555 0199", "001 (212) 555.0199", "2125550199"} {
				res := mustReceive(t, db, phoneMsg("voice", f, "again"))
				if res.User.ID != first.User.ID || res.UserCreated {
					t.Errorf("%q: user %d (created %v), want %d", f, res.User.ID, res.UserCreated, first.User.ID)
				}
			}
		})
		t.Run("NameFromMessage", func(t *testing.T) {
			res := mustReceive(t, db, mergedesk.InboundMessage{Channel: "x",
				From: mergedesk.Contact{Type: "twitter", Value: "@NewPerson", Name: "New Person"}, Body: "hi"})
			if !res.UserCreated || res.User.Name != "New Person" || res.User.Role != mergedesk.RoleEndUser {
				t.Fatalf("user %+v, want a new end user named New Person", res.User)
			}
		})
		t.Run("SharedNumberNeverMatches", func(t *testing.T) {
			office := mustTicketUser(t, db, mergedesk.NewUser{Name: "Front desk", Phone: "+1 415 555 0177", SharedPhone: true})
			res := mustReceive(t, db, phoneMsg("voice", "415-555-0177", "who shares this?"))
			if res.User.ID == office.ID || !res.UserCreated {
				t.Fatalf("message from a shared number landed on user %d (created %v), want a new user", res.User.ID, res.UserCreated)
			}
		})
		t.Run("CCsResolvedAndCaptured", func(t *testing.T) {
			bo := mustTicketUser(t, db, mergedesk.NewUser{Name: "Bo", Email: "bo@example.com"})
			res := mustReceive(t, db, mergedesk.InboundMessage{Channel: "chat", From: mergedesk.Contact{Type: "email", Value: "cy@example.com"},
				Body: "cc my friends", CC: []mergedesk.Contact{{Type: "email", Value: "BO@example.com"}, {Type: "phone_number", Value: "+44 20 7946 0958", Name: "Di"}}})
			if len(res.Ticket.EmailCCIDs) != 2 || !slices.Contains(res.Ticket.EmailCCIDs, bo.ID) {
				t.Fatalf("ccs %v, want Bo (%d) and a new user", res.Ticket.EmailCCIDs, bo.ID)
			}
			u, err := db.User(ctx, res.Ticket.EmailCCIDs[1])
			if err != nil || u.Name != "Di" {
				t.Fatalf("captured cc = %v, %v; want Di", u, err)
			}
		})
		t.Run("Suspended", func(t *testing.T) {
			u := mustTicketUser(t, db, mergedesk.NewUser{Name: "Sus", Phone: "+1 415 555 0150"})
			yes := true
			if _, err := db.UpdateUser(ctx, u.ID, mergedesk.UserUpdate{Suspended: &yes}, nil); err != nil {
				t.Fatal(err)
			}
			_, err := db.ReceiveMessage(ctx, phoneMsg("sms", "4155550150", "let me in"))
			if got := mergedesk.FieldCode(err, "requester"); got != mergedesk.CodeUserSuspended {
				t.Fatalf("err = %v, want requester UserSuspended", err)
			}
		})
	})
}

func TestReceiveMessageThreading(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		first := mustReceive(t, db, phoneMsg("sms", "+14155550123", "My order is late"))
		tid := first.Ticket.ID
		pending := "pending"
		if _, _, err := db.UpdateTicket(ctx, tid, mergedesk.TicketInput{Status: &pending}, ticketAPIWriter(first.User.ID)); err != nil {
			t.Fatal(err)
		}
		t.Run("AppendReopens", func(t *testing.T) {
			res := mustReceive(t, db, mergedesk.InboundMessage{Channel: "sms", From: mergedesk.Contact{Type: "phone_number", Value: "415 555 0123"},
				Body: "Any news?", TicketID: tid, ExplicitTicket: true})
			if res.TicketCreated || res.Ticket.ID != tid || res.Ticket.Status != "open" {
				t.Fatalf("ticket %d status %s created %v, want %d open appended", res.Ticket.ID, res.Ticket.Status, res.TicketCreated, tid)
			}
			if len(res.Ticket.EmailCCIDs) != 0 {
				t.Errorf("requester was CC'd: %v", res.Ticket.EmailCCIDs)
			}
			ev := res.Audit.Events[0]
			if ev.Type != mergedesk.EventComment || ev.Fields["author_id"] != res.User.ID || ev.Fields["body"] != "Any news?" {
				t.Errorf("first event %+v, want the sender's comment", ev)
			}
		})
		t.Run("StrangerBecomesCC", func(t *testing.T) {
			res := mustReceive(t, db, mergedesk.InboundMessage{Channel: "whatsapp", From: mergedesk.Contact{Type: "phone_number", Value: "+14155550124"},
				Body: "I am his wife", TicketID: tid, ExplicitTicket: true})
			if !slices.Contains(res.Ticket.EmailCCIDs, res.User.ID) {
				t.Fatalf("ccs %v, want the sender %d", res.Ticket.EmailCCIDs, res.User.ID)
			}
		})
		t.Run("ClosedOpensFollowUp", func(t *testing.T) {
			closed := "closed"
			if _, _, err := db.UpdateTicket(ctx, tid, mergedesk.TicketInput{Status: &closed}, ticketAPIWriter(first.User.ID)); err != nil {
				t.Fatal(err)
			}
			res := mustReceive(t, db, mergedesk.InboundMessage{Channel: "sms", From: mergedesk.Contact{Type: "phone_number", Value: "+14155550123"},
				Body: "Still late", TicketID: tid, ExplicitTicket: true})
			if !res.TicketCreated || res.Ticket.ID == tid || res.Ticket.ViaFollowupSourceID == nil || *res.Ticket.ViaFollowupSourceID != tid {
				t.Fatalf("ticket %+v, want a follow-up of %d", res.Ticket, tid)
			}
		})
		t.Run("UnknownTicket", func(t *testing.T) {
			_, err := db.ReceiveMessage(ctx, mergedesk.InboundMessage{Channel: "sms", From: mergedesk.Contact{Type: "phone_number", Value: "+14155550123"},
				Body: "?", TicketID: 999999, ExplicitTicket: true})
			if mergedesk.FieldCode(err, "ticket_id") != mergedesk.CodeInvalid {
				t.Fatalf("err = %v, want ticket_id InvalidValue", err)
			}
		})
		t.Run("MessageIDThreadsAndDedupes", func(t *testing.T) {
			mail := mergedesk.InboundMessage{Channel: mergedesk.ChannelEmail, From: mergedesk.Contact{Type: "email", Value: "eve@example.com"},
				Subject: "Printer", Body: "It is on fire", MessageID: "<abc@mail.example>"}
			a := mustReceive(t, db, mail)
			again := mustReceive(t, db, mail)
			if !again.Duplicate || again.Ticket.ID != a.Ticket.ID {
				t.Fatalf("redelivery: duplicate %v ticket %d, want duplicate of %d", again.Duplicate, again.Ticket.ID, a.Ticket.ID)
			}
			if err := db.RecordMessageID(ctx, a.Ticket.ID, "<out-1@mergedesk>"); err != nil {
				t.Fatal(err)
			}
			for _, ref := range []string{"<ABC@mail.example>", "<out-1@mergedesk>"} {
				reply := mustReceive(t, db, mergedesk.InboundMessage{Channel: mergedesk.ChannelEmail, From: mergedesk.Contact{Type: "email", Value: "eve@example.com"},
					Subject: "Re: Printer", Body: "Now it is out", MessageID: "<reply-" + ref[1:4] + "@mail.example>", References: []string{"<nothing@x>", ref}})
				if reply.TicketCreated || reply.Ticket.ID != a.Ticket.ID {
					t.Errorf("reply referencing %s: ticket %d created %v, want appended to %d", ref, reply.Ticket.ID, reply.TicketCreated, a.Ticket.ID)
				}
			}
		})
	})
}

func TestReceiveMessageOrganizationRouting(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		name := "Billing"
		g, err := db.CreateGroup(ctx, mergedesk.GroupWrite{Name: &name})
		if err != nil {
			t.Fatal(err)
		}
		org, gid := "Acme", &g.ID
		domains := []string{"acme.test"}
		o, err := db.CreateOrganization(ctx, mergedesk.OrganizationWrite{Name: &org, GroupID: &gid, DomainNames: &domains})
		if err != nil {
			t.Fatal(err)
		}
		// Captured through domain mapping: the new user joins Acme, its ticket is routed.
		res := mustReceive(t, db, mergedesk.InboundMessage{Channel: "chat", From: mergedesk.Contact{Type: "email", Value: "zed@acme.test"}, Body: "hi"})
		if res.Ticket.OrganizationID == nil || *res.Ticket.OrganizationID != o.ID || res.Ticket.GroupID == nil || *res.Ticket.GroupID != g.ID {
			t.Fatalf("ticket org %v group %v, want %d and %d", res.Ticket.OrganizationID, res.Ticket.GroupID, o.ID, g.ID)
		}
	})
}

func TestReceiveMessageConcurrentCapture(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const n = 20
		for _, c := range []mergedesk.Contact{
			{Type: "phone_number", Value: "+1 415 555 0199"},
			{Type: "email", Value: "Race@Example.com"},
			{Type: "twitter", Value: "@racer"},
		} {
			t.Run(c.Type, func(t *testing.T) {
				users := make([]int64, n)
				var wg sync.WaitGroup
				errs := make(chan error, n)
				for i := range n {
					wg.Go(func() {
						m := mergedesk.InboundMessage{Channel: "chat", From: c, Body: fmt.Sprintf("message %d", i)}
						if i%2 == 1 && c.Type == "phone_number" {
							m.From.Value = "(415) 555-0199"
						}
						res, err := db.ReceiveMessage(ctx, m)
						if err != nil {
							errs <- err
							return
						}
						users[i] = res.User.ID
					})
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Fatal(err)
				}
				slices.Sort(users)
				if u := slices.Compact(users); len(u) != 1 {
					t.Fatalf("%d simultaneous messages from one unknown %s created users %v, want one", n, c.Type, u)
				}
				ts, _, err := db.Tickets(ctx, mergedesk.TicketFilter{RequesterID: &users[0]}, mergedesk.Page{Size: 100})
				if err != nil || len(ts) != n {
					t.Fatalf("user %d requests %d tickets (%v), want %d", users[0], len(ts), err, n)
				}
			})
		}
	})
}

func TestReceiveMessageMergedHandle(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		admin := mustTicketUser(t, db, mergedesk.NewUser{Name: "Admin", Role: mergedesk.RoleAdmin, Email: "admin@example.com", Verified: true})
		src := mustTicketUser(t, db, mergedesk.NewUser{Name: "Old Ann", Email: "old-ann@example.com", Phone: "+1 415 555 0111",
			Identities: []mergedesk.NewIdentity{{Type: "twitter", Value: "oldann"}}})
		dst := mustTicketUser(t, db, mergedesk.NewUser{Name: "Ann", Email: "ann@example.com", Verified: true})
		if _, _, err := db.MergeUsers(ctx, src.ID, dst.ID, admin.ID, ""); err != nil {
			t.Fatal(err)
		}
		for _, c := range []mergedesk.Contact{{Type: "twitter", Value: "@OldAnn"}, {Type: "phone_number", Value: "415 555 0111"},
			{Type: "email", Value: "old-ann@example.com"}} {
			res := mustReceive(t, db, mergedesk.InboundMessage{Channel: "web", From: c, Body: "it's me"})
			if res.User.ID != dst.ID || res.UserCreated {
				t.Errorf("%s %s: landed on user %d (created %v), want the merge target %d", c.Type, c.Value, res.User.ID, res.UserCreated, dst.ID)
			}
		}
	})
}

func TestReceiveMessageConcurrentWithMerge(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		admin := mustTicketUser(t, db, mergedesk.NewUser{Name: "Admin", Role: mergedesk.RoleAdmin, Email: "admin@example.com", Verified: true})
		for round := range 5 {
			handle := fmt.Sprintf("handle%d", round)
			src := mustTicketUser(t, db, mergedesk.NewUser{Name: "Src", Email: fmt.Sprintf("src%d@example.com", round),
				Identities: []mergedesk.NewIdentity{{Type: "twitter", Value: handle}}})
			dst := mustTicketUser(t, db, mergedesk.NewUser{Name: "Dst", Email: fmt.Sprintf("dst%d@example.com", round), Verified: true})
			var wg sync.WaitGroup
			var res *mergedesk.Received
			var rerr, merr error
			wg.Go(func() { _, _, merr = db.MergeUsers(ctx, src.ID, dst.ID, admin.ID, "") })
			wg.Go(func() {
				res, rerr = db.ReceiveMessage(ctx, mergedesk.InboundMessage{Channel: "x", From: mergedesk.Contact{Type: "twitter", Value: handle}, Body: "hi"})
			})
			wg.Wait()
			if merr != nil || rerr != nil {
				t.Fatalf("merge: %v; message: %v", merr, rerr)
			}
			if res.UserCreated || (res.User.ID != src.ID && res.User.ID != dst.ID) {
				t.Fatalf("message landed on user %d (created %v), want %d or %d", res.User.ID, res.UserCreated, src.ID, dst.ID)
			}
			// Wherever it landed first, after the merge the target requests it (M9).
			tk, err := db.Ticket(ctx, res.Ticket.ID)
			if err != nil || tk.RequesterID != dst.ID {
				t.Fatalf("ticket %d requester = %v (%v), want the target %d", res.Ticket.ID, tk, err, dst.ID)
			}
		}
	})
}

func TestReceiveMessageBadInput(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		users0, tickets0 := countRows(t, db)
		tests := []struct {
			name      string
			m         mergedesk.InboundMessage
			field     string
			wantCode  string
			wantField string
		}{
			{"UnknownChannel", mergedesk.InboundMessage{Channel: "pigeon", From: mergedesk.Contact{Type: "email", Value: "a@b.c"}, Body: "x"}, "channel", mergedesk.CodeInvalid, ""},
			{"UnknownFromType", mergedesk.InboundMessage{Channel: "sms", From: mergedesk.Contact{Type: "google", Value: "a@b.c"}, Body: "x"}, "from", mergedesk.CodeInvalid, ""},
			{"BlankFrom", mergedesk.InboundMessage{Channel: "sms", From: mergedesk.Contact{Type: "phone_number", Value: "  "}, Body: "x"}, "from", mergedesk.CodeBlank, ""},
			{"InvalidPhone", phoneMsg("sms", "call me maybe", "x"), "from", mergedesk.CodeInvalid, ""},
			{"ShortPhone", phoneMsg("sms", "12", "x"), "from", mergedesk.CodeInvalid, ""},
			{"InvalidEmail", mergedesk.InboundMessage{Channel: "chat", From: mergedesk.Contact{Type: "email", Value: "not an address"}, Body: "x"}, "from", mergedesk.CodeInvalid, ""},
			{"BlankBody", phoneMsg("sms", "+14155550100", " \n"), "body", mergedesk.CodeBlank, ""},
			{"InvalidCC", mergedesk.InboundMessage{Channel: "chat", From: mergedesk.Contact{Type: "email", Value: "ok@example.com"}, Body: "x",
				CC: []mergedesk.Contact{{Type: "phone_number", Value: "nope"}}}, "cc", mergedesk.CodeInvalid, ""},
			{"ControlCharacters", mergedesk.InboundMessage{Channel: "messaging", From: mergedesk.Contact{Type: "messaging", Value: "a\x00b"}, Body: "x"}, "from", mergedesk.CodeInvalid, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := db.ReceiveMessage(ctx, tt.m)
				if got := mergedesk.FieldCode(err, tt.field); got != tt.wantCode {
					t.Fatalf("err = %v, want %s on %s", err, tt.wantCode, tt.field)
				}
			})
		}
		if u, tk := countRows(t, db); u != users0 || tk != tickets0 {
			t.Errorf("refused messages stored something: users %d→%d, tickets %d→%d", users0, u, tickets0, tk)
		}
	})
}

func TestReceiveMessageAttachments(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		res := mustReceive(t, db, mergedesk.InboundMessage{Channel: mergedesk.ChannelEmail, From: mergedesk.Contact{Type: "email", Value: "f@example.com"},
			Body: "see attached", Attachments: []mergedesk.Attachment{
				{FileName: "a.txt", ContentType: "text/plain", Content: []byte("hello")},
				{FileName: "big.bin", ContentType: "application/octet-stream", Content: make([]byte, mergedesk.MaxAttachmentBytes+1)},
			}})
		if res.SkippedAttachments != 1 {
			t.Errorf("skipped %d, want the oversized one", res.SkippedAttachments)
		}
		as, err := db.TicketAttachments(ctx, res.Ticket.ID)
		if err != nil || len(as) != 1 || as[0].FileName != "a.txt" || as[0].Size != 5 || as[0].AuditID != res.Audit.ID {
			t.Fatalf("attachments %+v (%v), want a.txt of 5 bytes on audit %d", as, err, res.Audit.ID)
		}
		b, err := db.AttachmentContent(ctx, as[0].ID)
		if err != nil || string(b) != "hello" {
			t.Fatalf("content %q (%v), want hello", b, err)
		}
	})
}

// TestReceiveMessageConcurrentOutcomes sends many messages at once, some of
// them refused only inside the transaction (a ticket that does not exist, a
// suspended sender, an invalid CC, a ticket hook that refuses), so that on
// SQLite they share transactions with valid ones. Each must get its own
// outcome; a refused message stores nothing (not even the user it captured
// first) and runs none of its after-commit work.
func TestReceiveMessageConcurrentOutcomes(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		known := mustTicketUser(t, db, mergedesk.NewUser{Name: "Kim", Email: "kim@example.com"})
		sus := mustTicketUser(t, db, mergedesk.NewUser{Name: "Sus", Phone: "+1 415 555 0160"})
		yes := true
		if _, err := db.UpdateUser(ctx, sus.ID, mergedesk.UserUpdate{Suspended: &yes}, nil); err != nil {
			t.Fatal(err)
		}
		existing := mustReceive(t, db, mergedesk.InboundMessage{Channel: "chat", From: mergedesk.Contact{Type: "email", Value: "kim@example.com"}, Body: "first"})
		var afterRuns sync.Map // body -> after-commit runs
		db.SetTicketHook(func(ctx context.Context, tx mergedesk.TicketTx, c *mergedesk.TicketChange) error {
			body := c.Ticket.Description
			if c.Audit != nil {
				for _, e := range c.Audit.Events {
					if e.Type == mergedesk.EventComment {
						body, _ = e.Fields["body"].(string)
					}
				}
			}
			if strings.HasPrefix(body, "refuse") {
				return mergedesk.Invalid("base", mergedesk.CodeInvalid, "refused by the hook")
			}
			if err := c.Set("tags", "hooked", nil); err != nil {
				return err
			}
			tx.After(func() {
				n, _ := afterRuns.LoadOrStore(body, new(atomic.Int64))
				n.(*atomic.Int64).Add(1)
			})
			return nil
		})
		t.Cleanup(func() { db.SetTicketHook(nil) })
		users0, tickets0 := countRows(t, db)

		type outcome struct {
			res *mergedesk.Received
			err error
		}
		const n = 50
		msgs := make([]mergedesk.InboundMessage, n)
		wantField := make([]string, n) // "" for a valid message
		for i := range n {
			unknown := mergedesk.Contact{Type: "email", Value: fmt.Sprintf("new-%d@example.com", i)}
			body := fmt.Sprintf("message %d", i)
			switch i % 10 {
			case 0: // captures its sender, then names a ticket that does not exist
				msgs[i] = mergedesk.InboundMessage{Channel: "chat", From: unknown, Body: body, TicketID: 1 << 40, ExplicitTicket: true}
				wantField[i] = "ticket_id"
			case 1:
				msgs[i] = phoneMsg("sms", "(415) 555-0160", body)
				wantField[i] = "requester"
			case 2: // captures its sender, then meets an invalid CC
				msgs[i] = mergedesk.InboundMessage{Channel: "chat", From: unknown, Body: body, CC: []mergedesk.Contact{{Type: "phone_number", Value: "nope"}}}
				wantField[i] = "cc"
			case 3: // captures its sender, creates a ticket, then the hook refuses
				msgs[i] = mergedesk.InboundMessage{Channel: "chat", From: unknown, Body: "refuse " + body}
				wantField[i] = "base"
			case 4:
				msgs[i] = mergedesk.InboundMessage{Channel: "chat", From: mergedesk.Contact{Type: "email", Value: "KIM@example.com"}, Body: body,
					TicketID: existing.Ticket.ID, ExplicitTicket: true}
			case 5:
				msgs[i] = mergedesk.InboundMessage{Channel: "chat", From: mergedesk.Contact{Type: "email", Value: "kim@example.com"}, Body: body}
			default:
				msgs[i] = mergedesk.InboundMessage{Channel: "chat", From: unknown, Body: body}
			}
		}
		outs := make([]outcome, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				res, err := db.ReceiveMessage(ctx, msgs[i])
				outs[i] = outcome{res, err}
			})
		}
		wg.Wait()

		var wantUsers, wantTickets int
		for i, o := range outs {
			m := msgs[i]
			if wantField[i] != "" {
				if o.err == nil || mergedesk.FieldCode(o.err, wantField[i]) == "" {
					t.Errorf("message %d: err = %v, want one on %s", i, o.err, wantField[i])
				}
				continue
			}
			if o.err != nil {
				t.Errorf("message %d: %v", i, o.err)
				continue
			}
			res := o.res
			switch i % 10 {
			case 4:
				if res.TicketCreated || res.Ticket.ID != existing.Ticket.ID || res.User.ID != known.ID {
					t.Errorf("message %d: ticket %d (created %v) from user %d, want a comment on %d from %d",
						i, res.Ticket.ID, res.TicketCreated, res.User.ID, existing.Ticket.ID, known.ID)
				}
			case 5:
				wantTickets++
				if !res.TicketCreated || res.User.ID != known.ID || res.UserCreated {
					t.Errorf("message %d: user %d (created %v), ticket created %v; want a new ticket from %d", i, res.User.ID, res.UserCreated, res.TicketCreated, known.ID)
				}
			default:
				wantUsers++
				wantTickets++
				if !res.TicketCreated || !res.UserCreated || res.User.Email() == nil || *res.User.Email() != m.From.Value {
					t.Errorf("message %d: user %+v (created %v), want a new user %s", i, res.User, res.UserCreated, m.From.Value)
				}
			}
			if res.Ticket.RequesterID != res.User.ID && i%10 != 4 {
				t.Errorf("message %d: requester %d, want the sender %d", i, res.Ticket.RequesterID, res.User.ID)
			}
			if res.Audit == nil || !slices.ContainsFunc(res.Audit.Events, func(e mergedesk.Event) bool {
				return e.Type == mergedesk.EventComment && e.Fields["body"] == m.Body
			}) {
				t.Errorf("message %d: audit %+v has no comment %q", i, res.Audit, m.Body)
			}
			if i%10 != 4 && !slices.Contains(res.Ticket.Tags, "hooked") {
				t.Errorf("message %d: tags %v, want the hook's", i, res.Ticket.Tags)
			}
			if v, ok := afterRuns.Load(m.Body); !ok || v.(*atomic.Int64).Load() != 1 {
				t.Errorf("message %d: after-commit work ran %v times, want once", i, v)
			}
		}
		afterRuns.Range(func(k, _ any) bool {
			if strings.HasPrefix(k.(string), "refuse") {
				t.Errorf("after-commit work of refused message %q ran", k)
			}
			return true
		})
		if u, tk := countRows(t, db); u != users0+wantUsers || tk != tickets0+wantTickets {
			t.Errorf("users %d→%d, tickets %d→%d; want +%d users, +%d tickets", users0, u, tickets0, tk, wantUsers, wantTickets)
		}
		// The senders of refused messages were not kept: writing again captures them.
		for i := range n {
			if wantField[i] == "" || msgs[i].From.Type != "email" {
				continue
			}
			res := mustReceive(t, db, mergedesk.InboundMessage{Channel: "chat", From: msgs[i].From, Body: "again"})
			if !res.UserCreated {
				t.Errorf("message %d: sender %s exists after its message was refused", i, msgs[i].From.Value)
			}
		}
	})
}

// TestReceiveMessageResultIsStored checks that what ReceiveMessage returns
// (taken from its transaction, not read back) is what was stored: the ticket
// and sender as the read pool now sees them, the audit with the same events.
func TestReceiveMessageResultIsStored(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		name, org := "Billing", "Acme"
		g, err := db.CreateGroup(ctx, mergedesk.GroupWrite{Name: &name})
		if err != nil {
			t.Fatal(err)
		}
		gid, domains := &g.ID, []string{"acme.test"}
		if _, err := db.CreateOrganization(ctx, mergedesk.OrganizationWrite{Name: &org, GroupID: &gid, DomainNames: &domains}); err != nil {
			t.Fatal(err)
		}
		mustTicketUser(t, db, mergedesk.NewUser{Name: "Bo", Email: "bo@example.com", Phone: "+14155550101"})
		var last int64
		for _, tt := range []struct {
			name string
			m    mergedesk.InboundMessage
		}{
			{"CapturedByDomain", mergedesk.InboundMessage{Channel: "chat", From: mergedesk.Contact{Type: "email", Value: "zed@acme.test"}, Body: "hi"}},
			{"Known", mergedesk.InboundMessage{Channel: "voice", From: mergedesk.Contact{Type: "phone_number", Value: "(415) 555-0101", Name: "Caller"},
				Subject: "Call", Body: "call me"}},
			{"CapturedWithCCs", mergedesk.InboundMessage{Channel: "sms", From: mergedesk.Contact{Type: "phone_number", Value: "+49 40 1234567"}, Body: "new",
				CC: []mergedesk.Contact{{Type: "email", Value: "bo@example.com"}, {Type: "email", Value: "aa@example.com"}}}},
			{"StrangerAppends", mergedesk.InboundMessage{Channel: "x", From: mergedesk.Contact{Type: "twitter", Value: "@who"}, Body: "reply", ExplicitTicket: true}},
			{"Mail", mergedesk.InboundMessage{Channel: mergedesk.ChannelEmail, From: mergedesk.Contact{Type: "email", Value: "m@example.com"},
				To: &mergedesk.Contact{Type: "email", Value: "support@example.com"}, Body: "mail", MessageID: "<a@example.com>"}},
			{"MailReply", mergedesk.InboundMessage{Channel: mergedesk.ChannelEmail, From: mergedesk.Contact{Type: "email", Value: "n@example.com"}, Body: "re",
				References: []string{"<a@example.com>"}, CC: []mergedesk.Contact{{Type: "email", Value: "zz@example.com"}}}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if tt.m.ExplicitTicket {
					tt.m.TicketID = last
				}
				res := mustReceive(t, db, tt.m)
				last = res.Ticket.ID
				tk, err := db.Ticket(ctx, res.Ticket.ID)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tk, res.Ticket); diff != "" {
					t.Errorf("returned ticket differs from the stored one (-stored +returned):\n%s", diff)
				}
				u, err := db.User(ctx, res.User.ID)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(u, res.User); diff != "" {
					t.Errorf("returned sender differs from the stored one (-stored +returned):\n%s", diff)
				}
				a, err := db.TicketAudit(ctx, res.Ticket.ID, res.Audit.ID)
				if err != nil {
					t.Fatal(err)
				}
				kinds := func(a *mergedesk.Audit) (out []string) {
					for _, e := range a.Events {
						out = append(out, fmt.Sprint(e.ID, e.Type, e.Fields["field_name"], e.Fields["value"], e.Fields["body"]))
					}
					return out
				}
				if diff := cmp.Diff(kinds(a), kinds(res.Audit)); diff != "" || a.AuthorID != res.Audit.AuthorID {
					t.Errorf("returned audit differs from the stored one (-stored +returned):\n%s", diff)
				}
			})
		}
	})
}

// BenchmarkReceiveMessage measures inbound messages on SQLite from known
// senders, one at a time (Serial) and from concurrent callers (Parallel,
// which on SQLite share transactions).
func BenchmarkReceiveMessage(b *testing.B) {
	db := storetest.MustOpen(b, "sqlite:"+filepath.Join(b.TempDir(), "bench.db"))
	ctx := context.Background()
	const senders = 1000
	sender := func(i int) mergedesk.Contact {
		return mergedesk.Contact{Type: "phone_number", Value: fmt.Sprintf("+1 415 555 %04d", i%senders)}
	}
	for i := range senders {
		if _, err := db.ReceiveMessage(ctx, mergedesk.InboundMessage{Channel: "sms", From: sender(i), Body: "hello"}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("Serial", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := db.ReceiveMessage(ctx, mergedesk.InboundMessage{Channel: "voice", From: sender(i), Body: "call me"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Parallel", func(b *testing.B) {
		var seq atomic.Int64
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := int(seq.Add(1))
				if _, err := db.ReceiveMessage(ctx, mergedesk.InboundMessage{Channel: "voice", From: sender(i), Body: "call me"}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
