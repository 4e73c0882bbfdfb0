package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
)

func TestBenchMergeSmoke(t *testing.T) {
	dbs := map[string]string{"sqlite": "sqlite:" + filepath.Join(t.TempDir(), "bench.db")}
	if pg := storetest.PostgresURL(t); pg != "" {
		dbs["postgres"] = pg // the bench makes and drops its own schema
	}
	for name, dsn := range dbs {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := runBenchMerge(context.Background(), []string{"merge", "--db", dsn, "--tickets", "200", "--runs", "1", "--readers", "2"}, &out, &errOut)
			// 200 tickets says nothing about speed: a missed target is fine here,
			// anything else is not.
			if err != nil && !strings.Contains(err.Error(), "target(s) missed") {
				t.Fatalf("bench: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
			}
			for _, want := range []string{
				"mergedesk bench merge: " + name + ", 1 runs",
				"MergeUsers ", "bare SQL, same rows (one tx)", "INSERT events EmailCcChange SELECT",
				"ratio MergeUsers / bare SQL (medians): ",
				"rows written by both checked identical on every run",
				"reads during merges (2 HTTP clients", "errors 0",
				"MergeUsers p95 ", "reads keep being served during a merge",
				"note: the targets are for 10,000 tickets; this run used 200",
			} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
			if !strings.Contains(errOut.String(), "bench merge: run 1/1: MergeUsers ") {
				t.Errorf("stderr lacks the progress line:\n%s", errOut.String())
			}
		})
	}
}

func TestBenchMergeUsage(t *testing.T) {
	for _, args := range [][]string{{"--tickets", "10001"}, {"--runs", "0"}, {"extra"}, {"--db", "mysql://x"}} {
		err := runBenchMerge(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{})
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: err = %v, want a usage error", args, err)
		}
	}
}

// TestBenchMergeBareSQLWritesSameRows holds the yardstick honest on fixtures
// richer than the bench's: the source CC'd on the target's tickets and on
// third parties' tickets, the target CC'd on the source's and on third
// parties' tickets, both CC'd on the same ticket.
func TestBenchMergeBareSQLWritesSameRows(t *testing.T) {
	for name, dsn := range storetest.DSNs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db := storetest.MustOpen(t, dsn)
			raw, err := openRaw(dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			admin, err := db.EnsureAdmin(ctx, "admin@example.com", "")
			if err != nil {
				t.Fatal(err)
			}
			user := func(name string) int64 {
				t.Helper()
				u, err := db.CreateUser(ctx, mergedesk.NewUser{Name: name, Email: strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@example.com"})
				if err != nil {
					t.Fatal(err)
				}
				return u.ID
			}
			third := user("Third Party")
			fixture := func(tag string) mergePair {
				t.Helper()
				p := mergePair{user("Source " + tag), user("Target " + tag)}
				for i, seed := range []struct {
					requester int64
					ccs       []int64
				}{
					{p.s, []int64{p.t, third}},
					{p.t, []int64{p.s, third}},
					{third, []int64{p.s}},
					{third, []int64{p.t}},
					{third, []int64{p.s, p.t}},
				} {
					if err := db.SeedTickets(ctx, seed.requester, 6, seed.ccs, tag+strconv.Itoa(i)); err != nil {
						t.Fatal(err)
					}
				}
				return p
			}
			a, b := fixture("a"), fixture("b")
			_, rec, err := db.MergeUsers(ctx, a.s, a.t, admin.ID, "")
			if err != nil {
				t.Fatal(err)
			}
			bareID, _, err := bareMerge(ctx, raw, db.Dialect(), b.s, b.t, admin.ID)
			if err != nil {
				t.Fatal(err)
			}
			if err := sameRows(ctx, raw, db.Dialect(), rec.ID, a, bareID, b); err != nil {
				t.Fatal(err)
			}
			fa, _ := footprint(ctx, raw, db.Dialect(), rec.ID, a)
			if n := strings.Count(strings.Join(fa, "\n"), "event EmailCcChange"); n == 0 {
				t.Errorf("no EmailCcChange events in the fixture: the comparison proves little\n%s", strings.Join(fa, "\n"))
			}
		})
	}
}
