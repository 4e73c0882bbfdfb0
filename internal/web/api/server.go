// Package api serves Mergedesk's REST API: the Zendesk Support API v2 dialect of
// docs/api.md plus Mergedesk's extensions.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/authlimit"
	"github.com/mergedesk/mergedesk/internal/jobs"
	"github.com/mergedesk/mergedesk/internal/ratelimit"
)

// MaxBodyBytes is the largest request body accepted (docs/api.md §1.1).
const MaxBodyBytes = 10 << 20

// Server is the API handler.
type Server struct {
	DB Store
	// BaseURL is the public URL ("http://host:port"); empty derives it from requests.
	BaseURL string
	Logger  *slog.Logger
	Jobs    *jobs.Runner
	// Duplicates serves the duplicate detection routes (duplicates.go).
	Duplicates Duplicates
	// Limiter throttles password authentication; cmd/mergedesk shares one with
	// the agent UI's sign-in form. Nil gets a Limiter of the server's own.
	Limiter *authlimit.Limiter
	// RateLimit is the optional per-user (per-address when unauthenticated)
	// budget of requests a minute (--rate-limit); nil is off.
	RateLimit *ratelimit.Limiter
	// LongWriteTimeout, when set, replaces the HTTP server's write deadline
	// for the routes in longRoutes, which may run for minutes.
	LongWriteTimeout time.Duration

	mux    *http.ServeMux
	routes []Route
	auth   authCache
	tokens principalCache
	once   sync.Once
}

// Access says who may call a route.
type Access int

const (
	// Self: any authenticated user; the handler restricts end users to themselves.
	Self Access = iota
	// Staff: agents and admins.
	Staff
	// Admin: admins only.
	Admin
)

// check asks the domain whether p may call a route of this access (authz.go).
// Self routes admit anyone here; their handlers ask about the user in the path.
func (a Access) check(p *mergedesk.Principal) error {
	switch a {
	case Staff:
		return mergedesk.RequireStaff(p)
	case Admin:
		return mergedesk.RequireAdmin(p)
	}
	return nil
}

// Route is one registered endpoint, kept for the role-matrix test.
type Route struct {
	Method, Pattern string
	Access          Access
}

type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// Routes returns every registered endpoint.
func (s *Server) Routes() []Route {
	s.init()
	return s.routes
}

func (s *Server) init() {
	s.once.Do(func() {
		if s.Logger == nil {
			s.Logger = slog.Default()
		}
		if s.Limiter == nil {
			s.Limiter = authlimit.New(0)
		}
		s.mux = http.NewServeMux()
		s.userRoutes()
		s.identityRoutes()
		s.organizationRoutes()
		s.groupRoutes()
		s.ticketRoutes()
		s.auditRoutes()
		s.jobRoutes()
		s.searchRoutes()
		s.helpCenterRoutes()
		s.settingsRoutes()
		s.mergeRoutes()
		s.triggerRoutes()
		s.webhookRoutes()
		s.outboxRoutes()
		s.channelRoutes()
		s.duplicateRoutes()
	})
}

// handle registers h for "METHOD /path" under /api/v2 with an access rule.
func (s *Server) handle(pattern string, access Access, h handlerFunc) {
	method, path, _ := strings.Cut(pattern, " ")
	s.routes = append(s.routes, Route{Method: method, Pattern: path, Access: access})
	s.mux.HandleFunc(method+" /api/v2"+path, func(w http.ResponseWriter, r *http.Request) {
		c := callerFrom(r.Context())
		if c == nil {
			s.writeError(w, r, errUnauthorized)
			return
		}
		if err := access.check(&c.Principal); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// ServeHTTP strips the optional ".json" suffix, limits the body, authenticates the
// caller and dispatches. Unknown paths and wrong methods get Zendesk-shaped bodies.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.init()
	if p := r.URL.Path; strings.HasSuffix(p, ".json") {
		r.URL.Path = strings.TrimSuffix(p, ".json")
		r.URL.RawPath = ""
	}
	if r.ContentLength > MaxBodyBytes {
		s.writeError(w, r, mergedesk.Errorf(mergedesk.ETooLarge, "The request body is larger than %d bytes", MaxBodyBytes))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	h, pattern := s.mux.Handler(r)
	if pattern == "" {
		// Let the mux decide between 404 and 405 (it sets Allow), then write our body.
		h.ServeHTTP(&errorRewriter{ResponseWriter: w, s: s, r: r}, r)
		return
	}
	if s.LongWriteTimeout > 0 && longRoutes[pattern] {
		// Best effort: a ResponseWriter without deadlines keeps the server's.
		http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.LongWriteTimeout))
	}
	c, err := s.authenticate(r)
	if !s.allow(w, r, c) {
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)))
}

// longRoutes are the endpoints that may outlast the HTTP server's write
// timeout: a merge moves all of a user's records in one transaction.
var longRoutes = map[string]bool{
	"PUT /api/v2/users/{id}/merge":          true,
	"POST /api/v2/users/{id}/merge_preview": true,
}

// allow counts the request against the rate limit of its caller (c nil: of its
// address) and answers 429 when the budget is spent. Counting happens after
// authentication so that a user's budget follows them across addresses;
// failed authentications spend the address's budget.
func (s *Server) allow(w http.ResponseWriter, r *http.Request, c *caller) bool {
	if s.RateLimit == nil {
		return true
	}
	key := "addr:" + authlimit.ClientAddr(r)
	if c != nil {
		key = "user:" + strconv.FormatInt(c.ID, 10)
	}
	remaining, retry, ok := s.RateLimit.Allow(key)
	h := w.Header()
	h.Set("X-Rate-Limit", strconv.Itoa(s.RateLimit.PerMinute))
	h.Set("X-Rate-Limit-Remaining", strconv.Itoa(remaining))
	if ok {
		return true
	}
	secs := max(1, int((retry+time.Second-1)/time.Second))
	h.Set("Retry-After", strconv.Itoa(secs))
	s.writeError(w, r, mergedesk.Errorf(mergedesk.ETooManyRequests,
		"Rate limit of %d requests a minute exceeded. Retry after %d seconds.", s.RateLimit.PerMinute, secs))
	return false
}

// errorRewriter replaces the mux's plain-text 404 and 405 bodies with JSON.
type errorRewriter struct {
	http.ResponseWriter
	s     *Server
	r     *http.Request
	wrote bool
}

func (e *errorRewriter) WriteHeader(code int) {
	if e.wrote {
		return
	}
	e.wrote = true
	e.ResponseWriter.Header().Del("X-Content-Type-Options")
	if code == http.StatusMethodNotAllowed {
		writeJSON(e.ResponseWriter, code, map[string]string{"error": "MethodNotAllowed", "description": "Method not allowed"})
		return
	}
	writeJSON(e.ResponseWriter, http.StatusNotFound, map[string]string{"error": mergedesk.EInvalidEndpoint, "description": "Not found"})
}

func (e *errorRewriter) Write(b []byte) (int, error) {
	if !e.wrote {
		e.WriteHeader(http.StatusNotFound)
	}
	return len(b), nil
}

var errUnauthorized = errors.New("unauthorized")
