package ui

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/mergedesk/mergedesk"
)

// Sign-in throttling: after Server.MaxFailuresPerEmail failures within lockWindow
// the email is locked for lockWindow, and after MaxFailuresPerIP the client
// address is. Per address the bar is higher, as several agents may share one
// office address.
const (
	DefaultMaxFailuresPerEmail = 5
	DefaultMaxFailuresPerIP    = 20
	lockWindow                 = 15 * time.Minute
)

// limiter counts recent sign-in failures per key ("email:…", "ip:…"). It lives in
// memory: a restart forgets the counts, which only gives an attacker a fresh
// budget of a handful of guesses against a PBKDF2-hashed password.
type limiter struct {
	now func() time.Time

	mu      sync.Mutex
	entries map[string]*failures
	sweep   time.Time
}

type failures struct {
	count       int
	first       time.Time // start of the counting window
	lockedUntil time.Time
}

func newLimiter(now func() time.Time) *limiter {
	return &limiter{now: now, entries: map[string]*failures{}}
}

// locked returns how long key stays locked, or 0.
func (l *limiter) locked(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f := l.entries[key]; f != nil {
		if d := f.lockedUntil.Sub(l.now()); d > 0 {
			return d
		}
	}
	return 0
}

// fail records a failure of key and locks it once it reaches max in the window.
func (l *limiter) fail(key string, max int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.After(l.sweep) {
		for k, f := range l.entries {
			if now.Sub(f.first) > lockWindow && now.After(f.lockedUntil) {
				delete(l.entries, k)
			}
		}
		l.sweep = now.Add(time.Minute)
	}
	f := l.entries[key]
	if f == nil || (now.Sub(f.first) > lockWindow && now.After(f.lockedUntil)) {
		f = &failures{first: now}
		l.entries[key] = f
	}
	f.count++
	if f.count >= max {
		f.lockedUntil = now.Add(lockWindow)
	}
}

func (l *limiter) reset(key string) {
	l.mu.Lock()
	delete(l.entries, key)
	l.mu.Unlock()
}

// clientIP is the address of the peer. X-Forwarded-For is not trusted: behind a
// proxy every client would share the proxy's budget, never get a fresh one.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// LoginPage is the sign-in form.
type LoginPage struct {
	Layout
	Email     string
	Next      string
	FormToken string
}

// defaultNext is where a sign-in lands without a usable next.
const defaultNext = "/customers"

// safeNext keeps a post-sign-in redirect on this site. Only a path of this
// site is accepted: no scheme, no host, and nothing a browser might read as one.
// Browsers drop tabs and newlines from URLs and read a backslash as a slash, so
// "/\t/evil.example" and "/\\evil.example" both become "//evil.example"; any
// control character, space, backslash or non-ASCII byte is refused (in the path
// also percent-encoded), as is a path that begins with two slashes once decoded.
// The result is rebuilt from the parsed URL, never the raw text.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || !plainURLText(next) {
		return defaultNext
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		!strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return defaultNext
	}
	// The query and fragment cannot move the origin; the decoded path is
	// checked too, for browsers or proxies that decode it.
	if !plainURLText(u.Path) {
		return defaultNext
	}
	out := &url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery, Fragment: u.Fragment, RawFragment: u.RawFragment}
	s := out.String()
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || !plainURLText(s) {
		return defaultNext
	}
	return s
}

// plainURLText reports whether s holds only printable ASCII other than space
// and backslash.
func plainURLText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if sess, err := s.DB.SessionByToken(r.Context(), c.Value); err == nil && sess != nil &&
			(sess.Role == mergedesk.RoleAgent || sess.Role == mergedesk.RoleAdmin) {
			http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
			return nil
		}
	}
	return s.renderLogin(w, r, http.StatusOK, "", r.URL.Query().Get("next"), "")
}

// renderLogin shows the form with a fresh double-submit token: the same random
// value goes into a cookie and a hidden field, and a post must carry both.
func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, email, next, msg string) error {
	token := rand.Text()
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: token, Path: "/login", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.secureCookies(r), MaxAge: 3600})
	p := LoginPage{Layout: s.layout(r, "Sign in", ""), Email: email, Next: safeNext(next), FormToken: token}
	p.Error = msg
	return s.render(w, status, "login", "layout", p)
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	email := strings.TrimSpace(r.PostFormValue("email"))
	password := r.PostFormValue("password")
	next := r.PostFormValue("next")
	c, err := r.Cookie(loginCookie)
	if err != nil || c.Value == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf_token"))) != 1 {
		return s.renderLogin(w, r, http.StatusForbidden, email, next, "The sign-in form expired. Please try again.")
	}
	emailKey, ipKey := "email:"+strings.ToLower(email), "ip:"+clientIP(r)
	if d := max(s.limiter.locked(emailKey), s.limiter.locked(ipKey)); d > 0 {
		mins := int(d.Round(time.Minute) / time.Minute)
		if mins < 1 {
			mins = 1
		}
		w.Header().Set("Retry-After", fmt.Sprint(int(d.Seconds())+1))
		return s.renderLogin(w, r, http.StatusTooManyRequests, email, next,
			fmt.Sprintf("Too many failed sign-in attempts. Try again in %d minutes.", mins))
	}
	if email == "" || password == "" {
		return s.renderLogin(w, r, http.StatusUnprocessableEntity, email, next, "Enter your email and password.")
	}
	p, err := s.DB.PasswordPrincipal(r.Context(), email, password)
	if err != nil {
		return err
	}
	if p == nil {
		s.limiter.fail(emailKey, s.MaxFailuresPerEmail)
		s.limiter.fail(ipKey, s.MaxFailuresPerIP)
		return s.renderLogin(w, r, http.StatusUnauthorized, email, next, "The email or password is not correct.")
	}
	if p.Role != mergedesk.RoleAgent && p.Role != mergedesk.RoleAdmin {
		s.limiter.fail(ipKey, s.MaxFailuresPerIP)
		return s.renderLogin(w, r, http.StatusForbidden, email, next, "Only agents and admins can sign in here.")
	}
	s.limiter.reset(emailKey)
	token, _, err := s.DB.CreateSession(r.Context(), p.ID, SessionTTL, r.UserAgent(), clientIP(r))
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.secureCookies(r), MaxAge: int(SessionTTL / time.Second)})
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: "", Path: "/login", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.secureCookies(r)})
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
	return nil
}

// secureCookies reports whether cookies must carry Secure: the request came
// over TLS, or the public URL is https (TLS ends at a proxy).
func (s *Server) secureCookies(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(strings.ToLower(s.BaseURL), "https://")
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if err := s.DB.DeleteSession(r.Context(), c.Value); err != nil {
			return err
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.secureCookies(r)})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}
