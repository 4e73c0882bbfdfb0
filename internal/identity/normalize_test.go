package identity

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"

	"github.com/mergedesk/mergedesk"
)

func TestPhoneFormatsAreOneValue(t *testing.T) {
	for _, in := range []string{"(415) 555-0100", "+1 415 555 0100", "4155550100", "+1-415-555-0100", "001 415 555 0100", "415.555.0100"} {
		got, err := Phone(in, "US")
		if err != nil {
			t.Fatalf("Phone(%q): %v", in, err)
		}
		if want := "+14155550100"; got != want {
			t.Errorf("Phone(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPhoneRegion(t *testing.T) {
	got, err := Phone("030 1234567", "DE")
	if err != nil || got != "+49301234567" {
		t.Fatalf("Phone DE = %q, %v", got, err)
	}
}

func TestPhoneInvalid(t *testing.T) {
	for _, in := range []string{"", "abc", "12", "+1 415 555 0100 ext", "1234567890123456789012", "555-CALL-NOW", "+4900000000000"} {
		if _, err := Phone(in, "US"); mergedesk.FieldCode(err, "value") != mergedesk.CodeInvalid {
			t.Errorf("Phone(%q) err = %v, want InvalidValue", in, err)
		}
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		typ, in, stored, norm string
	}{
		{"email", " Ann@Example.COM ", "Ann@Example.COM", "ann@example.com"},
		{"google", "a@b.co", "a@b.co", "a@b.co"},
		{"twitter", "@AnnLee", "AnnLee", "annlee"},
		{"facebook", " 12345 ", "12345", "12345"},
		{"phone_number", "(415) 555-0100", "+14155550100", "+14155550100"},
	}
	for _, tt := range tests {
		s, n, err := Normalize(tt.typ, tt.in, "US")
		if err != nil || s != tt.stored || n != tt.norm {
			t.Errorf("Normalize(%s, %q) = %q, %q, %v; want %q, %q", tt.typ, tt.in, s, n, err, tt.stored, tt.norm)
		}
	}
}

func TestNormalizeInvalid(t *testing.T) {
	for _, tt := range [][2]string{{"email", "not-an-email"}, {"email", "a@"}, {"email", "Ann <a@b.c>"}, {"email", "a@b..c"}, {"twitter", "@"}, {"email", ""}, {"fax", "1"}} {
		if _, _, err := Normalize(tt[0], tt[1], "US"); err == nil {
			t.Errorf("Normalize(%s, %q) accepted", tt[0], tt[1])
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"(415) 555-0100", "a@b.c", "@x", "+49 30 1234567", "00441234", "\x00"} {
		f.Add("email", s)
		f.Add("phone_number", s)
	}
	f.Fuzz(func(t *testing.T, typ, v string) {
		s, n, err := Normalize(typ, v, "US")
		if err != nil {
			if mergedesk.ErrorCode(err) != mergedesk.EInvalid {
				t.Fatalf("Normalize error %v is not RecordInvalid", err)
			}
			return
		}
		// Normalising the stored form again is stable.
		s2, n2, err := Normalize(typ, s, "US")
		if err != nil || n2 != n || s2 != s {
			t.Fatalf("not idempotent: %q -> %q,%q -> %q,%q,%v", v, s, n, s2, n2, err)
		}
	})
}

// TestNANPFastPathAgrees checks the fast path against libphonenumber itself on
// random numbers in every common format, in and out of NANP regions.
func TestNANPFastPathAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	formats := []string{"(%s) %s-%s", "%s-%s-%s", "%s.%s.%s", "+1 %s %s %s", "1 %s %s %s", "%s%s%s", "+1-%s-%s-%s", "+1 (%s) %s-%s"}
	fast := 0
	for i := 0; i < 20000; i++ {
		area, exch, line := fmt.Sprintf("%03d", rng.IntN(1000)), fmt.Sprintf("%03d", rng.IntN(1000)), fmt.Sprintf("%04d", rng.IntN(10000))
		v := fmt.Sprintf(formats[rng.IntN(len(formats))], area, exch, line)
		for _, region := range []string{"US", "CA", "DE", "GB"} {
			got, ok := nanp(v, region)
			if !ok {
				continue
			}
			fast++
			n, err := phonenumbers.Parse(v, region)
			if err != nil || !phonenumbers.IsPossibleNumber(n) {
				t.Fatalf("fast path accepted %q in %s, libphonenumber refuses: %v", v, region, err)
			}
			if want := phonenumbers.Format(n, phonenumbers.E164); got != want {
				t.Fatalf("nanp(%q, %s) = %s, libphonenumber %s", v, region, got, want)
			}
		}
	}
	if fast < 10000 {
		t.Errorf("fast path taken only %d times", fast)
	}
	if _, ok := nanp("030 1234567", "DE"); ok {
		t.Error("fast path took a German number")
	}
	if !strings.HasPrefix(must(Phone("+1 415 555 0100", "DE")), "+1415") {
		t.Error("+1 number in another region")
	}
}

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}

// TestCompactAgrees checks that parsing the compact form gives what
// libphonenumber gives for the number as written, across regions and formats.
func TestCompactAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	formats := []string{"+%s %s %s", "00%s (%s) %s", "+%s-%s-%s", "+%s%s%s", "+%s (0%s) %s", "0%[2]s %[3]s", "0%[2]s/%[3]s", "(0%[2]s) %[3]s", "%[2]s.%[3]s"}
	codes := map[string]string{"49": "DE", "44": "GB", "33": "FR", "39": "IT", "61": "AU", "81": "JP", "1": "US", "55": "BR", "91": "IN"}
	checked := 0
	for i := 0; i < 3000; i++ {
		for cc, region := range codes {
			area := fmt.Sprint(rng.IntN(900) + 10)
			sub := fmt.Sprintf("%0*d", 4+rng.IntN(5), rng.IntN(100000000))
			v := fmt.Sprintf(formats[rng.IntN(len(formats))], cc, area, sub)
			// docs/api.md §3.3: a leading 00 is international in every region.
			oracle := v
			if strings.HasPrefix(oracle, "00") {
				oracle = "+" + oracle[2:]
			}
			for _, r := range []string{region, "US"} {
				n, err := phonenumbers.Parse(oracle, r)
				if err != nil || !phonenumbers.IsPossibleNumber(n) {
					continue
				}
				want := phonenumbers.Format(n, phonenumbers.E164)
				got, err := Phone(v, r)
				if err != nil {
					// Refused only as not a fixed point (leading zeros).
					if !n.GetItalianLeadingZero() {
						t.Fatalf("Phone(%q, %s) refused what libphonenumber reads as %s: %v", v, r, want, err)
					}
					continue
				}
				if got != want {
					t.Fatalf("Phone(%q, %s) = %s, libphonenumber %s", v, r, got, want)
				}
				checked++
			}
		}
	}
	if checked < 7000 {
		t.Errorf("only %d numbers checked", checked)
	}
}

func TestFormatPhone(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"US", "+12125550199", "+1 212 555 0199"},
		{"UK", "+442079460958", "+44 20 7946 0958"},
		{"Germany", "+49301234567", "+49 30 1234567"},
		{"Japan", "+819012345678", "+81 90 1234 5678"},
		{"France", "+33612345678", "+33 6 12 34 56 78"},
		{"NotE164", "2125550199", "2125550199"},
		{"Empty", "", ""},
		{"UnknownCountryCode", "+999123456", "+999123456"},
		{"NotANumber", "+1 call me", "+1 call me"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := FormatPhone(tt.in)
			if got != tt.want {
				t.Errorf("FormatPhone(%q) = %q, want %q", tt.in, got, tt.want)
			}
			// What the UI shows reads back as the stored value.
			if strings.HasPrefix(tt.want, "+") && got != tt.in {
				if back, err := Phone(got, "US"); err != nil || back != tt.in {
					t.Errorf("Phone(%q) = %q, %v; want %q", got, back, err, tt.in)
				}
			}
		})
	}
}

// TestFormatPhoneKeepsDigits: whatever the library does with an odd number,
// the display never shows other digits than the stored value.
func TestFormatPhoneKeepsDigits(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		in := fmt.Sprintf("+%d", r.Int64N(1e14))
		if got := FormatPhone(in); compact(got) != in {
			t.Fatalf("FormatPhone(%q) = %q: other digits", in, got)
		}
	}
}
