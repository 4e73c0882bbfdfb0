// Package store is the one database/sql implementation of Mergedesk's services,
// for the embedded SQLite default and for PostgreSQL.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/mergedesk/mergedesk"
)

//go:embed migrations
var migrations embed.FS

// DB is a Mergedesk database. For SQLite it holds two pools: one connection that
// writes (transactions begin IMMEDIATE, so a read-then-write never fails half way
// with "database is locked") and a pool of readers that WAL lets run alongside it.
// For PostgreSQL both are the same pool (openPools, dialect.go).
type DB struct {
	dialect dialect
	write   *sql.DB
	read    *sql.DB
	// Now returns the current time; tests may replace it.
	Now func() time.Time

	// hook runs inside ticket creates and updates (triggers); never for imports
	// or merges.
	hook mergedesk.TicketHook

	// ckpt runs SQLite's WAL checkpoints (nil on PostgreSQL).
	ckpt               *sql.DB
	stopCkpt, ckptDone chan struct{}
	closeCkpt          sync.Once
	// bulk pauses background checkpoints during a bulk load (BeginBulk).
	bulk atomic.Bool

	stmts   sync.Map // query text -> *sql.Stmt on the read pool
	nstmts  atomic.Int64
	wstmts  sync.Map // query text -> *sql.Stmt on SQLite's writer
	nwstmts atomic.Int64

	settingsMu sync.RWMutex
	settings   *mergedesk.Settings

	// inbound combines SQLite's concurrent inbound messages into shared
	// transactions (groupcommit.go).
	inbound groupCommit
}

// Open connects to dsn ("sqlite:PATH" or "postgres://...") and runs the migrations.
func Open(ctx context.Context, dsn string) (*DB, error) {
	db, err := open(dsn)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func open(dsn string) (*DB, error) {
	d, p, err := openPools(dsn)
	if err != nil {
		return nil, err
	}
	db := &DB{dialect: d, write: p.write, read: p.read, ckpt: p.ckpt,
		Now: func() time.Time { return time.Now().UTC().Truncate(time.Second) }}
	if db.ckpt != nil {
		db.stopCkpt, db.ckptDone = make(chan struct{}), make(chan struct{})
		go db.checkpoints()
	}
	return db, nil
}

// Dialect names the database kind: "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.dialect.String() }

// Close closes every pool.
func (db *DB) Close() error {
	if db.ckpt != nil {
		db.closeCkpt.Do(func() {
			close(db.stopCkpt)
			<-db.ckptDone
			db.ckpt.Close()
		})
	}
	for _, m := range []*sync.Map{&db.stmts, &db.wstmts} {
		m.Range(func(_, v any) bool {
			v.(*sql.Stmt).Close()
			return true
		})
	}
	err := db.write.Close()
	if db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	return err
}

// checkpointInterval is how often SQLite's WAL is copied back into the database.
const checkpointInterval = 250 * time.Millisecond

// checkpoints runs SQLite's WAL checkpoints on a connection of their own. With
// automatic checkpoints the commit that crosses 1,000 WAL pages copies them back
// itself, adding tens of milliseconds to that one write (a merge, a message);
// PASSIVE checkpoints here block neither readers nor the writer.
func (db *DB) checkpoints() {
	defer close(db.ckptDone)
	t := time.NewTicker(checkpointInterval)
	defer t.Stop()
	for {
		select {
		case <-db.stopCkpt:
			// The last connection to close checkpoints and removes the WAL.
			return
		case <-t.C:
			if db.bulk.Load() {
				continue // EndBulk checkpoints once, at the end of the load
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			db.ckpt.ExecContext(ctx, db.dialect.checkpointSQL(false))
			cancel()
		}
	}
}

// Ping checks that the database answers (GET /healthz).
func (db *DB) Ping(ctx context.Context) error {
	var one int
	return db.read.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Migrate applies every pending embedded migration of the dialect.
func (db *DB) Migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations/"+db.dialect.String())
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(db.dialect.gooseDialect(), db.write, sub)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Tx is a write transaction; its methods rebind placeholders for the dialect.
type Tx struct {
	tx  *sql.Tx
	db  *DB
	now time.Time
	// after runs once the transaction has committed.
	after []func()
	// unseen are statements run unprepared (see stmt).
	unseen []string
}

func (tx *Tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := tx.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.tx.ExecContext(ctx, tx.db.dialect.rebind(q), args...)
}

func (tx *Tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := tx.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return tx.tx.QueryContext(ctx, tx.db.dialect.rebind(q), args...)
}

func (tx *Tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := tx.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.tx.QueryRowContext(ctx, tx.db.dialect.rebind(q), args...)
}

// stmt returns q prepared on SQLite's single writer connection, or nil the
// first time q is seen. Parsing was a sixth of a small write transaction's time.
// The writer's only connection is busy while a transaction runs, so new texts
// are prepared after it ends (prepareSeen) and reused by later transactions.
// PostgreSQL needs none of this: pgx caches prepared statements itself.
func (tx *Tx) stmt(ctx context.Context, q string) *sql.Stmt {
	db := tx.db
	if !db.dialect.oneWriter() {
		return nil
	}
	st, ok := db.wstmts.Load(q)
	if !ok {
		if db.nwstmts.Load() < maxPrepared {
			tx.unseen = append(tx.unseen, q)
		}
		return nil
	}
	return tx.tx.StmtContext(ctx, st.(*sql.Stmt))
}

// prepareSeen prepares on the writer the statements a finished transaction ran
// unprepared.
func (db *DB) prepareSeen(ctx context.Context, qs []string) {
	for _, q := range qs {
		if _, ok := db.wstmts.Load(q); ok || db.nwstmts.Load() >= maxPrepared {
			continue
		}
		p, err := db.write.PrepareContext(context.WithoutCancel(ctx), q)
		if err != nil {
			continue
		}
		if _, loaded := db.wstmts.LoadOrStore(q, p); loaded {
			p.Close()
		} else {
			db.nwstmts.Add(1)
		}
	}
}

// insert runs an INSERT that returns the new row's id, and returns the id.
func (tx *Tx) insert(ctx context.Context, q string, args ...any) (int64, error) {
	var id int64
	err := tx.queryRow(ctx, q+tx.db.dialect.returning("id"), args...).Scan(&id)
	return id, err
}

// querier is what read helpers need: a Tx or the read pool.
type querier interface {
	query(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	queryRow(ctx context.Context, q string, args ...any) *sql.Row
}

// reader adapts the read pool to querier.
type reader struct{ db *DB }

func (r reader) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := r.db.prepared(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return r.db.read.QueryContext(ctx, r.db.dialect.rebind(q), args...)
}

func (r reader) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := r.db.prepared(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return r.db.read.QueryRowContext(ctx, r.db.dialect.rebind(q), args...)
}

// maxPrepared bounds the read statements kept prepared. Hot reads (a user by id,
// its identities, a token) are parsed once per connection instead of on every
// request; search builds query text from input, so past the bound new texts are
// simply not cached.
const maxPrepared = 512

// prepared returns the read pool's prepared statement for q, preparing it on
// first use, or nil when the cache is full or preparing fails (the caller then
// runs the query unprepared and sees any error there).
func (db *DB) prepared(ctx context.Context, q string) *sql.Stmt {
	if v, ok := db.stmts.Load(q); ok {
		return v.(*sql.Stmt)
	}
	if db.nstmts.Load() >= maxPrepared {
		return nil
	}
	st, err := db.read.PrepareContext(context.WithoutCancel(ctx), db.dialect.rebind(q))
	if err != nil {
		return nil
	}
	if v, loaded := db.stmts.LoadOrStore(q, st); loaded {
		st.Close()
		return v.(*sql.Stmt)
	}
	db.nstmts.Add(1)
	return st
}

func (db *DB) r() reader { return reader{db} }

// Update runs fn in a write transaction and commits it. A transient conflict
// (SQLite busy, PostgreSQL serialization failure or deadlock) retries the whole
// function, so fn must not have effects outside the transaction except through
// tx.After.
func (db *DB) Update(ctx context.Context, fn func(*Tx) error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt*attempt) * 10 * time.Millisecond):
			}
		}
		err = db.update(ctx, fn)
		if err == nil || !isRetryable(err) {
			return err
		}
	}
	return err
}

func (db *DB) update(ctx context.Context, fn func(*Tx) error) error {
	stx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	tx := &Tx{tx: stx, db: db, now: db.Now()}
	defer func() {
		stx.Rollback()
		db.prepareSeen(ctx, tx.unseen)
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := stx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	for _, f := range tx.after {
		f()
	}
	return nil
}

// After registers f to run after a successful commit.
func (tx *Tx) After(f func()) { tx.after = append(tx.after, f) }

// Now is the transaction's timestamp: every row it writes carries the same time.
func (tx *Tx) Now() time.Time { return tx.now }
