package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
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

// TestSignInThrottleShared: the API's HTTP Basic passwords and the UI's sign-in
// form share one limiter, so switching between them gives no fresh budget.
func TestSignInThrottleShared(t *testing.T) {
	m := startMain(t, &Main{AdminEmail: "root@example.com", AdminPassword: "correct-horse"})
	base := "http://" + m.Listener.Addr().String()
	for i := range 3 {
		req, _ := http.NewRequest("GET", base+"/api/v2/users/me", nil)
		req.SetBasicAuth("root@example.com", fmt.Sprint("api-guess-", i))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("API failure %d: got %d, want 401", i+1, resp.StatusCode)
		}
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	signIn := func(password string) int {
		t.Helper()
		resp, err := hc.Get(base + "/login")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(b)
		if m == nil {
			t.Fatal("no form token on /login")
		}
		resp, err = hc.PostForm(base+"/login", url.Values{"email": {"root@example.com"}, "password": {password}, "csrf_token": {string(m[1])}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := range 2 {
		if got := signIn(fmt.Sprint("ui-guess-", i)); got != http.StatusUnauthorized {
			t.Fatalf("UI failure %d: got %d, want 401", i+1, got)
		}
	}
	if got := signIn("correct-horse"); got != http.StatusTooManyRequests {
		t.Fatalf("after 3 API and 2 UI failures, the right password in the UI: got %d, want 429", got)
	}
}
