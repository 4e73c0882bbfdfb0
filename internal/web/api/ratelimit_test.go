package api_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/mergedesk/mergedesk/internal/ratelimit"
)

// TestRateLimit: with a limit configured, each user (or, unauthenticated, each
// address) gets that many requests a minute; then 429 TooManyRequests with
// Retry-After (docs/api.md §1.6). Every answer says the limit and what is left.
func TestRateLimit(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		e.Server.RateLimit = ratelimit.New(3)
		for i := range 3 {
			status, h, _ := e.doAuth("/users/me", "Bearer "+e.AgentToken)
			if status != http.StatusOK {
				t.Fatalf("request %d: got %d, want 200", i+1, status)
			}
			if h.Get("X-Rate-Limit") != "3" || h.Get("X-Rate-Limit-Remaining") != strconv.Itoa(2-i) {
				t.Errorf("request %d: X-Rate-Limit %q, remaining %q; want 3, %d", i+1, h.Get("X-Rate-Limit"), h.Get("X-Rate-Limit-Remaining"), 2-i)
			}
		}
		status, h, body := e.doAuth("/users/me", "Bearer "+e.AgentToken)
		if status != http.StatusTooManyRequests || body["error"] != "TooManyRequests" || body["description"] == nil {
			t.Fatalf("fourth request: got %d %v, want 429 TooManyRequests", status, body)
		}
		if s, err := strconv.Atoi(h.Get("Retry-After")); err != nil || s < 1 || s > 60 {
			t.Errorf("Retry-After = %q, want 1..60 seconds", h.Get("Retry-After"))
		}
		if h.Get("X-Rate-Limit-Remaining") != "0" {
			t.Errorf("X-Rate-Limit-Remaining = %q, want 0", h.Get("X-Rate-Limit-Remaining"))
		}
		// Another user has a budget of their own.
		if status, _, _ := e.doAuth("/users/me", "Bearer "+e.AdminToken); status != http.StatusOK {
			t.Errorf("another user: got %d, want 200", status)
		}
		// Unauthenticated requests count against the address.
		for range 3 {
			e.doAuth("/users/me", "")
		}
		if status, _, _ := e.doAuth("/users/me", ""); status != http.StatusTooManyRequests {
			t.Errorf("fourth unauthenticated request: got %d, want 429", status)
		}
	})
}

// TestRateLimitOff: no limit by default, and no headers.
func TestRateLimitOff(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		for range 5 {
			status, h, _ := e.doAuth("/users/me", "Bearer "+e.AgentToken)
			if status != http.StatusOK || h.Get("X-Rate-Limit") != "" {
				t.Fatalf("got %d with X-Rate-Limit %q, want 200 and no header", status, h.Get("X-Rate-Limit"))
			}
		}
	})
}
