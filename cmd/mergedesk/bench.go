package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/mergedesk/mergedesk/internal/bench"
	"github.com/mergedesk/mergedesk/internal/store"
	"github.com/mergedesk/mergedesk/internal/web/api"
)

const benchUsage = `usage: mergedesk bench users|merge|channels|duplicates [flags]

  users     creates a fresh database, imports N synthetic end users (an e-mail and
            a phone identity each) through the bulk import, then starts the server
            and measures GET /api/v2/users/{id} and
            GET /api/v2/users/search?query=email:X over HTTP, alternating
  merge     merges a source with 10,000 tickets into a target with 10,000, against
            the floor (the same rows, least SQL, same connection), and reads during
            merges
  channels  POST /api/v2/channels/messages and SMTP ingestion throughput
  duplicates --csv FILE
            imports a labelled CSV (a column says which rows are one person), runs
            the duplicate scan and prints pairwise precision, recall and F1 at the
            default min_score, and the recall at precision 0.95 and 0.99
  duplicates --users N
            imports N users of the users bench and ~3% planted duplicates, runs the
            full scan (time by phase, memory, pairs compared, planted pairs found),
            then measures GET /users/{id}/duplicates and channel messages with live
            detection on and off

Each prints PASS or FAIL against its targets (docs/benchmarks.md).
Run 'mergedesk bench <name> -h' for its flags.`

// runBench is `mergedesk bench`: flags here, the benches in internal/bench.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{benchUsage}
	}
	switch args[0] {
	case "users":
		return runBenchUsers(ctx, args[1:], stdout, stderr)
	case "merge":
		return runBenchMerge(ctx, args[1:], stdout, stderr)
	case "channels":
		return runBenchChannels(ctx, args[1:], stdout, stderr)
	case "duplicates":
		return runBenchDuplicates(ctx, args[1:], stdout, stderr)
	}
	return usageError{benchUsage}
}

func runBenchUsers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c bench.UsersConfig
	var server, cpuProfile string
	fs := flag.NewFlagSet("bench users", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.DB, "db", env("MERGEDESK_BENCH_DB", ""), "server to bench on: empty for a temp SQLite file, or postgres://... (a fresh schema is created) (MERGEDESK_BENCH_DB)")
	fs.IntVar(&c.Users, "users", envInt("MERGEDESK_BENCH_USERS", 1_000_000), "end users to import (MERGEDESK_BENCH_USERS)")
	fs.IntVar(&c.Batch, "batch", envInt("MERGEDESK_BENCH_BATCH", 5000), "users per import transaction (MERGEDESK_BENCH_BATCH)")
	fs.IntVar(&c.Concurrency, "concurrency", envInt("MERGEDESK_BENCH_CONCURRENCY", 8), "concurrent keep-alive HTTP clients (MERGEDESK_BENCH_CONCURRENCY)")
	fs.DurationVar(&c.Duration, "duration", envDuration("MERGEDESK_BENCH_DURATION", 20*time.Second), "measured time per endpoint, over all rounds (MERGEDESK_BENCH_DURATION)")
	fs.IntVar(&c.Rounds, "rounds", envInt("MERGEDESK_BENCH_ROUNDS", 4), "rounds alternating the endpoints (MERGEDESK_BENCH_ROUNDS)")
	fs.DurationVar(&c.Warmup, "warmup", envDuration("MERGEDESK_BENCH_WARMUP", 2*time.Second), "unmeasured load before each endpoint in each round (MERGEDESK_BENCH_WARMUP)")
	fs.StringVar(&server, "server", env("MERGEDESK_BENCH_SERVER", "child"), "child: run `mergedesk serve` as a child process; inprocess: in this process (MERGEDESK_BENCH_SERVER)")
	fs.IntVar(&c.CacheMiB, "cache-mb", envInt("MERGEDESK_BENCH_CACHE_MB", 256), "SQLite page cache of the importing connection, MiB (MERGEDESK_BENCH_CACHE_MB)")
	fs.BoolVar(&c.Keep, "keep", false, "keep the database afterwards")
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of this process (import and load client; the server too with --server inprocess)")
	fs.StringVar(&c.LoadProfile, "load-cpuprofile", "", "write a CPU profile of the load phase only (the server too with --server inprocess)")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if c.Users < 1 || c.Concurrency < 1 || c.Batch < 1 || c.Rounds < 1 || (server != "child" && server != "inprocess") || !bench.IsDSN(c.DB) {
		return usageError{"bench users: --users, --batch, --rounds and --concurrency must be positive; --server child|inprocess; --db sqlite:PATH or postgres://..."}
	}
	if server == "inprocess" {
		c.InProcess = startInProcess
	}
	stop, err := bench.StartCPUProfile(cpuProfile)
	if err != nil {
		return err
	}
	defer stop()
	return bench.Users(ctx, c, stdout, stderr)
}

const benchMergeUsage = `usage: mergedesk bench merge [--db DSN] [--tickets 10000] [--runs 5] [--readers 4]

Measures merging an end user who requests --tickets tickets (half open with 3
CCs each, the target among them; half closed and archived) into a target that
requests as many. Each run seeds identical fixtures, times store.MergeUsers on
one and the floor (the least set-based SQL writing the same rows, in one
transaction on the store's own connection) on another, checks that both wrote
the same rows, and merges a third while HTTP clients read another user's
profile and tickets. Targets: MergeUsers p95 <= 300 ms (SQLite) or 1 s
(PostgreSQL), and median <= 1.5x the floor's.

flags:`

// runBenchMerge is `mergedesk bench merge`; args are its flags.
func runBenchMerge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c bench.MergeConfig
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
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write a CPU profile; merges and floors carry the label step=merge or step=floor")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return usageError{"mergedesk bench merge: see the usage above"}
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 || c.Tickets < 2 || c.Tickets > 10_000 || c.Runs < 1 || c.Readers < 0 || !bench.IsDSN(c.DB) {
		return usageError{"mergedesk bench merge: --tickets must be 2..10000, --runs positive, --readers not negative, --db sqlite:PATH or postgres://...; no arguments"}
	}
	c.API = func(db *store.DB) http.Handler {
		return &api.Server{DB: db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	}
	return bench.Merge(ctx, c, stdout, stderr)
}

const benchChannelsUsage = `usage: mergedesk bench channels [flags]

Creates a fresh database with N synthetic end users (an e-mail and a phone
identity each), starts the server with its SMTP listener, then measures
POST /api/v2/channels/messages (senders given as phone numbers in varied
formats, e-mail addresses and, for a share of messages, unknown numbers that
are captured as new users) and SMTP ingestion from concurrent clients.`

func runBenchChannels(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c bench.ChannelsConfig
	var server string
	fs := flag.NewFlagSet("bench channels", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, benchChannelsUsage); fs.PrintDefaults() }
	fs.StringVar(&c.DB, "db", env("MERGEDESK_BENCH_DB", ""), "empty for a temp SQLite file, or postgres://... (a fresh schema is created) (MERGEDESK_BENCH_DB)")
	fs.IntVar(&c.Users, "users", envInt("MERGEDESK_BENCH_USERS", 1_000_000), "end users to import first (MERGEDESK_BENCH_USERS)")
	fs.IntVar(&c.Batch, "batch", 5000, "users per import transaction")
	fs.IntVar(&c.Concurrency, "concurrency", 8, "concurrent HTTP clients posting messages")
	fs.DurationVar(&c.Duration, "duration", 15*time.Second, "measured time of the API load")
	fs.DurationVar(&c.Warmup, "warmup", 2*time.Second, "unmeasured load before each measurement")
	fs.StringVar(&server, "server", "child", "child: run `mergedesk serve` as a child process; inprocess: in this process")
	fs.IntVar(&c.CacheMiB, "cache-mb", 256, "SQLite page cache of the importing connection, MiB")
	fs.BoolVar(&c.Keep, "keep", false, "keep the database afterwards")
	fs.IntVar(&c.SMTPClients, "smtp-clients", 4, "concurrent SMTP clients")
	fs.DurationVar(&c.SMTPDuration, "smtp-duration", 15*time.Second, "measured time of the SMTP load")
	fs.StringVar(&c.LoadProfile, "load-cpuprofile", "", "write a CPU profile of the API load (of the server too with --server inprocess)")
	fs.IntVar(&c.UnknownPct, "unknown-pct", 10, "percentage of messages from unknown senders (captured as new users)")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if c.Users < 1 || c.Concurrency < 1 || c.SMTPClients < 1 || c.Batch < 1 || c.UnknownPct < 0 || c.UnknownPct > 100 ||
		(server != "child" && server != "inprocess") || !bench.IsDSN(c.DB) {
		return usageError{benchChannelsUsage}
	}
	if server == "inprocess" {
		c.InProcess = startInProcess
	}
	return bench.Channels(ctx, c, stdout, stderr)
}

// startInProcess runs the server of `mergedesk serve` in this process, for
// --server inprocess.
func startInProcess(ctx context.Context, o bench.ServerOptions) (string, func(), error) {
	m := &Main{Addr: "127.0.0.1:0", DB: o.DSN, SMTPAddr: o.SMTPAddr, AdminEmail: o.AdminEmail, AdminToken: o.AdminToken}
	if err := m.Start(ctx); err != nil {
		m.Close()
		return "", nil, err
	}
	return "http://" + m.Listener.Addr().String(), func() { m.Close() }, nil
}

func envDuration(key string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(env(key, "")); err == nil {
		return d
	}
	return def
}

func runBenchDuplicates(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c bench.DuplicatesConfig
	var sc bench.DuplicatesScaleConfig
	var server string
	fs := flag.NewFlagSet("bench duplicates", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.CSV, "csv", "", "quality mode: labelled CSV: name (or first_name and surname), email, phone, a label column (cluster, label, entity_id…); other columns become compared user fields")
	fs.StringVar(&c.Label, "label", "", "name of the label column (default: found by name)")
	fs.Float64Var(&c.MinScore, "min-score", 0, "threshold to measure (default: the default of duplicates.min_score)")
	fs.StringVar(&c.DB, "db", env("MERGEDESK_BENCH_DB", ""), "empty for a temp SQLite file, or postgres://... (a fresh schema is created) (MERGEDESK_BENCH_DB)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile")
	fs.IntVar(&sc.Users, "users", 0, "scale mode: end users of the users bench to import (with --dup-pct planted duplicates)")
	fs.Float64Var(&sc.DupPct, "dup-pct", 3, "scale mode: percentage of users who get a planted second profile")
	fs.IntVar(&sc.Batch, "batch", 5000, "scale mode: users per import transaction")
	fs.IntVar(&sc.Concurrency, "concurrency", 8, "scale mode: concurrent HTTP clients")
	fs.DurationVar(&sc.Duration, "duration", 20*time.Second, "scale mode: measured time per load (GET duplicates; messages on; messages off), over all rounds")
	fs.DurationVar(&sc.Warmup, "warmup", 2*time.Second, "scale mode: unmeasured load before each measurement")
	fs.IntVar(&sc.Rounds, "rounds", 4, "scale mode: rounds alternating the loads")
	fs.IntVar(&sc.UnknownPct, "unknown-pct", 10, "scale mode: percentage of messages from unknown senders (captured as new users, evaluated live)")
	fs.IntVar(&sc.CacheMiB, "cache-mb", 256, "scale mode: SQLite page cache of the importing connection, MiB")
	fs.StringVar(&server, "server", "child", "scale mode: child: run `mergedesk serve` as a child process; inprocess: in this process")
	fs.StringVar(&sc.ScanProfile, "scan-cpuprofile", "", "scale mode: write a CPU profile of the scan alone")
	fs.StringVar(&sc.LoadProfile, "load-cpuprofile", "", "scale mode: write a CPU profile of the HTTP loads (the server too with --server inprocess)")
	fs.BoolVar(&sc.SkipLoad, "scan-only", false, "scale mode: stop after the scan")
	fs.BoolVar(&sc.Keep, "keep", false, "scale mode: keep the database afterwards")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	stop, err := bench.StartCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stop()
	bar := newPhaseBar(stderr)
	defer bar.done()
	if sc.Users > 0 {
		if c.CSV != "" || sc.DupPct < 0 || sc.DupPct > 100 || sc.Batch < 1 || sc.Concurrency < 1 || sc.Rounds < 1 || sc.UnknownPct < 0 || sc.UnknownPct > 100 ||
			(server != "child" && server != "inprocess") || !bench.IsDSN(c.DB) {
			return usageError{"bench duplicates: --users N and --csv FILE exclude each other; --dup-pct in [0, 100]; --batch, --concurrency, --rounds positive; --server child|inprocess; --db sqlite:PATH or postgres://..."}
		}
		sc.DB = c.DB
		if server == "inprocess" {
			sc.InProcess = startInProcess
		}
		sc.Progress = bar.set
		return bench.DuplicatesScale(ctx, sc, stdout, stderr)
	}
	if c.CSV == "" || c.MinScore < 0 || c.MinScore > 1 || !bench.IsDSN(c.DB) {
		return usageError{"bench duplicates: --csv FILE or --users N is required; --min-score in (0, 1]; --db sqlite:PATH or postgres://..."}
	}
	c.Progress = bar.set
	_, err = bench.DuplicateQuality(ctx, c, stdout, stderr)
	return err
}
