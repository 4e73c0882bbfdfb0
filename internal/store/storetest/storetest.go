// Package storetest runs the same tests against every database Mergedesk supports:
// always SQLite, and PostgreSQL when MERGEDESK_TEST_POSTGRES names a server. Under
// CI=true a missing PostgreSQL fails the run instead of skipping it.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/mergedesk/mergedesk/internal/store"
)

// PostgresURL returns the PostgreSQL server for tests, or "" (failing the test
// under CI=true).
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("MERGEDESK_TEST_POSTGRES")
	if u == "" && os.Getenv("CI") == "true" {
		tb.Fatal("CI=true but MERGEDESK_TEST_POSTGRES is not set: the PostgreSQL half of the suite cannot run")
	}
	return u
}

// DSNs returns a fresh, empty database of each supported kind, keyed by dialect
// name. Each is dropped when the test ends.
func DSNs(tb testing.TB) map[string]string {
	tb.Helper()
	out := map[string]string{"sqlite": "sqlite:" + filepath.Join(tb.TempDir(), "mergedesk.db")}
	if pg := PostgresURL(tb); pg != "" {
		out["postgres"] = NewPostgresSchema(tb, pg)
	}
	return out
}

// NewPostgresSchema creates an empty schema on the server and returns a URL whose
// connections use it; the schema is dropped at cleanup.
func NewPostgresSchema(tb testing.TB, server string) string {
	tb.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", server)
	if err != nil {
		tb.Fatalf("postgres: %v", err)
	}
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		tb.Fatalf("postgres at %s: %v", server, err)
	}
	tb.Cleanup(func() {
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		admin.Close()
	})
	u, err := url.Parse(server)
	if err != nil {
		tb.Fatalf("MERGEDESK_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Run runs fn once per database kind, as subtests named "sqlite" and "postgres",
// each on a fresh migrated database.
func Run(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	for name, dsn := range DSNs(t) {
		t.Run(name, func(t *testing.T) {
			db := MustOpen(t, dsn)
			fn(t, db)
		})
	}
}

// MustOpen opens and migrates dsn, closing it at cleanup.
func MustOpen(tb testing.TB, dsn string) *store.DB {
	tb.Helper()
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		tb.Fatalf("open %s: %v", dsn, err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}
