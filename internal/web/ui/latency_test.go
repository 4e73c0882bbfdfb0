package ui_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/demo"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
)

// demoPages loads the demo data set and returns a signed-in client and the main
// pages of the UI with real ids.
func demoPages(tb testing.TB) (*client, []string) {
	tb.Helper()
	ctx := context.Background()
	db := storetest.MustOpen(tb, "sqlite:"+tb.TempDir()+"/demo.db")
	if _, err := demo.Load(ctx, db); err != nil {
		tb.Fatal(err)
	}
	_, ts := newServer(tb, db)
	c := newClient(tb, ts.URL)
	c.login(demo.AgentEmail, demo.AgentPassword)

	ts0, _, err := db.Tickets(ctx, mergedesk.TicketFilter{}, mergedesk.Page{Size: 1, Desc: true})
	if err != nil || len(ts0) == 0 {
		tb.Fatalf("demo tickets: %v", err)
	}
	users, _, err := db.Users(ctx, mergedesk.UserFilter{Roles: []string{mergedesk.RoleEndUser}}, mergedesk.Page{Size: 2})
	if err != nil || len(users) < 2 {
		tb.Fatalf("demo users: %v", err)
	}
	orgs, _, err := db.Organizations(ctx, mergedesk.OrganizationFilter{}, mergedesk.Page{Size: 1})
	if err != nil || len(orgs) == 0 {
		tb.Fatalf("demo organizations: %v", err)
	}
	req := ts0[0].RequesterID
	return c, []string{
		"/customers",
		"/customers?q=a",
		fmt.Sprintf("/users/%d", req),
		"/tickets",
		fmt.Sprintf("/tickets/%d", ts0[0].ID),
		"/organizations",
		fmt.Sprintf("/organizations/%d", orgs[0].ID),
		fmt.Sprintf("/users/%d/merge/candidates?q=a", users[0].ID),
		fmt.Sprintf("/users/%d/merge/preview?target=%d", users[0].ID, users[1].ID),
	}
}

// TestPagesSmoke requests each main page on the demo data a few times: every
// one answers 200. It judges no timing (a shared machine makes any threshold
// a coin toss); the latency target (p99 < 50 ms, rule of issue 5) belongs to
// BenchmarkPages, which reports each page's p50 and p99.
func TestPagesSmoke(t *testing.T) {
	c, pages := demoPages(t)
	for _, p := range pages {
		for range 3 {
			resp, _ := c.get(p)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %d", p, resp.StatusCode)
			}
		}
	}
}

// BenchmarkPages measures each main page on the demo data and reports, beside
// ns/op, the p50 and p99 of the requests as p50-ms and p99-ms. Target: p99
// under 50 ms for every page (docs/benchmarks.md), judged on a quiet machine:
//
//	go test -run '^$' -bench BenchmarkPages -benchtime 200x ./internal/web/ui
func BenchmarkPages(b *testing.B) {
	c, pages := demoPages(b)
	for _, p := range pages {
		b.Run(p, func(b *testing.B) {
			d := make([]time.Duration, 0, b.N)
			for b.Loop() {
				start := time.Now()
				resp, _ := c.get(p)
				d = append(d, time.Since(start))
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("GET %s: %d", p, resp.StatusCode)
				}
			}
			slices.Sort(d)
			b.ReportMetric(ms(d[len(d)/2]), "p50-ms")
			b.ReportMetric(ms(d[min(len(d)-1, len(d)*99/100)]), "p99-ms")
		})
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
