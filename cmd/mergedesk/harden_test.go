package main

import (
	"context"
	"net/http"
	"testing"
)

// startMain starts the serve command in-process on a fresh SQLite database.
func startMain(t *testing.T, m *Main) *Main {
	t.Helper()
	m.Addr = "127.0.0.1:0"
	if m.DB == "" {
		m.DB = "sqlite:" + t.TempDir() + "/h.db"
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// TestHealthzUnavailable: with the database gone /healthz answers 503 with
// Retry-After, so a load balancer takes the instance out and retries later.
func TestHealthzUnavailable(t *testing.T) {
	m := startMain(t, &Main{})
	url := "http://" + m.Listener.Addr().String() + "/healthz"
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthy: got %d, want 200", resp.StatusCode)
	}
	m.Store.Close()
	resp, err = http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("database closed: got %d (Retry-After %q), want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}
