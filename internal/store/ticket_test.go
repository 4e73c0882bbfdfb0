package store_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/store"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
)

func mustTicketUser(tb testing.TB, db *store.DB, nu mergedesk.NewUser) *mergedesk.User {
	tb.Helper()
	u, err := db.CreateUser(context.Background(), nu)
	if err != nil {
		tb.Fatalf("create user %s: %v", nu.Name, err)
	}
	return u
}

func ticketAPIWriter(id int64) mergedesk.TicketWriter {
	return mergedesk.TicketWriter{ActorID: id, Via: mergedesk.NewVia("api")}
}

func TestCreateTicketRules(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		agent := mustTicketUser(t, db, mergedesk.NewUser{Name: "Agent", Role: mergedesk.RoleAgent, Email: "agent@example.com"})
		ann := mustTicketUser(t, db, mergedesk.NewUser{Name: "Ann", Email: "ann@example.com", OrganizationName: ptr("Acme")})
		comment := &mergedesk.CommentInput{Body: "Hello"}

		tk, audit, err := db.CreateTicket(ctx, mergedesk.TicketInput{RequesterID: &ann.ID, Comment: comment,
			AssigneeID: ptr(&agent.ID), Collaborators: &[]mergedesk.CCRef{{UserID: ann.ID}, {Email: "Cy@Example.com"}}}, ticketAPIWriter(agent.ID))
		if err != nil {
			t.Fatal(err)
		}
		if tk.Status != "open" {
			t.Errorf("status = %q, want open (assignee on a new ticket)", tk.Status)
		}
		if tk.OrganizationID == nil || *tk.OrganizationID != *ann.DefaultOrganizationID() {
			t.Errorf("organization_id = %v, want the requester's default", tk.OrganizationID)
		}
		if len(tk.EmailCCIDs) != 1 || tk.EmailCCIDs[0] == ann.ID {
			t.Errorf("email CCs = %v: the requester is never CC'd", tk.EmailCCIDs)
		}
		cy, err := db.UserByEmail(ctx, "cy@example.com")
		if err != nil || cy.Name != "Cy" || cy.Verified() {
			t.Errorf("CC by unknown email = %+v, %v; want a new unverified end user named Cy", cy, err)
		}
		if audit == nil || audit.Events[0].Type != mergedesk.EventComment {
			t.Fatalf("audit = %+v", audit)
		}
		byField := map[string]any{}
		for _, ev := range audit.Events {
			if ev.Type == mergedesk.EventCreate {
				byField[ev.Fields["field_name"].(string)] = ev.Fields["value"]
			}
		}
		if byField["assignee_id"] != strconv.FormatInt(agent.ID, 10) || byField["status"] != "open" || byField["requester_id"] != strconv.FormatInt(ann.ID, 10) {
			t.Errorf("Create events = %v", byField)
		}

		for name, in := range map[string]mergedesk.TicketInput{
			"ErrNoComment":   {RequesterID: &ann.ID},
			"ErrNoRequester": {Comment: comment},
			"ErrUnknownUser": {RequesterID: ptr(int64(99999)), Comment: comment},
			"ErrAssignee":    {RequesterID: &ann.ID, Comment: comment, AssigneeID: ptr(&ann.ID)},
			"ErrPriority":    {RequesterID: &ann.ID, Comment: comment, Priority: ptr(ptr("whenever"))},
		} {
			if _, _, err := db.CreateTicket(ctx, in, ticketAPIWriter(agent.ID)); mergedesk.ErrorCode(err) != mergedesk.EInvalid {
				t.Errorf("%s: err = %v, want RecordInvalid", name, err)
			}
		}
		// Nothing of the failed creates is left behind.
		ts, info, err := db.Tickets(ctx, mergedesk.TicketFilter{}, mergedesk.Page{})
		if err != nil || len(ts) != 1 || info.Total != 1 {
			t.Errorf("tickets = %d (total %d), %v; want 1", len(ts), info.Total, err)
		}
	})
}

func TestUpdateTicketNoChangeWritesNoAudit(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		agent := mustTicketUser(t, db, mergedesk.NewUser{Name: "Agent", Role: mergedesk.RoleAgent, Email: "agent@example.com"})
		tk, _, err := db.CreateTicket(ctx, mergedesk.TicketInput{RequesterID: &agent.ID, Subject: ptr("S"),
			Comment: &mergedesk.CommentInput{Body: "x"}}, ticketAPIWriter(agent.ID))
		if err != nil {
			t.Fatal(err)
		}
		db.Now = func() time.Time { return time.Now().UTC().Add(time.Hour).Truncate(time.Second) }
		got, audit, err := db.UpdateTicket(ctx, tk.ID, mergedesk.TicketInput{Subject: ptr("S"), Comment: &mergedesk.CommentInput{}}, ticketAPIWriter(agent.ID))
		if err != nil {
			t.Fatal(err)
		}
		if audit != nil || !got.UpdatedAt.Equal(tk.UpdatedAt) {
			t.Errorf("no-op update: audit %+v, updated_at %v -> %v", audit, tk.UpdatedAt, got.UpdatedAt)
		}
		n, err := db.TicketAuditCount(ctx, tk.ID)
		if err != nil || n != 1 {
			t.Errorf("audits = %d, %v; want 1", n, err)
		}
	})
}

func TestTicketHook(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		agent := mustTicketUser(t, db, mergedesk.NewUser{Name: "Agent", Role: mergedesk.RoleAgent, Email: "agent@example.com"})
		rule := mergedesk.NewVia("rule")
		var calls []bool
		db.SetTicketHook(func(ctx context.Context, tx mergedesk.TicketTx, c *mergedesk.TicketChange) error {
			calls = append(calls, c.Create)
			if c.Ticket.ID == 0 {
				t.Errorf("hook sees no ticket id")
			}
			if c.Create {
				return c.Set("priority", "urgent", &rule)
			}
			return c.Set("tags", "triaged", nil)
		})
		t.Cleanup(func() { db.SetTicketHook(nil) })

		tk, audit, err := db.CreateTicket(ctx, mergedesk.TicketInput{RequesterID: &agent.ID,
			Comment: &mergedesk.CommentInput{Body: "x"}}, ticketAPIWriter(agent.ID))
		if err != nil {
			t.Fatal(err)
		}
		if tk.Priority == nil || *tk.Priority != "urgent" {
			t.Errorf("priority = %v, want the hook's urgent", tk.Priority)
		}
		last := audit.Events[len(audit.Events)-1]
		if last.Type != mergedesk.EventChange || last.Fields["field_name"] != "priority" || last.Fields["via"] == nil {
			t.Errorf("hook event = %+v", last)
		}
		tk, _, err = db.UpdateTicket(ctx, tk.ID, mergedesk.TicketInput{}, ticketAPIWriter(agent.ID))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(tk.Tags, []string{"triaged"}) {
			t.Errorf("tags = %v", tk.Tags)
		}
		if _, err := db.ImportTicket(ctx, mergedesk.TicketInput{RequesterID: &agent.ID, Status: ptr("closed"),
			Comments: []mergedesk.CommentInput{{Body: "old"}}}, agent.ID, true); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(calls, []bool{true, false}) {
			t.Errorf("hook calls = %v, want create and update only (never imports)", calls)
		}
	})
}

func TestTicketListsLoadCCsForAPage(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		agent := mustTicketUser(t, db, mergedesk.NewUser{Name: "Agent", Role: mergedesk.RoleAgent, Email: "agent@example.com"})
		bo := mustTicketUser(t, db, mergedesk.NewUser{Name: "Bo", Email: "bo@example.com"})
		var want []int64
		for i := 0; i < 3; i++ {
			tk, _, err := db.CreateTicket(ctx, mergedesk.TicketInput{RequesterID: &agent.ID, Comment: &mergedesk.CommentInput{Body: "x"},
				EmailCCs: []mergedesk.CCRef{{UserID: bo.ID}}, Followers: []mergedesk.CCRef{{Email: "AGENT@example.com"}}}, ticketAPIWriter(agent.ID))
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, tk.ID)
		}
		ts, info, err := db.Tickets(ctx, mergedesk.TicketFilter{CCUserID: &bo.ID}, mergedesk.Page{Desc: true})
		if err != nil || info.Total != 3 {
			t.Fatalf("ccd = %v, %v", info, err)
		}
		for i, tk := range ts {
			if tk.ID != want[2-i] || !slices.Equal(tk.EmailCCIDs, []int64{bo.ID}) || !slices.Equal(tk.FollowerIDs, []int64{agent.ID}) {
				t.Errorf("ticket %d: ccs %v followers %v", tk.ID, tk.EmailCCIDs, tk.FollowerIDs)
			}
		}
		rel, err := db.Related(ctx, bo.ID)
		if err != nil || rel.CCd != 3 {
			t.Errorf("related = %+v, %v", rel, err)
		}
	})
}
