package duplicates

import (
	"context"
	"hash/fnv"
	"strings"
)

// Keys returns p's blocking keys: two profiles are compared only when they
// share one. Stats counts profiles per key.
func Keys(p *Profile) []uint64 {
	var out []uint64
	if n := strings.ToLower(strings.TrimSpace(p.Name)); n != "" {
		out = append(out, hashKey("n", n))
	}
	for _, e := range p.Emails {
		out = append(out, hashKey("e", e))
	}
	return out
}

func hashKey(kind, v string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write([]byte(v))
	return h.Sum64()
}

// Model holds the estimated parameters of the score. It is JSON so the store can
// keep the one a scan estimated.
type Model struct {
	Version int `json:"version"`
}

// DefaultModel is the model used before a scan has estimated one.
func DefaultModel() *Model { return &Model{Version: 1} }

// Compare scores a pair.
func (m *Model) Compare(a, b *Profile, fields []string, st Stats) Result {
	if strings.EqualFold(strings.TrimSpace(a.Name), strings.TrimSpace(b.Name)) && a.Name != "" {
		return Result{Score: 0.95, Reasons: []Reason{{Field: "name", Match: "same_name", Description: a.Name + " = " + b.Name, Weight: 3}}}
	}
	return Result{}
}

// ScanOptions configure a full scan.
type ScanOptions struct {
	Fields   []string
	MinScore float64
	// Progress, when set, is called now and then with profiles done and total.
	Progress func(done, total int)
}

// ScanResult is what a full scan found.
type ScanResult struct {
	Pairs    []Pair // at or above MinScore, A < B
	Model    *Model // estimated from the profiles
	Compared int64  // candidate pairs compared
}

// Scan compares every profile with those sharing a blocking key, estimates the
// model from the profiles, and returns the pairs at or above MinScore.
func Scan(ctx context.Context, profiles []*Profile, opt ScanOptions) (*ScanResult, error) {
	st := NewMapStats(profiles)
	m := DefaultModel()
	blocks := map[uint64][]int{}
	for i, p := range profiles {
		for _, k := range Keys(p) {
			blocks[k] = append(blocks[k], i)
		}
	}
	seen := map[[2]int64]bool{}
	res := &ScanResult{Model: m}
	for _, b := range blocks {
		for i := 0; i < len(b); i++ {
			for j := i + 1; j < len(b); j++ {
				a, c := profiles[b[i]], profiles[b[j]]
				key := [2]int64{min(a.ID, c.ID), max(a.ID, c.ID)}
				if seen[key] {
					continue
				}
				seen[key] = true
				res.Compared++
				r := m.Compare(a, c, opt.Fields, st)
				if r.Score >= opt.MinScore {
					res.Pairs = append(res.Pairs, Pair{A: key[0], B: key[1], Result: r})
				}
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// MapStats counts keys of a set of profiles in memory.
type MapStats struct {
	N      int
	Counts map[uint64]int
}

// NewMapStats counts the keys of profiles.
func NewMapStats(profiles []*Profile) *MapStats {
	s := &MapStats{N: len(profiles), Counts: map[uint64]int{}}
	for _, p := range profiles {
		for _, k := range Keys(p) {
			s.Counts[k]++
		}
	}
	return s
}

func (s *MapStats) Users() int           { return s.N }
func (s *MapStats) Count(key uint64) int { return s.Counts[key] }

// Groups joins pairs that chain (A~B, B~C) into groups (rule D9): it maps every
// user of pairs to its group's key, the smallest user id in the group.
func Groups(pairs [][2]int64) map[int64]int64 {
	parent := map[int64]int64{}
	var find func(x int64) int64
	find = func(x int64) int64 {
		p, ok := parent[x]
		if !ok {
			parent[x] = x
			return x
		}
		if p == x {
			return x
		}
		r := find(p)
		parent[x] = r
		return r
	}
	for _, p := range pairs {
		a, b := find(p[0]), find(p[1])
		if a == b {
			continue
		}
		if a < b {
			parent[b] = a
		} else {
			parent[a] = b
		}
	}
	out := make(map[int64]int64, len(parent))
	for x := range parent {
		out[x] = find(x)
	}
	return out
}
