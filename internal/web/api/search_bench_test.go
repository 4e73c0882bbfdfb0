package api_test

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/bench"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
	"github.com/mergedesk/mergedesk/internal/web/api"
)

// BenchmarkUserSearchVsShow measures, in the same run and interleaved, the
// handler path of GET /api/v2/users/{id}.json and of
// GET /api/v2/users/search.json?query=email:X (as `mergedesk bench users` does
// over HTTP) on 20,000 synthetic users, on SQLite and, with
// MERGEDESK_TEST_POSTGRES, PostgreSQL. Each iteration serves one show and one
// search of random users; it reports the time of each (show-ns, search-ns) and
// search's throughput as a share of show's (search/show, the bench's target is
// >= 0.7):
//
//	go test -run '^$' -bench BenchmarkUserSearchVsShow -benchtime 5000x ./internal/web/api
func BenchmarkUserSearchVsShow(b *testing.B) {
	const users = 20_000
	ctx := context.Background()
	for name, dsn := range storetest.DSNs(b) {
		db := storetest.MustOpen(b, dsn)
		batch := make([]mergedesk.NewUser, 0, users)
		for i := range users {
			batch = append(batch, bench.User(i))
		}
		res, err := db.ImportUsers(ctx, batch)
		if err != nil {
			b.Fatal(err)
		}
		first, last := res.IDs[0], res.IDs[0]
		for _, id := range res.IDs {
			first, last = min(first, id), max(last, id)
		}
		admin, err := db.EnsureAdmin(ctx, "bench-admin@example.com", "")
		if err != nil {
			b.Fatal(err)
		}
		tok, err := db.CreateAPIToken(ctx, admin.ID, nil, "")
		if err != nil {
			b.Fatal(err)
		}
		srv := &api.Server{DB: db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		serve := func(b *testing.B, path string) time.Duration {
			req := httptest.NewRequest(http.MethodGet, "http://mergedesk.test"+path, nil)
			req.Header.Set("Authorization", "Bearer "+tok.Token)
			w := httptest.NewRecorder()
			start := time.Now()
			srv.ServeHTTP(w, req)
			d := time.Since(start)
			if w.Code != http.StatusOK {
				b.Fatalf("GET %s = %d: %s", path, w.Code, w.Body)
			}
			return d
		}
		b.Run(name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			n := last - first + 1
			// Warm both paths (caches, prepared statements) before timing.
			for range 200 {
				serve(b, "/api/v2/users/"+strconv.FormatInt(first+rng.Int64N(n), 10)+".json")
				serve(b, "/api/v2/users/search.json?query="+url.QueryEscape("email:"+bench.Email(rng.IntN(users))))
			}
			var show, search time.Duration
			b.ResetTimer()
			for i := range b.N {
				showPath := "/api/v2/users/" + strconv.FormatInt(first+rng.Int64N(n), 10) + ".json"
				searchPath := "/api/v2/users/search.json?query=" + url.QueryEscape("email:"+bench.Email(rng.IntN(users)))
				// Alternate which goes first, so neither always meets a warmer cache.
				if i%2 == 0 {
					show += serve(b, showPath)
					search += serve(b, searchPath)
				} else {
					search += serve(b, searchPath)
					show += serve(b, showPath)
				}
			}
			b.ReportMetric(float64(show.Nanoseconds())/float64(b.N), "show-ns")
			b.ReportMetric(float64(search.Nanoseconds())/float64(b.N), "search-ns")
			b.ReportMetric(float64(show)/float64(search), "search/show")
		})
	}
}
