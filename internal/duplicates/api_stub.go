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

// Index holds a set of profiles, blocked by key, for a full scan (rule D10).
// Profile i is compared with profile j > i when they share a key; ScanRange
// covers the pairs whose first profile lies in a range, so a scan can stop after
// any range and resume with the next.
type Index struct {
	Profiles []*Profile
	Fields   []string
	stats    *MapStats
	blocks   map[uint64][]int32
	keys     [][]uint64
}

// NewIndex blocks profiles (sorted by id, as the caller gives them).
func NewIndex(profiles []*Profile, fields []string) *Index {
	ix := &Index{Profiles: profiles, Fields: fields, blocks: map[uint64][]int32{}, keys: make([][]uint64, len(profiles))}
	ix.stats = &MapStats{N: len(profiles), Counts: map[uint64]int{}}
	for i, p := range profiles {
		ix.keys[i] = Keys(p)
		for _, k := range ix.keys[i] {
			ix.blocks[k] = append(ix.blocks[k], int32(i))
			ix.stats.Counts[k]++
		}
	}
	return ix
}

// Stats counts the index's keys.
func (ix *Index) Stats() Stats { return ix.stats }

// Estimate fits the model's parameters to the profiles, without labels.
func (ix *Index) Estimate(ctx context.Context) (*Model, error) { return DefaultModel(), ctx.Err() }

// ScanRange compares profiles lo ≤ i < hi with every later profile that shares a
// key and returns the pairs scoring at least minScore, and how many pairs it compared.
func (ix *Index) ScanRange(ctx context.Context, m *Model, lo, hi int, minScore float64) ([]Pair, int64, error) {
	var out []Pair
	var compared int64
	seen := map[int32]bool{}
	for i := lo; i < hi; i++ {
		clear(seen)
		for _, k := range ix.keys[i] {
			for _, j := range ix.blocks[k] {
				if int(j) <= i || seen[j] {
					continue
				}
				seen[j] = true
				compared++
				a, b := ix.Profiles[i], ix.Profiles[j]
				r := m.Compare(a, b, ix.Fields, ix.stats)
				if r.Score >= minScore {
					out = append(out, Pair{A: min(a.ID, b.ID), B: max(a.ID, b.ID), Result: r})
				}
			}
		}
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, 0, err
			}
		}
	}
	return out, compared, nil
}

// Scan runs a whole scan in one go: index, estimate, compare.
func Scan(ctx context.Context, profiles []*Profile, fields []string, minScore float64) ([]Pair, *Model, int64, error) {
	ix := NewIndex(profiles, fields)
	m, err := ix.Estimate(ctx)
	if err != nil {
		return nil, nil, 0, err
	}
	pairs, n, err := ix.ScanRange(ctx, m, 0, len(profiles), minScore)
	return pairs, m, n, err
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
