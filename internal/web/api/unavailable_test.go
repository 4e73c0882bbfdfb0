package api_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/mergedesk/mergedesk/internal/store/storetest"
)

// tcpProxy forwards connections to target until stop, which closes the
// listener and every connection: to the server behind it, the database has
// stopped (new connections are refused, open ones reset).
func tcpProxy(t *testing.T, target string) (addr string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			d, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, d)
			mu.Unlock()
			go func() { io.Copy(d, c); d.Close() }()
			go func() { io.Copy(c, d); c.Close() }()
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			ln.Close()
			mu.Lock()
			for _, c := range conns {
				c.Close()
			}
			mu.Unlock()
		})
	}
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

// TestDatabaseUnavailable: a database that does not answer gives 503
// ServiceUnavailable with Retry-After (docs/api.md §1.6), which Zendesk clients
// retry, not 500.
func TestDatabaseUnavailable(t *testing.T) {
	for name, dsn := range storetest.DSNs(t) {
		t.Run(name, func(t *testing.T) {
			var down func()
			if name == "postgres" {
				u, err := url.Parse(dsn)
				if err != nil {
					t.Fatal(err)
				}
				addr, stop := tcpProxy(t, u.Host)
				u.Host = addr
				dsn, down = u.String(), stop
			}
			db := storetest.MustOpen(t, dsn)
			e := newEnv(t, db)
			e.Must(http.StatusOK, "GET", "/users/me", nil)
			if down == nil {
				down = func() { db.Close() }
			}
			down()
			for _, path := range []string{"/users/me", "/users", "/tickets"} {
				for _, auth := range []string{"Bearer " + e.AdminToken, basic("admin@mergedesk.test", "password-admin")} {
					req, _ := http.NewRequest("GET", e.URL+path, nil)
					req.Header.Set("Authorization", auth)
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					var body map[string]any
					json.NewDecoder(resp.Body).Decode(&body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
						body["error"] != "ServiceUnavailable" {
						t.Errorf("GET %s with the database down: got %d Retry-After=%q %v, want 503 ServiceUnavailable with Retry-After",
							path, resp.StatusCode, resp.Header.Get("Retry-After"), body)
					}
				}
			}
		})
	}
}

// basic is an Authorization header for HTTP Basic credentials.
func basic(user, pass string) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")
}
