package api

import (
	"context"
	"crypto/sha256"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/authlimit"
)

type callerKey struct{}

// caller is the authenticated user of a request.
type caller struct{ mergedesk.Principal }

func callerFrom(ctx context.Context) *caller {
	c, _ := ctx.Value(callerKey{}).(*caller)
	return c
}

// WithCaller returns ctx carrying an authenticated principal (used by the UI,
// which authenticates with sessions, to call the same handlers).
func WithCaller(ctx context.Context, p mergedesk.Principal) context.Context {
	return context.WithValue(ctx, callerKey{}, &caller{p})
}

// authenticate resolves the three schemes of docs/api.md §1.7. Password checks are slow
// by design, so successful ones are remembered for a minute, keyed by a hash of
// the credentials (never the credentials themselves).
func (s *Server) authenticate(r *http.Request) (*caller, error) {
	if c := callerFrom(r.Context()); c != nil {
		return c, nil
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, errUnauthorized
	}
	ctx := r.Context()
	var p *mergedesk.Principal
	var err error
	if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
		p, err = s.tokenPrincipal(ctx, strings.TrimSpace(tok), "")
	} else if user, pass, ok := r.BasicAuth(); ok {
		if email, isToken := strings.CutSuffix(user, "/token"); isToken {
			p, err = s.tokenPrincipal(ctx, pass, email)
		} else {
			key := sha256.Sum256([]byte(user + "\x00" + pass))
			if id, ok := s.auth.get(key); ok {
				p, err = s.DB.PrincipalByID(ctx, id)
			} else {
				p, err = s.passwordPrincipal(r, user, pass)
				if p != nil {
					s.auth.put(key, p.ID)
				}
			}
		}
	}
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, errUnauthorized
	}
	return &caller{*p}, nil
}

// passwordPrincipal checks an email and password under the shared sign-in
// limiter (internal/authlimit): a throttled attempt is refused before any
// hashing, at most a few checks hash at a time, and failures take as long as a
// real check whether or not the account exists or has a password.
//
// A throttled attempt answers 429 with Retry-After (docs/api.md §1.6), not 401:
// clients honour Retry-After and back off, whereas a 401 tells a person their
// password is wrong when it may be right, and tells scripts to give up or to
// prompt again. The 429 reveals nothing about the account: unknown emails are
// counted and locked exactly like real ones.
func (s *Server) passwordPrincipal(r *http.Request, email, password string) (*mergedesk.Principal, error) {
	ctx := r.Context()
	a, err := s.Limiter.Begin(ctx, email, authlimit.ClientAddr(r))
	if err != nil {
		return nil, err
	}
	p, err := s.DB.PasswordPrincipal(ctx, email, password)
	switch {
	case err != nil:
		a.Done(ctx, authlimit.Errored)
	case p == nil:
		a.Done(ctx, authlimit.Failed)
	default:
		a.Done(ctx, authlimit.Succeeded)
	}
	return p, err
}

// tokenTTL is how long a resolved API token is trusted without asking the
// database again: a revoked token, or a user deleted, suspended or merged away,
// stops authenticating within this time.
const tokenTTL = 2 * time.Second

// tokenPrincipal resolves an API token, remembering successes for tokenTTL.
func (s *Server) tokenPrincipal(ctx context.Context, token, email string) (*mergedesk.Principal, error) {
	key := sha256.Sum256([]byte("token\x00" + email + "\x00" + token))
	if p, ok := s.tokens.get(key, tokenTTL); ok {
		return &p, nil
	}
	p, err := s.DB.TokenPrincipal(ctx, token, email)
	if p != nil {
		s.tokens.putPrincipal(key, *p)
	}
	return p, err
}

// principalCache remembers resolved tokens briefly.
type principalCache struct {
	mu sync.Mutex
	m  map[[32]byte]principalEntry
}

type principalEntry struct {
	p  mergedesk.Principal
	at time.Time
}

func (c *principalCache) get(k [32]byte, ttl time.Duration) (mergedesk.Principal, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || time.Since(e.at) > ttl {
		return mergedesk.Principal{}, false
	}
	return e.p, true
}

func (c *principalCache) putPrincipal(k [32]byte, p mergedesk.Principal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > 10_000 {
		c.m = map[[32]byte]principalEntry{}
	}
	c.m[k] = principalEntry{p, time.Now()}
}

func (c *principalCache) reset() {
	c.mu.Lock()
	c.m = nil
	c.mu.Unlock()
}

// authCache remembers successful password checks briefly.
type authCache struct {
	mu sync.Mutex
	m  map[[32]byte]authEntry
}

type authEntry struct {
	id  int64
	exp time.Time
}

const authCacheTTL = time.Minute

func (a *authCache) get(k [32]byte) (int64, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.m[k]
	if !ok || time.Now().After(e.exp) {
		return 0, false
	}
	return e.id, true
}

func (a *authCache) put(k [32]byte, id int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil || len(a.m) > 10_000 {
		a.m = map[[32]byte]authEntry{}
	}
	a.m[k] = authEntry{id, time.Now().Add(authCacheTTL)}
}

func (a *authCache) reset() {
	a.mu.Lock()
	a.m = nil
	a.mu.Unlock()
}
