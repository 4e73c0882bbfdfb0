package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/store"
	"github.com/mergedesk/mergedesk/internal/web/api"
)

// slowMerges is the store with merges that take a while, as big ones do.
type slowMerges struct {
	*store.DB
	delay time.Duration
}

func (s slowMerges) MergeUsers(ctx context.Context, source, target, actor int64, version string) (*mergedesk.User, *mergedesk.UserMerge, error) {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	return s.DB.MergeUsers(ctx, source, target, actor, version)
}

// TestLongMergeOutlastsServerTimeouts: behind an HTTP server whose read and
// write timeouts are shorter than a merge, the merge still finishes and
// answers (the read timeout must not cancel its context either).
func TestLongMergeOutlastsServerTimeouts(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		src, err := e.DB.CreateUser(ctx, mergedesk.NewUser{Name: "Src", Email: "src@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		dst, err := e.DB.CreateUser(ctx, mergedesk.NewUser{Name: "Dst", Email: "dst@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		srv := &api.Server{DB: slowMerges{e.DB, 600 * time.Millisecond}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			LongWriteTimeout: 10 * time.Second}
		hs := httptest.NewUnstartedServer(srv)
		hs.Config.ReadTimeout, hs.Config.WriteTimeout = 200*time.Millisecond, 200*time.Millisecond
		hs.Start()
		defer hs.Close()
		req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/api/v2/users/%d/merge", hs.URL, src.ID),
			strings.NewReader(fmt.Sprintf(`{"user":{"id":%d}}`, dst.ID)))
		req.Header.Set("Authorization", "Bearer "+e.AdminToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("merge slower than the server's timeouts: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("merge slower than the server's timeouts: got %d %s, want 200", resp.StatusCode, body)
		}
	})
}
