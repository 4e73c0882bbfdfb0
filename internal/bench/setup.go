package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/store"
)

// Database returns a fresh, empty database for a bench and how to remove it:
// dsn "" is a temp SQLite file, "sqlite:PATH" a file that must not exist yet,
// "postgres://..." a new schema on that server (dropped by the cleanup).
func Database(dsn string, stderr io.Writer) (string, func(), error) {
	if dsn == "" {
		dir, err := os.MkdirTemp("", "mergedesk-bench-")
		if err != nil {
			return "", nil, err
		}
		return "sqlite:" + filepath.Join(dir, "bench.db"), func() { os.RemoveAll(dir) }, nil
	}
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		if _, err := os.Stat(path); err == nil {
			return "", nil, fmt.Errorf("bench: %s exists; the bench needs a fresh database", path)
		}
		return dsn, func() {
			for _, s := range []string{"", "-wal", "-shm"} {
				os.Remove(path + s)
			}
		}, nil
	}
	if !IsDSN(dsn) {
		return "", nil, fmt.Errorf("bench: database %q: want sqlite:PATH or postgres://...", dsn)
	}
	// A schema of our own, so the bench never touches existing data.
	b := make([]byte, 5)
	rand.Read(b)
	schema := "bench_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		return "", nil, err
	}
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("bench: create schema: %w", err)
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
			fmt.Fprintln(stderr, "bench: drop schema:", err)
		}
		admin.Close()
	}, nil
}

// IsDSN reports whether dsn names a database a bench can use ("" included).
func IsDSN(dsn string) bool {
	return dsn == "" || strings.HasPrefix(dsn, "sqlite:") || strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// ServerOptions configures the Mergedesk server a bench starts.
type ServerOptions struct {
	DSN, SMTPAddr          string
	AdminEmail, AdminToken string
}

// StartFunc starts a Mergedesk server in this process and returns its base
// URL and how to stop it; cmd/mergedesk provides it (the bench does not know
// how the program is wired).
type StartFunc func(ctx context.Context, o ServerOptions) (url string, stop func(), err error)

// ChildEnv marks the child process a bench starts with `mergedesk serve`; a
// test binary standing in for mergedesk runs main() when it is set.
const ChildEnv = "MERGEDESK_BENCH_CHILD"

// server is the server under test.
type server struct {
	url  string
	pid  int
	stop func()
}

// startServer starts the server in this process (inProcess) or as a child
// process `mergedesk serve` (the running executable).
func startServer(ctx context.Context, inProcess StartFunc, o ServerOptions, stderr io.Writer) (*server, error) {
	if inProcess != nil {
		u, stop, err := inProcess(ctx, o)
		if err != nil {
			return nil, err
		}
		return &server{url: u, pid: os.Getpid(), stop: stop}, nil
	}
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	cmd := exec.Command(exe, "serve", "--addr", "127.0.0.1:0", "--db", o.DSN)
	cmd.Env = append(os.Environ(), "MERGEDESK_ADMIN_EMAIL="+o.AdminEmail, "MERGEDESK_ADMIN_TOKEN="+o.AdminToken,
		"MERGEDESK_ADMIN_PASSWORD=", "MERGEDESK_DEMO=", "MERGEDESK_SMTP_ADDR="+o.SMTPAddr, ChildEnv+"=1")
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
		return &server{url: u, pid: cmd.Process.Pid, stop: stop}, nil
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

func basicAuth(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

// importWriters is how many import batches are in flight, as in `mergedesk
// import`: while one transaction writes, the next batch's identities are
// normalised on the other core.
const importWriters = 2

// importSynthetic imports n synthetic users (User) in batches of size with
// importWriters concurrent ImportUsers calls, calls done (serialised) after
// each batch, and ends the bulk load: the WAL checkpoint is part of its cost.
func importSynthetic(ctx context.Context, db *store.DB, n, size int, done func(mergedesk.ImportResult)) (created, skipped int, err error) {
	return importRows(ctx, db, n, size, User, func(_ int, res mergedesk.ImportResult) {
		if done != nil {
			done(res)
		}
	})
}

// importRows imports the users gen(0) … gen(n-1) like importSynthetic; done
// is told the index of each batch's first user.
func importRows(ctx context.Context, db *store.DB, n, size int, gen func(int) mergedesk.NewUser, done func(lo int, res mergedesk.ImportResult)) (created, skipped int, err error) {
	type batch struct {
		lo    int
		users []mergedesk.NewUser
	}
	batches := make(chan batch, 2)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(batches)
		for lo := 0; lo < n && ctx.Err() == nil; lo += size {
			b := make([]mergedesk.NewUser, 0, min(size, n-lo))
			for i := lo; i < min(n, lo+size); i++ {
				b = append(b, gen(i))
			}
			batches <- batch{lo, b}
		}
	}()
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	for range importWriters {
		wg.Go(func() {
			for b := range batches {
				if ctx.Err() != nil {
					continue // drain
				}
				res, err := db.ImportUsers(ctx, b.users)
				mu.Lock()
				if err != nil {
					if first == nil {
						first = err
					}
					cancel()
				} else {
					created += res.Created
					skipped += res.Skipped
					if done != nil {
						done(b.lo, res)
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = context.Cause(ctx)
	}
	if first == nil {
		first = db.EndBulk(ctx)
	}
	return created, skipped, first
}

// verdicts prints PASS or FAIL lines against a bench's targets and remembers
// the failures.
type verdicts struct {
	w      io.Writer
	failed []string
}

func (v *verdicts) check(ok bool, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	word := "PASS"
	if !ok {
		word = "FAIL"
		v.failed = append(v.failed, msg)
	}
	fmt.Fprintf(v.w, "%s  %s\n", word, msg)
}

// err is nil when every target was met.
func (v *verdicts) err(bench string) error {
	if len(v.failed) == 0 {
		return nil
	}
	return fmt.Errorf("bench %s: %d target(s) missed: %s", bench, len(v.failed), strings.Join(v.failed, "; "))
}

// machineLoad prints the load average: above the core count, wall times
// include waiting for a core.
func machineLoad(w io.Writer, cores int) {
	var load [3]float64
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Sscan(string(la), &load[0], &load[1], &load[2])
		fmt.Fprintf(w, "machine load average %.1f %.1f %.1f on %d cores (above the core count, wall times include waiting for a core)\n",
			load[0], load[1], load[2], cores)
	}
}

// StartCPUProfile writes a CPU profile of this process to path until stop is
// called; an empty path profiles nothing.
func StartCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
