package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/detector"
	"github.com/mergedesk/mergedesk/internal/store"
)

const duplicatesUsage = `usage: mergedesk duplicates <scan|list> [flags]

  scan   compare every active end user and replace the open suggestions
         (progress on a terminal, a summary at the end; run again to resume)
  list   print the stored suggestions, best first

Run 'mergedesk duplicates <scan|list> -h' for the flags.`

// cliScanID is the scan id of the command line's scans: an interrupted
// "duplicates scan" resumes when it is run again (docs/duplicates-runtime.md).
const cliScanID = "cli"

func runDuplicates(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{duplicatesUsage}
	}
	switch args[0] {
	case "scan":
		return runDuplicateScan(ctx, args[1:], stdout, stderr)
	case "list":
		return runDuplicateList(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, duplicatesUsage)
		return nil
	}
	return usageError{fmt.Sprintf("unknown duplicates command %q\n\n%s", args[0], duplicatesUsage)}
}

func runDuplicateScan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("duplicates scan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dsn := fs.String("db", env("MERGEDESK_DB", "sqlite:mergedesk.db"), "database: sqlite:PATH or postgres://... (MERGEDESK_DB)")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	db, err := store.Open(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	d := detector.New(db, slog.New(slog.NewTextHandler(stderr, nil)))
	prog := newScanProgress(stderr)
	sum, err := d.Scan(ctx, cliScanID, prog.report)
	prog.finish()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("scan interrupted: run 'mergedesk duplicates scan' again to resume: %w", err)
		}
		return err
	}
	fmt.Fprintf(stdout, "scanned %d users in %.1f s: %d open suggestions in %d groups\n", sum.Users, sum.Seconds, sum.Suggestions, sum.Groups)
	return nil
}

// scanProgress is a progress bar on a terminal, a line every few seconds
// otherwise (like the import's).
type scanProgress struct {
	w    io.Writer
	bar  *progressbar.ProgressBar
	last time.Time
}

func newScanProgress(w io.Writer) *scanProgress {
	p := &scanProgress{w: w, last: time.Now()}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(-1, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("scanning users"),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
	}
	return p
}

func (p *scanProgress) report(done, total int) error {
	if p.bar != nil {
		p.bar.ChangeMax(total)
		p.bar.Set(done)
		return nil
	}
	if time.Since(p.last) >= 2*time.Second || done == total {
		p.last = time.Now()
		fmt.Fprintf(p.w, "duplicates scan: %d of %d users\n", done, total)
	}
	return nil
}

func (p *scanProgress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}

func runDuplicateList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("duplicates list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dsn := fs.String("db", env("MERGEDESK_DB", "sqlite:mergedesk.db"), "database: sqlite:PATH or postgres://... (MERGEDESK_DB)")
	minScore := fs.String("min-score", "", "only suggestions scoring at least this, in (0, 1]")
	status := fs.String("status", "open", "open, dismissed, merged or all")
	format := fs.String("format", "table", "table, csv or json")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	f := mergedesk.SuggestionFilter{Status: *status}
	if *minScore != "" {
		v, err := strconv.ParseFloat(*minScore, 64)
		if err != nil {
			return usageError{fmt.Sprintf("--min-score: %q is not a number", *minScore)}
		}
		f.MinScore = &v
	}
	if err := f.Normalize(); err != nil {
		if mergedesk.FieldCode(err, "status") != "" {
			return usageError{fmt.Sprintf("--status must be open, dismissed, merged or all, not %q", *status)}
		}
		return usageError{fmt.Sprintf("--min-score must be greater than 0 and at most 1, not %s", *minScore)}
	}
	if *format != "table" && *format != "csv" && *format != "json" {
		return usageError{fmt.Sprintf("--format must be table, csv or json, not %q", *format)}
	}
	db, err := store.Open(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	d := detector.New(db, slog.New(slog.NewTextHandler(stderr, nil)))
	var all []*mergedesk.DuplicateSuggestion
	p := mergedesk.Page{Cursor: true, Size: 100}
	for {
		page, info, err := d.Suggestions(ctx, f, p)
		if err != nil {
			return err
		}
		all = append(all, page...)
		if !info.HasMore || len(page) == 0 {
			break
		}
		p.After = page[len(page)-1].ID
	}
	switch *format {
	case "json":
		return writeSuggestionsJSON(stdout, all)
	case "csv":
		return writeSuggestionsCSV(stdout, all)
	}
	return writeSuggestionsTable(stdout, all)
}

// matches is the reasons' match codes, strongest first as stored.
func matches(s *mergedesk.DuplicateSuggestion) string {
	var out []string
	for _, r := range s.Reasons {
		out = append(out, r.Field+":"+r.Match)
	}
	return strings.Join(out, " ")
}

func blockers(s *mergedesk.DuplicateSuggestion) string {
	if s.Merge == nil {
		return ""
	}
	var out []string
	for _, b := range s.Merge.Blockers {
		out = append(out, b.Error)
	}
	return strings.Join(out, " ")
}

func suggestionRow(s *mergedesk.DuplicateSuggestion) []string {
	eligible := s.Merge != nil && s.Merge.Eligible
	return []string{strconv.FormatInt(s.ID, 10), strconv.FormatInt(s.UserIDs[0], 10), strconv.FormatInt(s.UserIDs[1], 10),
		strconv.FormatFloat(s.Score, 'f', 3, 64), strconv.FormatInt(s.GroupID, 10), s.Status,
		strconv.FormatInt(s.SuggestedTargetID, 10), strconv.FormatBool(eligible), blockers(s), matches(s)}
}

var suggestionHeader = []string{"id", "user_a", "user_b", "score", "group_id", "status", "suggested_target_id", "eligible", "blockers", "reasons"}

func writeSuggestionsTable(w io.Writer, all []*mergedesk.DuplicateSuggestion) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.ToUpper(strings.Join(suggestionHeader, "\t")))
	for _, s := range all {
		fmt.Fprintln(tw, strings.Join(suggestionRow(s), "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(all) == 0 {
		fmt.Fprintln(w, "no suggestions (run 'mergedesk duplicates scan' to look for some)")
	}
	return nil
}

func writeSuggestionsCSV(w io.Writer, all []*mergedesk.DuplicateSuggestion) error {
	cw := csv.NewWriter(w)
	cw.Write(suggestionHeader)
	for _, s := range all {
		cw.Write(suggestionRow(s))
	}
	cw.Flush()
	return cw.Error()
}

// writeSuggestionsJSON writes the suggestions in the API's shape (without url).
func writeSuggestionsJSON(w io.Writer, all []*mergedesk.DuplicateSuggestion) error {
	type row struct {
		ID                int64                       `json:"id"`
		UserIDs           [2]int64                    `json:"user_ids"`
		Score             float64                     `json:"score"`
		Reasons           []mergedesk.DuplicateReason `json:"reasons"`
		GroupID           int64                       `json:"group_id"`
		Status            string                      `json:"status"`
		SuggestedTargetID int64                       `json:"suggested_target_id"`
		Merge             *mergedesk.MergeEligibility `json:"merge"`
		DismissedByID     *int64                      `json:"dismissed_by_id"`
		DismissedAt       *time.Time                  `json:"dismissed_at"`
		CreatedAt         time.Time                   `json:"created_at"`
		UpdatedAt         time.Time                   `json:"updated_at"`
	}
	out := make([]row, 0, len(all))
	for _, s := range all {
		out = append(out, row{s.ID, s.UserIDs, s.Score, s.Reasons, s.GroupID, s.Status, s.SuggestedTargetID, s.Merge,
			s.DismissedByID, s.DismissedAt, s.CreatedAt, s.UpdatedAt})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(map[string]any{"duplicate_suggestions": out})
}
