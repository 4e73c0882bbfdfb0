// Package ui serves the agent web UI: server-rendered html/template pages with a
// little htmx (vendored, see static/htmx.min.js.sha256) for in-place updates.
// Agents and admins sign in with email and password; a server-side session
// (sessions table) carries who they are and a per-session CSRF token that every
// form sends back. All assets are embedded: a page never loads anything from
// another origin.
package ui

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/authlimit"
	"github.com/mergedesk/mergedesk/internal/identity"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// SessionTTL is how long a sign-in lasts.
const SessionTTL = 12 * time.Hour

// Cookie names.
const (
	sessionCookie = "mergedesk_session"
	loginCookie   = "mergedesk_login_csrf" // double-submit token of the sign-in form
)

// Server is the UI handler. Create it with New.
type Server struct {
	DB     Store
	Logger *slog.Logger
	// BaseURL is the public URL (--base-url). When it is https, TLS ends at a
	// proxy in front of us and cookies are Secure although the request that
	// reaches us is plain HTTP.
	BaseURL string
	// Limiter throttles sign-in failures; cmd/mergedesk shares one with the
	// API's password authentication. New makes one of the server's own.
	Limiter *authlimit.Limiter
	// Duplicates is duplicate detection (internal/detector's *Detector). When
	// set, agents get the Possible duplicates panel on profiles and the
	// Duplicates page; nil hides both.
	Duplicates Duplicates
	// LongWriteTimeout, when set, replaces the HTTP server's write deadline
	// for merges, which may run for minutes.
	LongWriteTimeout time.Duration

	pages   map[string]*template.Template
	assets  map[string]string // file name → content hash, for cache busting
	mux     *http.ServeMux
	list    []string // registered patterns, for Routes
	handler http.Handler
}

// New parses the templates and builds the routes. It fails when a template does
// not parse, so a broken template stops start-up rather than a request.
func New(db Store, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.Default()
	}
	s := &Server{DB: db, Logger: logger, Limiter: authlimit.New(0), assets: map[string]string{}}
	if err := s.hashAssets(); err != nil {
		return nil, err
	}
	if err := s.parseTemplates(); err != nil {
		return nil, err
	}
	s.routes()
	// Browsers say where a request comes from (Sec-Fetch-Site, Origin); a
	// cross-origin form post or fetch is refused before any handler runs. The
	// per-session token is the second line for browsers that send neither.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.renderError(w, r, http.StatusForbidden, "This request came from another site and was refused.")
	}))
	s.handler = cop.Handler(s.mux)
	return s, nil
}

// pageFiles are the templates rendered inside layout.html.
var pageFiles = []string{"login", "customers", "user", "tickets", "ticket", "organizations", "organization", "duplicates", "merge", "error"}

func (s *Server) parseTemplates() error {
	funcs := template.FuncMap{
		"asset":       s.assetURL,
		"str":         func(p *string) string { return deref(p) },
		"date":        func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") },
		"identLabel":  identityLabel,
		"phone":       identity.FormatPhone,
		"statusClass": func(st string) string { return "status status-" + st },
		"fieldLabel":  fieldLabel,
		"join":        strings.Join,
		"add":         func(a, b int) int { return a + b },
	}
	base, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return fmt.Errorf("parse layout: %w", err)
	}
	s.pages = map[string]*template.Template{}
	for _, name := range pageFiles {
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+name+".html")
		if err != nil {
			return fmt.Errorf("parse template %s: %w", name, err)
		}
		s.pages[name] = t
	}
	return nil
}

func (s *Server) hashAssets() error {
	return fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		h := sha256.Sum256(b)
		s.assets[path.Base(p)] = hex.EncodeToString(h[:6])
		return nil
	})
}

func (s *Server) assetURL(name string) string {
	return "/static/" + name + "?v=" + s.assets[name]
}

// ServeHTTP sets the security headers every UI response carries and dispatches.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Scripts and styles come only from our own embedded files: even if some text
	// escaped html/template's escaping, an injected inline script would not run.
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	s.handler.ServeHTTP(w, r)
}

// handlerFunc is a UI handler; a returned error becomes an error page.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	s.route("GET /static/{file}", s.serveStatic)
	s.route("GET /login", s.wrap(s.loginPage))
	s.route("POST /login", s.wrap(s.login))
	s.route("POST /logout", s.auth(s.logout))
	s.route("GET /{$}", s.auth(func(w http.ResponseWriter, r *http.Request) error {
		http.Redirect(w, r, "/customers", http.StatusSeeOther)
		return nil
	}))
	s.route("GET /customers", s.auth(s.customers))
	s.route("GET /users/{id}", s.auth(s.userPage))
	s.route("POST /users/{id}/profile", s.auth(s.updateProfile))
	s.route("POST /users/{id}/identities", s.auth(s.addIdentity))
	s.route("POST /users/{id}/identities/{identity}/verify", s.long(s.auth(s.verifyIdentity)))
	s.route("GET /users/{id}/merge/candidates", s.auth(s.mergeCandidates))
	s.route("GET /users/{id}/merge/preview", s.long(s.auth(s.mergePreview)))
	s.route("POST /users/{id}/merge", s.long(s.auth(s.merge)))
	s.route("GET /users/{id}/duplicates", s.auth(s.duplicatesPanel))
	s.route("POST /users/{id}/duplicates/dismiss", s.auth(s.dismissDuplicate))
	s.route("GET /duplicates", s.auth(s.duplicatesPage))
	s.route("GET /duplicates/merge", s.long(s.auth(s.groupMerge)))
	s.route("GET /tickets", s.auth(s.tickets))
	s.route("GET /tickets/{id}", s.auth(s.ticketPage))
	s.route("GET /organizations", s.auth(s.organizations))
	s.route("GET /organizations/{id}", s.auth(s.organizationPage))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.renderError(w, r, http.StatusNotFound, "There is no page here.")
	})
}

// route registers h for pattern and remembers the pattern for Routes.
func (s *Server) route(pattern string, h http.HandlerFunc) {
	s.list = append(s.list, pattern)
	s.mux.HandleFunc(pattern, h)
}

// Routes returns the pattern of every page and form the UI serves, such as
// "POST /users/{id}/profile", for the role-matrix test.
func (s *Server) Routes() []string { return append([]string(nil), s.list...) }

// actor is the signed-in agent or admin as the domain's authorization
// functions take it (authz.go, docs/authorization.md).
func actor(r *http.Request) *mergedesk.Principal { return principal(r.Context()) }

// principal is actor for code that has the request's context only.
func principal(ctx context.Context) *mergedesk.Principal {
	if c := currentFrom(ctx); c != nil {
		return c.Session.Principal()
	}
	return nil
}

func (s *Server) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	b, err := staticFS.ReadFile("static/" + name)
	if err != nil || strings.HasSuffix(name, ".sha256") {
		http.NotFound(w, r)
		return
	}
	switch path.Ext(name) {
	case ".js":
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case ".css":
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	}
	if r.URL.Query().Get("v") == s.assets[name] {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.Write(b)
}

// long gives h LongWriteTimeout instead of the HTTP server's write deadline.
func (s *Server) long(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.LongWriteTimeout > 0 {
			http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.LongWriteTimeout))
		}
		h(w, r)
	}
}

// current is the signed-in agent of a request.
type current struct {
	Session *mergedesk.Session
	User    *mergedesk.User
}

type currentKey struct{}

func currentFrom(ctx context.Context) *current {
	c, _ := ctx.Value(currentKey{}).(*current)
	return c
}

// wrap adapts a handlerFunc: errors become error pages.
func (s *Server) wrap(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.handleError(w, r, err)
		}
	}
}

// auth admits only requests with a live session of an agent or admin, and on
// unsafe methods only with the session's CSRF token (form field csrf_token or
// header X-CSRF-Token, which htmx sends from hx-headers).
func (s *Server) auth(h handlerFunc) http.HandlerFunc {
	return s.wrap(func(w http.ResponseWriter, r *http.Request) error {
		var sess *mergedesk.Session
		if c, err := r.Cookie(sessionCookie); err == nil {
			var err error
			if sess, err = s.DB.SessionByToken(r.Context(), c.Value); err != nil {
				return err
			}
		}
		if sess == nil || !mergedesk.IsStaff(sess.Principal()) {
			if r.Method != http.MethodGet {
				s.renderError(w, r, http.StatusUnauthorized, "Your session has ended. Sign in again.")
				return nil
			}
			to := "/login?next=" + urlQueryEscape(r.URL.RequestURI())
			if r.Header.Get("HX-Request") == "true" {
				w.Header().Set("HX-Redirect", to)
				w.WriteHeader(http.StatusUnauthorized)
				return nil
			}
			http.Redirect(w, r, to, http.StatusSeeOther)
			return nil
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			token := r.Header.Get("X-CSRF-Token")
			if token == "" {
				token = r.PostFormValue("csrf_token")
			}
			if subtle.ConstantTimeCompare([]byte(token), []byte(sess.CSRFToken)) != 1 {
				s.renderError(w, r, http.StatusForbidden, "The form was missing its security token. Reload the page and try again.")
				return nil
			}
		}
		u, err := s.DB.User(r.Context(), sess.UserID)
		if err != nil {
			return err
		}
		ctx := context.WithValue(r.Context(), currentKey{}, &current{Session: sess, User: u})
		return h(w, r.WithContext(ctx))
	})
}

// Layout is what every page shows around its content.
type Layout struct {
	Title   string
	Section string // sidebar entry to highlight: customers, tickets, organizations, duplicates
	Agent   *mergedesk.User
	// Duplicates: the sidebar links the Duplicates page.
	Duplicates bool
	CSRF       string
	Notice     string
	Error      string
}

func (s *Server) layout(r *http.Request, title, section string) Layout {
	l := Layout{Title: title, Section: section}
	if c := currentFrom(r.Context()); c != nil {
		l.Agent, l.CSRF = c.User, c.Session.CSRFToken
		l.Duplicates = s.Duplicates != nil && mergedesk.CanReadDuplicates(actor(r)) == nil
	}
	return l
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// render executes a page (name "layout") or a fragment of a page into a buffer
// and writes it only when it rendered completely, so a template error never
// leaves half a page behind.
func (s *Server) render(w http.ResponseWriter, status int, page, tmpl string, data any) error {
	t, ok := s.pages[page]
	if !ok {
		return fmt.Errorf("render: no page %q", page)
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if err := t.ExecuteTemplate(buf, tmpl, data); err != nil {
		return fmt.Errorf("render %s/%s: %w", page, tmpl, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// ErrorPage is the page of a failed request.
type ErrorPage struct {
	Layout
	Status  int
	Message string
}

func (s *Server) renderError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	p := ErrorPage{Layout: s.layout(r, http.StatusText(status), ""), Status: status, Message: msg}
	tmpl := "layout"
	if r.Header.Get("HX-Request") == "true" {
		tmpl = "error_fragment"
	}
	if err := s.render(w, status, "error", tmpl, p); err != nil {
		s.Logger.Error("render error page", "err", err)
		http.Error(w, msg, status)
	}
}

// handleError shows store errors as people would expect: a missing record is a
// 404 page, anything unexpected is logged and shown as "Internal error".
func (s *Server) handleError(w http.ResponseWriter, r *http.Request, err error) {
	err = s.DB.Classify(err)
	var e *mergedesk.Error
	if errors.As(err, &e) {
		switch e.Code {
		case mergedesk.EUnavailable:
			s.Logger.Warn("ui request: service unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
			w.Header().Set("Retry-After", "5")
			s.renderError(w, r, http.StatusServiceUnavailable, "The service is briefly unavailable. Try again in a few seconds.")
			return
		case mergedesk.ENotFound:
			s.renderError(w, r, http.StatusNotFound, "There is no such record.")
			return
		case mergedesk.EForbidden:
			s.renderError(w, r, http.StatusForbidden, e.Description)
			return
		case mergedesk.EInvalid:
			s.renderError(w, r, http.StatusUnprocessableEntity, errorMessage(err))
			return
		}
	}
	if errors.Is(err, context.Canceled) {
		return
	}
	s.Logger.Error("ui request", "method", r.Method, "path", r.URL.Path, "err", err)
	s.renderError(w, r, http.StatusInternalServerError, "Internal error")
}

// errorMessage is the sentence to show for a store error: the first detail's
// description (422 RecordInvalid), else the error's own description.
func errorMessage(err error) string {
	var e *mergedesk.Error
	if !errors.As(err, &e) {
		return "Internal error"
	}
	for _, key := range []string{"value", "email", "phone", "name", "base", "external_id", "tags"} {
		if list := e.Details[key]; len(list) > 0 {
			return list[0].Description
		}
	}
	for _, list := range e.Details {
		if len(list) > 0 {
			return list[0].Description
		}
	}
	return e.Description
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, mergedesk.NotFound()
	}
	return id, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// isHTMX reports whether htmx sent the request for a fragment (not a history
// restore, which needs the whole page).
func isHTMX(r *http.Request) bool {
	return r.Header.Get("HX-Request") == "true" && r.Header.Get("HX-History-Restore-Request") != "true"
}
