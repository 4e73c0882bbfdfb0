package duplicates

import (
	"context"
	"slices"
)

// Index holds a set of profiles, blocked by key, for a full scan (rule D10).
// Profile i is compared with profile j > i when they share a block of at most
// MaxBlock profiles; ScanRange covers the pairs whose first profile lies in a
// range, so a scan can stop after any range and resume with the next.
type Index struct {
	Profiles []*Profile
	Fields   []string
	prep     []*prepared
	keys     [][]uint64
	blocks   map[uint64][]int32
	stats    *MapStats
}

// NewIndex blocks profiles (in the caller's order, by id for a resumable scan).
func NewIndex(profiles []*Profile, fields []string) *Index {
	ix := &Index{Profiles: profiles, Fields: fields, prep: make([]*prepared, len(profiles)),
		keys: make([][]uint64, len(profiles)), blocks: map[uint64][]int32{}}
	ix.stats = &MapStats{N: len(profiles), Counts: map[uint64]int{}}
	for i, p := range profiles {
		ix.prep[i] = prepare(p)
		ix.keys[i] = ix.prep[i].keys()
		for _, k := range ix.keys[i] {
			ix.stats.Counts[k]++
		}
	}
	for i, ks := range ix.keys {
		for _, k := range ks {
			if ix.stats.Counts[k] <= MaxBlock && ix.stats.Counts[k] > 1 {
				ix.blocks[k] = append(ix.blocks[k], int32(i))
			}
		}
	}
	return ix
}

// Stats counts the index's keys.
func (ix *Index) Stats() Stats { return ix.stats }

// candidates calls fn with every j > i that shares a block with i, once.
func (ix *Index) candidates(i int, seen map[int32]bool, fn func(j int)) {
	clear(seen)
	for _, k := range ix.keys[i] {
		b := ix.blocks[k]
		// blocks hold ascending indexes: skip to those after i
		at, _ := slices.BinarySearch(b, int32(i+1))
		for _, j := range b[at:] {
			if !seen[j] {
				seen[j] = true
				fn(int(j))
			}
		}
	}
}

// ScanRange compares profiles lo ≤ i < hi with every later profile that shares
// a block and returns the pairs scoring at least minScore with their reasons,
// and how many pairs it compared.
func (ix *Index) ScanRange(ctx context.Context, m *Model, lo, hi int, minScore float64) ([]Pair, int64, error) {
	s := newScorer(m, ix.Fields, ix.stats)
	out := make([]outcome, len(s.cs))
	seen := map[int32]bool{}
	var pairs []Pair
	var compared int64
	for i := lo; i < hi; i++ {
		ix.candidates(i, seen, func(j int) {
			compared++
			if s.quick(ix.prep[i], ix.prep[j], out) < minScore {
				return
			}
			r := s.compare(ix.prep[i], ix.prep[j])
			a, b := ix.Profiles[i].ID, ix.Profiles[j].ID
			pairs = append(pairs, Pair{A: min(a, b), B: max(a, b), Result: r})
		})
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, 0, err
			}
		}
	}
	return pairs, compared, nil
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
		switch {
		case a < b:
			parent[b] = a
		case b < a:
			parent[a] = b
		}
	}
	out := make(map[int64]int64, len(parent))
	for x := range parent {
		out[x] = find(x)
	}
	return out
}
