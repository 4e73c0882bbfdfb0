package duplicates

import (
	"math"
	"slices"
)

// Model holds the parameters of the score (docs/duplicates.md). It is JSON so
// the store can keep the one a scan estimated.
type Model struct {
	Version int `json:"version"`
	// DuplicatesPerUser is the expected number of duplicate pairs per profile;
	// with the number of profiles it gives the prior of a pair being one person.
	DuplicatesPerUser float64 `json:"duplicates_per_user"`
	// Params are the level probabilities per comparator name.
	Params map[string]Params `json:"comparisons"`
}

// Params are one comparator's level probabilities among matching pairs (M) and
// among non-matching pairs (U).
type Params struct {
	M []float64 `json:"m"`
	U []float64 `json:"u"`
}

const modelVersion = 1

// DefaultModel is the model used before a scan has estimated one.
func DefaultModel() *Model {
	m := &Model{Version: modelVersion, DuplicatesPerUser: 0.05, Params: map[string]Params{}}
	for _, c := range comparators {
		m.Params[c.name] = Params{M: c.m, U: c.u}
	}
	return m
}

// params returns the parameters of c, the defaults when the model lacks them
// (a user field added after the scan).
func (m *Model) params(c *comparator) Params {
	if p, ok := m.Params[c.name]; ok && len(p.M) == len(c.codes) && len(p.U) == len(c.codes) {
		return p
	}
	return Params{M: c.m, U: c.u}
}

// comparatorsFor lists the comparators of a pair under the given user fields.
func comparatorsFor(fields []string) []comparator {
	out := slices.Clone(comparators)
	for _, f := range fields {
		out = append(out, fieldComparator(f))
	}
	return out
}

// scorer scores pairs under one model, set of fields and statistics.
type scorer struct {
	m      *Model
	cs     []comparator
	ps     []Params
	st     Stats
	prior  float64 // log2 prior odds
	fields []string
	users  float64
}

func newScorer(m *Model, fields []string, st Stats) *scorer {
	s := &scorer{m: m, cs: comparatorsFor(fields), st: st, fields: fields}
	for i := range s.cs {
		s.ps = append(s.ps, m.params(&s.cs[i]))
	}
	n := float64(max(st.Users(), 2))
	s.users = n
	lambda := min(2*m.DuplicatesPerUser/(n-1), 0.5)
	s.prior = math.Log2(lambda / (1 - lambda))
	return s
}

// weight is the log2 likelihood ratio of comparator c's outcome o (D2, D4).
func (s *scorer) weight(c int, o outcome) float64 {
	if o.level < 0 {
		return 0
	}
	p := s.ps[c]
	m, u := p.M[o.level], p.U[o.level]
	tfl := s.cs[c].tf
	if int(o.level) == tfl && o.tf != 0 {
		// Rarity: two non-matching profiles agree on this very value with the
		// probability that both have it; a match agrees with m times its share.
		if n := s.st.Count(o.tf); n > 0 {
			u = rarity(n, s.users, u)
		}
	}
	w := math.Log2(max(m, 1e-9) / max(u, 1e-12))
	if tfl >= 0 && int(o.level) > tfl && w > 0 {
		// A near agreement weighs no more than an exact one on a typical value
		// (a typo of a common town is itself rare, but its town is not), nor on
		// the more common of the two values.
		exact := math.Log2(max(p.M[tfl], 1e-9) / max(p.U[tfl], 1e-12))
		if o.tf != 0 && o.alt != 0 {
			n := max(s.st.Count(o.tf), s.st.Count(o.alt))
			exact = min(exact, math.Log2(max(p.M[tfl], 1e-9)/max(rarity(n, s.users, p.U[tfl]), 1e-12)))
		}
		w = min(w, max(exact, 0))
	}
	return w
}

// total is the score's log2 odds for outcomes.
func (s *scorer) total(out []outcome) float64 {
	t := s.prior
	for c, o := range out {
		t += s.weight(c, o)
	}
	return t
}

func probability(logOdds float64) float64 { return 1 / (1 + math.Exp2(-logOdds)) }

// reasons turns explained outcomes into reasons, strongest first.
func (s *scorer) reasons(out []outcome) []Reason {
	var rs []Reason
	for c, o := range out {
		if o.level < 0 {
			continue
		}
		code := s.cs[c].codes[o.level]
		if o.date {
			code = dateCodes[o.level]
		}
		rs = append(rs, Reason{Field: s.cs[c].field, Match: code, Description: o.desc,
			Weight: math.Round(s.weight(c, o)*100) / 100})
	}
	slices.SortStableFunc(rs, func(a, b Reason) int {
		return cmpFloat(math.Abs(b.Weight), math.Abs(a.Weight))
	})
	return rs
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Compare scores a pair with its reasons.
func (m *Model) Compare(a, b *Profile, fields []string, st Stats) Result {
	s := newScorer(m, fields, st)
	return s.compare(prepare(a), prepare(b))
}

func (s *scorer) compare(a, b *prepared) Result {
	out := make([]outcome, len(s.cs))
	compareAll(a, b, s.fields, out, true)
	return Result{Score: probability(s.total(out)), Reasons: s.reasons(out)}
}

// quick scores a pair without explaining it.
func (s *scorer) quick(a, b *prepared, out []outcome) float64 {
	compareAll(a, b, s.fields, out, false)
	return probability(s.total(out))
}

// rarityPrior is how many profiles' worth of belief the level's average u
// carries against a value's own count: a small account's counts say little
// (two Marias among three profiles is no proof that Maria is common), a large
// account's say nearly everything.
const rarityPrior = 1000

// rarity is the chance that two different people share a value n of users
// profiles have, pulled towards the level's average u (D4).
func rarity(n int, users, u float64) float64 {
	return (float64(n) + rarityPrior*u) / (users + rarityPrior)
}
