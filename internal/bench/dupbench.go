package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"time"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/detector"
	"github.com/mergedesk/mergedesk/internal/identity"
	"github.com/mergedesk/mergedesk/internal/store"
)

// DuplicatesConfig configures `mergedesk bench duplicates`.
type DuplicatesConfig struct {
	DB    string // as Database takes it
	CSV   string // labelled CSV
	Label string // label column; "" finds it
	// MinScore is the threshold measured; 0 means the default of
	// duplicates.min_score.
	MinScore float64
	// Progress, when set, is told how far the import and the scan are.
	Progress func(phase string, done, total int)
}

// DuplicateQuality imports a labelled CSV into a fresh database the way
// Mergedesk would see it (identity resolution folds rows with an email another
// row owns), runs the full scan of `mergedesk duplicates scan`, and prints
// pairwise precision, recall and F1 of the suggestions at the threshold, the
// same for the groups they form, and the best recall at precision 0.95 and
// 0.99 (docs/duplicates.md, docs/benchmarks.md). The labels are only read
// after the scan.
func DuplicateQuality(ctx context.Context, c DuplicatesConfig, stdout, stderr io.Writer) (Quality, error) {
	var q Quality
	min := c.MinScore
	if min == 0 {
		min = mergedesk.DefaultMinScore
	}
	f, err := os.Open(c.CSV)
	if err != nil {
		return q, err
	}
	l, err := ReadLabelled(f, c.Label)
	f.Close()
	if err != nil {
		return q, fmt.Errorf("%s: %w", c.CSV, err)
	}
	dsn, cleanup, err := Database(c.DB, stderr)
	if err != nil {
		return q, err
	}
	defer cleanup()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return q, err
	}
	defer db.Close()

	// Store every pair the scan scores above a low floor, so that recall at a
	// given precision can be read off; the threshold is applied below.
	patch, _ := json.Marshal(map[string]any{"duplicates": map[string]any{"enabled": false, "min_score": 0.01, "user_fields": l.Fields}})
	if _, err := db.UpdateSettings(ctx, patch); err != nil {
		return q, err
	}
	started := time.Now()
	ids, err := importLabelled(ctx, db, l, c.Progress)
	if err != nil {
		return q, err
	}
	imported := time.Since(started)

	det := detector.New(db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	started = time.Now()
	sum, err := det.Scan(ctx, "bench-duplicates", func(done, total int) error {
		if c.Progress != nil {
			c.Progress("scanning", done, total)
		}
		return nil
	})
	if err != nil {
		return q, err
	}
	scanned := time.Since(started)

	row := make(map[int64]int, len(ids))
	for i, id := range ids {
		row[id] = i
	}
	stored, err := db.DuplicateScores(ctx)
	if err != nil {
		return q, err
	}
	pairs := make([]ScoredPair, len(stored))
	for i, s := range stored {
		pairs[i] = ScoredPair{A: row[s.UserIDs[0]], B: row[s.UserIDs[1]], Score: s.Score}
	}
	q = l.Measure(pairs, min)
	g := l.MeasureGroups(pairs, min)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)

	fmt.Fprintf(stdout, "data: %s, %d rows, %d profiles after identity resolution, %d true pairs, user fields %v\n",
		c.CSV, len(l.Rows)+l.Resolved, len(l.Rows), q.TruePairs, l.Fields)
	fmt.Fprintf(stdout, "import %.1f s, scan %.1f s (%d users; peak heap %d MiB)\n", imported.Seconds(), scanned.Seconds(), sum.Users, ms.HeapSys>>20)
	fmt.Fprintf(stdout, "at min_score %.2f:  precision %.4f  recall %.4f  F1 %.4f  (%d suggested, %d correct)\n",
		min, q.Precision, q.Recall, q.F1, q.Suggested, q.Correct)
	fmt.Fprintf(stdout, "  as groups:       precision %.4f  recall %.4f  F1 %.4f  (%d pairs in groups)\n",
		g.Precision, g.Recall, g.F1, g.Suggested)
	tq := l.transitiveQuality(pairs, min)
	fmt.Fprintf(stdout, "  chains (not built: A~C when s(A,B)·s(B,C) ≥ min_score): precision %.4f  recall %.4f  F1 %.4f\n", tq.Precision, tq.Recall, tq.F1)
	fmt.Fprintf(stdout, "by threshold:")
	for _, t := range []float64{0.5, 0.8, 0.9, 0.95, 0.99} {
		x := l.Measure(pairs, t)
		fmt.Fprintf(stdout, "  %.2f: P %.3f R %.3f", t, x.Precision, x.Recall)
	}
	fmt.Fprintln(stdout)
	for _, at := range []float64{0.95, 0.99} {
		r := q.RecallAt[at]
		fmt.Fprintf(stdout, "recall at precision %.2f: %.4f (min_score %.4f)\n", at, r[0], r[1])
	}
	return q, nil
}

// importLabelled imports the profiles in batches and returns their user ids by
// row. An address the API would refuse is left out (the person is still
// imported, without it), as a help desk would never hold it.
func importLabelled(ctx context.Context, db *store.DB, l *Labelled, progress func(string, int, int)) ([]int64, error) {
	ids := make([]int64, 0, len(l.Rows))
	const batch = 2000
	for lo := 0; lo < len(l.Rows); lo += batch {
		rows := l.Rows[lo:min(lo+batch, len(l.Rows))]
		users := make([]mergedesk.NewUser, len(rows))
		for i, r := range rows {
			name := r.Name
			if name == "" {
				name = "Unknown"
			}
			u := mergedesk.NewUser{Name: name, UserFields: map[string]any{}}
			if identity.ValidEmail(r.Email) {
				u.Email = r.Email
			}
			if _, err := identity.Phone(r.Phone, "US"); err == nil {
				u.Phone = r.Phone
			}
			for j, f := range l.Fields {
				if r.Fields[j] != "" {
					u.UserFields[f] = r.Fields[j]
				}
			}
			users[i] = u
		}
		res, err := db.ImportUsers(ctx, users)
		if err != nil {
			return nil, err
		}
		for i, id := range res.IDs {
			if id != 0 {
				continue
			}
			// A value the help desk refuses (or one that another profile owns in
			// a form the file did not reveal) is left out; the person is not.
			bare := users[i]
			bare.Email, bare.Phone = "", ""
			again, err := db.ImportUsers(ctx, []mergedesk.NewUser{bare})
			if err != nil {
				return nil, err
			}
			if again.IDs[0] == 0 {
				return nil, fmt.Errorf("row %d not imported: %v (first: %v)", lo+i+1, again.Errors[0], res.Errors[i])
			}
			res.IDs[i] = again.IDs[0]
		}
		ids = append(ids, res.IDs...)
		if progress != nil {
			progress("importing", lo+len(rows), len(l.Rows))
		}
	}
	return ids, db.EndBulk(ctx)
}
