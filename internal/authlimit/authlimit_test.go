package authlimit_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mergedesk/mergedesk/internal/authlimit"
)

// clock is a settable time for the limiter.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newLimiter(t *testing.T) (*authlimit.Limiter, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	l := authlimit.New(100)
	l.Now = c.now
	return l, c
}

// try makes one attempt with outcome o and reports whether it was admitted.
func try(t *testing.T, l *authlimit.Limiter, account, addr string, o authlimit.Outcome) bool {
	t.Helper()
	a, err := l.Begin(context.Background(), account, addr)
	var te *authlimit.ThrottledError
	if errors.As(err, &te) {
		if te.RetryAfter <= 0 || te.Seconds() < 1 {
			t.Errorf("throttled with RetryAfter %v", te.RetryAfter)
		}
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	a.Done(context.Background(), o)
	return true
}

func TestPairLock(t *testing.T) {
	l, c := newLimiter(t)
	for i := range authlimit.DefaultMaxPerAccount {
		if !try(t, l, "ann@example.com", "203.0.113.9", authlimit.Failed) {
			t.Fatalf("failure %d refused, want admitted", i+1)
		}
	}
	if try(t, l, "ANN@example.com ", "203.0.113.9", authlimit.Succeeded) {
		t.Fatal("after 5 failures from one address the account is admitted there, want throttled (case and space ignored)")
	}
	t.Run("OwnerElsewhere", func(t *testing.T) {
		// The attacker's failures do not lock Ann out at her own address.
		if !try(t, l, "ann@example.com", "198.51.100.1", authlimit.Succeeded) {
			t.Fatal("owner at another address throttled by someone else's failures")
		}
	})
	t.Run("OtherAccount", func(t *testing.T) {
		if !try(t, l, "bob@example.com", "203.0.113.9", authlimit.Succeeded) {
			t.Fatal("another account from the same address throttled")
		}
	})
	t.Run("Expires", func(t *testing.T) {
		if d := l.Locked("ann@example.com", "203.0.113.9"); d <= 0 || d > authlimit.DefaultWindow {
			t.Fatalf("Locked = %v, want within (0, %v]", d, authlimit.DefaultWindow)
		}
		c.advance(authlimit.DefaultWindow + time.Second)
		if !try(t, l, "ann@example.com", "203.0.113.9", authlimit.Succeeded) {
			t.Fatal("still locked after the window")
		}
	})
}

func TestAddressLock(t *testing.T) {
	l, _ := newLimiter(t)
	for i := range authlimit.DefaultMaxPerAddress {
		try(t, l, fmt.Sprintf("user%d@example.com", i), "203.0.113.9", authlimit.Failed)
	}
	if try(t, l, "fresh@example.com", "203.0.113.9", authlimit.Succeeded) {
		t.Fatal("after 20 failures over many accounts the address is admitted, want throttled")
	}
	if !try(t, l, "fresh@example.com", "203.0.113.10", authlimit.Succeeded) {
		t.Fatal("another address throttled")
	}
}

// TestAccountAllKnownAddress: a guesser with many addresses locks the account
// for new addresses, never at one where the owner has signed in before.
func TestAccountAllKnownAddress(t *testing.T) {
	l, c := newLimiter(t)
	if !try(t, l, "ann@example.com", "198.51.100.1", authlimit.Succeeded) {
		t.Fatal("first sign-in refused")
	}
	for i := range authlimit.DefaultMaxPerAccountAll {
		try(t, l, "ann@example.com", fmt.Sprintf("10.0.%d.%d", i/250, i%250), authlimit.Failed)
	}
	if try(t, l, "ann@example.com", "192.0.2.77", authlimit.Succeeded) {
		t.Fatal("new address admitted during a distributed attack, want throttled")
	}
	if !try(t, l, "ann@example.com", "198.51.100.1", authlimit.Succeeded) {
		t.Fatal("owner throttled at her known address")
	}
	c.advance(authlimit.DefaultWindow + time.Second)
	if !try(t, l, "ann@example.com", "192.0.2.77", authlimit.Succeeded) {
		t.Fatal("new address still throttled a window after the attack stopped")
	}
}

func TestSuccessAndErrorsAreNotCounted(t *testing.T) {
	l, _ := newLimiter(t)
	for range 4 {
		try(t, l, "ann@example.com", "203.0.113.9", authlimit.Failed)
	}
	try(t, l, "ann@example.com", "203.0.113.9", authlimit.Succeeded)
	for range 10 {
		try(t, l, "ann@example.com", "203.0.113.9", authlimit.Errored)
	}
	for i := range 4 {
		if !try(t, l, "ann@example.com", "203.0.113.9", authlimit.Failed) {
			t.Fatalf("failure %d after a success refused: the success did not reset the count", i+1)
		}
	}
}

// TestConcurrentAttempts: attempts in flight count, so a burst of parallel
// guesses cannot all pass before the first one fails.
func TestConcurrentAttempts(t *testing.T) {
	l, _ := newLimiter(t)
	var open []*authlimit.Attempt
	for i := range authlimit.DefaultMaxPerAccount {
		a, err := l.Begin(context.Background(), "ann@example.com", "203.0.113.9")
		if err != nil {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
		open = append(open, a)
	}
	if _, err := l.Begin(context.Background(), "ann@example.com", "203.0.113.9"); err == nil {
		t.Fatal("sixth parallel attempt admitted")
	}
	for _, a := range open {
		a.Done(context.Background(), authlimit.Errored)
	}
	if _, err := l.Begin(context.Background(), "ann@example.com", "203.0.113.9"); err != nil {
		t.Fatalf("after the attempts ended without a verdict: %v", err)
	}
}

func TestMaxConcurrent(t *testing.T) {
	l := authlimit.New(1)
	a, err := l.Begin(context.Background(), "ann@example.com", "203.0.113.9")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := l.Begin(ctx, "bob@example.com", "203.0.113.10"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second check while the only slot is busy: err %v, want to wait until the deadline", err)
	}
	a.Done(context.Background(), authlimit.Succeeded)
	b, err := l.Begin(context.Background(), "bob@example.com", "203.0.113.10")
	if err != nil {
		t.Fatalf("slot not freed: %v", err)
	}
	b.Done(context.Background(), authlimit.Succeeded)
}

// TestEvenTiming: a failure that needed no hashing (no such account, no
// password) is answered no faster than a real check.
func TestEvenTiming(t *testing.T) {
	l := authlimit.New(4)
	const real = 80 * time.Millisecond
	a, _ := l.Begin(context.Background(), "ann@example.com", "203.0.113.9")
	time.Sleep(real) // a real PBKDF2 check
	a.Done(context.Background(), authlimit.Failed)

	start := time.Now()
	b, _ := l.Begin(context.Background(), "nopassword@example.com", "203.0.113.9")
	b.Done(context.Background(), authlimit.Failed) // answered at once by the store
	if took := time.Since(start); took < real*9/10 {
		t.Errorf("fast failure answered in %v, want at least about %v", took, real)
	}
	// A fast failure does not pull the estimate down.
	start = time.Now()
	c, _ := l.Begin(context.Background(), "nobody@example.com", "203.0.113.9")
	c.Done(context.Background(), authlimit.Failed)
	if took := time.Since(start); took < real*9/10 {
		t.Errorf("second fast failure answered in %v, want at least about %v", took, real)
	}
}
