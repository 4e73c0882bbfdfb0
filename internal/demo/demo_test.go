package demo_test

import (
	"context"
	"testing"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/demo"
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
