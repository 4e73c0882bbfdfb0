package duplicates

import "strings"

// twoDigitCodes are the two-digit country calling codes; 1 and 7 are the
// one-digit ones, everything else has three digits (ITU-T E.164 assignment).
var twoDigitCodes = map[string]bool{}

func init() {
	for _, c := range strings.Fields(`20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58
		60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98`) {
		twoDigitCodes[c] = true
	}
}

// phoneNumber is an E.164 number split into country code and national number.
type phoneNumber struct {
	e164, country, national string
}

func parsePhone(e164 string) (phoneNumber, bool) {
	d := strings.TrimPrefix(strings.TrimSpace(e164), "+")
	if len(d) < 6 {
		return phoneNumber{}, false
	}
	for _, r := range d {
		if r < '0' || r > '9' {
			return phoneNumber{}, false
		}
	}
	n := 3
	switch {
	case d[0] == '1' || d[0] == '7':
		n = 1
	case twoDigitCodes[d[:2]]:
		n = 2
	}
	return phoneNumber{e164: "+" + d, country: d[:n], national: d[n:]}, true
}

// trailing is the number's last eight digits: a number captured without its
// country code (or area code) still ends in them.
func (p phoneNumber) trailing() string {
	d := p.country + p.national
	if len(d) <= 8 {
		return d
	}
	return d[len(d)-8:]
}
