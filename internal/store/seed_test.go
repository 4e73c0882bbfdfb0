package store_test

import (
	"context"
	"testing"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/store"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
)

func TestSeedTickets(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		u, err := db.CreateUser(ctx, mergedesk.NewUser{Name: "Seed", Email: "seed@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		cc, err := db.CreateUser(ctx, mergedesk.NewUser{Name: "CC", Email: "cc@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.SeedTickets(ctx, u.ID, 10, []int64{cc.ID}, "seed-1"); err != nil {
			t.Fatal(err)
		}
		rel, err := db.Related(ctx, u.ID)
		if err != nil || rel.Requested != 10 {
			t.Fatalf("requested = %d, %v", rel.Requested, err)
		}
		ccRel, _ := db.Related(ctx, cc.ID)
		if ccRel.CCd != 10 {
			t.Errorf("ccd = %d, want 10", ccRel.CCd)
		}
		in, err := db.PreviewMerge(ctx, u.ID, cc.ID)
		if err != nil || in.Tickets.Archived != 5 {
			t.Fatalf("archived = %+v, %v", in.Tickets, err)
		}
	})
}
