package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/mergedesk/mergedesk/internal/authlimit"
	"github.com/mergedesk/mergedesk/internal/channel"
	"github.com/mergedesk/mergedesk/internal/demo"
	"github.com/mergedesk/mergedesk/internal/detector"
	"github.com/mergedesk/mergedesk/internal/jobs"
	"github.com/mergedesk/mergedesk/internal/outbox"
	"github.com/mergedesk/mergedesk/internal/ratelimit"
	"github.com/mergedesk/mergedesk/internal/store"
	"github.com/mergedesk/mergedesk/internal/trigger"
	"github.com/mergedesk/mergedesk/internal/web/api"
	"github.com/mergedesk/mergedesk/internal/web/ui"
)

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

const usage = `usage: mergedesk <command> [flags]

commands:
  serve     run the REST API, the agent UI and inbound email
  migrate   apply database migrations and exit
  import    bulk-load users from a CSV or JSON-lines file
  merge     merge one end user into another (preview, confirm, merge)
  duplicates  find duplicate end users: scan, list (docs/duplicates-runtime.md)
  bench     measure throughput and latency (see README)

Run 'mergedesk <command> -h' for a command's flags.`

// Run runs one mergedesk command; tests call it in-process.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{usage}
	}
	switch args[0] {
	case "serve":
		m, err := ParseServe(args[1:], stderr)
		if err != nil {
			return err
		}
		m.Stdout = stdout
		return m.Run(ctx)
	case "migrate":
		fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
		fs.SetOutput(stderr)
		dsn := fs.String("db", env("MERGEDESK_DB", "sqlite:mergedesk.db"), "database: sqlite:PATH or postgres://... (MERGEDESK_DB)")
		if err := fs.Parse(args[1:]); err != nil {
			return usageError{err.Error()}
		}
		db, err := store.Open(ctx, *dsn)
		if err != nil {
			return err
		}
		defer db.Close()
		fmt.Fprintln(stdout, "migrations applied to", db.Dialect(), "database")
		return nil
	case "import":
		return runImport(ctx, args[1:], stdout, stderr)
	case "bench":
		return runBench(ctx, args[1:], stdout, stderr)
	case "merge":
		return runMerge(ctx, args[1:], stdout, stderr)
	case "duplicates":
		return runDuplicates(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return usageError{fmt.Sprintf("unknown command %q\n\n%s", args[0], usage)}
}

// env returns the environment variable, or def.
func env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}

// Main is the serve command, configured from flags and MERGEDESK_* variables.
type Main struct {
	Addr, DB, BaseURL, SMTPAddr string
	Demo                        bool
	AdminEmail, AdminPassword   string
	AdminToken                  string
	// SMTPRelay is the outbound relay (host:port) for trigger mail; empty keeps
	// mail in the outbox.
	SMTPRelay string
	// RateLimit is the API's budget of requests a minute per user (per
	// address when unauthenticated); 0 is off.
	RateLimit int
	// ReadTimeout bounds reading a whole request, body included; WriteTimeout
	// bounds a request from its headers to the end of the answer. Merges get
	// LongWriteTimeout (docs/security.md). Zero takes the defaults.
	ReadTimeout, WriteTimeout time.Duration
	// SMTPMaxConns is the most inbound SMTP conversations at once; 0 takes
	// channel.DefaultMaxConns.
	SMTPMaxConns int

	Stdout io.Writer
	Logger *slog.Logger

	// Set by Start.
	Store    *store.DB
	Listener net.Listener
	// SMTP is the inbound mail listener; nil unless SMTPAddr is set.
	SMTP     *channel.SMTPServer
	server   *http.Server
	jobs     *jobs.Runner
	detector *detector.Detector
	outbox   *outbox.Worker
}

// ParseServe reads the serve flags; every flag has a MERGEDESK_ twin and the flag wins.
func ParseServe(args []string, stderr io.Writer) (*Main, error) {
	m := &Main{}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&m.Addr, "addr", env("MERGEDESK_ADDR", "127.0.0.1:8080"), "HTTP listen address (MERGEDESK_ADDR)")
	fs.StringVar(&m.DB, "db", env("MERGEDESK_DB", "sqlite:mergedesk.db"), "database: sqlite:PATH or postgres://... (MERGEDESK_DB)")
	fs.StringVar(&m.BaseURL, "base-url", env("MERGEDESK_BASE_URL", ""), "public base URL for links; default: from the request (MERGEDESK_BASE_URL)")
	fs.StringVar(&m.SMTPAddr, "smtp-addr", env("MERGEDESK_SMTP_ADDR", ""), "inbound SMTP listen address; empty disables (MERGEDESK_SMTP_ADDR)")
	fs.StringVar(&m.SMTPRelay, "smtp-relay", env("MERGEDESK_SMTP_RELAY", ""), "outbound SMTP relay host:port for trigger notifications; empty keeps them in the outbox (MERGEDESK_SMTP_RELAY)")
	fs.IntVar(&m.RateLimit, "rate-limit", 0, "API requests a minute per user (or address); 0 is off (MERGEDESK_RATE_LIMIT)")
	fs.DurationVar(&m.ReadTimeout, "read-timeout", DefaultReadTimeout, "longest time to read a request, body included (MERGEDESK_READ_TIMEOUT)")
	fs.DurationVar(&m.WriteTimeout, "write-timeout", DefaultWriteTimeout, "longest time from a request's headers to the end of its answer; merges get "+LongWriteTimeout.String()+" (MERGEDESK_WRITE_TIMEOUT)")
	fs.IntVar(&m.SMTPMaxConns, "smtp-max-conns", channel.DefaultMaxConns, "most inbound SMTP conversations at once (MERGEDESK_SMTP_MAX_CONNS)")
	if err := envDefaults(fs, map[string]string{"rate-limit": "MERGEDESK_RATE_LIMIT", "read-timeout": "MERGEDESK_READ_TIMEOUT",
		"write-timeout": "MERGEDESK_WRITE_TIMEOUT", "smtp-max-conns": "MERGEDESK_SMTP_MAX_CONNS"}); err != nil {
		return nil, usageError{err.Error()}
	}
	fs.BoolVar(&m.Demo, "demo", env("MERGEDESK_DEMO", "") == "true" || env("MERGEDESK_DEMO", "") == "1", "load demo data into an empty database (MERGEDESK_DEMO)")
	if err := fs.Parse(args); err != nil {
		return nil, usageError{err.Error()}
	}
	m.AdminEmail = os.Getenv("MERGEDESK_ADMIN_EMAIL")
	m.AdminPassword = os.Getenv("MERGEDESK_ADMIN_PASSWORD")
	m.AdminToken = os.Getenv("MERGEDESK_ADMIN_TOKEN")
	m.BaseURL = strings.TrimSuffix(m.BaseURL, "/")
	return m, nil
}

// HTTP server timeouts (docs/security.md).
const (
	// DefaultReadTimeout lets a 10 MiB body arrive at about 100 KB/s.
	DefaultReadTimeout = 2 * time.Minute
	// DefaultWriteTimeout covers every request but merges.
	DefaultWriteTimeout = 2 * time.Minute
	// LongWriteTimeout is the write deadline of merges, which move every
	// ticket, identity and membership of a user in one transaction.
	LongWriteTimeout = 15 * time.Minute
)

// envDefaults sets each named flag from its environment variable when that is
// set, before the command line is parsed, so the flag still wins.
func envDefaults(fs *flag.FlagSet, vars map[string]string) error {
	for name, key := range vars {
		if v, ok := os.LookupEnv(key); ok {
			if err := fs.Set(name, v); err != nil {
				return fmt.Errorf("%s=%q: %v", key, v, err)
			}
		}
	}
	return nil
}

// Start opens the database, bootstraps the admin, loads demo data and starts
// listening. It returns once the server accepts connections.
func (m *Main) Start(ctx context.Context) error {
	if m.Logger == nil {
		m.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if m.Stdout == nil {
		m.Stdout = io.Discard
	}
	db, err := store.Open(ctx, m.DB)
	if err != nil {
		return err
	}
	m.Store = db
	// Triggers run inside ticket writes; their webhooks and mail go out through
	// the outbox worker after commit.
	triggers := trigger.Install(db)
	m.outbox = &outbox.Worker{DB: db, Logger: m.Logger, SMTPRelay: m.SMTPRelay}
	triggers.BaseURL, triggers.Logger, triggers.Notify = m.BaseURL, m.Logger, m.outbox.Wake
	if m.AdminEmail != "" {
		admin, err := db.EnsureAdmin(ctx, m.AdminEmail, m.AdminPassword)
		if err != nil {
			return fmt.Errorf("bootstrap admin: %w", err)
		}
		if m.AdminToken != "" {
			if err := db.EnsureAPIToken(ctx, admin.ID, m.AdminToken); err != nil {
				return fmt.Errorf("bootstrap admin token: %w", err)
			}
		}
	}
	var logins []demo.Login
	if m.Demo {
		if logins, err = demo.Load(ctx, db); err != nil {
			return fmt.Errorf("demo data: %w", err)
		}
	}
	m.jobs = &jobs.Runner{DB: db, Logger: m.Logger}
	// One sign-in limiter for the API's passwords and the UI's form: a guesser
	// gets no fresh budget by switching between them.
	signIn := authlimit.New(0)
	apiServer := &api.Server{DB: db, BaseURL: m.BaseURL, Logger: m.Logger, Jobs: m.jobs, Limiter: signIn,
		RateLimit: ratelimit.New(m.RateLimit), LongWriteTimeout: LongWriteTimeout}
	apiServer.RegisterJobs()
	// Duplicate detection: the live worker (rule D8) and the scan job (D10).
	m.detector = detector.New(db, m.Logger)
	m.detector.RegisterJobs(m.jobs)
	apiServer.Duplicates = m.detector
	if m.Demo {
		// the demo's split personas are suggested before the first page loads
		if err := demo.Detect(ctx, m.detector); err != nil {
			return fmt.Errorf("demo duplicates: %w", err)
		}
	}
	m.detector.Start()
	m.jobs.Start()
	m.outbox.Start()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := db.Ping(ctx); err != nil {
			m.Logger.Warn("healthz: database unreachable", "err", err)
			w.Header().Set("Retry-After", "5")
			http.Error(w, "database unreachable", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	mux.Handle("/api/v2/", apiServer)
	uiServer, err := ui.New(db, m.Logger)
	if err != nil {
		return fmt.Errorf("agent UI: %w", err)
	}
	uiServer.BaseURL, uiServer.Limiter, uiServer.LongWriteTimeout = m.BaseURL, signIn, LongWriteTimeout
	uiServer.Duplicates = m.detector
	mux.Handle("/", uiServer)

	ln, err := net.Listen("tcp", m.Addr)
	if err != nil {
		return err
	}
	m.Listener = ln
	if m.ReadTimeout <= 0 {
		m.ReadTimeout = DefaultReadTimeout
	}
	if m.WriteTimeout <= 0 {
		m.WriteTimeout = DefaultWriteTimeout
	}
	// ReadTimeout ends a client that dribbles its body; WriteTimeout one that
	// reads the answer too slowly (and bounds a handler's time). The long
	// operations move their own write deadline (api.Server.LongWriteTimeout).
	m.server = &http.Server{Handler: mux, ReadHeaderTimeout: min(10*time.Second, m.ReadTimeout),
		ReadTimeout: m.ReadTimeout, WriteTimeout: m.WriteTimeout, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn)}
	go func() {
		if err := m.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Logger.Error("http server", "err", err)
		}
	}()
	if m.SMTPAddr != "" {
		lim := channel.SMTPLimits{MaxConns: m.SMTPMaxConns}
		if m.SMTP, err = channel.ListenSMTPWith(m.SMTPAddr, &channel.Inbox{DB: db, Logger: m.Logger}, lim); err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "Inbound email (SMTP) on %s\n", m.SMTP.Addr())
	}
	url := m.BaseURL
	if url == "" {
		url = "http://" + ln.Addr().String()
	}
	fmt.Fprintf(m.Stdout, "Mergedesk listening on %s (%s database)\n", url, db.Dialect())
	for _, l := range logins {
		fmt.Fprintf(m.Stdout, "  demo %-6s %s  password: %s  api token: %s\n", l.Role, l.Email, l.Password, l.Token)
	}
	if m.Demo && logins == nil {
		// Tokens are stored hashed and cannot be shown again; the passwords can.
		if id, err := db.UserIDByEmail(ctx, demo.AdminEmail); err == nil && id != 0 {
			fmt.Fprintf(m.Stdout, "  demo data already loaded; sign in as %s / %s or %s / %s\n",
				demo.AdminEmail, demo.AdminPassword, demo.AgentEmail, demo.AgentPassword)
		} else {
			fmt.Fprintln(m.Stdout, "  --demo ignored: the database already has data")
		}
	}
	return nil
}

// Close shuts down gracefully: in-flight requests and the current job item
// finish (or roll back), then the database closes.
func (m *Main) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error
	if m.server != nil {
		err = m.server.Shutdown(ctx)
	}
	if m.SMTP != nil {
		err = errors.Join(err, m.SMTP.Close(ctx))
	}
	if m.jobs != nil {
		m.jobs.Stop(ctx)
	}
	if m.detector != nil {
		m.detector.Stop(ctx)
	}
	if m.outbox != nil {
		m.outbox.Stop(ctx)
	}
	if m.Store != nil {
		err = errors.Join(err, m.Store.Close())
	}
	return err
}

// Run starts the server and blocks until ctx is cancelled, then shuts down.
func (m *Main) Run(ctx context.Context) error {
	if err := m.Start(ctx); err != nil {
		if m.Store != nil {
			m.Store.Close()
		}
		return err
	}
	<-ctx.Done()
	m.Logger.Info("shutting down")
	return m.Close()
}
