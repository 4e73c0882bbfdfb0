package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/store"
	"github.com/mergedesk/mergedesk/internal/web/api"
)

const benchMergeUsage = `usage: mergedesk bench merge [--db DSN] [--tickets 10000] [--runs 5] [--readers 4]

Measures merging an end user who requests --tickets tickets (half open with 3
CCs each, the target among them; half closed and archived) into a target that
requests as many. Each run seeds identical fixtures, times store.MergeUsers on
one and the bare set-based SQL writing the same rows on another, checks that
both wrote the same rows, and merges a third while HTTP clients read another
user's profile and tickets. Targets: MergeUsers p95 <= 300 ms (SQLite) or 1 s
(PostgreSQL), and median <= 2x the bare SQL's.

flags:`

// benchMergeConfig is `mergedesk bench merge`.
type benchMergeConfig struct {
	DB      string // "" = a temp SQLite file; postgres://... = a fresh schema on that server
	Tickets int
	Runs    int
	Readers int
	Keep    bool
}

// Targets of the issue, per dialect.
var mergeTargets = map[string]time.Duration{"sqlite": 300 * time.Millisecond, "postgres": time.Second}

const mergeTargetRatio = 2.0

// runBenchMerge is `mergedesk bench merge`; args are the flags (a leading
// "merge" is skipped).
func runBenchMerge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "merge" {
		args = args[1:]
	}
	var c benchMergeConfig
	fs := flag.NewFlagSet("bench merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), benchMergeUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.DB, "db", env("MERGEDESK_BENCH_DB", ""), "empty for a temp SQLite file, sqlite:PATH (must not exist), or postgres://... (a fresh schema is created and dropped) (MERGEDESK_BENCH_DB)")
	fs.IntVar(&c.Tickets, "tickets", 10_000, "tickets the source requests, and the target too (at most 10,000: rule M4)")
	fs.IntVar(&c.Runs, "runs", 5, "measured runs; each seeds three fixture pairs")
	fs.IntVar(&c.Readers, "readers", 4, "concurrent HTTP clients reading during the third merge of each run; 0 skips the read measurement")
	fs.BoolVar(&c.Keep, "keep", false, "keep the database afterwards")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return usageError{"mergedesk bench merge: see the usage above"}
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 || c.Tickets < 2 || c.Tickets > 10_000 || c.Runs < 1 || c.Readers < 0 {
		return usageError{"mergedesk bench merge: --tickets must be 2..10000, --runs positive, --readers not negative; no arguments"}
	}
	return benchMerge(ctx, c, stdout, stderr)
}

// mergeBench holds what every run uses.
type mergeBench struct {
	c       benchMergeConfig
	db      *store.DB
	raw     *sql.DB // a connection of our own for the bare SQL and the checks
	dialect string
	actorID int64
	ccs     []int64 // the two CC users besides the target
	stderr  io.Writer
	seq     int

	// The HTTP server the readers use.
	base, token string
	reader      int64 // the user whose profile and tickets they read
}

// mergePair is one fixture: source and target with their seeded tickets.
type mergePair struct{ s, t int64 }

// runResult is one run's measurements.
type runResult struct {
	merge, bare time.Duration
	// CPU time of this process: for SQLite, which runs in it, the work itself,
	// undisturbed by other processes competing for the cores.
	mergeCPU, bareCPU time.Duration
	stmts             []time.Duration // bare SQL, per statement
	readDuring        []time.Duration
	readIdle          []time.Duration
	readErrors        int
	mergeLoaded       time.Duration // the merge the readers ran beside
	readFirstErr      string
}

func benchMerge(ctx context.Context, c benchMergeConfig, stdout, stderr io.Writer) error {
	dsn, cleanup, err := mergeBenchDatabase(c.DB, stderr)
	if err != nil {
		return err
	}
	if c.Keep {
		defer fmt.Fprintln(stdout, "database kept:", dsn)
	} else {
		defer cleanup()
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	raw, err := openRaw(dsn)
	if err != nil {
		return err
	}
	defer raw.Close()

	b := &mergeBench{c: c, db: db, raw: raw, dialect: db.Dialect(), stderr: stderr}
	if err := b.setup(ctx); err != nil {
		return err
	}
	if c.Readers > 0 {
		stop, err := b.startServer(ctx)
		if err != nil {
			return err
		}
		defer stop()
	}
	fmt.Fprintf(stdout, "mergedesk bench merge: %s, %d runs, GOMAXPROCS %d, %s/%s\n", b.dialect, c.Runs, runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(stdout, "fixture: source requests %d tickets (%d open with 3 CCs each, the target one of them; %d closed and archived), target requests %d (3 other CCs on each)\n",
		c.Tickets, c.Tickets/2, c.Tickets-c.Tickets/2, c.Tickets)
	fmt.Fprintf(stdout, "per run: 3 identical fixtures, seeded set-based; MergeUsers and the bare SQL each on its own, alternating which goes first; a third merge beside %d HTTP readers\n", c.Readers)

	var results []runResult
	for i := range c.Runs {
		r, err := b.run(ctx, i)
		if err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
		results = append(results, r)
		line := fmt.Sprintf("bench merge: run %d/%d: MergeUsers %s, bare SQL %s", i+1, c.Runs, fmtMS(r.merge), fmtMS(r.bare))
		if c.Readers > 0 {
			line += fmt.Sprintf(", merge beside readers %s: %d reads, p99 %s", fmtMS(r.mergeLoaded), len(r.readDuring), fmtMS(pct(r.readDuring, 0.99)))
		}
		fmt.Fprintln(stderr, line)
	}
	return b.report(stdout, results)
}

// setup creates the actor, the CC users and, for the readers, a bystander with
// a few tickets.
func (b *mergeBench) setup(ctx context.Context) error {
	admin, err := b.db.EnsureAdmin(ctx, "bench-admin@bench.example", "")
	if err != nil {
		return err
	}
	b.actorID = admin.ID
	for i := range 2 {
		u, err := b.db.CreateUser(ctx, mergedesk.NewUser{Name: fmt.Sprintf("CC %d", i), Email: fmt.Sprintf("cc%d@bench.example", i), Verified: true})
		if err != nil {
			return err
		}
		b.ccs = append(b.ccs, u.ID)
	}
	u, err := b.db.CreateUser(ctx, mergedesk.NewUser{Name: "Bystander", Email: "bystander@bench.example", Verified: true})
	if err != nil {
		return err
	}
	b.reader = u.ID
	return b.db.SeedTickets(ctx, u.ID, 20, b.ccs, "bench-bystander")
}

// newPair seeds one fixture: the source's open tickets CC the target and the two
// CC users; the target's tickets CC the two CC users and the bystander.
func (b *mergeBench) newPair(ctx context.Context) (mergePair, error) {
	b.seq++
	tag := fmt.Sprintf("bench-merge-%d", b.seq)
	var p mergePair
	s, err := b.db.CreateUser(ctx, mergedesk.NewUser{Name: "Source " + tag, Email: "source-" + tag + "@bench.example"})
	if err != nil {
		return p, err
	}
	t, err := b.db.CreateUser(ctx, mergedesk.NewUser{Name: "Target " + tag, Email: "target-" + tag + "@bench.example", Verified: true})
	if err != nil {
		return p, err
	}
	p = mergePair{s.ID, t.ID}
	if err := b.db.SeedTickets(ctx, t.ID, b.c.Tickets, append(slices.Clone(b.ccs), b.reader), tag+"-t"); err != nil {
		return p, err
	}
	return p, b.db.SeedTickets(ctx, s.ID, b.c.Tickets, append(slices.Clone(b.ccs), t.ID), tag+"-s")
}

func (b *mergeBench) run(ctx context.Context, i int) (runResult, error) {
	var r runResult
	pairs := make([]mergePair, 3)
	for k := range pairs {
		p, err := b.newPair(ctx)
		if err != nil {
			return r, fmt.Errorf("seed: %w", err)
		}
		pairs[k] = p
	}
	if err := b.settle(ctx); err != nil {
		return r, err
	}
	var mergeID, bareID int64
	timeMerge := func() error {
		start, cpu := time.Now(), processCPU()
		_, rec, err := b.db.MergeUsers(ctx, pairs[0].s, pairs[0].t, b.actorID, "")
		r.merge, r.mergeCPU = time.Since(start), processCPU()-cpu
		if err != nil {
			return fmt.Errorf("MergeUsers: %w", err)
		}
		mergeID = rec.ID
		return b.settle(ctx)
	}
	timeBare := func() error {
		var err error
		start, cpu := time.Now(), processCPU()
		bareID, r.stmts, err = bareMerge(ctx, b.raw, b.dialect, pairs[1].s, pairs[1].t, b.actorID)
		r.bare, r.bareCPU = time.Since(start), processCPU()-cpu
		if err != nil {
			return fmt.Errorf("bare SQL: %w", err)
		}
		return b.settle(ctx)
	}
	first, second := timeMerge, timeBare
	if i%2 == 1 {
		first, second = timeBare, timeMerge
	}
	if err := first(); err != nil {
		return r, err
	}
	if err := second(); err != nil {
		return r, err
	}
	if err := sameRows(ctx, b.raw, b.dialect, mergeID, pairs[0], bareID, pairs[1]); err != nil {
		return r, err
	}
	if b.c.Readers > 0 {
		if err := b.mergeBesideReaders(ctx, pairs[2], &r); err != nil {
			return r, err
		}
	}
	return r, nil
}

// settle makes each timed step start from the same state: SQLite's WAL folded
// back into the database, PostgreSQL's planner statistics current (autovacuum
// would do this within a minute on a live server; a benchmark cannot wait).
func (b *mergeBench) settle(ctx context.Context) error {
	if b.dialect == "postgres" {
		_, err := b.raw.ExecContext(ctx, "ANALYZE tickets, ticket_ccs, audits, events, users, identities")
		return err
	}
	_, err := b.raw.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	return err
}

// startServer serves the REST API in this process, for the readers.
func (b *mergeBench) startServer(ctx context.Context) (func(), error) {
	tok := make([]byte, 16)
	rand.Read(tok)
	b.token = hex.EncodeToString(tok)
	if err := b.db.EnsureAPIToken(ctx, b.actorID, b.token); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v2/", &api.Server{DB: b.db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	// Readers stopped mid-response make the server log; that is the bench, not news.
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	b.base = "http://" + ln.Addr().String()
	return func() { srv.Close() }, nil
}

// mergeBesideReaders merges p while b.c.Readers clients read the bystander's
// profile and requested tickets over HTTP. Latencies of requests started during
// the merge go to r.readDuring; an idle stretch before it gives r.readIdle.
func (b *mergeBench) mergeBesideReaders(ctx context.Context, p mergePair, r *runResult) error {
	tr := &http.Transport{MaxIdleConns: b.c.Readers, MaxIdleConnsPerHost: b.c.Readers, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	paths := []string{
		"/api/v2/users/" + strconv.FormatInt(b.reader, 10) + ".json",
		"/api/v2/users/" + strconv.FormatInt(b.reader, 10) + "/tickets/requested.json",
	}
	type sample struct {
		start time.Time
		lat   time.Duration
	}
	var (
		mu       sync.Mutex
		samples  []sample
		errs     int
		firstErr string
	)
	readCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for w := range b.c.Readers {
		wg.Go(func() {
			var local []sample
			for n := w; readCtx.Err() == nil; n++ {
				req, _ := http.NewRequestWithContext(readCtx, http.MethodGet, b.base+paths[n%len(paths)], nil)
				req.Header.Set("Authorization", "Bearer "+b.token)
				start := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("%s: %s", paths[n%len(paths)], resp.Status)
					}
				}
				if readCtx.Err() != nil {
					break
				}
				if err != nil {
					mu.Lock()
					if errs++; firstErr == "" {
						firstErr = err.Error()
					}
					mu.Unlock()
					continue
				}
				local = append(local, sample{start, time.Since(start)})
			}
			mu.Lock()
			samples = append(samples, local...)
			mu.Unlock()
		})
	}
	time.Sleep(100 * time.Millisecond) // connections up, caches warm
	idleFrom := time.Now()
	time.Sleep(300 * time.Millisecond)
	mergeFrom := time.Now()
	_, _, err := b.db.MergeUsers(ctx, p.s, p.t, b.actorID, "")
	mergeTo := time.Now()
	stop()
	wg.Wait()
	if err != nil {
		return fmt.Errorf("MergeUsers beside readers: %w", err)
	}
	r.mergeLoaded = mergeTo.Sub(mergeFrom)
	r.readErrors, r.readFirstErr = errs, firstErr
	for _, s := range samples {
		switch {
		case !s.start.Before(mergeFrom) && s.start.Before(mergeTo):
			r.readDuring = append(r.readDuring, s.lat)
		case !s.start.Before(idleFrom) && s.start.Before(mergeFrom):
			r.readIdle = append(r.readIdle, s.lat)
		}
	}
	// A small fixture can merge before any read starts; the report says so.
	return b.settle(ctx)
}

func (b *mergeBench) report(w io.Writer, rs []runResult) error {
	var merges, bares, mergeCPU, bareCPU, loaded, during, idle []time.Duration
	stmts := make([][]time.Duration, len(bareStatements))
	readErrors, firstErr := 0, ""
	for _, r := range rs {
		merges, bares = append(merges, r.merge), append(bares, r.bare)
		mergeCPU, bareCPU = append(mergeCPU, r.mergeCPU), append(bareCPU, r.bareCPU)
		for k, d := range r.stmts {
			stmts[k] = append(stmts[k], d)
		}
		if b.c.Readers > 0 {
			loaded = append(loaded, r.mergeLoaded)
			during, idle = append(during, r.readDuring...), append(idle, r.readIdle...)
			readErrors += r.readErrors
			if firstErr == "" {
				firstErr = r.readFirstErr
			}
		}
	}
	fmt.Fprintf(w, "\n%-34s %10s %10s %10s %10s\n", "", "median", "p95", "min", "max")
	row := func(name string, ds []time.Duration) {
		fmt.Fprintf(w, "%-34s %10s %10s %10s %10s\n", name, fmtMS(pct(ds, 0.5)), fmtMS(pct(ds, 0.95)), fmtMS(slices.Min(ds)), fmtMS(slices.Max(ds)))
	}
	row("MergeUsers", merges)
	row("bare SQL, same rows (one tx)", bares)
	for k, s := range bareStatements {
		row("  "+s.name, stmts[k])
	}
	if b.dialect == "sqlite" {
		row("MergeUsers, CPU time", mergeCPU)
		row("bare SQL, CPU time", bareCPU)
	}
	ratio := float64(pct(merges, 0.5)) / float64(pct(bares, 0.5))
	fmt.Fprintf(w, "ratio MergeUsers / bare SQL (medians): %.2fx\n", ratio)
	fmt.Fprintln(w, "rows written by both checked identical on every run (audits, events and their data, CCs, requesters, identities, users)")
	if b.c.Readers > 0 && len(during) == 0 {
		row("MergeUsers beside readers", loaded)
		fmt.Fprintln(w, "reads during merges: none started while a merge ran (the merges were too short to overlap a read)")
	}
	if b.c.Readers > 0 && len(during) > 0 {
		row("MergeUsers beside readers", loaded)
		fmt.Fprintf(w, "reads during merges (%d HTTP clients, GET /users/{id} and /users/{id}/tickets/requested of another user): %d reads, p50 %s, p99 %s, max %s, errors %d",
			b.c.Readers, len(during), fmtMS(pct(during, 0.5)), fmtMS(pct(during, 0.99)), fmtMS(slices.Max(during)), readErrors)
		if firstErr != "" {
			fmt.Fprintf(w, " (first: %s)", firstErr)
		}
		fmt.Fprintln(w)
		if len(idle) > 0 {
			fmt.Fprintf(w, "reads with no merge running (same clients, 300 ms before each merge): %d reads, p50 %s, p99 %s, max %s\n",
				len(idle), fmtMS(pct(idle, 0.5)), fmtMS(pct(idle, 0.99)), fmtMS(slices.Max(idle)))
		}
	}

	target := mergeTargets[b.dialect]
	var failed []string
	verdict := func(ok bool, format string, args ...any) {
		v := "PASS"
		if !ok {
			v = "FAIL"
			failed = append(failed, fmt.Sprintf(format, args...))
		}
		fmt.Fprintf(w, "%s  %s\n", v, fmt.Sprintf(format, args...))
	}
	var load [3]float64
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Sscan(string(la), &load[0], &load[1], &load[2])
		fmt.Fprintf(w, "machine load average %.1f %.1f %.1f on %d cores (above the core count, wall times include waiting for a core)\n",
			load[0], load[1], load[2], runtime.NumCPU())
	}
	fmt.Fprintln(w)
	verdict(pct(merges, 0.95) <= target, "MergeUsers p95 %s <= %s on %s", fmtMS(pct(merges, 0.95)), fmtMS(target), b.dialect)
	verdict(ratio <= mergeTargetRatio, "MergeUsers median %.2fx the bare SQL's <= %.0fx", ratio, mergeTargetRatio)
	if b.c.Readers > 0 && len(during) == 0 && b.c.Tickets == 10_000 {
		verdict(false, "reads keep being served during a merge: no read overlapped a merge, nothing measured")
	}
	if b.c.Readers > 0 && len(during) > 0 {
		// Served means no read waited for the merge to commit: the slowest read
		// stays well under the merge's own duration.
		verdict(readErrors == 0 && slices.Max(during) < pct(loaded, 0.5)/2,
			"reads keep being served during a merge: slowest read %s < half the merge's %s, %d errors", fmtMS(slices.Max(during)), fmtMS(pct(loaded, 0.5)), readErrors)
	}
	if b.c.Tickets != 10_000 {
		fmt.Fprintf(w, "note: the targets are for 10,000 tickets; this run used %d\n", b.c.Tickets)
	}
	if len(failed) > 0 {
		return fmt.Errorf("bench merge: %d target(s) missed: %s", len(failed), strings.Join(failed, "; "))
	}
	return nil
}

// pct is the nearest-rank percentile of ds.
func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func fmtMS(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
}

// openRaw opens a plain database/sql pool of our own on dsn, for the bare SQL.
// For SQLite it is one writer connection with the store's settings.
func openRaw(dsn string) (*sql.DB, error) {
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_pragma=cache_size(-32000)&_txlock=immediate")
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(1)
		db.SetConnMaxLifetime(0)
		return db, nil
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(2)
	return db, nil
}

// mergeBenchDatabase returns a fresh, empty database and how to remove it.
func mergeBenchDatabase(dsn string, stderr io.Writer) (string, func(), error) {
	if dsn == "" {
		dir, err := os.MkdirTemp("", "mergedesk-bench-merge-")
		if err != nil {
			return "", nil, err
		}
		return "sqlite:" + filepath.Join(dir, "bench.db"), func() { os.RemoveAll(dir) }, nil
	}
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		if _, err := os.Stat(path); err == nil {
			return "", nil, fmt.Errorf("bench merge: %s exists; the bench needs a fresh database", path)
		}
		return dsn, func() {
			for _, s := range []string{"", "-wal", "-shm"} {
				os.Remove(path + s)
			}
		}, nil
	}
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return "", nil, usageError{"bench merge: --db must be sqlite:PATH or postgres://..."}
	}
	// A schema of our own, so the bench never touches existing data.
	b := make([]byte, 5)
	rand.Read(b)
	schema := "bench_merge_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		return "", nil, err
	}
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("bench merge: create schema: %w", err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		admin.Close()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), func() {
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			fmt.Fprintln(stderr, "bench merge: drop schema:", err)
		}
		admin.Close()
	}, nil
}

// bareVars are the values the bare statements bind.
type bareVars struct {
	dialect                   string
	s, t, actor, mergeID, now int64
}

// bareStatements are the minimal set-based statements that write what a merge
// writes, by hand, without the store: what MergeUsers is measured against. agg
// is the dialect's ordered JSON array of text; the CC list events use it the way
// the store does, so the rows are byte for byte the same.
var bareStatements = []struct {
	name string
	q    func(dialect string, agg func(string) string) string
	args func(v bareVars) []any
}{
	{"INSERT audits SELECT", func(string, func(string) string) string {
		// A UNION of two index searches: with OR, PostgreSQL scans every ticket.
		return `INSERT INTO audits (ticket_id, author_id, via, metadata, created_at, user_merge_id)
			SELECT x.id, ?, ?, ?, ?, ? FROM (SELECT id FROM tickets WHERE requester_id = ? AND deleted = FALSE
				UNION SELECT t.id FROM ticket_ccs c JOIN tickets t ON t.id = c.ticket_id
				WHERE c.user_id = ? AND c.kind = 'cc' AND t.archived = FALSE AND t.deleted = FALSE) x`
	}, func(v bareVars) []any {
		via := mergedesk.NewVia("user_merge")
		via.Source.From = map[string]any{"user_id": v.s}
		via.Source.To = map[string]any{"user_id": v.t}
		rel := "user_merge"
		via.Source.Rel = &rel
		meta := fmt.Sprintf(`{"system":{},"custom":{"user_merge_id":%d}}`, v.mergeID)
		return []any{v.actor, mustJSON(via), meta, v.now, v.mergeID, v.s, v.s}
	}},
	{"INSERT events Change SELECT", func(string, func(string) string) string {
		return `INSERT INTO events (audit_id, ticket_id, type, data, created_at)
			SELECT a.id, a.ticket_id, 'Change', ?, ? FROM audits a JOIN tickets t ON t.id = a.ticket_id
			WHERE a.user_merge_id = ? AND t.requester_id = ?`
	}, func(v bareVars) []any {
		return []any{fmt.Sprintf(`{"field_name":"requester_id","value":"%d","previous_value":"%d"}`, v.t, v.s), v.now, v.mergeID, v.s}
	}},
	// k: the audited non-archived tickets whose CC list changes; prev: their CC
	// lists; cur: the lists with the source replaced by the target, without
	// duplicates, and without the target where it is (or becomes) the requester.
	// SQLite does better with per-ticket subqueries (the store's form), PostgreSQL
	// with joins and GROUP BY; both write the same text.
	{"INSERT events EmailCcChange SELECT", func(dialect string, agg func(string) string) string {
		if dialect == "sqlite" {
			return `INSERT INTO events (audit_id, ticket_id, type, data, created_at)
				SELECT k.audit_id, k.ticket_id, 'EmailCcChange',
					'{"previous_email_ccs":' || (SELECT ` + agg("c.user_id") + ` FROM ticket_ccs c WHERE c.ticket_id = k.ticket_id AND c.kind = 'cc')
					|| ',"current_email_ccs":' || (SELECT ` + agg("x.u") + ` FROM (
						SELECT DISTINCT CASE WHEN c.user_id = ? THEN ? ELSE c.user_id END AS u FROM ticket_ccs c
						WHERE c.ticket_id = k.ticket_id AND c.kind = 'cc') x WHERE x.u <> ? OR k.requester_id NOT IN (?, ?))
					|| '}', ?
				FROM (SELECT a.id AS audit_id, t.id AS ticket_id, t.requester_id FROM audits a JOIN tickets t ON t.id = a.ticket_id
					WHERE a.user_merge_id = ? AND t.archived = FALSE AND EXISTS (SELECT 1 FROM ticket_ccs c
						WHERE c.ticket_id = t.id AND c.kind = 'cc' AND (c.user_id = ? OR (t.requester_id = ? AND c.user_id = ?)))) k`
		}
		return `WITH k AS (
				SELECT a.id AS audit_id, t.id AS ticket_id, t.requester_id FROM audits a JOIN tickets t ON t.id = a.ticket_id
				WHERE a.user_merge_id = ? AND t.archived = FALSE AND EXISTS (SELECT 1 FROM ticket_ccs c
					WHERE c.ticket_id = t.id AND c.kind = 'cc' AND (c.user_id = ? OR (t.requester_id = ? AND c.user_id = ?)))),
			prev AS (SELECT c.ticket_id, ` + agg("c.user_id") + ` AS j FROM ticket_ccs c JOIN k ON k.ticket_id = c.ticket_id
				WHERE c.kind = 'cc' GROUP BY c.ticket_id),
			cur AS (SELECT x.ticket_id, ` + agg("x.u") + ` AS j FROM (
					SELECT DISTINCT c.ticket_id, k.requester_id AS r, CASE WHEN c.user_id = ? THEN ? ELSE c.user_id END AS u
					FROM ticket_ccs c JOIN k ON k.ticket_id = c.ticket_id WHERE c.kind = 'cc') x
				WHERE x.u <> ? OR x.r NOT IN (?, ?) GROUP BY x.ticket_id)
			INSERT INTO events (audit_id, ticket_id, type, data, created_at)
			SELECT k.audit_id, k.ticket_id, 'EmailCcChange',
				'{"previous_email_ccs":' || prev.j || ',"current_email_ccs":' || COALESCE(cur.j, '[]') || '}', ?
			FROM k JOIN prev ON prev.ticket_id = k.ticket_id LEFT JOIN cur ON cur.ticket_id = k.ticket_id`
	}, func(v bareVars) []any {
		if v.dialect == "sqlite" {
			return []any{v.s, v.t, v.t, v.s, v.t, v.now, v.mergeID, v.s, v.s, v.t}
		}
		return []any{v.mergeID, v.s, v.s, v.t, v.s, v.t, v.t, v.s, v.t, v.now}
	}},
	{"DELETE target CCs (it requests)", func(string, func(string) string) string {
		return `DELETE FROM ticket_ccs WHERE kind = 'cc' AND user_id = ? AND ticket_id IN
			(SELECT id FROM tickets WHERE requester_id = ? AND archived = FALSE AND deleted = FALSE)`
	}, func(v bareVars) []any { return []any{v.t, v.s} }},
	{"INSERT target CCs SELECT", func(string, func(string) string) string {
		return `INSERT INTO ticket_ccs (ticket_id, kind, user_id) SELECT c.ticket_id, 'cc', ? FROM ticket_ccs c
			JOIN tickets t ON t.id = c.ticket_id WHERE c.kind = 'cc' AND c.user_id = ? AND t.archived = FALSE AND t.deleted = FALSE
			AND t.requester_id <> ? AND t.requester_id <> ?
			AND NOT EXISTS (SELECT 1 FROM ticket_ccs e WHERE e.ticket_id = c.ticket_id AND e.kind = 'cc' AND e.user_id = ?)`
	}, func(v bareVars) []any { return []any{v.t, v.s, v.s, v.t, v.t} }},
	{"DELETE source CCs", func(string, func(string) string) string {
		// EXISTS starts from the source's CC rows; "ticket_id IN (SELECT id FROM
		// tickets WHERE archived = FALSE ...)" makes SQLite scan every ticket.
		return `DELETE FROM ticket_ccs WHERE kind = 'cc' AND user_id = ? AND EXISTS
			(SELECT 1 FROM tickets t WHERE t.id = ticket_ccs.ticket_id AND t.archived = FALSE AND t.deleted = FALSE)`
	}, func(v bareVars) []any { return []any{v.s} }},
	{"UPDATE tickets requester", func(string, func(string) string) string {
		return `UPDATE tickets SET requester_id = CASE WHEN requester_id = ? THEN ? ELSE requester_id END, updated_at = ?
			WHERE id IN (SELECT ticket_id FROM audits WHERE user_merge_id = ?)`
	}, func(v bareVars) []any { return []any{v.s, v.t, v.now, v.mergeID} }},
	{"UPDATE identities", func(string, func(string) string) string {
		return `UPDATE identities SET user_id = ?, updated_at = ?, is_primary = CASE WHEN type IN
			(SELECT type FROM identities WHERE user_id = ?) THEN FALSE ELSE is_primary END WHERE user_id = ?`
	}, func(v bareVars) []any { return []any{v.t, v.now, v.t, v.s} }},
	{"UPDATE users, memberships, record", func(string, func(string) string) string {
		return `UPDATE users SET active = FALSE, merged_into_id = ?, external_id = NULL, external_id_norm = NULL,
			shared_phone = NULL, snapshot = '{}', deactivated_at = ?, updated_at = ? WHERE id = ?;
			UPDATE users SET updated_at = ? WHERE id = ?;
			DELETE FROM memberships WHERE user_id = ?;
			DELETE FROM api_tokens WHERE user_id = ?`
	}, func(v bareVars) []any { return []any{v.t, v.now, v.now, v.s, v.now, v.t, v.s, v.s} }},
}

// bareMerge merges s into t with bareStatements in one transaction and returns
// the merge record's id and each statement's time.
func bareMerge(ctx context.Context, raw *sql.DB, dialect string, s, t, actor int64) (int64, []time.Duration, error) {
	agg := func(x string) string { return "json_group_array(CAST(" + x + " AS TEXT) ORDER BY " + x + ")" }
	if dialect == "postgres" {
		agg = func(x string) string {
			return "COALESCE(CAST(json_agg(CAST(" + x + " AS TEXT) ORDER BY " + x + ") AS TEXT), '[]')"
		}
	}
	tx, err := raw.BeginTx(ctx, nil)
	if err != nil {
		return 0, nil, err
	}
	defer tx.Rollback()
	v := bareVars{dialect: dialect, s: s, t: t, actor: actor, now: time.Now().Unix()}
	var times []time.Duration
	start := time.Now()
	if err := tx.QueryRowContext(ctx, rebindFor(dialect, `INSERT INTO user_merges (actor_id, source_id, target_id, tickets_moved, ccs_moved,
		identities_moved, fields, source_snapshot, created_at) VALUES (?, ?, ?, 0, 0, '[]', '[]', '{}', ?) RETURNING id`),
		actor, s, t, v.now).Scan(&v.mergeID); err != nil {
		return 0, nil, fmt.Errorf("insert merge record: %w", err)
	}
	var moved, ccs int64
	for k, st := range bareStatements {
		q, args := st.q(dialect, agg), st.args(v)
		// The last entry is several statements: run them one by one, binding
		// each its share of the arguments.
		for _, one := range strings.Split(q, ";") {
			n := strings.Count(one, "?")
			res, err := tx.ExecContext(ctx, rebindFor(dialect, one), args[:n]...)
			if err != nil {
				return 0, nil, fmt.Errorf("%s: %w", st.name, err)
			}
			args = args[n:]
			switch k {
			case 1:
				moved, _ = res.RowsAffected()
			case 2:
				ccs, _ = res.RowsAffected()
			}
		}
		if k == len(bareStatements)-1 {
			if _, err := tx.ExecContext(ctx, rebindFor(dialect, "UPDATE user_merges SET tickets_moved = ?, ccs_moved = ? WHERE id = ?"), moved, ccs, v.mergeID); err != nil {
				return 0, nil, err
			}
		}
		times = append(times, time.Since(start))
		start = time.Now()
	}
	if err := tx.Commit(); err != nil {
		return 0, nil, err
	}
	times[len(times)-1] += time.Since(start) // the commit counts with the last step
	return v.mergeID, times, nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// rebindFor turns '?' placeholders into PostgreSQL's $n.
func rebindFor(dialect, q string) string {
	if dialect != "postgres" {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// sameRows checks that merge a (by the store) and merge b (bare SQL) wrote the
// same rows on their identical fixtures, with each pair's ids written S and T.
func sameRows(ctx context.Context, raw *sql.DB, dialect string, aID int64, a mergePair, bID int64, b mergePair) error {
	fa, err := footprint(ctx, raw, dialect, aID, a)
	if err != nil {
		return err
	}
	fb, err := footprint(ctx, raw, dialect, bID, b)
	if err != nil {
		return err
	}
	if len(fa) != len(fb) {
		return fmt.Errorf("bare SQL wrote different rows than MergeUsers: %d facts vs %d", len(fa), len(fb))
	}
	for i := range fa {
		if fa[i] != fb[i] {
			return fmt.Errorf("bare SQL wrote different rows than MergeUsers:\n  MergeUsers: %s\n  bare SQL:   %s", fa[i], fb[i])
		}
	}
	return nil
}

// footprint lists, sorted, what a merge wrote: every audit and event (type,
// author, via, data), the CC rows and requesters of the target's tickets, the
// identities of both users and the source's state.
func footprint(ctx context.Context, raw *sql.DB, dialect string, mergeID int64, p mergePair) ([]string, error) {
	norm := strings.NewReplacer(
		`"`+strconv.FormatInt(p.s, 10)+`"`, `"S"`, `"`+strconv.FormatInt(p.t, 10)+`"`, `"T"`,
		`:`+strconv.FormatInt(p.s, 10)+`}`, `:S}`, `:`+strconv.FormatInt(p.t, 10)+`}`, `:T}`,
		`"user_merge_id":`+strconv.FormatInt(mergeID, 10), `"user_merge_id":M`)
	id := func(x int64) string {
		switch x {
		case p.s:
			return "S"
		case p.t:
			return "T"
		}
		return strconv.FormatInt(x, 10)
	}
	var out []string
	queries := []struct {
		q    string
		args []any
	}{
		{`SELECT 'audit', a.author_id, a.via || ' ' || a.metadata, t.archived FROM audits a JOIN tickets t ON t.id = a.ticket_id WHERE a.user_merge_id = ?`, []any{mergeID}},
		{`SELECT 'event ' || e.type, a.author_id, e.data, t.archived FROM events e JOIN audits a ON a.id = e.audit_id JOIN tickets t ON t.id = a.ticket_id WHERE a.user_merge_id = ?`, []any{mergeID}},
		{`SELECT 'cc of a ticket of T', c.user_id, '', t.archived FROM ticket_ccs c JOIN tickets t ON t.id = c.ticket_id WHERE t.requester_id = ?`, []any{p.t}},
		{`SELECT 'ticket requested by', requester_id, status, archived FROM tickets WHERE requester_id IN (?, ?)`, []any{p.s, p.t}},
		{`SELECT 'cc', user_id, '', t.archived FROM ticket_ccs c JOIN tickets t ON t.id = c.ticket_id WHERE c.user_id IN (?, ?)`, []any{p.s, p.t}},
		{`SELECT 'identity ' || type || ' ' || CAST(is_primary AS TEXT), user_id, '', verified FROM identities WHERE user_id IN (?, ?)`, []any{p.s, p.t}},
		{`SELECT 'user active merged_into ' || CAST(active AS TEXT) || ' ' || COALESCE(CAST(merged_into_id AS TEXT), '-'), id, '', active FROM users WHERE id IN (?, ?)`, []any{p.s, p.t}},
	}
	for _, q := range queries {
		rows, err := raw.QueryContext(ctx, rebindFor(dialect, q.q), q.args...)
		if err != nil {
			return nil, fmt.Errorf("footprint: %w", err)
		}
		for rows.Next() {
			var kind, data string
			var who int64
			var flag bool
			if err := rows.Scan(&kind, &who, &data, &flag); err != nil {
				rows.Close()
				return nil, err
			}
			kind = strings.ReplaceAll(kind, " "+strconv.FormatInt(p.t, 10), " T")
			out = append(out, fmt.Sprintf("%s %s %s %t", kind, id(who), norm.Replace(data), flag))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	slices.Sort(out)
	return out, nil
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
