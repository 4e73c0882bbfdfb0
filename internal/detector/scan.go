package detector

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"runtime/debug"
	"sort"
	"time"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/duplicates"
)

const (
	// scanChunk is how many users a scan compares between two writes: each
	// chunk's suggestions and the scan's cursor commit in one short
	// transaction, so writers wait at most that long (rule D10).
	scanChunk = 2000
	// keyBatch is how many users' keys one transaction of the key rebuild writes.
	keyBatch = 5000
	// scanMemoryLimit is the Go heap a scan keeps to (a soft limit, lowered
	// for the scan only and never raised): a million profiles and their
	// index live in about half of it, and the collector works harder near
	// it instead of letting garbage double the heap.
	scanMemoryLimit = 640 << 20
)

// ScanSummary is the outcome of a full scan (the job's result entry).
type ScanSummary struct {
	Users       int
	Suggestions int
	Groups      int
	Seconds     float64
	// KeysWritten is how many users' keys the key rebuild wrote (the others
	// were stored already).
	KeysWritten int
	// Pairs is how many candidate pairs the blocking yielded and Compared how
	// many of them this run scored (fewer when it resumed).
	Pairs, Compared int64
	// Phases is where the time went, in order.
	Phases []ScanPhase
}

// ScanPhase is the wall time of one phase of a scan.
type ScanPhase struct {
	Name    string
	Seconds float64
}

// StartScan queues a full scan on behalf of ownerID, or returns the scan that
// is queued or running already.
func (d *Detector) StartScan(ctx context.Context, ownerID int64) (*mergedesk.Job, error) {
	j, created, err := d.DB.CreateSingletonJob(ctx, JobScan, ownerID)
	if err != nil {
		return nil, err
	}
	if created && d.Jobs != nil {
		d.Jobs.Wake()
	}
	return j, nil
}

func (d *Detector) runScanJob(ctx context.Context, j *mergedesk.Job, progress func(done, total int) error) (map[string]any, error) {
	sum, err := d.Scan(ctx, j.ID, progress)
	if err != nil {
		return nil, err
	}
	return map[string]any{"success": true, "status": "Completed", "suggestions": sum.Suggestions, "groups": sum.Groups,
		"seconds": sum.Seconds}, nil
}

// Scan compares every active end user with every other that shares a key
// (rule D10) under the scan id scanID: it loads the profiles, estimates and
// saves the model, rebuilds the keys table, then scans in chunks, writing
// each chunk's suggestions with the scan's cursor and reporting progress
// (users scanned, users to scan). Open suggestions the scan does not find
// again are deleted at the end; dismissed and merged ones stay. A scan cut
// off (ctx ends) returns ctx's error; calling Scan again with the same scanID
// resumes with the chunk after the last one written, with the model it saved.
func (d *Detector) Scan(ctx context.Context, scanID string, progress func(done, total int) error) (ScanSummary, error) {
	started := time.Now()
	var sum ScanSummary
	if old := debug.SetMemoryLimit(-1); old > scanMemoryLimit {
		debug.SetMemoryLimit(scanMemoryLimit)
		defer debug.SetMemoryLimit(old)
	}
	mark := started
	phase := func(name string) {
		now := time.Now()
		sum.Phases = append(sum.Phases, ScanPhase{Name: name, Seconds: now.Sub(mark).Seconds()})
		mark = now
	}
	s, err := d.DB.Settings(ctx)
	if err != nil {
		return sum, err
	}
	fields, minScore := s.Duplicates.UserFields, s.Duplicates.MinScore
	gen, cursor, err := d.DB.BeginDuplicateScan(ctx, scanID)
	if err != nil {
		return sum, err
	}
	var profiles []*duplicates.Profile
	if err := d.DB.EachDuplicateProfile(ctx, fields, func(p *duplicates.Profile) error {
		profiles = append(profiles, p)
		return nil
	}); err != nil {
		return sum, err
	}
	n := len(profiles)
	sum.Users = n
	phase("load profiles")
	ix := duplicates.NewIndex(profiles, fields)
	sum.Pairs = int64(ix.Pairs())
	phase("index")
	var m *duplicates.Model
	if cursor == 0 {
		if m, err = ix.Estimate(ctx); err != nil {
			return sum, err
		}
		phase("estimate")
		raw, err := json.Marshal(m)
		if err != nil {
			return sum, err
		}
		if err := d.DB.SaveDuplicateModel(ctx, raw); err != nil {
			return sum, err
		}
		d.setModel(m)
		if sum.KeysWritten, err = d.rebuildKeys(ctx, profiles); err != nil {
			return sum, err
		}
		phase("key rebuild")
	} else if m, err = d.Model(ctx); err != nil {
		return sum, err
	}
	start := sort.Search(n, func(i int) bool { return profiles[i].ID > cursor })
	if err := progress(start, n); err != nil {
		return sum, err
	}
	chunk := d.ScanChunk
	if chunk <= 0 {
		chunk = scanChunk
	}
	var compare, write time.Duration
	for lo := start; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		t0 := time.Now()
		found, compared, err := ix.ScanRange(ctx, m, lo, hi, minScore)
		if err != nil {
			return sum, err
		}
		sum.Compared += compared
		pairs := make([]mergedesk.DuplicateSuggestion, len(found))
		for i, f := range found {
			pairs[i] = mergedesk.DuplicateSuggestion{UserIDs: [2]int64{f.A, f.B}, Score: f.Score, Reasons: f.Reasons}
		}
		if err := d.direct(ctx, pairs); err != nil {
			return sum, err
		}
		t1 := time.Now()
		compare += t1.Sub(t0)
		// The chunk is written even if ctx ended meanwhile: it is complete.
		if err := d.DB.SaveScanChunk(context.WithoutCancel(ctx), gen, profiles[hi-1].ID, pairs); err != nil {
			return sum, err
		}
		write += time.Since(t1)
		if err := progress(hi, n); err != nil {
			return sum, err
		}
		if err := ctx.Err(); err != nil {
			return sum, err
		}
	}
	sum.Phases = append(sum.Phases, ScanPhase{Name: "compare", Seconds: compare.Seconds()}, ScanPhase{Name: "write", Seconds: write.Seconds()})
	mark = time.Now()
	if err := d.DB.FinishDuplicateScan(ctx, gen); err != nil {
		return sum, err
	}
	all, err := d.DB.AllOpenDuplicatePairs(ctx)
	if err != nil {
		return sum, err
	}
	if err := d.DB.SetDuplicateGroups(ctx, duplicates.Groups(all)); err != nil {
		return sum, err
	}
	if sum.Suggestions, sum.Groups, err = d.DB.CountDuplicateGroups(ctx); err != nil {
		return sum, err
	}
	phase("finish (clean-up, groups)")
	sum.Seconds = math.Round(time.Since(started).Seconds()*10) / 10
	return sum, nil
}

// rebuildKeys brings the keys table in line with profiles range by range:
// each transaction covers the user ids from just after the previous batch to
// its last user, so users who are no longer active end users lose theirs and
// no transaction is long. Users whose stored keys are the same are not
// written (the live worker keeps the keys of changed users fresh). It returns
// how many users' keys were written.
func (d *Detector) rebuildKeys(ctx context.Context, profiles []*duplicates.Profile) (int, error) {
	// The next batch's keys are computed on the other core while a batch is
	// written.
	type batch struct {
		hi   int64
		keys map[int64][]uint64
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan batch, 1)
	go func() {
		defer close(batches)
		for i := 0; i < len(profiles) || i == 0; i += keyBatch {
			part := profiles[i:min(i+keyBatch, len(profiles))]
			keys := make(map[int64][]uint64, len(part))
			for _, p := range part {
				keys[p.ID] = duplicates.Keys(p)
			}
			hi := int64(math.MaxInt64)
			if i+keyBatch < len(profiles) {
				hi = part[len(part)-1].ID
			}
			select {
			case batches <- batch{hi, keys}:
			case <-ctx.Done():
				return
			}
		}
	}()
	lo := int64(math.MinInt64)
	written := 0
	for b := range batches {
		n, err := d.DB.SyncDuplicateKeys(ctx, lo, b.hi, b.keys)
		if err != nil {
			return written, fmt.Errorf("rebuild duplicate keys: %w", err)
		}
		written += n
		if b.hi == math.MaxInt64 {
			break
		}
		lo = b.hi + 1
	}
	return written, ctx.Err()
}
