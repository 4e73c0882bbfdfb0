package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/mergedesk/mergedesk/internal/channel"
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

// TestHardeningFlags: the rate limit, HTTP timeouts and SMTP connection cap
// come from flags or their MERGEDESK_ twins, the flag winning.
func TestHardeningFlags(t *testing.T) {
	t.Run("Defaults", func(t *testing.T) {
		m, err := ParseServe(nil, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if m.RateLimit != 0 || m.ReadTimeout != DefaultReadTimeout || m.WriteTimeout != DefaultWriteTimeout ||
			m.SMTPMaxConns != channel.DefaultMaxConns {
			t.Errorf("defaults: rate %d, read %v, write %v, smtp conns %d", m.RateLimit, m.ReadTimeout, m.WriteTimeout, m.SMTPMaxConns)
		}
	})
	t.Run("Env", func(t *testing.T) {
		t.Setenv("MERGEDESK_RATE_LIMIT", "700")
		t.Setenv("MERGEDESK_READ_TIMEOUT", "45s")
		t.Setenv("MERGEDESK_WRITE_TIMEOUT", "3m")
		t.Setenv("MERGEDESK_SMTP_MAX_CONNS", "9")
		m, err := ParseServe(nil, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if m.RateLimit != 700 || m.ReadTimeout != 45*time.Second || m.WriteTimeout != 3*time.Minute || m.SMTPMaxConns != 9 {
			t.Errorf("from env: rate %d, read %v, write %v, smtp conns %d", m.RateLimit, m.ReadTimeout, m.WriteTimeout, m.SMTPMaxConns)
		}
		m, err = ParseServe([]string{"--rate-limit", "60", "--read-timeout", "10s", "--write-timeout", "20s", "--smtp-max-conns", "3"}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if m.RateLimit != 60 || m.ReadTimeout != 10*time.Second || m.WriteTimeout != 20*time.Second || m.SMTPMaxConns != 3 {
			t.Errorf("flags over env: rate %d, read %v, write %v, smtp conns %d", m.RateLimit, m.ReadTimeout, m.WriteTimeout, m.SMTPMaxConns)
		}
	})
	t.Run("ErrBadEnv", func(t *testing.T) {
		t.Setenv("MERGEDESK_RATE_LIMIT", "lots")
		if _, err := ParseServe(nil, io.Discard); err == nil {
			t.Error("MERGEDESK_RATE_LIMIT=lots accepted")
		}
	})
}

// TestServeRateLimit: --rate-limit reaches the API.
func TestServeRateLimit(t *testing.T) {
	m := startMain(t, &Main{RateLimit: 2, AdminEmail: "root@example.com", AdminToken: "tok-rate"})
	var last *http.Response
	for range 3 {
		req, _ := http.NewRequest("GET", "http://"+m.Listener.Addr().String()+"/api/v2/users/me", nil)
		req.Header.Set("Authorization", "Bearer tok-rate")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		last = resp
	}
	if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Fatalf("third request with --rate-limit 2: got %d, want 429 with Retry-After", last.StatusCode)
	}
}

// TestSlowHTTPClient: a client that sends its headers and then dribbles (or
// stops sending) the body is cut off after the read timeout.
func TestSlowHTTPClient(t *testing.T) {
	m := startMain(t, &Main{ReadTimeout: 300 * time.Millisecond, AdminEmail: "root@example.com", AdminToken: "tok-slow"})
	c, err := net.Dial("tcp", m.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /api/v2/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-slow\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"user\":")
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	io.Copy(io.Discard, c) // until the server gives up on us
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("slow body kept for %v, want cut off after about 300ms", took)
	}
}
