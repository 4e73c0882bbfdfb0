package duplicates

import (
	"strings"
	"time"
)

// prepared is a profile taken apart once, so that comparing it with many
// others does not parse it again.
type prepared struct {
	p      *Profile
	tokens []string // folded name parts
	// given and family are the first and last name parts of a name with two or
	// more parts; a one-part name has only given and single set.
	given, family string
	single        bool
	mail          []mailbox
	phones        []phoneNumber
	handles       []handle
	fields        []fieldValue
}

// fieldValue is a compared user field's value, normalised.
type fieldValue struct {
	norm string // folded, single spaces; "" when unset
	date int32  // days since 1970 when the value is a date, else noDate
}

const noDate = int32(-1 << 30)

func prepare(p *Profile) *prepared {
	x := &prepared{p: p, tokens: nameParts(p.Name)}
	switch len(x.tokens) {
	case 0:
	case 1:
		x.given, x.single = x.tokens[0], true
	default:
		x.given, x.family = x.tokens[0], x.tokens[len(x.tokens)-1]
	}
	for _, e := range p.Emails {
		if m, ok := parseMailbox(e); ok {
			x.mail = append(x.mail, m)
		}
	}
	for _, ph := range p.Phones {
		if n, ok := parsePhone(ph); ok {
			x.phones = append(x.phones, n)
		}
	}
	for _, h := range p.Handles {
		if l := lettersOf(h.Value); len(l) >= 3 {
			x.handles = append(x.handles, handle{raw: h.Value, letters: l, alnum: alnumOf(h.Value)})
		}
	}
	for _, v := range p.Fields {
		x.fields = append(x.fields, parseField(v))
	}
	return x
}

var dateLayouts = []string{"2006-01-02", "2006/01/02", "02.01.2006", "2.1.2006", "02/01/2006", "1/2/2006", "January 2, 2006", "2 January 2006", "20060102"}

func parseField(v string) fieldValue {
	v = strings.TrimSpace(v)
	if v == "" {
		return fieldValue{date: noDate}
	}
	fv := fieldValue{norm: strings.Join(strings.Fields(fold(foldUmlauts(v))), " "), date: noDate}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, v); err == nil {
			fv.date = int32(t.Unix() / 86400)
			fv.norm = t.Format("2006-01-02")
			break
		}
	}
	return fv
}

// field returns the i-th compared field; a profile with fewer fields than the
// setting names has the rest unset.
func (x *prepared) field(i int) fieldValue {
	if i < len(x.fields) {
		return x.fields[i]
	}
	return fieldValue{date: noDate}
}

// handle is a social or messaging handle taken apart: its letters (compared
// with names) and its letters and digits (compared with handles and local
// parts: @fatimagarcia12366 is not fatima.garcia.78@…).
type handle struct {
	raw, letters, alnum string
}
