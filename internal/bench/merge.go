package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/store"
)

// MergeConfig is `mergedesk bench merge`.
type MergeConfig struct {
	DB      string // "" = a temp SQLite file; postgres://... = a fresh schema on that server
	Tickets int
	Runs    int
	Readers int
	Keep    bool
	// API serves the REST API over db, for the readers (cmd/mergedesk wires it).
	API func(db *store.DB) http.Handler
	// CPUProfile, when set, is written with the merges and the floors labelled
	// step=merge and step=floor (go tool pprof -tagfocus).
	CPUProfile string
}

// Targets of `mergedesk bench merge`, per dialect, and the ratio to the floor.
var mergeTargets = map[string]time.Duration{"sqlite": 300 * time.Millisecond, "postgres": time.Second}

// MergeTargetRatio is the most MergeUsers may cost, as a multiple of the
// floor's median measured in the same run.
const MergeTargetRatio = 1.5

// mergeBench holds what every run uses.
type mergeBench struct {
	c       MergeConfig
	db      *store.DB
	raw     *sql.DB // a connection of our own for the checks and checkpoints, never timed
	dialect string
	actorID int64
	ccs     []int64 // the two CC users besides the target
	stderr  io.Writer
	seq     int

	// The HTTP server the readers use.
	base, token string
	reader      int64 // the user whose profile and tickets they read
}

// runResult is one run's measurements.
type runResult struct {
	merge, floor time.Duration
	// CPU time of this process: for SQLite, which runs in it, the work itself,
	// undisturbed by other processes competing for the cores.
	mergeCPU, floorCPU time.Duration
	stmts              []time.Duration // the floor, per statement
	readDuring         []time.Duration
	readIdle           []time.Duration
	readErrors         int
	mergeLoaded        time.Duration // the merge the readers ran beside
	readFirstErr       string
}

// Merge merges a source requesting c.Tickets tickets (half open with 3 CCs
// each, the target among them; half closed and archived) into a target that
// requests as many. Each run seeds identical fixtures, times store.MergeUsers
// on one and the floor (floor.go) on another, alternating which goes first,
// checks that both wrote the same rows, and merges a third while HTTP clients
// read another user's profile and tickets. It prints PASS or FAIL against the
// targets: MergeUsers p95 <= 300 ms (SQLite) or 1 s (PostgreSQL), and median
// <= MergeTargetRatio times the floor's.
func Merge(ctx context.Context, c MergeConfig, stdout, stderr io.Writer) error {
	dsn, cleanup, err := Database(c.DB, stderr)
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
	raw, err := openChecker(dsn)
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
	stopProfile, err := StartCPUProfile(c.CPUProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	fmt.Fprintf(stdout, "mergedesk bench merge: %s, %d runs, GOMAXPROCS %d, %s/%s\n", b.dialect, c.Runs, runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(stdout, "fixture: source requests %d tickets (%d open with 3 CCs each, the target one of them; %d closed and archived), target requests %d (3 other CCs on each)\n",
		c.Tickets, c.Tickets/2, c.Tickets-c.Tickets/2, c.Tickets)
	fmt.Fprintf(stdout, "per run: 3 identical fixtures, seeded set-based; MergeUsers and the floor each on its own, alternating which goes first; a third merge beside %d HTTP readers\n", c.Readers)
	fmt.Fprintln(stdout, "floor: the same rows in one transaction on the store's own writer (DB.Update: same pragmas, checkpointer, commit), set-based, every rule decided before the clock starts")

	var results []runResult
	for i := range c.Runs {
		r, err := b.run(ctx, i)
		if err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
		results = append(results, r)
		line := fmt.Sprintf("bench merge: run %d/%d: MergeUsers %s, floor %s", i+1, c.Runs, fmtMS(r.merge), fmtMS(r.floor))
		if c.Readers > 0 {
			line += fmt.Sprintf(", merge beside readers %s: %d reads during it", fmtMS(r.mergeLoaded), len(r.readDuring))
		}
		fmt.Fprintln(stderr, line)
	}
	return b.report(stdout, results)
}

// openChecker opens a connection of the bench's own for checkpoints between
// timed steps and for comparing rows; it never runs timed work.
func openChecker(dsn string) (*sql.DB, error) {
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(1)
		return db, nil
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(2)
	return db, nil
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
	p = mergePair{s: s.ID, t: t.ID, tag: tag}
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
	if err := pastSecond(ctx, b.db); err != nil {
		return r, err
	}
	if err := b.settle(ctx); err != nil {
		return r, err
	}
	var mergeID, floorID int64
	timeMerge := func() error {
		start, cpu := time.Now(), processCPU()
		var rec *mergedesk.UserMerge
		var err error
		pprof.Do(ctx, pprof.Labels("step", "merge"), func(ctx context.Context) {
			_, rec, err = b.db.MergeUsers(ctx, pairs[0].s, pairs[0].t, b.actorID, "")
		})
		r.merge, r.mergeCPU = time.Since(start), processCPU()-cpu
		if err != nil {
			return fmt.Errorf("MergeUsers: %w", err)
		}
		mergeID = rec.ID
		return b.settle(ctx)
	}
	timeFloor := func() error {
		plan, err := planFloor(ctx, b.db, pairs[1].s, pairs[1].t, b.actorID)
		if err != nil {
			return fmt.Errorf("floor plan: %w", err)
		}
		if err := b.settle(ctx); err != nil { // the preview's reads leave the WAL as it was; be sure
			return err
		}
		start, cpu := time.Now(), processCPU()
		pprof.Do(ctx, pprof.Labels("step", "floor"), func(ctx context.Context) {
			floorID, r.stmts, err = floorMerge(ctx, b.db, plan)
		})
		r.floor, r.floorCPU = time.Since(start), processCPU()-cpu
		if err != nil {
			return fmt.Errorf("floor: %w", err)
		}
		return b.settle(ctx)
	}
	first, second := timeMerge, timeFloor
	if i%2 == 1 {
		first, second = timeFloor, timeMerge
	}
	if err := first(); err != nil {
		return r, err
	}
	if err := second(); err != nil {
		return r, err
	}
	if err := sameRows(ctx, b.raw, b.dialect, mergeID, pairs[0], floorID, pairs[1]); err != nil {
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
// SQLite's checkpoint runs on the store's own writer (EndBulk's TRUNCATE): a
// checkpoint from another connection restarts the WAL under the writer, whose
// next transaction then throws away its whole page cache (pager_reset, a
// fifth of a second of CPU with a warm 32 MB cache), a cost the server never
// pays, where only the writer restarts the WAL.
// pastSecond waits until the store's clock (whole seconds) has moved past the
// current second. Run after seeding fixtures, it makes every timestamp they
// carry older than the merge's, so the rows check tells a row the merge wrote
// (NOW) from one it left alone (BEFORE) however fast the machine is; without
// it, a fixture seeded in the merge's second made the check depend on luck.
func pastSecond(ctx context.Context, db *store.DB) error {
	seeded := db.Now()
	for !db.Now().After(seeded) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

func (b *mergeBench) settle(ctx context.Context) error {
	if b.dialect == "postgres" {
		_, err := b.raw.ExecContext(ctx, "ANALYZE tickets, ticket_ccs, audits, events, users, identities")
		return err
	}
	if err := b.db.BeginBulk(ctx, 0); err != nil {
		return err
	}
	return b.db.EndBulk(ctx)
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
	mux.Handle("/api/v2/", b.c.API(b.db))
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
	var merges, floors, mergeCPU, floorCPU, loaded, during, idle []time.Duration
	stmts := make([][]time.Duration, len(floorStatements))
	readErrors, firstErr := 0, ""
	for _, r := range rs {
		merges, floors = append(merges, r.merge), append(floors, r.floor)
		mergeCPU, floorCPU = append(mergeCPU, r.mergeCPU), append(floorCPU, r.floorCPU)
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
	fmt.Fprintf(w, "\n%-38s %10s %10s %10s %10s\n", "", "median", "p95", "min", "max")
	row := func(name string, ds []time.Duration) {
		fmt.Fprintf(w, "%-38s %10s %10s %10s %10s\n", name, fmtMS(pct(ds, 0.5)), fmtMS(pct(ds, 0.95)), fmtMS(slices.Min(ds)), fmtMS(slices.Max(ds)))
	}
	row("MergeUsers", merges)
	row("floor, same rows (one tx)", floors)
	for k, s := range floorStatements {
		row("  "+s.name, stmts[k])
	}
	if b.dialect == "sqlite" {
		row("MergeUsers, CPU time", mergeCPU)
		row("floor, CPU time", floorCPU)
	}
	ratio := float64(pct(merges, 0.5)) / float64(pct(floors, 0.5))
	var ratios []float64
	for _, r := range rs {
		ratios = append(ratios, float64(r.merge)/float64(r.floor))
	}
	fmt.Fprintf(w, "ratio MergeUsers / floor: %.2fx (medians); per run: %s\n", ratio, fmtRatios(ratios))
	fmt.Fprintln(w, "rows written by both checked identical on every run (every column of user_merges, users, identities, memberships, api_tokens, tickets, ticket_ccs, audits, events)")
	if b.c.Readers > 0 {
		row("MergeUsers beside readers", loaded)
		// Whether a read overlaps a merge depends on timing; what is certain is
		// how many reads ran and how many failed.
		fmt.Fprintf(w, "reads (%d HTTP clients, GET /users/{id} and /users/{id}/tickets/requested of another user): %d during merges, %d with no merge running, errors %d",
			b.c.Readers, len(during), len(idle), readErrors)
		if firstErr != "" {
			fmt.Fprintf(w, " (first: %s)", firstErr)
		}
		fmt.Fprintln(w)
		if len(during) > 0 {
			fmt.Fprintf(w, "reads during merges: p50 %s, p99 %s, max %s\n", fmtMS(pct(during, 0.5)), fmtMS(pct(during, 0.99)), fmtMS(slices.Max(during)))
		} else {
			fmt.Fprintln(w, "reads during merges: none started while a merge ran (the merges were too short to overlap a read)")
		}
		if len(idle) > 0 {
			fmt.Fprintf(w, "reads with no merge running (same clients, 300 ms before each merge): p50 %s, p99 %s, max %s\n",
				fmtMS(pct(idle, 0.5)), fmtMS(pct(idle, 0.99)), fmtMS(slices.Max(idle)))
		}
	}
	machineLoad(w, runtime.NumCPU())
	fmt.Fprintln(w)

	target := mergeTargets[b.dialect]
	v := &verdicts{w: w}
	v.check(pct(merges, 0.95) <= target, "MergeUsers p95 %s <= %s on %s", fmtMS(pct(merges, 0.95)), fmtMS(target), b.dialect)
	v.check(ratio <= MergeTargetRatio, "MergeUsers median %.2fx the floor's (same run, wall time) <= %.1fx", ratio, MergeTargetRatio)
	if b.dialect == "sqlite" {
		// SQLite runs in this process: its CPU time is the work itself, less
		// disturbed than wall time when other processes want the cores.
		cpuRatio := float64(pct(mergeCPU, 0.5)) / float64(pct(floorCPU, 0.5))
		v.check(cpuRatio <= MergeTargetRatio, "MergeUsers median %.2fx the floor's (same run, CPU time) <= %.1fx", cpuRatio, MergeTargetRatio)
	}
	if b.c.Readers > 0 {
		v.check(readErrors == 0, "reads during and between merges: %d errors", readErrors)
		if b.c.Tickets == 10_000 && len(during) == 0 {
			v.check(false, "reads keep being served during a merge: no read overlapped a merge, nothing measured")
		}
		if len(during) > 0 {
			// Served means no read waited for the merge to commit: the slowest
			// read stays well under the merge's own duration.
			v.check(slices.Max(during) < pct(loaded, 0.5)/2,
				"reads keep being served during a merge: slowest read %s < half the merge's %s", fmtMS(slices.Max(during)), fmtMS(pct(loaded, 0.5)))
		}
	}
	if b.c.Tickets != 10_000 {
		fmt.Fprintf(w, "note: the targets are for 10,000 tickets; this run used %d\n", b.c.Tickets)
	}
	return v.err("merge")
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

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
