package duplicates

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mergedesk/mergedesk/internal/identity"
)

// A comparator compares one kind of evidence of two profiles and puts the pair
// in one of its levels (best first), or reports the evidence missing.
type comparator struct {
	name  string   // key in the model's parameters, e.g. "given_name"
	field string   // the reason's field, e.g. "name"
	codes []string // the reason's match code per level (docs/duplicates.md)
	// tf marks the level whose weight is adjusted for the rarity of the agreeing
	// value (rule D4); -1 for none.
	tf int
	// m and u are the default probabilities of each level among matches and
	// among non-matches, used until a scan estimates them.
	m, u []float64
}

// Comparator indexes; user fields follow cField.
const (
	cGiven = iota
	cFamily
	cEmail
	cEmailName
	cEmailRest
	cPhone
	cHandle
	cOrg
	cField
)

var comparators = []comparator{
	cGiven: {name: "given_name", field: "name", tf: 0,
		codes: []string{"same_given_name", "given_name_nickname", "given_name_typo", "given_name_initial", "given_name_similar", "different_given_name"},
		m:     []float64{0.80, 0.05, 0.08, 0.02, 0.02, 0.03}, u: []float64{0.01, 0.002, 0.005, 0.01, 0.03, 0.943}},
	cFamily: {name: "family_name", field: "name", tf: 0,
		codes: []string{"same_family_name", "family_name_typo", "family_name_similar", "different_family_name"},
		m:     []float64{0.85, 0.08, 0.03, 0.04}, u: []float64{0.005, 0.003, 0.02, 0.972}},
	cEmail: {name: "email", field: "email", tf: 3,
		codes: []string{"same_mailbox", "same_local_part", "similar_address", "same_company_domain", "different_email"},
		m:     []float64{0.30, 0.10, 0.10, 0.05, 0.45}, u: []float64{1e-7, 1e-5, 1e-5, 0.001, 0.99898}},
	cEmailName: {name: "email_name", field: "email", tf: -1,
		codes: []string{"local_part_spells_name", "local_part_spells_initial_and_name", "local_part_resembles_name", "local_part_unrelated"},
		m:     []float64{0.35, 0.15, 0.10, 0.40}, u: []float64{0.001, 0.002, 0.005, 0.992}},
	cEmailRest: {name: "email_name_rest", field: "email", tf: -1,
		codes: []string{"local_part_spells_rest_of_name", "local_part_has_initial_of_rest", "local_part_says_nothing_more"},
		m:     []float64{0.25, 0.25, 0.50}, u: []float64{0.01, 0.05, 0.94}},
	cPhone: {name: "phone", field: "phone", tf: -1,
		codes: []string{"same_national_number", "same_trailing_digits", "different_phone"},
		m:     []float64{0.15, 0.05, 0.80}, u: []float64{1e-7, 1e-6, 0.999999}},
	cHandle: {name: "handle", field: "handle", tf: -1,
		codes: []string{"same_handle", "handle_matches_email", "handle_spells_name"},
		m:     []float64{0.4, 0.3, 0.3}, u: []float64{1e-6, 1e-5, 1e-3}},
	cOrg: {name: "organization", field: "organization", tf: -1,
		codes: []string{"same_organization", "email_domain_of_organization", "different_organization"},
		m:     []float64{0.6, 0.2, 0.2}, u: []float64{0.01, 0.01, 0.98}},
}

// fieldComparator is the comparator of the i-th compared user field.
func fieldComparator(key string) comparator {
	return comparator{name: "user_fields." + key, field: "user_fields." + key, tf: 0,
		codes: []string{"same_value", "value_typo", "value_scrambled", "value_similar", "value_resembles", "different_value"},
		m:     []float64{0.70, 0.10, 0.03, 0.05, 0.04, 0.08}, u: []float64{0.01, 0.005, 0.001, 0.005, 0.02, 0.959}}
}

// dateCodes replace the codes of a user field whose values are dates, level
// for level.
var dateCodes = []string{"same_date", "date_typo", "date_near", "date_year_off", "date_within_a_year", "different_date"}

// outcome is the level one comparator put a pair in.
type outcome struct {
	level int8 // -1: evidence missing
	// tf and alt are the keys of the two compared values, whose rarity
	// adjusts the weight (D4): of an exact agreement by the value's share, of
	// a near one by capping it at what exact agreement on the more common of
	// the two would weigh (a typo of "Smith" is no rarer than "Smith").
	tf, alt uint64
	desc    string // for people; set only when explaining
	date    bool   // a user field compared as dates
}

var missing = outcome{level: -1}

// compareAll fills out (one entry per comparator) for the pair a, b.
func compareAll(a, b *prepared, fields []string, out []outcome, explain bool) {
	out[cGiven], out[cFamily] = compareNames(a, b, explain)
	out[cEmail] = compareEmails(a, b, explain)
	out[cEmailName], out[cEmailRest] = missing, missing
	if out[cEmail].level < 0 || out[cEmail].level > 2 {
		out[cEmailName], out[cEmailRest] = compareEmailName(a, b, explain)
	}
	out[cPhone] = comparePhones(a, b, explain)
	out[cHandle] = compareHandles(a, b, explain)
	out[cOrg] = compareOrgs(a, b, explain)
	for i := range fields {
		out[cField+i] = compareField(a.field(i), b.field(i), i, explain)
	}
}

// tokenLevel compares two name parts: 0 same, 1 nickname (given names only),
// 2 typo, 3 initial, 4 similar, 5 different (given-name levels).
func tokenLevel(x, y string, given bool) int8 {
	switch {
	case x == y:
		return 0
	case given && nicknames(x, y):
		return 1
	case len(x) == 1 || len(y) == 1:
		if x[0] == y[0] {
			return 3
		}
		return 5
	case min(len(x), len(y)) >= 3 && editDistance(x, y, 1) <= 1, jaroWinkler(x, y) >= 0.94,
		min(len(x), len(y)) >= 4 && letterDistance(x, y) == 0:
		return 2
	case jaroWinkler(x, y) >= 0.84 || min(len(x), len(y)) >= 5 && (editDistance(x, y, 2) <= 2 || letterDistance(x, y) <= 1):
		return 4
	}
	return 5
}

// letterDistance counts the letters by which two words' letter sets differ,
// ignoring order: typing in a hurry scrambles letters (Carter, eartCr).
func letterDistance(x, y string) int {
	if len(x) > 32 || len(y) > 32 {
		return 99
	}
	var n [128]int8
	for i := 0; i < len(x); i++ {
		n[x[i]&127]++
	}
	for i := 0; i < len(y); i++ {
		n[y[i]&127]--
	}
	d := 0
	for _, v := range n {
		if v < 0 {
			d -= int(v)
		} else {
			d += int(v)
		}
	}
	return d
}

// familyLevel maps a token level to the family-name levels: 0 same, 1 typo, 2
// similar, 3 different (nicknames and initials do not apply to family names).
func familyLevel(l int8) int8 {
	switch l {
	case 0:
		return 0
	case 2:
		return 1
	case 4:
		return 2
	}
	return 3
}

func nameKey(tok string) uint64 { return hashKey("t", tok) }

// compareNames aligns two names part by part, also in swapped order, and keeps
// the alignment that agrees best.
func compareNames(a, b *prepared, explain bool) (given, family outcome) {
	given, family = missing, missing
	if len(a.tokens) == 0 || len(b.tokens) == 0 {
		return
	}
	swapped := false
	switch {
	case !a.single && !b.single:
		g, f := tokenLevel(a.given, b.given, true), familyLevel(tokenLevel(a.family, b.family, false))
		sg, sf := tokenLevel(a.given, b.family, true), familyLevel(tokenLevel(a.family, b.given, false))
		if sg+sf < g+f && (sg <= 2 || sf <= 1) {
			g, f, swapped = sg, sf, true
		}
		given.level, family.level = g, f
		bg, bf := b.given, b.family
		if swapped {
			bg, bf = b.family, b.given
		}
		given.tf, given.alt = nameKey(a.given), nameKey(bg)
		family.tf, family.alt = nameKey(a.family), nameKey(bf)
	default:
		// A one-part name could be either part of the other name.
		t, o := a, b
		if !a.single {
			t, o = b, a
		}
		lg := tokenLevel(t.given, o.given, true)
		lf := int8(5)
		if !o.single {
			lf = tokenLevel(t.given, o.family, false)
		}
		if o.single && lg == 5 {
			// two one-part names that differ may be a given and a family name
			return
		}
		if lf < lg && lf != 1 && lf != 3 {
			family.level = familyLevel(lf)
			family.tf, family.alt = nameKey(t.given), nameKey(o.family)
		} else {
			given.level = lg
			given.tf, given.alt = nameKey(t.given), nameKey(o.given)
		}
	}
	if explain {
		rel := "≠"
		if given.level >= 0 && given.level < 5 || family.level >= 0 && family.level < 3 {
			rel = "~"
		}
		if given.level == 0 && (family.level == 0 || family.level < 0 && a.single && b.single) {
			rel = "="
		}
		d := fmt.Sprintf("%s %s %s", a.p.Name, rel, b.p.Name)
		if swapped {
			d += " (in swapped order)"
		}
		if given.level >= 0 {
			given.desc = d + ": given name " + describeToken(given.level, true)
		}
		if family.level >= 0 {
			family.desc = d + ": family name " + describeToken(family.level, false)
		}
	}
	return
}

func describeToken(l int8, given bool) string {
	if !given {
		return [...]string{"the same", "differs by a typo", "similar", "different"}[l]
	}
	return [...]string{"the same", "a nickname of the other", "differs by a typo", "an initial of the other", "similar", "different"}[l]
}

func compareEmails(a, b *prepared, explain bool) outcome {
	if len(a.mail) == 0 || len(b.mail) == 0 {
		return missing
	}
	best := outcome{level: 4}
	var x, y mailbox
	for _, ma := range a.mail {
		for _, mb := range b.mail {
			l := int8(4)
			switch {
			case ma.canon == mb.canon:
				l = 0
			case ma.local == mb.local && len(ma.local) >= 3:
				l = 1
				if digitsOf(ma.local) == "" && nameDerived(ma, a, b) && editDistance(ma.domain, mb.domain, 3) > 3 {
					// d.young at two companies: the names say it already
					l = 4
				}
			case similarAddress(ma, mb):
				l = 2
				if ma.letters == mb.letters && digitsOf(ma.local) != digitsOf(mb.local) {
					// lfoster16 and lfoster67: the same letters with other
					// numbers are two people of one name as often as not
					l = 4
				}
			case ma.domain == mb.domain && !freeMail[ma.domain]:
				l = 3
			}
			if l < best.level {
				best.level, x, y = l, ma, mb
				if l == 3 {
					best.tf = hashKey("dom", ma.domain)
				}
			}
		}
	}
	if explain {
		if best.level == 4 {
			x, y = a.mail[0], b.mail[0]
		}
		best.desc = x.addr + " " + [...]string{"is the same mailbox as", "has the local part of", "is nearly", "shares its company domain with", "≠"}[best.level] + " " + y.addr
	}
	return best
}

// compareEmailName compares each side's e-mail local parts with the other's
// name, counting only what the names themselves do not already say. Where the
// owner's name shows none of the other's name parts (it is missing, has one
// part that is not among them, or differs), the local part stands in for it:
// the first outcome (email_name). Where it shows one of the two parts, the
// name comparators count that part, and the local part can only add the other
// one: the second outcome (email_name_rest), whose level shares are measured
// among such pairs only, so that "harley.g" beside Harley and Harley Gibson
// counts as an agreeing initial, not as a second agreeing given name. Where it
// shows both, the local part adds nothing.
func compareEmailName(a, b *prepared, explain bool) (whole, rest outcome) {
	whole, rest = missing, missing
	var wm, rm mailbox
	var wo, ro *prepared
	try := func(owner *prepared, o *prepared) {
		if len(o.tokens) == 0 {
			return
		}
		gk, fk := knownParts(owner, o)
		for _, m := range owner.mail {
			switch {
			case !gk && !fk:
				if l := spellsName(m.letters, o); l >= 0 && (whole.level < 0 || l < whole.level) {
					whole.level, wm, wo = l, m, o
				}
			case gk != fk:
				if l := spellsRest(m.letters, o, gk); l >= 0 && (rest.level < 0 || l < rest.level) {
					rest.level, rm, ro = l, m, o
				}
			}
		}
	}
	try(a, b)
	try(b, a)
	if explain {
		if whole.level >= 0 {
			whole.desc = wm.addr + " " + [...]string{"spells", "spells the initial and name of", "resembles", "does not spell"}[whole.level] + " " + wo.p.Name
		}
		if rest.level >= 0 {
			rest.desc = rm.addr + " " + [...]string{"spells the rest of", "has the other initial of", "says nothing more about"}[rest.level] + " " + ro.p.Name
		}
	}
	return whole, rest
}

// knownParts reports whether owner's name shows o's given and family name
// (the same, a nickname or a typo of it).
func knownParts(owner, o *prepared) (given, family bool) {
	if len(o.tokens) < 2 {
		return len(o.tokens) == 1 && shows(owner, o.given, true), false
	}
	return shows(owner, o.given, true), shows(owner, o.family, false)
}

func shows(owner *prepared, tok string, given bool) bool {
	for _, t := range owner.tokens {
		if tokenLevel(t, tok, given) <= 2 {
			return true
		}
	}
	return false
}

// spellsRest grades what local (letters only) says about the part of o's
// two-part name that the owner's name does not show (the family name when
// givenKnown, else the given name): 0 spells it in full, 1 has its initial
// where it belongs, 2 nothing more; -1 when o has no second part.
func spellsRest(local string, o *prepared, givenKnown bool) int8 {
	if len(local) < 3 || o.single || o.family == "" {
		return -1
	}
	g, f := o.given, o.family
	switch {
	case local == g+f || local == f+g, editDistance(local, g+f, 1) <= 1 || editDistance(local, f+g, 1) <= 1:
		return 0
	case givenKnown && local == g+f[:1], !givenKnown && (local == g[:1]+f || local == f+g[:1]):
		return 1
	case givenKnown && (local == g[:1]+f || local == f+g[:1]), !givenKnown && local == g+f[:1]:
		return 0 // the unknown part is the one spelled in full
	}
	return 2
}

// spellsName grades how local (letters only) spells o's name: 0 full name,
// 1 an initial and a name, 2 resembles a full spelling, 3 unrelated; -1 when
// there is nothing to compare.
func spellsName(local string, o *prepared) int8 {
	if len(local) < 3 {
		return -1
	}
	if o.single {
		if local == o.given && len(local) >= 5 {
			return 1
		}
		return 3
	}
	full, initial := spellings(o.given, o.family)
	for _, s := range full {
		if local == s {
			return 0
		}
	}
	for i, s := range initial {
		if local == s {
			// the initial of the given name and the family name say more than
			// the given name and the family's initial (evieh)
			if i < 2 {
				return 1
			}
			return 2
		}
	}
	for _, s := range full {
		if editDistance(local, s, 2) <= 2 {
			return 2
		}
	}
	return 3
}

func comparePhones(a, b *prepared, explain bool) outcome {
	if len(a.phones) == 0 || len(b.phones) == 0 {
		return missing
	}
	best := outcome{level: 2}
	var x, y phoneNumber
	for _, pa := range a.phones {
		for _, pb := range b.phones {
			l := int8(2)
			switch {
			case pa.national == pb.national || strings.HasSuffix(pa.e164, pb.national) && len(pb.national) >= 7 ||
				strings.HasSuffix(pb.e164, pa.national) && len(pa.national) >= 7:
				l = 0
			case pa.trailing() == pb.trailing():
				l = 1
			}
			if l < best.level {
				best.level, x, y = l, pa, pb
			}
		}
	}
	if explain {
		if best.level == 2 {
			x, y = a.phones[0], b.phones[0]
		}
		best.desc = identity.FormatPhone(x.e164) + " " + [...]string{"is the same national number as", "ends in the same digits as", "≠"}[best.level] + " " + identity.FormatPhone(y.e164)
	}
	return best
}

func compareHandles(a, b *prepared, explain bool) outcome {
	best := missing
	var d string
	set := func(l int8, desc string) {
		if best.level < 0 || l < best.level {
			best.level, d = l, desc
		}
	}
	for _, x := range [2][2]*prepared{{a, b}, {b, a}} {
		p, o := x[0], x[1]
		for _, h := range p.handles {
			raw := "@" + strings.TrimPrefix(h.raw, "@")
			for _, oh := range o.handles {
				if h.alnum == oh.alnum {
					set(0, raw+" is also a handle of "+o.p.Name)
				}
			}
			for _, m := range o.mail {
				if h.alnum == m.alnum {
					set(1, raw+" matches "+m.addr)
				}
			}
			if len(o.tokens) > 0 && digitsOf(h.alnum) == "" {
				// a handle with numbers in it names one account, not a person
				if l := spellsName(h.letters, o); l >= 0 && l <= 1 {
					set(2, raw+" spells "+o.p.Name)
				}
			}
		}
	}
	if explain {
		best.desc = d
	}
	return best
}

func compareOrgs(a, b *prepared, explain bool) outcome {
	for _, x := range a.p.OrgIDs {
		for _, y := range b.p.OrgIDs {
			if x == y {
				return outcome{level: 0, desc: cond(explain, "both belong to the same organization")}
			}
		}
	}
	for _, x := range [2][2]*prepared{{a, b}, {b, a}} {
		for _, m := range x[0].mail {
			for _, d := range x[1].p.OrgDomains {
				if strings.EqualFold(m.domain, d) {
					return outcome{level: 1, desc: cond(explain, m.addr+" is at the domain of "+x[1].p.Name+"'s organization")}
				}
			}
		}
	}
	if len(a.p.OrgIDs) > 0 && len(b.p.OrgIDs) > 0 {
		return outcome{level: 2, desc: cond(explain, "they belong to different organizations")}
	}
	return missing
}

func cond(ok bool, s string) string {
	if ok {
		return s
	}
	return ""
}

func fieldKey(i int, v string) uint64 { return hashKey(fmt.Sprint("u", i), v) }

func compareField(x, y fieldValue, i int, explain bool) outcome {
	if x.norm == "" || y.norm == "" {
		return missing
	}
	o := outcome{level: 5, date: x.date != noDate && y.date != noDate, tf: fieldKey(i, x.norm), alt: fieldKey(i, y.norm)}
	switch {
	case x.norm == y.norm:
		o.level = 0
	case o.date:
		o.level = dateLevel(x, y)
	default:
		o.level = textLevel(x.norm, y.norm)
	}
	if explain {
		rel := [...]string{"=", "≈", "≈", "~", "~", "≠"}[o.level]
		o.desc = x.norm + " " + rel + " " + y.norm
	}
	return o
}

// nearDays is how far apart two dates may be and still count as near: a date
// entered from memory or a form's date picker is often off by days or weeks.
const nearDays = 40

// dateLevel compares two different dates: 1 a typo (one character, or day
// and month swapped), 2 near, 3 near but for the year (one year off, or a
// mistyped century or decade digit: 1981-07-12 and 1991-08-07), 4 within
// about a year or two characters apart, 5 different.
func dateLevel(x, y fieldValue) int8 {
	d := x.date - y.date
	switch {
	case editDistance(x.norm, y.norm, 1) <= 1 || sameDaySwapped(x.norm, y.norm):
		return 1
	case d >= -nearDays && d <= nearDays:
		return 2
	case yearOffNear(x.norm, y.norm):
		return 3
	case d >= -400 && d <= 400 || editDistance(x.norm, y.norm, 2) <= 2:
		return 4
	}
	return 5
}

// yearOffNear reports whether two ISO dates are near once their years are
// made the same, where the years are one apart (an age turned into a year of
// birth) or differ in one digit of the century or decade (a slipped key, or a
// two-digit year read in the wrong century). Other years apart are left to the
// distance levels.
func yearOffNear(x, y string) bool {
	if len(x) != 10 || len(y) != 10 {
		return false
	}
	ya, err1 := strconv.Atoi(x[:4])
	yb, err2 := strconv.Atoi(y[:4])
	if err1 != nil || err2 != nil || ya == yb {
		return false
	}
	if ya-yb != 1 && yb-ya != 1 && (x[3] != y[3] || editDistance(x[:3], y[:3], 1) != 1) {
		return false
	}
	t, err1 := time.Parse("2006-01-02", y[:4]+x[4:])
	u, err2 := time.Parse("2006-01-02", y)
	if err1 != nil || err2 != nil {
		return false
	}
	d := t.Sub(u).Hours() / 24
	return d >= -nearDays && d <= nearDays
}

// textLevel compares two different normalised values: 1 a typo, 2 the same
// letters in another order (Lnndoo, London), 3 similar (two typos), 4
// resembling, 5 different.
func textLevel(x, y string) int8 {
	n := min(len(x), len(y))
	switch {
	case editDistance(x, y, 1) <= 1 || jaroWinkler(x, y) >= 0.94:
		return 1
	case n >= 4 && letterDistance(x, y) == 0:
		return 2
	case n >= 5 && (editDistance(x, y, 2) <= 2 || letterDistance(x, y) <= 2) || jaroWinkler(x, y) >= 0.90:
		return 3
	case jaroWinkler(x, y) >= 0.80:
		return 4
	}
	return 5
}

// sameDaySwapped reports whether two ISO dates differ only by day and month
// trading places (1984-02-11 and 1984-11-02).
func sameDaySwapped(x, y string) bool {
	return len(x) == 10 && len(y) == 10 && x[:4] == y[:4] && x[5:7] == y[8:10] && x[8:10] == y[5:7]
}

// similarAddress reports whether two addresses differ only by typos: a short
// local part by one edit, a longer one by two, the domain by three; or by
// letters typed in another order (two letters' worth on either side).
func similarAddress(a, b mailbox) bool {
	n := min(len(a.local), len(b.local))
	domain := a.domain == b.domain || editDistance(a.domain, b.domain, 3) <= 3 || letterDistance(a.domain, b.domain) <= 2
	switch {
	case n < 3 || !domain:
		return false
	case n < 5:
		return editDistance(a.local, b.local, 1) <= 1 || letterDistance(a.local, b.local) == 0
	}
	return editDistance(a.local, b.local, 2) <= 2 || letterDistance(a.local, b.local) <= 2
}

// nameDerived reports whether m's local part spells the name of a or b.
func nameDerived(m mailbox, a, b *prepared) bool {
	for _, p := range [2]*prepared{a, b} {
		if len(p.tokens) > 0 {
			if l := spellsName(m.letters, p); l >= 0 && l <= 2 {
				return true
			}
		}
	}
	return false
}

func digitsOf(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b = append(b, s[i])
		}
	}
	return string(b)
}
