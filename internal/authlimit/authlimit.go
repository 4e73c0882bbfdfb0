// Package authlimit throttles password sign-in: the agent UI's form and the
// API's HTTP Basic email:password share one Limiter, so a guesser cannot get a
// fresh budget by switching from one to the other. See docs/security.md.
//
// Three counts, each over Window:
//   - failures of one account from one client address (MaxPerAccount, 5): the
//     usual lockout, but keyed by the pair, so failures from someone else's
//     address never lock a person out of their own account at their own;
//   - failures from one address across all accounts (MaxPerAddress, 20):
//     stops one client from spraying guesses over many accounts; higher,
//     as an office of agents may share an address;
//   - failures of one account from all addresses (MaxPerAccountAll, 100):
//     slows a guesser with many addresses. It does not apply at addresses
//     where the account has signed in successfully within KnownFor, so an
//     attack from elsewhere never locks the owner out at a known address; a
//     new address waits at most Window after the attack stops.
//
// A lock lasts Window from the failure that set it. An attempt is counted as a
// failure when it begins and refunded if it succeeds, so concurrent guesses
// cannot all pass the check before the first one fails. At most MaxConcurrent
// password checks run at a time, so password hashing never takes every CPU.
// Failures are answered no sooner than a typical real check takes, so an
// account without a password looks like any other (see Attempt.Done).
//
// Counts live in memory: a restart forgets them, which gives a guesser one
// fresh budget of a handful of guesses against a PBKDF2 hash.
package authlimit

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Defaults of a Limiter made by New.
const (
	DefaultMaxPerAccount    = 5
	DefaultMaxPerAddress    = 20
	DefaultMaxPerAccountAll = 100
	DefaultWindow           = 15 * time.Minute
	DefaultKnownFor         = 30 * 24 * time.Hour
)

// ThrottledError refuses an attempt before any password is checked.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed sign-in attempts; retry after %s", e.RetryAfter.Round(time.Second))
}

// Seconds is RetryAfter rounded up to whole seconds, at least 1 (Retry-After).
func (e *ThrottledError) Seconds() int {
	return max(1, int((e.RetryAfter+time.Second-1)/time.Second))
}

// Limiter counts password sign-in failures. Set its fields before first use;
// tests may change them between attempts.
type Limiter struct {
	MaxPerAccount, MaxPerAddress, MaxPerAccountAll int
	Window, KnownFor                               time.Duration
	// Now is the clock; tests replace it.
	Now func() time.Time

	slots chan struct{}

	mu      sync.Mutex
	counts  map[string]*count
	known   map[string]time.Time // account + "\x00" + address → known until
	sweep   time.Time
	typical time.Duration // how long a real password check takes
}

type count struct {
	n           int
	first       time.Time // start of the counting window
	lockedUntil time.Time
}

// New returns a Limiter with the defaults and room for maxConcurrent password
// checks at a time (0: half the CPUs, at least 2).
func New(maxConcurrent int) *Limiter {
	if maxConcurrent <= 0 {
		maxConcurrent = max(2, runtime.GOMAXPROCS(0)/2)
	}
	return &Limiter{
		MaxPerAccount: DefaultMaxPerAccount, MaxPerAddress: DefaultMaxPerAddress, MaxPerAccountAll: DefaultMaxPerAccountAll,
		Window: DefaultWindow, KnownFor: DefaultKnownFor, Now: time.Now,
		slots: make(chan struct{}, maxConcurrent),
	}
}

// Outcome is how a password check ended.
type Outcome int

const (
	// Failed: wrong password, unknown or passwordless account.
	Failed Outcome = iota
	// Succeeded: the password was right.
	Succeeded
	// Errored: the check could not be made (database down); not counted.
	Errored
)

// Attempt is one password check that Begin admitted.
type Attempt struct {
	l               *Limiter
	account, addr   string
	pair, ip, whole string
	start           time.Time
	done            bool
}

// Begin admits a password check of account (an email, any case) from addr (the
// client address), or refuses it with a *ThrottledError before any hashing. It
// waits for a free hashing slot (or ctx). The caller must call Done.
func (l *Limiter) Begin(ctx context.Context, account, addr string) (*Attempt, error) {
	account = strings.ToLower(strings.TrimSpace(account))
	a := &Attempt{l: l, account: account, addr: addr,
		pair: "p\x00" + account + "\x00" + addr, ip: "i\x00" + addr, whole: "a\x00" + account}
	l.mu.Lock()
	now := l.Now()
	l.sweepLocked(now)
	wait := max(l.lockedLocked(a.pair, now), l.lockedLocked(a.ip, now))
	if k, ok := l.known[account+"\x00"+addr]; !ok || now.After(k) {
		wait = max(wait, l.lockedLocked(a.whole, now))
	}
	if wait > 0 {
		l.mu.Unlock()
		return nil, &ThrottledError{RetryAfter: wait}
	}
	// Counted as a failure now, refunded by Done(Succeeded or Errored).
	l.failLocked(a.pair, l.MaxPerAccount, now)
	l.failLocked(a.ip, l.MaxPerAddress, now)
	l.failLocked(a.whole, l.MaxPerAccountAll, now)
	l.mu.Unlock()
	if l.slots != nil {
		select {
		case l.slots <- struct{}{}:
		case <-ctx.Done():
			a.settle(Errored)
			return nil, ctx.Err()
		}
	}
	a.start = time.Now()
	return a, nil
}

// Done records the outcome and frees the hashing slot. After a failure it
// waits until the attempt has taken as long as a typical real password check,
// so an unknown email or an account without a password (which need no
// hashing) answer no faster than a wrong password.
func (a *Attempt) Done(ctx context.Context, o Outcome) {
	if a.done {
		return
	}
	took := time.Since(a.start)
	if a.l.slots != nil {
		<-a.l.slots
	}
	typical := a.settle(o)
	if o == Failed && took < typical {
		t := time.NewTimer(typical - took)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
}

// settle updates the counts for o and returns the typical check duration.
func (a *Attempt) settle(o Outcome) time.Duration {
	l := a.l
	l.mu.Lock()
	defer l.mu.Unlock()
	a.done = true
	now := l.Now()
	switch o {
	case Succeeded:
		delete(l.counts, a.pair)
		l.refundLocked(a.ip, l.MaxPerAddress)
		l.refundLocked(a.whole, l.MaxPerAccountAll)
		if l.known == nil {
			l.known = map[string]time.Time{}
		}
		l.known[a.account+"\x00"+a.addr] = now.Add(l.KnownFor)
	case Errored:
		l.refundLocked(a.pair, l.MaxPerAccount)
		l.refundLocked(a.ip, l.MaxPerAddress)
		l.refundLocked(a.whole, l.MaxPerAccountAll)
		return 0
	}
	// Real checks hash; fast failures (no such account, no password) must not
	// pull the estimate down, so only durations above half of it count.
	if !a.start.IsZero() {
		if d := time.Since(a.start); d > l.typical {
			l.typical = d
		} else if d > l.typical/2 {
			l.typical = l.typical*7/8 + d/8
		}
	}
	return l.typical
}

// Locked returns how long account may not sign in from addr (0: it may).
func (l *Limiter) Locked(account, addr string) time.Duration {
	account = strings.ToLower(strings.TrimSpace(account))
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.Now()
	wait := max(l.lockedLocked("p\x00"+account+"\x00"+addr, now), l.lockedLocked("i\x00"+addr, now))
	if k, ok := l.known[account+"\x00"+addr]; !ok || now.After(k) {
		wait = max(wait, l.lockedLocked("a\x00"+account, now))
	}
	return wait
}

func (l *Limiter) lockedLocked(key string, now time.Time) time.Duration {
	if c := l.counts[key]; c != nil {
		if d := c.lockedUntil.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

func (l *Limiter) failLocked(key string, limit int, now time.Time) {
	if l.counts == nil {
		l.counts = map[string]*count{}
	}
	c := l.counts[key]
	if c == nil || (now.Sub(c.first) > l.Window && now.After(c.lockedUntil)) {
		c = &count{first: now}
		l.counts[key] = c
	}
	c.n++
	if limit > 0 && c.n >= limit {
		c.lockedUntil = now.Add(l.Window)
	}
}

// refundLocked takes back one failure counted by Begin.
func (l *Limiter) refundLocked(key string, limit int) {
	c := l.counts[key]
	if c == nil {
		return
	}
	if c.n--; c.n <= 0 {
		delete(l.counts, key)
		return
	}
	if limit <= 0 || c.n < limit {
		c.lockedUntil = time.Time{}
	}
}

// sweepLocked forgets expired counts and known addresses once a minute.
func (l *Limiter) sweepLocked(now time.Time) {
	if now.Before(l.sweep) {
		return
	}
	l.sweep = now.Add(time.Minute)
	for k, c := range l.counts {
		if now.Sub(c.first) > l.Window && now.After(c.lockedUntil) {
			delete(l.counts, k)
		}
	}
	for k, until := range l.known {
		if now.After(until) {
			delete(l.known, k)
		}
	}
}

// ClientAddr is the address a request came from: the peer's IP. X-Forwarded-For
// is not trusted: any client can send it, and a guesser would get a fresh budget
// per made-up address. Behind a proxy every client shares the proxy's address;
// the per-address limits are set high enough for that (docs/security.md).
func ClientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
