package duplicates

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
)

// Chains (docs/duplicates.md, "Chains"): when A and B are probably one person
// and so are B and C, then A and C are too, even where their own records share
// little (A has the e-mail address, C the date of birth, B both). The chance
// that both links hold is at least about the product of their scores; direct
// evidence that A and C are different people (a different date of birth) is
// taken off it as its likelihood ratio. A chained pair is suggested when that
// score reaches the threshold and beats the pair's own score; it carries the
// pair's own reasons and one more, the chain, whose weight is what the chain
// adds, so the reasons still sum to the score (D2).

// Link is a direct suggestion, one half of a chain.
type Link struct {
	A, B  int64
	Score float64
}

// Chain is a pair A < C that two links join through Via, with Bound the
// product of the links' scores.
type Chain struct {
	A, C, Via int64
	Bound     float64
	// Scores are the links' scores, A~Via and Via~C.
	Scores [2]float64
}

// ChainMatch is the reason code of a chain.
const ChainMatch = "same_person_as_third_profile"

// Chains lists the pairs that two links join with a bound of at least
// minScore, keeping the best link pair (the highest bound) for each, for
// which keep(a, via, c) holds (nil keeps all). Links are direct suggestions:
// a chained pair is never a link itself, so chains do not feed on chains.
func Chains(links []Link, minScore float64, keep func(a, via, c int64) bool) []Chain {
	adj := map[int64][]Link{}
	for _, l := range links {
		if l.Score >= minScore && l.A != l.B {
			adj[l.A] = append(adj[l.A], l)
			adj[l.B] = append(adj[l.B], l)
		}
	}
	best := map[[2]int64]Chain{}
	for via, ls := range adj {
		for i := range ls {
			for j := i + 1; j < len(ls); j++ {
				a, c := other(ls[i], via), other(ls[j], via)
				sa, sc := ls[i].Score, ls[j].Score
				if a == c || sa*sc < minScore {
					continue
				}
				if a > c {
					a, c, sa, sc = c, a, sc, sa
				}
				if keep != nil && !keep(a, via, c) {
					continue
				}
				ch := Chain{A: a, C: c, Via: via, Bound: sa * sc, Scores: [2]float64{sa, sc}}
				if old, ok := best[[2]int64{a, c}]; !ok || ch.Bound > old.Bound || ch.Bound == old.Bound && via < old.Via {
					best[[2]int64{a, c}] = ch
				}
			}
		}
	}
	out := make([]Chain, 0, len(best))
	for _, ch := range best {
		out = append(out, ch)
	}
	slices.SortFunc(out, func(x, y Chain) int { return cmp.Or(cmp.Compare(x.A, y.A), cmp.Compare(x.C, y.C)) })
	return out
}

func other(l Link, id int64) int64 {
	if l.A == id {
		return l.B
	}
	return l.A
}

// ChainResult scores the chained pair a, c (ch.A and ch.C, in either order)
// whose via profile is called viaName. ok is false when the chain does not
// beat the pair's own score or stays below minScore.
func (m *Model) ChainResult(a, c *Profile, fields []string, st Stats, ch Chain, viaName string, minScore float64) (r Result, ok bool) {
	s := newScorer(m, fields, st)
	return s.chain(prepare(a), prepare(c), ch, viaName, minScore)
}

func (s *scorer) chain(a, c *prepared, ch Chain, viaName string, minScore float64) (Result, bool) {
	out := make([]outcome, len(s.cs))
	compareAll(a, c, s.fields, out, true)
	own := s.total(out)
	// The direct evidence without the prior: its likelihood ratio, taken off
	// the bound when it speaks against the pair.
	p := ch.Bound * math.Min(1, math.Exp2(own-s.prior))
	if p < minScore || p <= probability(own) {
		return Result{}, false
	}
	rs := s.reasons(out)
	w := logOdds(p) - own
	name := viaName
	if name == "" {
		name = "another profile"
	}
	rs = append([]Reason{{Field: "profile", Match: ChainMatch, Weight: math.Round(w*100) / 100,
		Description: fmt.Sprintf("both look like %s (user %d): %.0f%% and %.0f%%", name, ch.Via,
			math.Floor(ch.Scores[0]*100), math.Floor(ch.Scores[1]*100))}}, rs...)
	return Result{Score: p, Reasons: rs}, true
}

// logOdds is the log2 odds of probability p, finite at 0 and 1.
func logOdds(p float64) float64 {
	p = math.Min(math.Max(p, 1e-15), 1-1e-15)
	return math.Log2(p / (1 - p))
}

// ScoreChains scores chains between profiles of the index (a full scan's last
// step), returning the pairs that ok.
func (ix *Index) ScoreChains(ctx context.Context, m *Model, chains []Chain, minScore float64) ([]Pair, error) {
	s := newScorer(m, ix.Fields, ix.stats)
	byID := func(p *Profile, id int64) int { return cmp.Compare(p.ID, id) }
	var pos map[int64]int
	if !slices.IsSortedFunc(ix.Profiles, func(x, y *Profile) int { return cmp.Compare(x.ID, y.ID) }) {
		pos = make(map[int64]int, len(ix.Profiles))
		for i, p := range ix.Profiles {
			pos[p.ID] = i
		}
	}
	at := func(id int64) int {
		if pos != nil {
			if i, ok := pos[id]; ok {
				return i
			}
			return -1
		}
		if i, ok := slices.BinarySearchFunc(ix.Profiles, id, byID); ok {
			return i
		}
		return -1
	}
	var out []Pair
	for n, ch := range chains {
		i, j, v := at(ch.A), at(ch.C), at(ch.Via)
		if i < 0 || j < 0 || v < 0 {
			continue
		}
		if r, ok := s.chain(ix.prepared(i), ix.prepared(j), ch, ix.Profiles[v].Name, minScore); ok {
			out = append(out, Pair{A: ch.A, B: ch.C, Via: ch.Via, Result: r})
		}
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}
