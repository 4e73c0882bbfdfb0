// Package ratelimit is the API's optional request budget (--rate-limit): so many
// requests a minute per user, or per client address for requests that do not
// authenticate. Zendesk counts the same way and answers the same headers, so
// clients written for it back off correctly (docs/api.md §1.6).
//
// Each key has a fixed one-minute window starting with its first request; the
// count resets when the window ends. Counts live in memory, per process.
package ratelimit

import (
	"sync"
	"time"
)

// Window is the length of one budget.
const Window = time.Minute

// Limiter counts requests per key. A nil *Limiter allows everything.
type Limiter struct {
	// PerMinute is the budget of one key per Window.
	PerMinute int
	// Now is the clock; tests replace it.
	Now func() time.Time

	mu    sync.Mutex
	keys  map[string]*window
	sweep time.Time
}

type window struct {
	start time.Time
	n     int
}

// New returns a limiter of perMinute requests per key, or nil (off) when
// perMinute is not positive.
func New(perMinute int) *Limiter {
	if perMinute <= 0 {
		return nil
	}
	return &Limiter{PerMinute: perMinute, Now: time.Now, keys: map[string]*window{}}
}

// Allow counts one request of key. It returns the requests left in the current
// window and, when the request is refused (ok false), how long until the window
// ends.
func (l *Limiter) Allow(key string) (remaining int, retry time.Duration, ok bool) {
	if l == nil {
		return 0, 0, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.Now()
	if now.After(l.sweep) {
		for k, w := range l.keys {
			if now.Sub(w.start) >= Window {
				delete(l.keys, k)
			}
		}
		l.sweep = now.Add(Window)
	}
	w := l.keys[key]
	if w == nil || now.Sub(w.start) >= Window {
		w = &window{start: now}
		l.keys[key] = w
	}
	if w.n >= l.PerMinute {
		return 0, w.start.Add(Window).Sub(now), false
	}
	w.n++
	return l.PerMinute - w.n, 0, true
}
