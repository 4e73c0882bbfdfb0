package ratelimit_test

import (
	"testing"
	"time"

	"github.com/mergedesk/mergedesk/internal/ratelimit"
)

func TestAllow(t *testing.T) {
	now := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	l := ratelimit.New(2)
	l.Now = func() time.Time { return now }
	for i, want := range []int{1, 0} {
		remaining, _, ok := l.Allow("user:1")
		if !ok || remaining != want {
			t.Fatalf("request %d: ok=%v remaining=%d, want true %d", i+1, ok, remaining, want)
		}
	}
	now = now.Add(20 * time.Second)
	remaining, retry, ok := l.Allow("user:1")
	if ok || remaining != 0 || retry != 40*time.Second {
		t.Fatalf("third request: ok=%v remaining=%d retry=%v, want refused, 0, 40s", ok, remaining, retry)
	}
	if _, _, ok := l.Allow("user:2"); !ok {
		t.Fatal("another key refused")
	}
	now = now.Add(41 * time.Second)
	if remaining, _, ok := l.Allow("user:1"); !ok || remaining != 1 {
		t.Fatalf("next minute: ok=%v remaining=%d, want true 1", ok, remaining)
	}
}

func TestNilIsOff(t *testing.T) {
	var l *ratelimit.Limiter
	if _, _, ok := l.Allow("user:1"); !ok {
		t.Fatal("nil limiter refused")
	}
	if ratelimit.New(0) != nil {
		t.Fatal("New(0) is not off")
	}
}
