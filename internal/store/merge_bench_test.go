package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
)

// BenchmarkMerge10k merges a source requesting 10,000 tickets (5,000 open with
// 3 CCs each, the target one of them; 5,000 closed and archived) into a target
// requesting 10,000, on SQLite and, with MERGEDESK_TEST_POSTGRES, PostgreSQL.
// Seeding each pair is not timed. `mergedesk bench merge` measures the same
// merge against the bare SQL and with readers.
func BenchmarkMerge10k(b *testing.B) {
	ctx := context.Background()
	for name, dsn := range storetest.DSNs(b) {
		// The sub-benchmark's function runs more than once (b.N grows): set up
		// outside it.
		db := storetest.MustOpen(b, dsn)
		admin, err := db.EnsureAdmin(ctx, "admin@example.com", "")
		if err != nil {
			b.Fatal(err)
		}
		var ccs []int64
		for i := range 2 {
			u, err := db.CreateUser(ctx, mergedesk.NewUser{Name: "CC", Email: fmt.Sprintf("cc%d@example.com", i)})
			if err != nil {
				b.Fatal(err)
			}
			ccs = append(ccs, u.ID)
		}
		seq := 0
		pair := func(b *testing.B) (s, t int64) {
			b.Helper()
			seq++
			tag := fmt.Sprintf("bench-%d", seq)
			src, err := db.CreateUser(ctx, mergedesk.NewUser{Name: "Source", Email: tag + "-s@example.com"})
			if err != nil {
				b.Fatal(err)
			}
			tgt, err := db.CreateUser(ctx, mergedesk.NewUser{Name: "Target", Email: tag + "-t@example.com"})
			if err != nil {
				b.Fatal(err)
			}
			if err := db.SeedTickets(ctx, tgt.ID, 10_000, ccs, tag+"-t"); err != nil {
				b.Fatal(err)
			}
			if err := db.SeedTickets(ctx, src.ID, 10_000, append([]int64{tgt.ID}, ccs...), tag+"-s"); err != nil {
				b.Fatal(err)
			}
			return src.ID, tgt.ID
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				s, t := pair(b)
				b.StartTimer()
				_, rec, err := db.MergeUsers(ctx, s, t, admin.ID, "")
				if err != nil {
					b.Fatal(err)
				}
				if rec.TicketsMoved != 10_000 || rec.CCsMoved != 5_000 {
					b.Fatalf("moved %d tickets, %d CC lists; want 10000, 5000", rec.TicketsMoved, rec.CCsMoved)
				}
			}
		})
	}
}
