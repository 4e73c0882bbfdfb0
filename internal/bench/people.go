package bench

import (
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
)

// WritePeople writes a labelled CSV of n synthetic people unlike the shared
// data set: common English names, a date of birth, a postcode, a town, a
// gender and an occupation; each person has up to three more records with
// typos, blanks and swapped names, and a quarter have a relative at the same
// address (same family name, postcode and town: a different person). It is a
// second data set to hold the default threshold to, deterministic in seed.
func WritePeople(w io.Writer, n int, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 1))
	male := []string{"james", "john", "robert", "michael", "william", "david", "richard", "joseph", "thomas", "charles",
		"daniel", "matthew", "anthony", "mark", "paul", "steven", "andrew", "kenneth", "joshua", "kevin"}
	female := []string{"mary", "patricia", "jennifer", "linda", "elizabeth", "barbara", "susan", "jessica", "sarah", "karen",
		"nancy", "lisa", "betty", "margaret", "sandra", "ashley", "kimberly", "emily", "donna", "michelle"}
	family := []string{"smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis", "rodriguez", "martinez",
		"hernandez", "lopez", "wilson", "anderson", "thomas", "taylor", "moore", "jackson", "martin", "lee", "white",
		"harris", "clark", "lewis", "robinson", "walker", "young", "allen", "king", "wright", "kowalski", "okafor",
		"lindqvist", "haddad", "tanaka", "petrov", "oconnor", "dubois", "rossi", "novak"}
	jobs := []string{"teacher", "nurse", "engineer", "clerk", "driver", "farmer", "lawyer", "doctor", "cook", "baker"}
	towns := []string{"springfield", "riverton", "lakeside", "fairview", "georgetown", "salem", "madison", "franklin",
		"clinton", "greenville", "bristol", "oxford", "ashland", "burlington", "milton"}
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	typo := func(s string) string {
		if len(s) < 3 {
			return s
		}
		i := rng.IntN(len(s) - 1)
		switch rng.IntN(3) {
		case 0:
			return s[:i] + s[i+1:]
		case 1:
			return s[:i] + string(rune('a'+rng.IntN(26))) + s[i+1:]
		}
		return s[:i] + s[i+1:i+2] + s[i:i+1] + s[i+2:]
	}
	date := func() string {
		return fmt.Sprintf("%d-%02d-%02d", 1930+rng.IntN(76), 1+rng.IntN(12), 1+rng.IntN(28))
	}
	cw := csv.NewWriter(w)
	cw.Write([]string{"unique_id", "first_name", "surname", "dob", "postcode", "town", "gender", "occupation", "cluster"})
	id := 0
	write := func(r []string, cluster string) {
		cw.Write(append(append([]string{strconv.Itoa(id)}, r...), cluster))
		id++
	}
	for c := 0; c < n; c++ {
		g, given := "m", pick(male)
		if rng.IntN(2) == 0 {
			g, given = "f", pick(female)
		}
		sur, dob, pc, town, job := pick(family), date(), strconv.Itoa(10000+rng.IntN(90000)), pick(towns), pick(jobs)
		records := 1
		for _, p := range []float64{0.5, 0.3, 0.15} {
			if rng.Float64() < p {
				records++
			}
		}
		for k := 0; k < records; k++ {
			r := []string{given, sur, dob, pc, town, g, job}
			if k > 0 {
				for _, f := range []int{0, 1, 3, 4} {
					if rng.Float64() < 0.2 {
						r[f] = typo(r[f])
					}
				}
				if rng.Float64() < 0.15 {
					r[2] = dob[:8] + fmt.Sprintf("%02d", 1+rng.IntN(28))
				}
				for _, f := range []int{2, 3, 4, 6} {
					if rng.Float64() < 0.1 {
						r[f] = ""
					}
				}
				if rng.Float64() < 0.05 {
					r[0], r[1] = r[1], r[0]
				}
			}
			write(r, strconv.Itoa(c))
		}
		if rng.Float64() < 0.25 {
			rg := "m"
			if rng.IntN(2) == 0 {
				rg = "f"
			}
			write([]string{pick(append(male, female...)), sur, date(), pc, town, rg, pick(jobs)}, "relative-"+strconv.Itoa(c))
		}
	}
	cw.Flush()
	return cw.Error()
}
