// Package detector runs duplicate detection (docs/duplicates.md, rules D1–D14)
// against the database: a live worker that re-evaluates every user queued by
// a change (D8), the reads the API and the UI show (with the merge preview's
// eligibility, D6), and the full scan as a background job (D10). The scoring
// is internal/duplicates; how the pieces fit is docs/duplicates-runtime.md.
package detector

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/duplicates"
	"github.com/mergedesk/mergedesk/internal/jobs"
)

// JobScan is the job type of a full scan (POST /duplicate_scans).
const JobScan = mergedesk.JobDuplicateScan

const (
	// PollInterval is how often the live worker looks at the queue when
	// nobody wakes it: well inside D8's 2 seconds.
	PollInterval = 200 * time.Millisecond
	// claimBatch is how many queued users the worker takes at a time.
	claimBatch = 50
	// maxCandidates caps the candidates of one live comparison in all.
	maxCandidates = 2000
	// maxForUser is the most candidates GET /users/{id}/duplicates returns.
	maxForUser = 20
	// maxGroupWalk caps the users a group recomputation walks (D9): a chain
	// longer than this keeps the group ids it had.
	maxGroupWalk = 5000
	// statsTTL is how long the count of active end users is reused.
	statsTTL = 10 * time.Second
	// countLimit is how far a live lookup counts a key's users (enough to
	// tell a block it takes candidates from); a key held by more has its
	// count cached for bigCountTTL (a common surname's count
	// hardly moves, and counting it costs a walk over its whole block).
	countLimit  = duplicates.MaxBlock + 1
	bigCountTTL = 2 * time.Minute
	// maxBigCounts bounds the cache of large counts.
	maxBigCounts = 100_000
	// modelTTL is how long the stored model is reused before it is read
	// again (another server's scan may have saved a new one).
	modelTTL = 30 * time.Second
)

// Detector finds duplicate end users. Start and Stop run the live worker;
// the read methods may be used without it.
type Detector struct {
	DB     Store
	Logger *slog.Logger
	// Jobs, when set, is woken after a scan is queued.
	Jobs *jobs.Runner
	// ScanChunk is how many users a scan compares per write; 0 is 2,000.
	ScanChunk int

	wake   chan struct{}
	done   chan struct{}
	cancel context.CancelFunc
	// batch is held while a batch of the queue is evaluated, so that Drain
	// knows when nothing is in flight.
	batch sync.Mutex

	mu      sync.Mutex
	model   *duplicates.Model
	modelAt time.Time
	users   int
	usersAt time.Time
	// big caches the counts of keys held by countLimit users or more.
	big map[uint64]bigCount
}

type bigCount struct {
	n  int
	at time.Time
}

// New returns a detector over db.
func New(db Store, logger *slog.Logger) *Detector {
	if logger == nil {
		logger = slog.Default()
	}
	return &Detector{DB: db, Logger: logger}
}

// RegisterJobs registers the full scan's job type with r.
func (d *Detector) RegisterJobs(r *jobs.Runner) {
	d.Jobs = r
	r.HandleRun(JobScan, d.runScanJob)
}

// Start runs the live worker in a goroutine until Stop.
func (d *Detector) Start() {
	d.wake = make(chan struct{}, 1)
	d.done = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	go d.loop(ctx)
}

// Stop ends the live worker after the batch it is on, or when ctx ends.
// Queued users stay queued for the next start.
func (d *Detector) Stop(ctx context.Context) {
	if d.cancel == nil {
		return
	}
	d.cancel()
	select {
	case <-d.done:
	case <-ctx.Done():
	}
}

// Wake makes the live worker look at the queue now.
func (d *Detector) Wake() {
	if d.wake == nil {
		return
	}
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *Detector) loop(ctx context.Context) {
	defer close(d.done)
	t := time.NewTicker(PollInterval)
	defer t.Stop()
	for {
		for ctx.Err() == nil {
			n, err := d.RunQueue(context.WithoutCancel(ctx))
			if err != nil {
				d.Logger.Error("duplicate detection", "err", err)
				break
			}
			if n == 0 {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		case <-t.C:
		}
	}
}

// Drain evaluates everything queued until the queue is empty and no batch is
// being evaluated (by the live worker or anyone else): afterwards the stored
// suggestions reflect every change committed before the call.
func (d *Detector) Drain(ctx context.Context) error {
	for {
		n, err := d.RunQueue(ctx)
		if err != nil || n == 0 {
			return err
		}
	}
}

// RunQueue takes one batch off the queue and re-evaluates its users; it
// returns how many it took. A batch that fails goes back on the queue.
func (d *Detector) RunQueue(ctx context.Context) (int, error) {
	d.batch.Lock()
	defer d.batch.Unlock()
	// Off (duplicates.enabled false): no live updates. Nothing is queued
	// while it is off; what was queued before waits for it to be on again.
	if s, err := d.DB.Settings(ctx); err != nil || !s.Duplicates.Enabled {
		return 0, err
	}
	ids, err := d.DB.ClaimDuplicateQueue(ctx, claimBatch)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	if err := d.Evaluate(ctx, ids); err != nil {
		if qerr := d.DB.EnqueueDuplicates(ctx, ids); qerr != nil {
			err = errors.Join(err, qerr)
		}
		return len(ids), err
	}
	return len(ids), nil
}

// Evaluate recomputes the keys and open suggestions of users (rule D8). A
// user who is not an active end user (D1) is left with none.
func (d *Detector) Evaluate(ctx context.Context, ids []int64) error {
	s, err := d.DB.Settings(ctx)
	if err != nil {
		return err
	}
	fields := s.Duplicates.UserFields
	profiles, err := d.DB.DuplicateProfiles(ctx, ids, fields)
	if err != nil {
		return err
	}
	byID := map[int64]*duplicates.Profile{}
	for _, p := range profiles {
		byID[p.ID] = p
	}
	// Every user's keys first, in one transaction: a user is then compared
	// with the others of the batch too.
	keys := make(map[int64][]uint64, len(ids))
	for _, id := range ids {
		keys[id] = nil
		if p := byID[id]; p != nil {
			keys[id] = duplicates.Keys(p)
		}
	}
	if err := d.DB.SetDuplicateKeysMany(ctx, keys); err != nil {
		return err
	}
	for _, id := range ids {
		if err := d.evaluateOne(ctx, id, byID[id], keys[id], s.Duplicates); err != nil {
			return fmt.Errorf("evaluate user %d: %w", id, err)
		}
	}
	return nil
}

// evaluateOne replaces the open suggestions of user id, whose keys (of
// profile p, nil when not an active end user) are stored.
func (d *Detector) evaluateOne(ctx context.Context, id int64, p *duplicates.Profile, keys []uint64, s mergedesk.DuplicateSettings) error {
	before, err := d.DB.OpenDuplicatePairs(ctx, []int64{id})
	if err != nil {
		return err
	}
	var pairs []mergedesk.DuplicateSuggestion
	if p != nil {
		scored, err := d.compare(ctx, p, keys, s.UserFields)
		if err != nil {
			return err
		}
		for _, c := range scored {
			if c.Score >= s.MinScore {
				pairs = append(pairs, mergedesk.DuplicateSuggestion{UserIDs: [2]int64{min(id, c.other), max(id, c.other)},
					Score: c.Score, Reasons: c.Reasons})
			}
		}
		if err := d.direct(ctx, pairs); err != nil {
			return err
		}
	}
	if len(before) == 0 && len(pairs) == 0 {
		return nil // nothing to write, no group to change (most new users)
	}
	if err := d.DB.ReplaceUserDuplicates(ctx, id, pairs); err != nil {
		return err
	}
	seeds := []int64{id}
	for _, pr := range before {
		seeds = append(seeds, pr[0], pr[1])
	}
	for _, pr := range pairs {
		seeds = append(seeds, pr.UserIDs[0], pr.UserIDs[1])
	}
	return d.regroup(ctx, seeds)
}

// scored is one compared candidate.
type scored struct {
	other int64
	duplicates.Result
}

// compare scores p against the users sharing one of its keys, best first.
// Candidates come only from keys held by at most duplicates.MaxBlock users, as
// in a full scan: a larger block (a common surname) counts for rarity, and its
// pairs meet through their narrower keys.
func (d *Detector) compare(ctx context.Context, p *duplicates.Profile, keys []uint64, fields []string) ([]scored, error) {
	counts, err := d.keyCounts(ctx, keys)
	if err != nil {
		return nil, err
	}
	narrow := make([]uint64, 0, len(keys))
	for _, k := range keys {
		if counts[k] <= duplicates.MaxBlock {
			narrow = append(narrow, k)
		}
	}
	cands, err := d.DB.DuplicateCandidates(ctx, p.ID, narrow, duplicates.MaxBlock)
	if err != nil {
		return nil, err
	}
	if len(cands) > maxCandidates {
		cands = cands[len(cands)-maxCandidates:] // the newest
	}
	others, err := d.DB.DuplicateProfiles(ctx, cands, fields)
	if err != nil || len(others) == 0 {
		return nil, err
	}
	st, err := d.stats(ctx, counts)
	if err != nil {
		return nil, err
	}
	m, err := d.Model(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]scored, 0, len(others))
	for _, o := range others {
		if o.ID == p.ID {
			continue
		}
		out = append(out, scored{other: o.ID, Result: m.Compare(p, o, fields, st)})
	}
	slices.SortFunc(out, func(a, b scored) int {
		return cmp.Or(cmp.Compare(b.Score, a.Score), cmp.Compare(a.other, b.other))
	})
	return out, nil
}

// keyCounts returns how many users hold each of keys: counted up to
// countLimit, and beyond it from a cache refreshed every bigCountTTL.
func (d *Detector) keyCounts(ctx context.Context, keys []uint64) (map[uint64]int, error) {
	counts, err := d.DB.DuplicateKeyCountsUpTo(ctx, keys, countLimit)
	if err != nil {
		return nil, err
	}
	var missing, stale []uint64
	now := time.Now()
	d.mu.Lock()
	for k, n := range counts {
		if n < countLimit {
			continue
		}
		c, ok := d.big[k]
		switch {
		case !ok:
			missing = append(missing, k)
		case now.Sub(c.at) >= bigCountTTL:
			// Served stale and refreshed in the background, once: a
			// common surname's count takes a while to walk.
			counts[k] = c.n
			d.big[k] = bigCount{n: c.n, at: now}
			stale = append(stale, k)
		default:
			counts[k] = c.n
		}
	}
	d.mu.Unlock()
	if len(stale) > 0 {
		go d.countBig(context.WithoutCancel(ctx), stale, nil)
	}
	if len(missing) == 0 {
		return counts, nil
	}
	return counts, d.countBig(ctx, missing, counts)
}

// countBig counts keys in full, caches the counts and, when into is not
// nil, sets them there.
func (d *Detector) countBig(ctx context.Context, keys []uint64, into map[uint64]int) error {
	full, err := d.DB.DuplicateKeyCounts(ctx, keys)
	if err != nil {
		return err
	}
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.big == nil || len(d.big) >= maxBigCounts {
		d.big = map[uint64]bigCount{}
	}
	for _, k := range keys {
		if into != nil {
			into[k] = full[k]
		}
		d.big[k] = bigCount{n: full[k], at: now}
	}
	return nil
}

// keyStats is duplicates.Stats over the keys of one comparison.
type keyStats struct {
	users  int
	counts map[uint64]int
}

func (s keyStats) Users() int { return s.users }

// Count is at least 1: the profile asking holds the key even before its keys
// are stored.
func (s keyStats) Count(k uint64) int { return max(s.counts[k], 1) }

// stats are the counts of the keys of the profile asking: a level's rarity is
// that of a value both profiles share, so one of its keys.
func (d *Detector) stats(ctx context.Context, counts map[uint64]int) (duplicates.Stats, error) {
	d.mu.Lock()
	users, fresh := d.users, time.Since(d.usersAt) < statsTTL
	if !fresh && users > 0 {
		// Counting a million users takes a while: one caller refreshes in
		// the background, everyone meanwhile uses the count it had.
		d.usersAt = time.Now()
		go func() {
			if n, err := d.DB.CountActiveEndUsers(context.WithoutCancel(ctx)); err == nil {
				d.mu.Lock()
				d.users = n
				d.mu.Unlock()
			}
		}()
		fresh = true
	}
	d.mu.Unlock()
	if !fresh {
		var err error
		if users, err = d.DB.CountActiveEndUsers(ctx); err != nil {
			return nil, err
		}
		d.mu.Lock()
		d.users, d.usersAt = users, time.Now()
		d.mu.Unlock()
	}
	return keyStats{users: max(users, 1), counts: counts}, nil
}

// Model returns the model the last full scan estimated, or the default one
// before any scan.
func (d *Detector) Model(ctx context.Context) (*duplicates.Model, error) {
	d.mu.Lock()
	m, at := d.model, d.modelAt
	d.mu.Unlock()
	if m != nil && time.Since(at) < modelTTL {
		return m, nil
	}
	raw, err := d.DB.DuplicateModel(ctx)
	if err != nil {
		return nil, err
	}
	m = duplicates.DefaultModel()
	if len(raw) > 0 {
		var stored duplicates.Model
		if err := json.Unmarshal(raw, &stored); err != nil {
			d.Logger.Error("stored duplicate model is unreadable: using the default", "err", err)
		} else {
			m = &stored
		}
	}
	d.setModel(m)
	return m, nil
}

func (d *Detector) setModel(m *duplicates.Model) {
	d.mu.Lock()
	d.model, d.modelAt = m, time.Now()
	d.mu.Unlock()
}

// direct fills the suggested target of each pair (rule D6).
func (d *Detector) direct(ctx context.Context, pairs []mergedesk.DuplicateSuggestion) error {
	if len(pairs) == 0 {
		return nil
	}
	ids := mergedesk.SuggestionUsers(pairs)
	facts := map[int64]mergedesk.DuplicateFacts{}
	for lo := 0; lo < len(ids); lo += 1000 {
		f, err := d.DB.DuplicateFacts(ctx, ids[lo:min(lo+1000, len(ids))])
		if err != nil {
			return err
		}
		for k, v := range f {
			facts[k] = v
		}
	}
	for i := range pairs {
		a, b := pairs[i].UserIDs[0], pairs[i].UserIDs[1]
		fa, fb := facts[a], facts[b]
		fa.UserID, fb.UserID = a, b
		pairs[i].SuggestedTargetID = mergedesk.SuggestTarget(fa, fb)
	}
	return nil
}

// regroup recomputes the group ids of the components of seeds (rule D9):
// it walks the open pairs from the seeds and gives every suggestion of a
// component the component's smallest user id.
func (d *Detector) regroup(ctx context.Context, seeds []int64) error {
	seen := map[int64]bool{}
	frontier := []int64{}
	for _, s := range seeds {
		if !seen[s] {
			seen[s] = true
			frontier = append(frontier, s)
		}
	}
	pairSet := map[[2]int64]bool{}
	for len(frontier) > 0 && len(seen) <= maxGroupWalk {
		pairs, err := d.DB.OpenDuplicatePairs(ctx, frontier)
		if err != nil {
			return err
		}
		frontier = frontier[:0]
		for _, p := range pairs {
			pairSet[p] = true
			for _, u := range p {
				if !seen[u] {
					seen[u] = true
					frontier = append(frontier, u)
				}
			}
		}
	}
	if len(pairSet) == 0 {
		return nil
	}
	pairs := make([][2]int64, 0, len(pairSet))
	for p := range pairSet {
		pairs = append(pairs, p)
	}
	return d.DB.SetDuplicateGroups(ctx, duplicates.Groups(pairs))
}
