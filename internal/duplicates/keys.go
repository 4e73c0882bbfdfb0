package duplicates

import (
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
)

// MaxBlock is the largest block a scan or a live lookup takes candidates from.
// A key shared by more profiles (a common surname, a big company's domain) still
// counts for rarity, but pairs come from the profiles' smaller blocks; this keeps
// the pairs compared near-linear in the number of users (docs/duplicates.md).
const MaxBlock = 100

func hashKey(kind, v string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write([]byte(v))
	return h.Sum64()
}

// Keys returns p's blocking keys, sorted and unique: two profiles are compared
// when they share one, and Stats counts profiles per key for rarity (D4).
func Keys(p *Profile) []uint64 { return prepare(p).keys() }

func (x *prepared) keys() []uint64 {
	var out []uint64
	add := func(kind, v string) { out = append(out, hashKey(kind, v)) }
	for _, t := range x.tokens {
		out = append(out, nameKey(t))
	}
	if len(x.tokens) > 1 {
		s := slices.Clone(x.tokens)
		slices.Sort(s)
		add("n", strings.Join(s, " "))
		// one part may carry a typo or a nickname: block on the other whole
		// part and the first letter of this one.
		add("gf", x.given+" "+x.family[:1])
		add("gf", x.given[:1]+" "+x.family)
		add("gf", x.family+" "+x.given[:1])
		add("gf", x.family[:1]+" "+x.given)
		// the consonant skeletons survive most typos (Alen, Allen → ln)
		add("sk", skeleton(x.given)+" "+skeleton(x.family))
		full, initial := spellings(x.given, x.family)
		for _, s := range append(full, initial...) {
			add("l", s)
		}
	}
	for _, m := range x.mail {
		add("e", m.canon)
		if len(m.letters) >= 4 {
			add("l", m.letters)
		}
		add("a", m.alnum)
		if !freeMail[m.domain] {
			add("dom", m.domain)
		}
	}
	for _, h := range x.handles {
		add("l", h.letters)
		add("a", h.alnum)
	}
	for _, ph := range x.phones {
		add("p", ph.trailing())
	}
	for _, o := range x.p.OrgIDs {
		add("o", strconv.FormatInt(o, 10))
	}
	for _, d := range x.p.OrgDomains {
		add("dom", strings.ToLower(d))
	}
	for i, f := range x.fields {
		if f.norm == "" {
			continue
		}
		out = append(out, fieldKey(i, f.norm))
		if f.date != noDate && x.given != "" {
			// the date with the first letter of the name: a narrow block
			add("dg", f.norm+" "+x.given[:1])
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// skeleton drops vowels and doubled letters after the first letter: a name's
// shape that most typos leave alone.
func skeleton(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i > 0 && (strings.IndexByte("aeiouy", c) >= 0 || c == s[i-1]) {
			continue
		}
		b = append(b, c)
	}
	return string(b)
}
