package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/detector"
	"github.com/mergedesk/mergedesk/internal/jobs"
	"github.com/mergedesk/mergedesk/internal/store"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
	"github.com/mergedesk/mergedesk/internal/web/api"
)

// env is a running API server on one database with an admin, an agent and an end
// user, each with an API token.
type env struct {
	t      *testing.T
	DB     *store.DB
	Server *api.Server
	// Detector runs duplicate detection in the background; settle waits for it.
	Detector *detector.Detector
	HTTP     *httptest.Server
	URL      string // http://127.0.0.1:port/api/v2

	Admin, Agent, EndUser *mergedesk.User
	AdminToken            string
	AgentToken            string
	EndUserToken          string
}

// eachDB runs fn against a fresh server on SQLite and, when configured, PostgreSQL.
func eachDB(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		fn(t, newEnv(t, db))
	})
}

func newEnv(t *testing.T, db *store.DB) *env {
	t.Helper()
	return newEnvWith(t, db, db)
}

// newEnvWith is newEnv with the API server reading and writing through st, which
// wraps db (tests that step in between a handler's calls to the store).
func newEnvWith(t *testing.T, db *store.DB, st api.Store) *env {
	t.Helper()
	ctx := context.Background()
	runner := &jobs.Runner{DB: db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	srv := &api.Server{DB: st, Jobs: runner, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	srv.RegisterJobs()
	det := detector.New(db, srv.Logger)
	det.RegisterJobs(runner)
	srv.Duplicates = det
	det.Start()
	runner.Start()
	t.Cleanup(func() { runner.Stop(ctx); det.Stop(ctx) })
	mux := http.NewServeMux()
	mux.Handle("/api/v2/", srv)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	e := &env{t: t, DB: db, Server: srv, Detector: det, HTTP: hs, URL: hs.URL + "/api/v2"}
	mk := func(name, role, email string) (*mergedesk.User, string) {
		u, err := db.CreateUser(ctx, mergedesk.NewUser{Name: name, Role: role, Email: email, Verified: true, Password: "password-" + role})
		if err != nil {
			t.Fatalf("create %s: %v", role, err)
		}
		tok, err := db.CreateAPIToken(ctx, u.ID, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		return u, tok.Token
	}
	e.Admin, e.AdminToken = mk("Ada Admin", mergedesk.RoleAdmin, "admin@mergedesk.test")
	e.Agent, e.AgentToken = mk("Abe Agent", mergedesk.RoleAgent, "agent@mergedesk.test")
	e.EndUser, e.EndUserToken = mk("Eve Enduser", mergedesk.RoleEndUser, "eve@mergedesk.test")
	return e
}

// Do sends a request with a bearer token ("" for none) and decodes the JSON
// response into a generic map (nil for an empty body).
func (e *env) Do(method, path, token string, body any) (int, map[string]any) {
	e.t.Helper()
	status, raw := e.DoRaw(method, path, token, body)
	if len(bytes.TrimSpace(raw)) == 0 {
		return status, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		e.t.Fatalf("%s %s: response is not a JSON object: %v\n%s", method, path, err, raw)
	}
	return status, m
}

// DoRaw sends a request and returns the status and raw body. body may be a
// string or []byte (sent verbatim) or any value (sent as JSON).
func (e *env) DoRaw(method, path, token string, body any) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, raw
}

// Must sends a request as admin and fails the test unless the status is want.
func (e *env) Must(want int, method, path string, body any) map[string]any {
	e.t.Helper()
	status, m := e.Do(method, path, e.AdminToken, body)
	if status != want {
		e.t.Fatalf("%s %s = %d, want %d: %v", method, path, status, want, m)
	}
	return m
}

// obj returns m[key] as an object.
func obj(t testing.TB, m map[string]any, key string) map[string]any {
	t.Helper()
	v, ok := m[key].(map[string]any)
	if !ok {
		t.Fatalf("%q is not an object in %v", key, m)
	}
	return v
}

// id returns m["id"] as an int64.
func id(t testing.TB, m map[string]any) int64 {
	t.Helper()
	f, ok := m["id"].(float64)
	if !ok {
		t.Fatalf("no numeric id in %v", m)
	}
	return int64(f)
}

// settle waits until duplicate detection has evaluated every change made so
// far, so that a dump of the database is not racing the live worker.
func (e *env) settle(t testing.TB) {
	t.Helper()
	if err := e.Detector.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
}
