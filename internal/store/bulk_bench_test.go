package store_test

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/bench"
	"github.com/mergedesk/mergedesk/internal/store"
)

// BenchmarkImportUsers imports b.N batches of 5,000 synthetic users into a
// fresh SQLite database and reports users/s and CPU µs per user.
func BenchmarkImportUsers(b *testing.B) {
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(b.TempDir(), "b.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const batch = 5000
	batches := make([][]mergedesk.NewUser, b.N)
	for i := range batches {
		batches[i] = make([]mergedesk.NewUser, batch)
		for j := range batches[i] {
			batches[i][j] = bench.User(i*batch + j)
		}
	}
	if err := db.BeginBulk(ctx, 256); err != nil {
		b.Fatal(err)
	}
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	start := time.Now()
	for i := range batches {
		res, err := db.ImportUsers(ctx, batches[i])
		if err != nil || res.Created != batch {
			b.Fatal(err, res.Created)
		}
	}
	if err := db.EndBulk(ctx); err != nil {
		b.Fatal(err)
	}
	el := time.Since(start)
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(syscall.TimevalToNsec(ru1.Utime) + syscall.TimevalToNsec(ru1.Stime) - syscall.TimevalToNsec(ru0.Utime) - syscall.TimevalToNsec(ru0.Stime))
	n := float64(b.N * batch)
	b.ReportMetric(n/el.Seconds(), "users/s")
	b.ReportMetric(float64(cpu.Microseconds())/n, "cpu-µs/user")
}
