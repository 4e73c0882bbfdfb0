// Package identity normalises identity values (docs/identity.md) so that one
// contact point has one stored form: e-mail addresses compared case-insensitively, phone
// numbers in E.164, X handles without '@'. It is pure and safe to fuzz.
package identity

import (
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/mergedesk/mergedesk"
)

// MaxValueLen bounds any identity value, in bytes.
const MaxValueLen = 320

// Valid reports whether typ is a known identity type.
func Valid(typ string) bool {
	for _, t := range mergedesk.IdentityTypes {
		if t == typ {
			return true
		}
	}
	return false
}

// Normalize returns the value to store and the normalised value to compare for an
// identity of type typ. region is the account's default phone region. Errors are
// *mergedesk.Error with code InvalidValue on field "value".
func Normalize(typ, value, region string) (stored, norm string, err error) {
	v := strings.TrimSpace(value)
	if v == "" {
		return "", "", mergedesk.Invalid("value", mergedesk.CodeBlank, "Value: cannot be blank")
	}
	if len(v) > MaxValueLen || !utf8.ValidString(v) {
		return "", "", mergedesk.Invalid("value", mergedesk.CodeInvalid, "Value: is invalid")
	}
	switch typ {
	case mergedesk.IdentityEmail, mergedesk.IdentityGoogle:
		if !ValidEmail(v) {
			return "", "", mergedesk.Invalid("value", mergedesk.CodeInvalid, "Value: %s is not a valid email address", v)
		}
		// Stored as given, unique case-insensitively.
		return v, strings.ToLower(v), nil
	case mergedesk.IdentityPhone:
		e, err := Phone(v, region)
		if err != nil {
			return "", "", err
		}
		return e, e, nil
	case mergedesk.IdentityTwitter:
		v = strings.TrimPrefix(v, "@")
		if v == "" || strings.ContainsAny(v, " \t\r\n@") {
			return "", "", mergedesk.Invalid("value", mergedesk.CodeInvalid, "Value: %s is not a valid X handle", value)
		}
		return v, strings.ToLower(v), nil
	case mergedesk.IdentityFacebook, mergedesk.IdentityMessaging, mergedesk.IdentitySDK, mergedesk.IdentityAnyChannel:
		return v, v, nil
	}
	return "", "", mergedesk.Invalid("type", mergedesk.CodeInvalid, "Type: %q is not a valid identity type", typ)
}

// ValidEmail reports whether s is a plain address "local@domain" with a dot-free
// or dotted domain, no display name and no spaces.
func ValidEmail(s string) bool {
	if len(s) > MaxValueLen || strings.ContainsAny(s, " \t\r\n<>,;\"") {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return false
	}
	domain := s[at+1:]
	if strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s
}

// Phone parses a phone number written in any common format and returns it in
// E.164. A number without '+' or '00' is read in region (ISO 3166-1 alpha-2).
func Phone(s, region string) (string, error) {
	v := strings.TrimSpace(s)
	if strings.HasPrefix(v, "00") {
		v = "+" + v[2:]
	}
	digits := 0
	for _, r := range v {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune("+-(). /", r):
		default:
			return "", mergedesk.Invalid("value", mergedesk.CodeInvalid, "Value: %s is not a valid phone number", s)
		}
	}
	if digits < 3 || digits > 17 {
		return "", mergedesk.Invalid("value", mergedesk.CodeInvalid, "Value: %s is not a valid phone number", s)
	}
	if region == "" {
		region = "US"
	}
	region = strings.ToUpper(region)
	if e, ok := nanp(v, region); ok {
		return e, nil
	}
	n, err := phonenumbers.Parse(compact(v), region)
	if err != nil || !phonenumbers.IsPossibleNumber(n) {
		return "", mergedesk.Invalid("value", mergedesk.CodeInvalid, "Value: %s is not a valid phone number", s)
	}
	e := phonenumbers.Format(n, phonenumbers.E164)
	// The stored form must be a fixed point: libphonenumber strips a national
	// prefix from some nonsense numbers with leading zeros on every pass
	// (+4900000000000 becomes +490000000000, then +49000000000), and a value that
	// changes when entered again would escape the uniqueness check (M28). Only
	// numbers with leading zeros can do that, so only they are parsed twice.
	if n.GetItalianLeadingZero() {
		if again, err := phonenumbers.Parse(e, region); err != nil || phonenumbers.Format(again, phonenumbers.E164) != e {
			return "", mergedesk.Invalid("value", mergedesk.CodeInvalid, "Value: %s is not a valid phone number", s)
		}
	}
	return e, nil
}

// ValidRegion reports whether r is a region the phone library knows.
func ValidRegion(r string) bool {
	if len(r) != 2 {
		return false
	}
	return phonenumbers.GetCountryCodeForRegion(strings.ToUpper(r)) != 0
}

// nanp is a fast path for North American numbers, the bulk of what a US or
// Canadian account sees: libphonenumber parses with regular expressions, which
// cost most of a bulk import's time. It accepts only "+1" followed by ten digits,
// or ten digits (optionally after a national prefix 1) in region US or CA, where
// the area code and exchange start with 2-9; everything else goes to
// libphonenumber. For what it accepts it returns exactly what libphonenumber
// returns (TestNANPFastPathAgrees). v holds only digits and "+-(). /".
func nanp(v, region string) (string, bool) {
	var d [12]byte
	n := 0
	for i := 0; i < len(v); i++ {
		if c := v[i]; c >= '0' && c <= '9' {
			if n == len(d) {
				return "", false
			}
			d[n] = c
			n++
		}
	}
	digits := d[:n]
	switch {
	case strings.HasPrefix(v, "+"):
		if n != 11 || digits[0] != '1' {
			return "", false
		}
		digits = digits[1:]
	case region != "US" && region != "CA":
		return "", false
	case n == 11 && digits[0] == '1':
		digits = digits[1:]
	case n != 10:
		return "", false
	}
	if digits[0] < '2' || digits[3] < '2' {
		return "", false
	}
	return "+1" + string(digits), true
}

// compact drops the punctuation of a phone number ("+49 (30) 1234-5678" becomes
// "+493012345678"): libphonenumber ignores it anyway, but its regular
// expressions spend a third more time backtracking over it. A '+' anywhere but
// first is left for libphonenumber to judge. v holds only digits and "+-(). /".
func compact(v string) string {
	if strings.LastIndexByte(v, '+') > 0 {
		return v
	}
	b := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if c := v[i]; c >= '0' && c <= '9' || c == '+' {
			b = append(b, c)
		}
	}
	return string(b)
}

// FormatPhone writes a stored E.164 number for people in the international
// format, groups separated by spaces: "+12125550199" becomes
// "+1 212 555 0199". It is for display only; values are stored, compared and
// returned by the API in E.164. libphonenumber writes some countries' groups
// with hyphens (+1 212-555-0199); spaces make every number read the same way
// and keep a number on the page searchable as typed (the customer search
// ignores spaces in a phone number). Anything that is not an E.164 number the
// library can format, or that it would format with other digits (it drops
// national prefixes from some invalid numbers), is returned as it is.
func FormatPhone(e164 string) string {
	if !strings.HasPrefix(e164, "+") {
		return e164
	}
	n, err := phonenumbers.Parse(e164, "ZZ")
	if err != nil {
		return e164
	}
	f := strings.ReplaceAll(phonenumbers.Format(n, phonenumbers.INTERNATIONAL), "-", " ")
	if compact(f) != e164 {
		return e164
	}
	return f
}
