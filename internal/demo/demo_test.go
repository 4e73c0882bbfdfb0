package demo_test

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"slices"
	"testing"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/demo"
	"github.com/mergedesk/mergedesk/internal/detector"
	"github.com/mergedesk/mergedesk/internal/store"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
)

func TestLoad(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		logins, err := demo.Load(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if len(logins) != 2 || logins[0].Role != "admin" || logins[1].Role != "agent" || logins[0].Token == "" || logins[1].Token == "" {
			t.Fatalf("logins = %+v, want an admin and an agent with tokens", logins)
		}
		for _, l := range logins {
			p, err := db.TokenPrincipal(ctx, l.Token, l.Email)
			if err != nil || p == nil || p.Role != l.Role {
				t.Errorf("token of %s = %+v, %v; want role %s", l.Email, p, err, l.Role)
			}
		}
		_, info, err := db.Users(ctx, mergedesk.UserFilter{Roles: []string{mergedesk.RoleEndUser}}, mergedesk.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if info.Total < 45 || info.Total > 60 {
			t.Errorf("end users = %d, want about 50", info.Total)
		}
		counts := map[string]int{}
		total := 0
		for page := 0; ; page++ {
			ts, info, err := db.Tickets(ctx, mergedesk.TicketFilter{}, mergedesk.Page{Size: 100, Offset: page * 100})
			if err != nil {
				t.Fatal(err)
			}
			for _, tk := range ts {
				counts[tk.Status]++
				if tk.Archived {
					counts["archived"]++
				}
			}
			total += len(ts)
			if !info.HasMore {
				break
			}
		}
		if total < 180 || total > 220 {
			t.Errorf("tickets = %d, want about 200", total)
		}
		for _, st := range append(mergedesk.TicketStatuses, "archived") {
			if counts[st] == 0 {
				t.Errorf("no %s tickets (counts %v)", st, counts)
			}
		}
		t.Logf("tickets by status: %v", counts)

		// A second load is a no-op.
		again, err := demo.Load(ctx, db)
		if err != nil || again != nil {
			t.Errorf("second Load = %v, %v; want nil, nil", again, err)
		}
	})
}

// TestLoadLikeTheAPI checks what the demo once got from loading through the API
// and now asks the store for: tickets written by the admin through the "api"
// channel, inline requesters and CCs by address becoming end users, profiles
// on other channels, and a membership written directly.
func TestLoadLikeTheAPI(t *testing.T) {
	storetest.Run(t, testLoadLikeTheAPI)
}

func testLoadLikeTheAPI(t *testing.T, db *store.DB) {
	ctx := context.Background()
	if _, err := demo.Load(ctx, db); err != nil {
		t.Fatal(err)
	}
	admin, err := db.UserIDByEmail(ctx, demo.AdminEmail)
	if err != nil || admin == 0 {
		t.Fatalf("admin = %d, %v", admin, err)
	}
	tk, err := db.Ticket(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Via.Channel != "api" || tk.SubmitterID != admin {
		t.Errorf("ticket 1 via %q submitted by %d, want api and the admin %d", tk.Via.Channel, tk.SubmitterID, admin)
	}
	audits, _, err := db.TicketAudits(ctx, 1, mergedesk.Page{})
	if err != nil || len(audits) == 0 || audits[0].AuthorID != admin || audits[0].Via.Channel != "api" {
		t.Errorf("ticket 1 audits = %+v, %v; want the admin's, via api", audits, err)
	}
	for email, name := range map[string]string{
		"hannah.becker@example.de":     "Hannah Becker",    // inline requester
		"no-name-customer@example.com": "no-name-customer", // inline requester without a name
		"finance@acme.example":         "Finance Team",     // CC by address
		"assistant@globex.example":     "assistant",        // CC by bare address
	} {
		u, err := db.UserByEmail(ctx, email)
		if err != nil || u == nil || u.Name != name || u.Role != mergedesk.RoleEndUser {
			t.Errorf("user %s = %+v, %v; want end user %q", email, u, err, name)
		}
	}
	maria, err := db.UserByEmail(ctx, "maria.schmidt@example.com")
	if err != nil || maria == nil || mergedesk.LocaleByID(maria.LocaleID).Locale != "de" {
		t.Errorf("Maria = %+v, %v; want locale de", maria, err)
	}
	x, _, err := db.Users(ctx, mergedesk.UserFilter{}, mergedesk.Page{Size: 100})
	if err != nil {
		t.Fatal(err)
	}
	var twitter int
	for _, u := range x {
		if u.PrimaryIdentity(mergedesk.IdentityTwitter) != nil {
			twitter++
		}
	}
	if twitter != 3 {
		t.Errorf("users with an X profile = %d, want 3", twitter)
	}
	lucia, err := db.UserByEmail(ctx, "lucia.fernandez@example.com")
	if err != nil || lucia == nil || len(lucia.Memberships) != 1 || lucia.Memberships[0].OrganizationName != "Stark Logistics" {
		t.Errorf("Lucía = %+v, %v; want a member of Stark Logistics", lucia, err)
	}
}

// TestDetect: after Load and Detect, the split personas are open duplicate
// suggestions, so the demo shows the Duplicates page filled out of the box.
func TestDetect(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := demo.Load(ctx, db); err != nil {
			t.Fatal(err)
		}
		d := detector.New(db, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err := demo.Detect(ctx, d); err != nil {
			t.Fatal(err)
		}
		list, _, err := d.Suggestions(ctx, mergedesk.SuggestionFilter{}, mergedesk.Page{Size: 100})
		if err != nil {
			t.Fatal(err)
		}
		ids := map[int64]bool{}
		for _, s := range list {
			ids[s.UserIDs[0]], ids[s.UserIDs[1]] = true, true
		}
		users, err := db.UsersByIDs(ctx, slices.Collect(maps.Keys(ids)))
		if err != nil {
			t.Fatal(err)
		}
		names := map[int64]string{}
		for _, u := range users {
			names[u.ID] = u.Name
		}
		got := map[string]int{}
		for _, s := range list {
			if a, b := names[s.UserIDs[0]], names[s.UserIDs[1]]; a == b {
				got[a]++
			}
		}
		for _, name := range []string{"Maria Schmidt", "Aoife Murphy"} {
			if got[name] != 1 {
				t.Errorf("%s's split profiles: %d open suggestions, want 1 (all: %v)", name, got[name], got)
			}
		}
		// The two John Smiths only share a name: not one person.
		if got["John Smith"] != 0 {
			t.Errorf("the two John Smiths are suggested as one person")
		}
	})
}
