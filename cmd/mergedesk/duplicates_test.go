package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
)

func TestDuplicatesCommand(t *testing.T) {
	for name, dsn := range storetest.DSNs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db := storetest.MustOpen(t, dsn)
			for _, nu := range []mergedesk.NewUser{{Name: "Maria Souza", Email: "maria@example.com"}, {Name: "Maria Souza", Email: "msouza@example.org"},
				{Name: "Kwame Mensah"}} {
				if _, err := db.CreateUser(ctx, nu); err != nil {
					t.Fatal(err)
				}
			}
			run := func(args ...string) (string, string, error) {
				var out, errOut bytes.Buffer
				err := Run(ctx, append(append([]string{"duplicates"}, args...), "--db", dsn), &out, &errOut)
				return out.String(), errOut.String(), err
			}
			out, _, err := run("scan")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, "scanned 3 users") || !strings.Contains(out, "1 open suggestions in 1 groups") {
				t.Errorf("scan summary = %q", out)
			}

			out, _, err = run("list", "--format", "csv")
			if err != nil {
				t.Fatal(err)
			}
			rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
			if err != nil || len(rows) != 2 || rows[0][0] != "id" || rows[1][5] != "open" || rows[1][7] != "true" {
				t.Errorf("csv = %q, %v", out, err)
			}
			out, _, err = run("list", "--format", "json", "--min-score", "0.5")
			if err != nil {
				t.Fatal(err)
			}
			var js struct {
				Suggestions []struct {
					UserIDs [2]int64 `json:"user_ids"`
					Score   float64  `json:"score"`
					Merge   struct {
						Eligible bool `json:"eligible"`
					} `json:"merge"`
				} `json:"duplicate_suggestions"`
			}
			if err := json.Unmarshal([]byte(out), &js); err != nil || len(js.Suggestions) != 1 || !js.Suggestions[0].Merge.Eligible {
				t.Errorf("json = %s, %v", out, err)
			}
			out, _, err = run("list")
			if err != nil || !strings.Contains(out, "SUGGESTED_TARGET_ID") || strings.Count(out, "\n") != 2 {
				t.Errorf("table = %q, %v", out, err)
			}

			for _, args := range [][]string{{"list", "--min-score", "0"}, {"list", "--min-score", "x"}, {"list", "--format", "xml"},
				{"list", "--status", "maybe"}, {"nope"}} {
				_, _, err := run(args...)
				var ue usageError
				if !errors.As(err, &ue) {
					t.Errorf("%v: err = %v, want a usage error", args, err)
				}
			}
		})
	}
}

// TestServeRunsDetection checks the wiring of serve: the live worker finds
// a duplicate created after start, and POST /duplicate_scans is served.
func TestServeRunsDetection(t *testing.T) {
	dsn := storetest.DSNs(t)["sqlite"]
	token := strings.Repeat("d", 40)
	m := &Main{Addr: "127.0.0.1:0", DB: dsn, AdminEmail: "admin@example.com", AdminPassword: "admin-password-1", AdminToken: token,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx := context.Background()
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	a, err := m.Store.CreateUser(ctx, mergedesk.NewUser{Name: "Maria Souza", Email: "maria@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Store.CreateUser(ctx, mergedesk.NewUser{Name: "Maria Souza", Email: "msouza@example.org"}); err != nil {
		t.Fatal(err)
	}
	base := "http://" + m.Listener.Addr().String() + "/api/v2"
	deadline := time.Now().Add(2 * time.Second)
	for {
		status, body := get(t, fmt.Sprintf("%s/duplicate_suggestions?user_id=%d", base, a.ID), token)
		if status == 200 && strings.Contains(body, `"status":"open"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no suggestion within 2 s: %d %s", status, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	req, _ := http.NewRequest("POST", base+"/duplicate_scans", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(raw), `"job_type":"duplicate_scan"`) {
		t.Errorf("POST /duplicate_scans = %d %s", resp.StatusCode, raw)
	}
}
