package duplicates

import (
	"context"
	"slices"
)

// Index holds a set of profiles and their candidate pairs for a full scan
// (rule D10). Profiles i < j are a candidate pair when they share a block of at
// most MaxBlock profiles; ScanRange covers the pairs whose first profile lies
// in a range, so a scan can stop after any range and resume with the next.
//
// It is built for a million profiles in well under a gigabyte: the keys of all
// profiles go into one flat array sorted by key, whose runs are the blocks;
// only keys shared by two or more profiles are kept (for rarity), only
// profiles in some pair stay prepared, and the pairs are one sorted array of
// packed index pairs.
type Index struct {
	Profiles []*Profile
	Fields   []string
	prep     []*prepared // nil for a profile in no pair
	pairs    []uint64    // i<<32 | j, i < j, sorted, unique
	stats    *MapStats
}

const (
	// indexMask keeps a profile's index in a packed key entry: an Index holds
	// at most 16,777,216 profiles.
	indexMask = 1<<24 - 1
	// keysPerProfile sizes the key array up front (a profile with a two-part
	// name, an email and a phone has about this many).
	keysPerProfile = 18
)

// NewIndex blocks profiles (in the caller's order, by id for a resumable scan).
func NewIndex(profiles []*Profile, fields []string) *Index {
	if len(profiles) > indexMask+1 {
		panic("duplicates: more than 16,777,216 profiles in one index")
	}
	ix := &Index{Profiles: profiles, Fields: fields, prep: make([]*prepared, len(profiles)),
		stats: &MapStats{N: len(profiles), Counts: map[uint64]int{}}}
	// Each entry packs a key's top 40 bits and a profile's index (24 bits)
	// into one word, so sorting them is sorting numbers. Two keys that share
	// their top 40 bits (a handful among millions) only add comparisons.
	flat := make([]uint64, 0, len(profiles)*keysPerProfile)
	for i, p := range profiles {
		for _, k := range prepare(p).keys() {
			flat = append(flat, k&^indexMask|uint64(i))
		}
	}
	slices.Sort(flat)
	for lo := 0; lo < len(flat); {
		hi := lo + 1
		for hi < len(flat) && flat[hi]&^indexMask == flat[lo]&^indexMask {
			hi++
		}
		if n := hi - lo; n > 1 {
			ix.stats.Counts[flat[lo]&^indexMask] = n
			if n <= MaxBlock {
				for a := lo; a < hi; a++ {
					for b := a + 1; b < hi; b++ {
						ix.pairs = append(ix.pairs, (flat[a]&indexMask)<<32|flat[b]&indexMask)
					}
				}
			}
		}
		lo = hi
	}
	flat = nil
	slices.Sort(ix.pairs)
	ix.pairs = slices.Compact(ix.pairs)
	for _, pr := range ix.pairs {
		for _, at := range [2]uint32{uint32(pr >> 32), uint32(pr)} {
			if ix.prep[at] == nil {
				ix.prep[at] = prepare(profiles[at])
			}
		}
	}
	return ix
}

// Stats counts the index's keys.
func (ix *Index) Stats() Stats { return ix.stats }

// Pairs is the number of candidate pairs, the work a scan does.
func (ix *Index) Pairs() int { return len(ix.pairs) }

// pairsFrom returns the candidate pairs whose first profile is in [lo, hi).
func (ix *Index) pairsFrom(lo, hi int) []uint64 {
	a, _ := slices.BinarySearch(ix.pairs, uint64(lo)<<32)
	b, _ := slices.BinarySearch(ix.pairs, uint64(hi)<<32)
	return ix.pairs[a:b]
}

// prepared returns profile i taken apart (kept for profiles in pairs).
func (ix *Index) prepared(i int) *prepared {
	if p := ix.prep[i]; p != nil {
		return p
	}
	return prepare(ix.Profiles[i])
}

// ScanRange compares profiles lo ≤ i < hi with every later profile that shares
// a block and returns the pairs scoring at least minScore with their reasons,
// and how many pairs it compared.
func (ix *Index) ScanRange(ctx context.Context, m *Model, lo, hi int, minScore float64) ([]Pair, int64, error) {
	s := newScorer(m, ix.Fields, ix.stats)
	out := make([]outcome, len(s.cs))
	var pairs []Pair
	var compared int64
	for n, pr := range ix.pairsFrom(lo, hi) {
		i, j := int(pr>>32), int(uint32(pr))
		compared++
		if s.quick(ix.prep[i], ix.prep[j], out) >= minScore {
			r := s.compare(ix.prep[i], ix.prep[j])
			a, b := ix.Profiles[i].ID, ix.Profiles[j].ID
			pairs = append(pairs, Pair{A: min(a, b), B: max(a, b), Result: r})
		}
		if n%4096 == 0 {
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

func (s *MapStats) Users() int { return s.N }
func (s *MapStats) Count(key uint64) int {
	if n, ok := s.Counts[key]; ok {
		return n
	}
	return s.Counts[key&^indexMask]
}

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
