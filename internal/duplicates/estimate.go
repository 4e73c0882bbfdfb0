package duplicates

import (
	"context"
	"math"
	"math/rand/v2"
)

// Estimation sizes: enough pairs for stable proportions, few enough for a
// second or two at a million profiles.
const (
	estimatePairs = 300_000
	randomPairs   = 300_000
	emIterations  = 20
	// sure is the log odds (nats) of a match that the other comparators must
	// give a pair for it to count towards a comparator's level shares: 0.95.
	sure = 2.944
	// priorWeight is how many pairs' worth of belief the default parameters
	// carry: a comparator an account has no data for keeps its defaults.
	priorWeight = 20.0
)

// Estimate fits the model to the profiles without labels (Fellegi–Sunter with
// expectation–maximisation): U, the level probabilities among non-matches,
// from random pairs, which are almost all non-matches; M and the share of
// matches from the blocked candidate pairs by EM, U held fixed.
func (ix *Index) Estimate(ctx context.Context) (*Model, error) {
	m := DefaultModel()
	n := len(ix.prep)
	if n < 50 {
		return m, nil
	}
	cs := comparatorsFor(ix.Fields)
	ps := make([]Params, len(cs))
	for i := range cs {
		ps[i] = m.params(&cs[i])
	}

	// U from random pairs.
	rng := rand.New(rand.NewPCG(1, 2))
	counts := make([][]float64, len(cs))
	for i := range cs {
		counts[i] = make([]float64, len(cs[i].codes))
	}
	out := make([]outcome, len(cs))
	for k := 0; k < randomPairs; k++ {
		a, b := rng.IntN(n), rng.IntN(n)
		if a == b {
			continue
		}
		compareAll(ix.prepared(a), ix.prepared(b), ix.Fields, out, false)
		for c, o := range out {
			if o.level >= 0 {
				counts[c][o.level]++
			}
		}
	}
	for c := range cs {
		ps[c].U = estimateU(counts[c], cs[c].u)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// Candidate pairs: a sample spread evenly over them.
	total := int64(len(ix.pairs))
	step := max(1, int(total/estimatePairs))
	var levels [][]int8
	// tfU holds, per sampled pair and comparator, the rarity-adjusted u of an
	// agreeing value (0 when the level has no adjustment), so that EM weighs a
	// shared "Smith" as lightly as the score will.
	var tfU [][]float32
	for k := 0; k < len(ix.pairs); k += step {
		i, j := int(ix.pairs[k]>>32), int(uint32(ix.pairs[k]))
		compareAll(ix.prep[i], ix.prep[j], ix.Fields, out, false)
		row := make([]int8, len(cs))
		us := make([]float32, len(cs))
		for c, o := range out {
			row[c] = o.level
			if int(o.level) == cs[c].tf && o.tf != 0 {
				us[c] = float32(rarity(ix.stats.Count(o.tf), float64(n), ps[c].U[o.level]))
			}
		}
		levels = append(levels, row)
		tfU = append(tfU, us)
		if k%65536 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
	}
	if len(levels) == 0 {
		return m, nil
	}

	// EM, with one twist against its known failure (fitting the "match" class to
	// some other cluster of look-alike pairs): the E-step for comparator c's
	// level shares uses the evidence of every comparator but c, so no comparator
	// confirms itself.
	// The prior is that of any pair, as in the score: the weights compare a
	// pair against random pairs, so a blocked pair's prior would count the
	// evidence that blocked it twice.
	perUser := m.DuplicatesPerUser
	post := make([]float64, len(levels))
	w := make([][]float64, len(cs))
	for it := 0; it < emIterations; it++ {
		for c := range cs {
			w[c] = make([]float64, len(cs[c].codes))
			for l := range w[c] {
				w[c][l] = math.Log(ps[c].M[l] / ps[c].U[l])
			}
		}
		for c := range cs {
			for l := range counts[c] {
				counts[c][l] = 0
			}
		}
		sum := 0.0
		wr := make([]float64, len(cs))
		lambda := min(2*perUser/float64(n-1), 0.5)
		for r, row := range levels {
			llr := math.Log(lambda / (1 - lambda))
			for c, l := range row {
				wr[c] = 0
				if l >= 0 {
					wr[c] = w[c][l]
					if u := tfU[r][c]; u > 0 {
						wr[c] = math.Log(ps[c].M[l] / float64(u))
					}
				}
				llr += wr[c]
			}
			post[r] = 1 / (1 + math.Exp(-llr))
			sum += post[r]
			for c, l := range row {
				if l >= 0 && llr-wr[c] > sure {
					counts[c][l]++
				}
			}
		}
		// expected matches among all candidate pairs, per profile
		perUser = max(sum*float64(total)/float64(len(levels))/float64(n), 1e-4)
		for c := range cs {
			ps[c].M = smooth(counts[c], cs[c].m, priorWeight)
		}
	}
	for c := range cs {
		m.Params[cs[c].name] = ps[c]
	}
	m.DuplicatesPerUser = perUser
	return m, nil
}

// smooth turns level counts into probabilities, adding weight pairs' worth of
// the default probabilities.
func smooth(counts, defaults []float64, weight float64) []float64 {
	sum := 0.0
	for _, c := range counts {
		sum += c
	}
	out := make([]float64, len(counts))
	for l, c := range counts {
		out[l] = (c + weight*defaults[l]) / (sum + weight)
	}
	return out
}

// estimateU turns level counts among random pairs into probabilities. A level
// no random pair reached (the same mailbox, the same phone number: almost
// impossible for two people) keeps its default, which random sampling is too
// coarse to measure.
func estimateU(counts, defaults []float64) []float64 {
	sum := 0.0
	for _, c := range counts {
		sum += c
	}
	out := make([]float64, len(counts))
	for l, c := range counts {
		if c == 0 || sum == 0 {
			out[l] = defaults[l]
			continue
		}
		out[l] = c / sum
	}
	return out
}
