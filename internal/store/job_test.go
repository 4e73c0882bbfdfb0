package store_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/store"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
)

// TestCreateSingletonJobConcurrent starts the same singleton job from many
// goroutines at once (two agents pressing "scan" on two servers): exactly one
// job is created and every caller gets it.
func TestCreateSingletonJobConcurrent(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const callers = 16
		for round := range 5 {
			var (
				wg      sync.WaitGroup
				start   = make(chan struct{})
				ids     [callers]string
				created [callers]bool
				errs    [callers]error
			)
			for i := range callers {
				wg.Go(func() {
					<-start
					j, c, err := db.CreateSingletonJob(ctx, "duplicate_scan", int64(i+1))
					if err == nil {
						ids[i], created[i] = j.ID, c
					}
					errs[i] = err
				})
			}
			close(start)
			wg.Wait()
			n := 0
			for i := range callers {
				if errs[i] != nil {
					t.Fatalf("round %d caller %d: %v", round, i, errs[i])
				}
				if created[i] {
					n++
				}
				if ids[i] != ids[0] {
					t.Errorf("round %d: caller %d got job %s, caller 0 got %s; want one job", round, i, ids[i], ids[0])
				}
			}
			if n != 1 {
				t.Fatalf("round %d: %d callers created a job, want 1", round, n)
			}
			// Finish it, so the next round starts a new one.
			j, err := db.Job(ctx, ids[0])
			if err != nil {
				t.Fatal(err)
			}
			j.Status = mergedesk.JobCompleted
			if err := db.SaveJob(ctx, j); err != nil {
				t.Fatal(err)
			}
		}
		// Other kinds are not singletons: two bulk jobs may be queued at once.
		a, err := db.CreateJob(ctx, "bulk_create_users", 1, []json.RawMessage{json.RawMessage(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		b, err := db.CreateJob(ctx, "bulk_create_users", 1, []json.RawMessage{json.RawMessage(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		if a.ID == b.ID {
			t.Errorf("two bulk jobs share id %s", a.ID)
		}
	})
}
