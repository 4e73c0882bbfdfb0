package ui

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/authlimit"
)

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
			mergedesk.IsStaff(sess.Principal()) {
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
	if email == "" || password == "" {
		return s.renderLogin(w, r, http.StatusUnprocessableEntity, email, next, "Enter your email and password.")
	}
	// The limiter is shared with the API's HTTP Basic passwords
	// (internal/authlimit, docs/security.md).
	a, err := s.Limiter.Begin(r.Context(), email, authlimit.ClientAddr(r))
	var te *authlimit.ThrottledError
	if errors.As(err, &te) {
		mins := max(1, int(te.RetryAfter.Round(time.Minute)/time.Minute))
		w.Header().Set("Retry-After", strconv.Itoa(te.Seconds()))
		return s.renderLogin(w, r, http.StatusTooManyRequests, email, next,
			fmt.Sprintf("Too many failed sign-in attempts. Try again in %d minutes.", mins))
	}
	if err != nil {
		return err
	}
	p, err := s.DB.PasswordPrincipal(r.Context(), email, password)
	switch {
	case err != nil:
		a.Done(r.Context(), authlimit.Errored)
		return err
	case p == nil:
		a.Done(r.Context(), authlimit.Failed)
		return s.renderLogin(w, r, http.StatusUnauthorized, email, next, "The email or password is not correct.")
	}
	// The password was right: not a guess, even for an end user.
	a.Done(r.Context(), authlimit.Succeeded)
	if !mergedesk.IsStaff(p) {
		return s.renderLogin(w, r, http.StatusForbidden, email, next, "Only agents and admins can sign in here.")
	}
	token, _, err := s.DB.CreateSession(r.Context(), p.ID, SessionTTL, r.UserAgent(), authlimit.ClientAddr(r))
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
