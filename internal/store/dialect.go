package store

// This file is the only place that tells SQLite and PostgreSQL apart: how each
// is opened, its placeholders, its row locks, its driver errors, and the few
// statements that have no portable form. Everything else in the package writes
// portable SQL with '?' placeholders and asks the dialect when it must choose.
// docs/storage.md describes the layout of the store and how to add a query that
// works on both databases.

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite" // registers "sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/mergedesk/mergedesk"
)

// dialect is the kind of database behind a DB.
type dialect int

const (
	dialectSQLite dialect = iota
	dialectPostgres
)

// String names the dialect as DSNs, migrations folders and tests do.
func (d dialect) String() string {
	if d == dialectPostgres {
		return "postgres"
	}
	return "sqlite"
}

// pools are the connection pools of one database: write for transactions,
// read for everything else, and ckpt for SQLite's WAL checkpoints (nil on
// PostgreSQL).
type pools struct {
	write, read, ckpt *sql.DB
}

// openPools connects to dsn ("sqlite:PATH" or "postgres://...").
func openPools(dsn string) (dialect, pools, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		p, err := openPostgres(dsn)
		return dialectPostgres, p, err
	case strings.HasPrefix(dsn, "sqlite:"):
		p, err := openSQLite(strings.TrimPrefix(dsn, "sqlite:"))
		return dialectSQLite, p, err
	}
	return 0, pools{}, fmt.Errorf("unknown database %q: want sqlite:PATH or postgres://...", dsn)
}

// openPostgres opens one pool that both writes and reads: PostgreSQL runs
// concurrent writers itself.
func openPostgres(dsn string) (pools, error) {
	p, err := sql.Open("pgx", dsn)
	if err != nil {
		return pools{}, fmt.Errorf("open postgres: %w", err)
	}
	p.SetMaxOpenConns(4 * runtime.GOMAXPROCS(0))
	p.SetMaxIdleConns(4 * runtime.GOMAXPROCS(0))
	p.SetConnMaxIdleTime(5 * time.Minute)
	return pools{write: p, read: p}, nil
}

// openSQLite opens SQLite's two pools: one connection that writes
// (transactions begin IMMEDIATE, so a read-then-write never fails half way with
// "database is locked") and a pool of readers that WAL lets run alongside it;
// plus a connection of its own for checkpoints.
func openSQLite(path string) (pools, error) {
	if path == "" {
		return pools{}, errors.New("open sqlite: empty path")
	}
	// busy_timeout: a reader waiting for a checkpoint, or a second process, waits
	// instead of failing. synchronous(NORMAL) is durable in WAL mode except for the
	// last transactions on power loss, never corrupting.
	// temp_store(MEMORY): statement journals of large writes (a bulk import's
	// multi-row INSERTs) stay off disk.
	// The writer keeps a larger page cache than each reader; together they stay
	// well inside the server's memory budget.
	pragmas := "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_pragma=temp_store(2)"
	// wal_autocheckpoint(0): the checkpointer goroutine copies the WAL back
	// instead of whichever commit crosses the threshold (see DB.checkpoints).
	w, err := sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_pragma=cache_size(-32000)&_pragma=wal_autocheckpoint(0)&_txlock=immediate")
	if err != nil {
		return pools{}, fmt.Errorf("open sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	r, err := sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_pragma=cache_size(-8000)&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return pools{}, fmt.Errorf("open sqlite: %w", err)
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxLifetime(0)
	ck, err := sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_pragma=cache_size(-2000)")
	if err != nil {
		w.Close()
		r.Close()
		return pools{}, fmt.Errorf("open sqlite: %w", err)
	}
	ck.SetMaxOpenConns(1)
	ck.SetConnMaxLifetime(0)
	return pools{write: w, read: r, ckpt: ck}, nil
}

// gooseDialect is the migration tool's name for d; the migrations themselves
// are in migrations/<d>/, one folder per dialect with the same numbers.
func (d dialect) gooseDialect() goose.Dialect {
	if d == dialectPostgres {
		return goose.DialectPostgres
	}
	return goose.DialectSQLite3
}

// oneWriter reports whether the database runs one write transaction at a time
// (SQLite). The store then prepares statements on its single writer
// connection, combines concurrent inbound messages into shared transactions
// and manages WAL checkpoints itself; PostgreSQL needs none of that.
func (d dialect) oneWriter() bool { return d == dialectSQLite }

// rowLocks reports whether SELECT ... FOR UPDATE and friends lock anything
// (PostgreSQL). SQLite's write transactions begin IMMEDIATE and so hold the
// database's single write lock from the start; a locking read is a no-op there
// and is skipped.
func (d dialect) rowLocks() bool { return d == dialectPostgres }

// forUpdate locks the rows a SELECT reads until the transaction ends.
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

// returning is the clause that makes an INSERT return col. Both databases
// have it (SQLite since 3.35); it is here so that no caller has to know.
func (d dialect) returning(col string) string { return " RETURNING " + col }

// jsonTextArray aggregates expr (cast to text) into a JSON array text ordered by
// order; '[]' for no rows.
func (d dialect) jsonTextArray(expr, order string) string {
	if d == dialectPostgres {
		return "COALESCE(CAST(json_agg(CAST(" + expr + " AS TEXT) ORDER BY " + order + ") AS TEXT), '[]')"
	}
	return "json_group_array(CAST(" + expr + " AS TEXT) ORDER BY " + order + ")"
}

// Placeholders. Queries are written once with '?'; rebind turns them into
// PostgreSQL's $n form on their way to the driver. Statements built for one
// use (the bulk import's multi-row INSERTs) are written with their final
// placeholders by ph, phs and values instead, so that rebind's cache does not
// keep every distinct statement length.

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

// ph returns the final placeholder of the n-th (1-based) argument.
func (d dialect) ph(n int) string {
	if d == dialectPostgres {
		return "$" + strconv.Itoa(n)
	}
	return "?"
}

// phs returns count comma-separated placeholders starting at argument from.
func (d dialect) phs(from, count int) string {
	var b strings.Builder
	d.writePhs(&b, from, count)
	return b.String()
}

func (d dialect) writePhs(b *strings.Builder, from, count int) {
	for i := range count {
		if i > 0 {
			b.WriteByte(',')
		}
		if d == dialectPostgres {
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(from + i))
		} else {
			b.WriteByte('?')
		}
	}
}

// values returns "(…),(…)" for rows tuples of cols placeholders.
func (d dialect) values(rows, cols int) string {
	var b strings.Builder
	b.Grow(rows * (cols*6 + 3))
	for r := range rows {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		d.writePhs(&b, r*cols+1, cols)
		b.WriteByte(')')
	}
	return b.String()
}

// in completes q, which ends with a column, into a membership test of that
// column in values; args are q's own arguments, numbered before the values.
// PostgreSQL gets one array parameter (= ANY($n)), so the statement text and
// its plan are the same for every batch; SQLite gets one placeholder per value.
func (d dialect) in(q string, args []any, values []string) (string, []any) {
	if d == dialectPostgres {
		return q + " = ANY(" + d.ph(len(args)+1) + ")", append(args, values)
	}
	from := len(args) + 1
	for _, v := range values {
		args = append(args, v)
	}
	return q + " IN (" + d.phs(from, len(values)) + ")", args
}

// reserveIDs returns n unused ids of table's identity column, so that a
// multi-row INSERT knows each row's id without relying on the order of
// RETURNING rows (which neither database promises). PostgreSQL draws them from
// the identity sequence; SQLite, whose writer holds the database lock for the
// whole transaction, continues after the AUTOINCREMENT high-water mark (ids are
// never reused). table is a constant of the caller.
func (d dialect) reserveIDs(ctx context.Context, tx *sql.Tx, table string, n int) ([]int64, error) {
	if d == dialectPostgres {
		return scanIDs(tx.QueryContext(ctx, "SELECT nextval(pg_get_serial_sequence('"+table+"', 'id')) FROM generate_series(1, $1)", n))
	}
	var base int64
	if err := tx.QueryRowContext(ctx, `SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '`+table+`'), 0),
		COALESCE((SELECT MAX(id) FROM `+table+`), 0))`).Scan(&base); err != nil {
		return nil, err
	}
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = base + int64(i) + 1
	}
	return ids, nil
}

// WAL management (SQLite only; the statements are "" on PostgreSQL).

// checkpointSQL copies the WAL back into the database. PASSIVE blocks neither
// readers nor the writer; TRUNCATE (all of it, then an empty WAL) waits for
// them.
func (d dialect) checkpointSQL(truncate bool) string {
	switch {
	case d != dialectSQLite:
		return ""
	case truncate:
		return "PRAGMA wal_checkpoint(TRUNCATE)"
	}
	return "PRAGMA wal_checkpoint(PASSIVE)"
}

// cacheSizeSQL sets the page cache of the connection it runs on to mib MiB.
func (d dialect) cacheSizeSQL(mib int) string {
	if d != dialectSQLite || mib <= 0 {
		return ""
	}
	return "PRAGMA cache_size = -" + strconv.Itoa(mib*1024)
}

// likeEscape escapes s for use in a LIKE pattern with ESCAPE '\'.
func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// Driver errors, normalised.

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

// uniqueViolationDetail returns the name of the violated index where the driver
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
