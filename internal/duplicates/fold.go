package duplicates

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// special spells letters that do not decompose into a base letter and a mark.
var special = map[rune]string{
	'ß': "ss", 'æ': "ae", 'ø': "o", 'œ': "oe", 'ł': "l", 'đ': "d", 'ð': "d", 'þ': "th",
	'ı': "i", 'ħ': "h", 'ŀ': "l",
}

// cyrillic transliterates Russian and Ukrainian letters (ISO 9 simplified).
var cyrillic = map[rune]string{
	'а': "a", 'б': "b", 'в': "v", 'г': "g", 'д': "d", 'е': "e", 'ё': "e", 'ж': "zh", 'з': "z",
	'и': "i", 'к': "k", 'л': "l", 'м': "m", 'н': "n", 'о': "o", 'п': "p", 'р': "r",
	'с': "s", 'т': "t", 'у': "u", 'ф': "f", 'х': "kh", 'ц': "ts", 'ч': "ch", 'ш': "sh",
	'щ': "shch", 'ъ': "", 'ы': "y", 'ь': "", 'э': "e", 'ю': "yu", 'я': "ya", 'і': "i", 'ї': "i",
	'є': "ye", 'ґ': "g",
}

// fold lower-cases s, spells out special letters, transliterates Cyrillic, strips
// accents, and keeps letters and digits; everything else becomes a space.
func fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range norm.NFD.String(strings.ToLower(norm.NFC.String(s))) {
		switch {
		case r < 0x80 && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9'):
			b.WriteRune(r)
		case unicode.Is(unicode.Mn, r):
			// a combining mark of a decomposed letter
		case special[r] != "" || cyrillic[r] != "":
			b.WriteString(special[r] + cyrillic[r])
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		case r == '\'' || r == '’':
			// O'Brien = OBrien
		default:
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// foldUmlauts spells out German umlauts (Müller = Mueller) before fold strips
// marks; the plain-letter form (Muller) is one edit away and meets it as a typo.
func foldUmlauts(s string) string {
	s = norm.NFC.String(strings.ToLower(s))
	if !strings.ContainsAny(s, "äöü") {
		return s
	}
	return strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue").Replace(s)
}

// titles are dropped from names.
var titles = map[string]bool{"mr": true, "mrs": true, "ms": true, "miss": true, "dr": true, "prof": true,
	"sir": true, "herr": true, "frau": true, "jr": true, "sr": true, "ii": true, "iii": true}

// particles join the family name that follows (de Vries, van der Berg, bin Said).
var particles = map[string]bool{"de": true, "van": true, "von": true, "der": true, "den": true, "da": true,
	"di": true, "del": true, "della": true, "la": true, "le": true, "du": true, "dos": true, "das": true,
	"bin": true, "ibn": true, "al": true, "el": true, "ter": true, "ten": true, "af": true, "zu": true}

// nameParts splits a display name into folded tokens: titles dropped, particles
// joined to the family name ("de vries" → "devries").
func nameParts(name string) []string {
	raw := strings.Fields(fold(foldUmlauts(name)))
	out := raw[:0]
	var pending string
	for i, t := range raw {
		if titles[t] {
			continue
		}
		if particles[t] && i < len(raw)-1 && len(out) > 0 {
			pending += t
			continue
		}
		out = append(out, pending+t)
		pending = ""
	}
	return out
}
