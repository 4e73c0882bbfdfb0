package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/identity"
	"github.com/mergedesk/mergedesk/internal/store"
)

// runImport is `mergedesk import [--db DSN] [--format csv|jsonl] [--batch N] FILE`.
func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dsn := fs.String("db", env("MERGEDESK_DB", "sqlite:mergedesk.db"), "database: sqlite:PATH or postgres://... (MERGEDESK_DB)")
	format := fs.String("format", env("MERGEDESK_IMPORT_FORMAT", ""), "csv or jsonl; default: from the file name (MERGEDESK_IMPORT_FORMAT)")
	cacheMiB := fs.Int("cache-mb", envInt("MERGEDESK_IMPORT_CACHE_MB", 256), "SQLite page cache while importing, MiB (MERGEDESK_IMPORT_CACHE_MB)")
	batch := fs.Int("batch", envInt("MERGEDESK_IMPORT_BATCH", 2000), "users per transaction (MERGEDESK_IMPORT_BATCH)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mergedesk import [--db DSN] [--format csv|jsonl] [--batch N] FILE\n\n"+
			"Loads end users. CSV: a header row naming unique_id, first_name, surname, email (and optionally\n"+
			"dob, city, cluster, phone, external_id). JSON lines: one Zendesk user object per line.\n"+
			"Rows whose identities or external id are already taken are skipped and reported.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError{"import: want exactly one FILE ('-' for standard input)"}
	}
	if *batch < 1 || *batch > 50_000 {
		return usageError{"import: --batch must be between 1 and 50000"}
	}
	name := fs.Arg(0)
	if *format == "" {
		switch strings.ToLower(filepath.Ext(name)) {
		case ".csv":
			*format = "csv"
		case ".jsonl", ".ndjson", ".json":
			*format = "jsonl"
		default:
			return usageError{"import: cannot tell the format of " + name + "; use --format csv|jsonl"}
		}
	}
	if *format != "csv" && *format != "jsonl" {
		return usageError{"import: --format must be csv or jsonl"}
	}

	var in io.Reader = os.Stdin
	var size int64 = -1
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil {
			size = st.Size()
		}
		in = f
	}
	db, err := store.Open(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.BeginBulk(ctx, *cacheMiB); err != nil {
		return err
	}

	prog := newProgress(stderr, size)
	counted := &countingReader{r: in, add: prog.addBytes}
	var rows rowSource
	if *format == "csv" {
		rows, err = newCSVSource(counted)
		if err != nil {
			return err
		}
	} else {
		rows = newJSONLSource(counted)
	}

	start := time.Now()
	batches := make(chan importBatch, 2)
	var readErr error
	go func() {
		defer close(batches)
		readErr = readBatches(ctx, rows, *batch, batches)
	}()
	const maxReported = 20
	reported := 0
	sum, err := importAll(ctx, db, batches, func(b importBatch, res mergedesk.ImportResult) {
		prog.addRows(len(b.users))
		for i, e := range res.Errors {
			if e != nil && reported < maxReported {
				reported++
				prog.printf("line %d: skipped: %s\n", b.lines[i], describe(e))
			}
		}
	})
	prog.finish()
	if err == nil {
		err = readErr
	}
	if err != nil {
		return fmt.Errorf("import %s: %w (after %d users)", name, err, sum.created)
	}
	d := time.Since(start)
	if sum.skipped > reported {
		fmt.Fprintf(stderr, "... %d more rows skipped\n", sum.skipped-reported)
	}
	fmt.Fprintf(stdout, "imported %d users, skipped %d, in %s: %.0f users/s (%s database)\n",
		sum.created, sum.skipped, d.Round(time.Millisecond), float64(sum.created)/d.Seconds(), db.Dialect())
	return nil
}

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(env(key, "")); err == nil {
		return v
	}
	return def
}

// describe is the human sentence of an import row error.
func describe(err error) string {
	var e *mergedesk.Error
	if errors.As(err, &e) {
		for _, list := range e.Details {
			if len(list) > 0 {
				return list[0].Description
			}
		}
		return e.Description
	}
	return err.Error()
}

// importBatch is a slice of users and the input line each came from.
type importBatch struct {
	users []mergedesk.NewUser
	lines []int
}

type importSum struct{ created, skipped int }

// importWriters is how many batches are in flight: while one transaction
// writes, the next batch's identities are normalised on the other core.
const importWriters = 2

// importAll imports batches with importWriters concurrent ImportUsers calls,
// calls done (serialised) after each, and ends the bulk load (db.EndBulk).
func importAll(ctx context.Context, db *store.DB, batches <-chan importBatch, done func(importBatch, mergedesk.ImportResult)) (importSum, error) {
	var (
		mu    sync.Mutex
		sum   importSum
		first error
		wg    sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
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
					sum.created += res.Created
					sum.skipped += res.Skipped
					if done != nil {
						done(b, res)
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
		// The WAL checkpoint of a bulk load is part of its cost (BeginBulk).
		first = db.EndBulk(ctx)
	}
	return sum, first
}

// rowSource yields one user per call, with its input line; io.EOF ends it.
type rowSource interface {
	next() (mergedesk.NewUser, int, error)
}

func readBatches(ctx context.Context, rows rowSource, size int, out chan<- importBatch) error {
	b := importBatch{}
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		u, line, err := rows.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		b.users = append(b.users, u)
		b.lines = append(b.lines, line)
		if len(b.users) == size {
			out <- b
			b = importBatch{}
		}
	}
	if len(b.users) > 0 {
		out <- b
	}
	return nil
}

// csvSource reads the Splink-style person file (data/README.md): name is first
// name and surname, external_id "fake-"+unique_id, dob, city and cluster go to
// user_fields, and a missing or invalid e-mail address is left out.
type csvSource struct {
	r   *csv.Reader
	col map[string]int
}

func newCSVSource(r io.Reader) (*csvSource, error) {
	cr := csv.NewReader(bufio.NewReaderSize(r, 1<<16))
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("csv header: %w", err)
	}
	s := &csvSource{r: cr, col: map[string]int{}}
	for i, h := range header {
		s.col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	_, hasName := s.col["name"]
	_, hasFirst := s.col["first_name"]
	if !hasName && !hasFirst {
		return nil, errors.New("csv header: want a name or first_name column")
	}
	return s, nil
}

func (s *csvSource) next() (mergedesk.NewUser, int, error) {
	rec, err := s.r.Read()
	if err != nil {
		if err == io.EOF {
			return mergedesk.NewUser{}, 0, err
		}
		return mergedesk.NewUser{}, 0, fmt.Errorf("csv: %w", err)
	}
	line, _ := s.r.FieldPos(0)
	get := func(k string) string {
		if i, ok := s.col[k]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var u mergedesk.NewUser
	u.Name = get("name")
	if u.Name == "" {
		u.Name = strings.TrimSpace(get("first_name") + " " + get("surname"))
	}
	if email := get("email"); email != "" && identity.ValidEmail(email) {
		u.Email = email
	}
	u.Phone = get("phone")
	if ext := get("external_id"); ext != "" {
		u.ExternalID = &ext
	} else if id := get("unique_id"); id != "" {
		ext := "fake-" + id
		u.ExternalID = &ext
	}
	if u.Name == "" {
		// Like an inline requester (docs/api.md §6.2): the e-mail's local part, else the external id.
		switch {
		case u.Email != "":
			u.Name = u.Email[:strings.LastIndexByte(u.Email, '@')]
		case u.ExternalID != nil:
			u.Name = *u.ExternalID
		}
	}
	for _, k := range []string{"dob", "city", "cluster"} {
		if v := get(k); v != "" {
			if u.UserFields == nil {
				u.UserFields = map[string]any{}
			}
			u.UserFields[k] = v
		}
	}
	return u, line, nil
}

// jsonlSource reads one Zendesk user object per line (docs/api.md §2.1), either bare
// or wrapped as {"user":{...}}.
type jsonlSource struct {
	sc   *bufio.Scanner
	line int
}

func newJSONLSource(r io.Reader) *jsonlSource {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 10<<20)
	return &jsonlSource{sc: sc}
}

type jsonlUser struct {
	Name              string         `json:"name"`
	Email             string         `json:"email"`
	Phone             string         `json:"phone"`
	SharedPhoneNumber bool           `json:"shared_phone_number"`
	ExternalID        *string        `json:"external_id"`
	Role              string         `json:"role"`
	Verified          bool           `json:"verified"`
	Suspended         bool           `json:"suspended"`
	LocaleID          json.Number    `json:"locale_id"`
	Locale            string         `json:"locale"`
	TimeZone          string         `json:"time_zone"`
	Tags              []string       `json:"tags"`
	Details           *string        `json:"details"`
	Notes             *string        `json:"notes"`
	Alias             *string        `json:"alias"`
	UserFields        map[string]any `json:"user_fields"`
	OrganizationID    *int64         `json:"organization_id"`
	Organization      *struct {
		Name string `json:"name"`
	} `json:"organization"`
	RemotePhotoURL *string `json:"remote_photo_url"`
	Identities     []struct {
		Type     string `json:"type"`
		Value    string `json:"value"`
		Verified bool   `json:"verified"`
		Primary  bool   `json:"primary"`
	} `json:"identities"`
	User *jsonlUser `json:"user"`
}

func (s *jsonlSource) next() (mergedesk.NewUser, int, error) {
	for s.sc.Scan() {
		s.line++
		b := s.sc.Bytes()
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		var j jsonlUser
		if err := json.Unmarshal(b, &j); err != nil {
			return mergedesk.NewUser{}, s.line, fmt.Errorf("line %d: %w", s.line, err)
		}
		if j.User != nil {
			j = *j.User
		}
		u := mergedesk.NewUser{Name: j.Name, Email: j.Email, Phone: j.Phone, SharedPhone: j.SharedPhoneNumber,
			ExternalID: j.ExternalID, Role: j.Role, Verified: j.Verified, Suspended: j.Suspended, TimeZone: j.TimeZone,
			Tags: j.Tags, Details: j.Details, Notes: j.Notes, Alias: j.Alias, UserFields: j.UserFields,
			OrganizationID: j.OrganizationID, RemotePhotoURL: j.RemotePhotoURL}
		if j.Organization != nil && j.Organization.Name != "" {
			u.OrganizationName = &j.Organization.Name
		}
		if id, err := j.LocaleID.Int64(); err == nil {
			u.LocaleID = id
		}
		if l := mergedesk.LocaleByName(j.Locale); j.Locale != "" && l != nil {
			u.LocaleID = l.ID
		}
		for _, id := range j.Identities {
			u.Identities = append(u.Identities, mergedesk.NewIdentity{Type: id.Type, Value: id.Value,
				Verified: id.Verified, Primary: id.Primary})
		}
		return u, s.line, nil
	}
	if err := s.sc.Err(); err != nil {
		return mergedesk.NewUser{}, s.line, err
	}
	return mergedesk.NewUser{}, s.line, io.EOF
}

type countingReader struct {
	r   io.Reader
	add func(int)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.add(n)
	return n, err
}

// progress shows a progress bar when the output is a terminal, otherwise a log
// line every few seconds.
type progress struct {
	w     io.Writer
	bar   *progressbar.ProgressBar
	rows  atomic.Int64
	start time.Time
	last  time.Time
	mu    sync.Mutex
}

func newProgress(w io.Writer, size int64) *progress {
	p := &progress{w: w, start: time.Now(), last: time.Now()}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions64(size, progressbar.OptionSetWriter(w), progressbar.OptionShowBytes(true),
			progressbar.OptionSetDescription("importing"), progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
	}
	return p
}

func (p *progress) addBytes(n int) {
	if p.bar != nil {
		p.bar.Add(n)
	}
}

func (p *progress) addRows(n int) {
	total := p.rows.Add(int64(n))
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("importing: %d users", total))
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.last) >= 2*time.Second {
		p.last = time.Now()
		d := time.Since(p.start)
		fmt.Fprintf(p.w, "import: %d rows read in %s (%.0f rows/s)\n", total, d.Round(time.Second), float64(total)/d.Seconds())
	}
}

// printf writes a message without breaking the bar.
func (p *progress) printf(format string, args ...any) {
	if p.bar != nil {
		p.bar.Clear()
	}
	fmt.Fprintf(p.w, format, args...)
}

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
