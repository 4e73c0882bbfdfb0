package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	randv2 "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mergedesk/mergedesk"

	"github.com/mergedesk/mergedesk/internal/bench"
	"github.com/mergedesk/mergedesk/internal/store"
)

const benchUsage = `usage: mergedesk bench users|merge|channels [flags]

  users     creates a fresh database, imports N synthetic end users (an e-mail and
            a phone identity each) through the bulk import, then starts the server
            and measures GET /api/v2/users/{id} and
            GET /api/v2/users/search?query=email:X over HTTP
  merge     merges a source with 10,000 tickets into a target with 10,000, against
            the bare SQL writing the same rows, and reads during merges
  channels  POST /api/v2/channels/messages and SMTP ingestion throughput

Run 'mergedesk bench <name> -h' for its flags.`

// benchConfig is `mergedesk bench users`.
type benchConfig struct {
	DB          string // "" = a temp SQLite file; postgres://... = a fresh schema on that server
	Users       int
	Batch       int
	Concurrency int
	Duration    time.Duration
	Warmup      time.Duration
	Server      string // "child" (default) or "inprocess"
	Keep        bool
	CPUProfile  string
	LoadProfile string
	CacheMiB    int
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{benchUsage}
	}
	switch args[0] {
	case "users":
	case "merge":
		return runBenchMerge(ctx, args, stdout, stderr)
	case "channels":
		return runBenchChannels(ctx, args, stdout, stderr)
	default:
		return usageError{benchUsage}
	}
	var c benchConfig
	fs := flag.NewFlagSet("bench users", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.DB, "db", env("MERGEDESK_BENCH_DB", ""), "server to bench on: empty for a temp SQLite file, or postgres://... (a fresh schema is created) (MERGEDESK_BENCH_DB)")
	fs.IntVar(&c.Users, "users", envInt("MERGEDESK_BENCH_USERS", 1_000_000), "end users to import (MERGEDESK_BENCH_USERS)")
	fs.IntVar(&c.Batch, "batch", envInt("MERGEDESK_BENCH_BATCH", 5000), "users per import transaction (MERGEDESK_BENCH_BATCH)")
	fs.IntVar(&c.Concurrency, "concurrency", envInt("MERGEDESK_BENCH_CONCURRENCY", 8), "concurrent keep-alive HTTP clients (MERGEDESK_BENCH_CONCURRENCY)")
	fs.DurationVar(&c.Duration, "duration", envDuration("MERGEDESK_BENCH_DURATION", 20*time.Second), "measured time per endpoint (MERGEDESK_BENCH_DURATION)")
	fs.DurationVar(&c.Warmup, "warmup", envDuration("MERGEDESK_BENCH_WARMUP", 3*time.Second), "unmeasured load before each endpoint (MERGEDESK_BENCH_WARMUP)")
	fs.StringVar(&c.Server, "server", env("MERGEDESK_BENCH_SERVER", "child"), "child: run `mergedesk serve` as a child process; inprocess: in this process (MERGEDESK_BENCH_SERVER)")
	fs.IntVar(&c.CacheMiB, "cache-mb", envInt("MERGEDESK_BENCH_CACHE_MB", 256), "SQLite page cache of the importing connection, MiB (MERGEDESK_BENCH_CACHE_MB)")
	fs.BoolVar(&c.Keep, "keep", false, "keep the database afterwards")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write a CPU profile of this process (import and load client; the server too with --server inprocess)")
	fs.StringVar(&c.LoadProfile, "load-cpuprofile", "", "write a CPU profile of the load phase only (the server too with --server inprocess)")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{err.Error()}
	}
	if c.Users < 1 || c.Concurrency < 1 || c.Batch < 1 || (c.Server != "child" && c.Server != "inprocess") {
		return usageError{"bench users: --users, --batch and --concurrency must be positive; --server child|inprocess"}
	}
	if c.CPUProfile != "" {
		f, err := os.Create(c.CPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	return benchUsers(ctx, c, stdout, stderr)
}

func envDuration(key string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(env(key, "")); err == nil {
		return d
	}
	return def
}

func benchUsers(ctx context.Context, c benchConfig, stdout, stderr io.Writer) error {
	dsn, cleanup, err := benchDatabase(c, stderr)
	if err != nil {
		return err
	}
	if !c.Keep {
		defer cleanup()
	}

	db, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	dialect := db.Dialect()
	if err := db.BeginBulk(ctx, c.CacheMiB); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "mergedesk bench users: %s, %d end users with an e-mail and a phone identity each, GOMAXPROCS %d, %s/%s\n",
		dialect, c.Users, runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)

	// Import: a generator feeds batches to importWriters concurrent ImportUsers calls.
	batches := syntheticBatches(ctx, c.Users, c.Batch)
	var firstID, lastID int64
	start := time.Now()
	lastLog := start
	sum, err := importAll(ctx, db, batches, func(b importBatch, res mergedesk.ImportResult) {
		for _, id := range res.IDs {
			if id != 0 && (firstID == 0 || id < firstID) {
				firstID = id
			}
			lastID = max(lastID, id)
		}
		if time.Since(lastLog) > 10*time.Second {
			lastLog = time.Now()
			fmt.Fprintf(stderr, "bench: %d users imported\n", lastID-firstID+1)
		}
	})
	importTime := time.Since(start)
	db.Close()
	if err != nil {
		return err
	}
	if sum.created != c.Users {
		return fmt.Errorf("bench: imported %d of %d users (%d skipped)", sum.created, c.Users, sum.skipped)
	}
	fmt.Fprintf(stdout, "import: %d users (%d identities) in %s: %.0f users/s (batches of %d, %d concurrent writers)\n",
		sum.created, 2*sum.created, importTime.Round(time.Millisecond), float64(sum.created)/importTime.Seconds(), c.Batch, importWriters)

	// Server.
	tokenBytes := make([]byte, 24)
	rand.Read(tokenBytes)
	adminEmail, token := "bench-admin@example.com", hex.EncodeToString(tokenBytes)
	srv, err := startBenchServer(ctx, c, dsn, adminEmail, token, stderr)
	if err != nil {
		return err
	}
	defer srv.stop()
	how := "child process `mergedesk serve` (pid " + strconv.Itoa(srv.pid) + "); load generated by this process"
	if c.Server == "inprocess" {
		how = "in this process, together with the load generator (RSS includes both)"
	}
	fmt.Fprintf(stdout, "server: %s at %s; %d keep-alive clients, Basic email/token auth, %s warm-up + %s per endpoint\n",
		how, srv.url, c.Concurrency, c.Warmup, c.Duration)

	n := int(lastID - firstID + 1)
	auth := "Basic " + basicAuth(adminEmail+"/token", token)
	loads := []struct {
		name string
		path func(*randv2.Rand) string
	}{
		{"GET /api/v2/users/{id}", func(r *randv2.Rand) string {
			return "/api/v2/users/" + strconv.FormatInt(firstID+r.Int64N(int64(n)), 10) + ".json"
		}},
		{"GET /api/v2/users/search?query=email:X", func(r *randv2.Rand) string {
			return "/api/v2/users/search.json?query=" + url.QueryEscape("email:"+bench.Email(r.IntN(c.Users)))
		}},
	}
	if c.LoadProfile != "" {
		f, err := os.Create(c.LoadProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		pprof.StopCPUProfile() // --cpuprofile, if any, ends with the import
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	for _, l := range loads {
		cpu0, _ := bench.CPUTime(srv.pid)
		res, err := bench.Load{BaseURL: srv.url, Authorization: auth, Concurrency: c.Concurrency,
			Duration: c.Duration, Warmup: c.Warmup, Path: l.path}.Run(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", l.name, err)
		}
		cpu1, _ := bench.CPUTime(srv.pid)
		fmt.Fprintf(stdout, "%-40s %s\n", l.name+":", res)
		if c.Server == "child" && cpu1 > cpu0 {
			// Warm-up included: the CPU counters cannot tell the two apart.
			all := float64(res.Requests) * float64(c.Warmup+res.Elapsed) / float64(res.Elapsed)
			fmt.Fprintf(stdout, "%-40s server CPU %.2f cores, about %.0f µs per request\n", "",
				(cpu1-cpu0).Seconds()/(c.Warmup+res.Elapsed).Seconds(), float64((cpu1-cpu0).Microseconds())/all)
		}
	}
	rss, peak, err := bench.RSS(srv.pid)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "server memory: RSS %d MB, peak RSS %d MB\n", rss>>20, peak>>20)
	if c.Keep {
		fmt.Fprintf(stdout, "database kept: %s\n", dsn)
	}
	return nil
}

func basicAuth(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

// benchDatabase returns a fresh, empty database and how to remove it.
func benchDatabase(c benchConfig, stderr io.Writer) (string, func(), error) {
	if c.DB == "" || strings.HasPrefix(c.DB, "sqlite:") {
		path := strings.TrimPrefix(c.DB, "sqlite:")
		if path == "" {
			dir, err := os.MkdirTemp("", "mergedesk-bench-")
			if err != nil {
				return "", nil, err
			}
			path = filepath.Join(dir, "bench.db")
			return "sqlite:" + path, func() { os.RemoveAll(dir) }, nil
		}
		if _, err := os.Stat(path); err == nil {
			return "", nil, fmt.Errorf("bench: %s exists; the bench needs a fresh database", path)
		}
		return "sqlite:" + path, func() {
			for _, s := range []string{"", "-wal", "-shm"} {
				os.Remove(path + s)
			}
		}, nil
	}
	if !strings.HasPrefix(c.DB, "postgres://") && !strings.HasPrefix(c.DB, "postgresql://") {
		return "", nil, usageError{"bench: --db must be sqlite:PATH or postgres://..."}
	}
	b := make([]byte, 5)
	rand.Read(b)
	schema := "bench_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", c.DB)
	if err != nil {
		return "", nil, err
	}
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("bench: create schema: %w", err)
	}
	u, err := url.Parse(c.DB)
	if err != nil {
		admin.Close()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), func() {
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			fmt.Fprintln(stderr, "bench: drop schema:", err)
		}
		admin.Close()
	}, nil
}

// benchServer is the server under test.
type benchServer struct {
	url  string
	pid  int
	stop func()
}

// benchChildEnv marks the child process; tests' TestMain runs main() on it.
const benchChildEnv = "MERGEDESK_BENCH_CHILD"

func startBenchServer(ctx context.Context, c benchConfig, dsn, email, token string, stderr io.Writer) (*benchServer, error) {
	if c.Server == "inprocess" {
		m := &Main{Addr: "127.0.0.1:0", DB: dsn, AdminEmail: email, AdminToken: token}
		if err := m.Start(ctx); err != nil {
			m.Close()
			return nil, err
		}
		return &benchServer{url: "http://" + m.Listener.Addr().String(), pid: os.Getpid(), stop: func() { m.Close() }}, nil
	}
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	cmd := exec.Command(exe, "serve", "--addr", "127.0.0.1:0", "--db", dsn)
	cmd.Env = append(os.Environ(), "MERGEDESK_ADMIN_EMAIL="+email, "MERGEDESK_ADMIN_TOKEN="+token,
		"MERGEDESK_ADMIN_PASSWORD=", "MERGEDESK_DEMO=", benchChildEnv+"=1")
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	// Main.Start prints "Mergedesk listening on http://HOST:PORT (...)".
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if _, rest, ok := strings.Cut(sc.Text(), "listening on "); ok {
				select {
				case found <- strings.Fields(rest)[0]:
				default:
				}
			}
		}
		io.Copy(io.Discard, out)
	}()
	select {
	case u := <-found:
		if err := waitHealthy(ctx, u); err != nil {
			stop()
			return nil, err
		}
		return &benchServer{url: u, pid: cmd.Process.Pid, stop: stop}, nil
	case <-time.After(2 * time.Minute):
		stop()
		return nil, errors.New("bench: the server did not start within 2 minutes")
	case <-ctx.Done():
		stop()
		return nil, ctx.Err()
	}
}

func waitHealthy(ctx context.Context, base string) error {
	for i := 0; i < 100; i++ {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return errors.New("bench: /healthz did not answer 200")
}

// syntheticBatches generates the bench's n synthetic end users (bench.User) in
// batches of size, stopping early when ctx ends.
func syntheticBatches(ctx context.Context, n, size int) <-chan importBatch {
	batches := make(chan importBatch, 2)
	go func() {
		defer close(batches)
		for lo := 0; lo < n && ctx.Err() == nil; lo += size {
			b := importBatch{}
			for i := lo; i < min(n, lo+size); i++ {
				b.users = append(b.users, bench.User(i))
			}
			batches <- b
		}
	}()
	return batches
}
