package duplicates

import (
	"fmt"
	"strings"

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
		codes: []string{"same_value", "value_typo", "value_similar", "value_resembles", "different_value"},
		m:     []float64{0.70, 0.10, 0.05, 0.05, 0.10}, u: []float64{0.01, 0.005, 0.01, 0.02, 0.955}}
}

// dateCodes replace the codes of a user field whose values are dates.
var dateCodes = []string{"same_date", "date_typo", "date_near_typo", "date_within_a_year", "different_date"}

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
	out[cEmailName] = missing
	if out[cEmail].level < 0 || out[cEmail].level > 2 {
		agree := out[cGiven].level >= 0 && out[cGiven].level < 5 && out[cFamily].level >= 0 && out[cFamily].level < 3
		out[cEmailName] = compareEmailName(a, b, agree, explain)
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

// compareEmailName compares each side's email local parts with the other's name.
func compareEmailName(a, b *prepared, namesAgree, explain bool) outcome {
	best := missing
	var who mailbox
	var whom *prepared
	try := func(mails []mailbox, o *prepared) {
		for _, m := range mails {
			if l := spellsName(m.letters, o); l >= 0 && (best.level < 0 || l < best.level) {
				best.level, who, whom = l, m, o
			}
		}
	}
	// A local part stands in for its owner's name where that name is missing or
	// has one part, or where the two full names disagree: where they agree, a
	// local part spelling one would count the name twice.
	if len(b.tokens) > 0 && (len(a.tokens) < 2 || !namesAgree) {
		try(a.mail, b)
	}
	if len(a.tokens) > 0 && (len(b.tokens) < 2 || !namesAgree) {
		try(b.mail, a)
	}
	if explain && best.level >= 0 {
		best.desc = who.addr + " " + [...]string{"spells", "spells the initial and name of", "resembles", "does not spell"}[best.level] + " " + whom.p.Name
	}
	return best
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
	o := outcome{level: 4, date: x.date != noDate && y.date != noDate, tf: fieldKey(i, x.norm), alt: fieldKey(i, y.norm)}
	switch {
	case x.norm == y.norm:
		o.level = 0
	case x.date != noDate && y.date != noDate:
		switch d := x.date - y.date; {
		case editDistance(x.norm, y.norm, 1) <= 1 || sameDaySwapped(x.norm, y.norm):
			o.level = 1
		case editDistance(x.norm, y.norm, 2) <= 2 && d >= -400 && d <= 400:
			o.level = 2
		case d >= -400 && d <= 400 || editDistance(x.norm, y.norm, 2) <= 2:
			o.level = 3
		}
	case editDistance(x.norm, y.norm, 1) <= 1 || jaroWinkler(x.norm, y.norm) >= 0.94:
		o.level = 1
	case jaroWinkler(x.norm, y.norm) >= 0.90:
		o.level = 2
	case jaroWinkler(x.norm, y.norm) >= 0.80:
		o.level = 3
	}
	if explain {
		rel := [...]string{"=", "≈", "~", "~", "≠"}[o.level]
		o.desc = x.norm + " " + rel + " " + y.norm
	}
	return o
}

// sameDaySwapped reports whether two ISO dates differ only by day and month
// trading places (1984-02-11 and 1984-11-02).
func sameDaySwapped(x, y string) bool {
	return len(x) == 10 && len(y) == 10 && x[:4] == y[:4] && x[5:7] == y[8:10] && x[8:10] == y[5:7]
}

// similarAddress reports whether two addresses differ only by typos: a short
// local part by one edit, a longer one by two, the domain by two.
func similarAddress(a, b mailbox) bool {
	n := min(len(a.local), len(b.local))
	switch {
	case n < 3:
		return false
	case n < 5:
		return editDistance(a.local, b.local, 1) <= 1 && (a.domain == b.domain || editDistance(a.domain, b.domain, 3) <= 3)
	}
	return editDistance(a.local, b.local, 2) <= 2 && editDistance(a.domain, b.domain, 3) <= 3
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
