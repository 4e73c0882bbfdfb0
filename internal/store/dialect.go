package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/mergedesk/mergedesk"
)

// dialect is the only place that tells SQLite and PostgreSQL apart. Queries are
// written once, with '?' placeholders and portable SQL; rebind turns them into
// PostgreSQL's $n form.
type dialect int

const (
	dialectSQLite dialect = iota
	dialectPostgres
)

func (d dialect) String() string {
	if d == dialectPostgres {
		return "postgres"
	}
	return "sqlite"
}

// rebound caches rewritten queries. Search builds query text from user input, so
// the cache is bounded: past maxRebound entries new texts are rewritten each time.
var (
	rebound     sync.Map // query string -> rebound string
	reboundSize atomic.Int64
)

const maxRebound = 4096

// rebind rewrites '?' placeholders to $1, $2, ... for PostgreSQL. Queries never
// contain '?' inside string literals.
func (d dialect) rebind(q string) string {
	if d != dialectPostgres || !strings.Contains(q, "?") {
		return q
	}
	if v, ok := rebound.Load(q); ok {
		return v.(string)
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	s := b.String()
	if reboundSize.Load() < maxRebound {
		if _, loaded := rebound.LoadOrStore(q, s); !loaded {
			reboundSize.Add(1)
		}
	}
	return s
}

// likeEscape escapes s for use in a LIKE pattern with ESCAPE '\'.
func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// isUniqueViolation reports whether err is a unique-constraint violation on
// either database.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// uniqueViolationIndex returns the name of the violated index where the driver
// says it (PostgreSQL), or the column list text (SQLite).
func uniqueViolationDetail(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.ConstraintName
	}
	return err.Error()
}

// isRetryable reports whether err is a transient conflict that a retry of the whole
// transaction resolves: SQLite busy or locked, PostgreSQL serialization failure or
// deadlock.
func isRetryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code() & 0xff
		return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
	}
	return false
}

// forUpdate locks the rows a SELECT reads until the transaction ends. SQLite
// needs nothing: its write transactions begin IMMEDIATE and so hold the database's
// single write lock from the start.
func (d dialect) forUpdate() string {
	if d == dialectPostgres {
		return " FOR UPDATE"
	}
	return ""
}

// forNoKeyUpdate locks rows a transaction will update (PostgreSQL) without
// blocking inserts elsewhere whose foreign keys only check that the rows exist.
func (d dialect) forNoKeyUpdate() string {
	if d == dialectPostgres {
		return " FOR NO KEY UPDATE"
	}
	return ""
}

// forShare takes a shared row lock (PostgreSQL): writers that use a user lock it
// this way, so they wait for a merge holding FOR UPDATE and then see its result.
func (d dialect) forShare() string {
	if d == dialectPostgres {
		return " FOR SHARE"
	}
	return ""
}

// jsonTextArray aggregates expr (cast to text) into a JSON array text ordered by
// order; '[]' for no rows.
func (d dialect) jsonTextArray(expr, order string) string {
	if d == dialectPostgres {
		return "COALESCE(CAST(json_agg(CAST(" + expr + " AS TEXT) ORDER BY " + order + ") AS TEXT), '[]')"
	}
	return "json_group_array(CAST(" + expr + " AS TEXT) ORDER BY " + order + ")"
}

// Classify turns a driver error that means "the database is not answering" into
// mergedesk's EUnavailable (503 with Retry-After in the API), keeping err as the
// cause for the log. Any other error comes back unchanged. This is the one place
// that knows which driver errors those are, for both databases:
//   - the pool is closed or a connection broke (database/sql, driver.ErrBadConn);
//   - PostgreSQL cannot be reached or went away (pgconn.ConnectError, network
//     errors, an unexpected EOF), or refuses work: connection exceptions (class
//     08), shutdown (57P01-57P03), too many connections (53300), a statement
//     timeout (57014);
//   - SQLite busy or locked beyond busy_timeout and Update's retries;
//   - a deadline that expired while waiting for the database.
func (db *DB) Classify(err error) error {
	if err == nil || !isUnavailable(err) {
		return err
	}
	var me *mergedesk.Error
	if errors.As(err, &me) {
		return err
	}
	return fmt.Errorf("%w: %w", mergedesk.Errorf(mergedesk.EUnavailable,
		"The database is not answering. Try again shortly."), err)
}

func isUnavailable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03",
			pe.Code == "53300", pe.Code == "57014":
			return true
		}
		return false
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code() & 0xff
		return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &ne), pgconn.Timeout(err),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, context.DeadlineExceeded):
		return true
	}
	// database/sql does not export the errors of a closed pool and of the
	// prepared statements it closed with it.
	msg := err.Error()
	return strings.Contains(msg, "sql: database is closed") || strings.Contains(msg, "sql: statement is closed")
}

// Rebind returns q, written with '?' placeholders, in the form the named
// dialect ("sqlite" or "postgres", as DB.Dialect says) expects: for SQL run
// outside the store, such as the merge bench's checks.
func Rebind(dialectName, q string) string {
	if dialectName == dialectPostgres.String() {
		return dialectPostgres.rebind(q)
	}
	return q
}

// Exec runs q, written with '?' placeholders, in the transaction: SQL from
// outside the store that must run on the store's own writer connection, with
// its settings and commit path (the merge bench's floor).
func (tx *Tx) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return tx.exec(ctx, q, args...)
}

// QueryRow is Exec for a statement returning one row.
func (tx *Tx) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return tx.queryRow(ctx, q, args...)
}
