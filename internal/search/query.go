// Package search parses the query language of GET /search (docs/api.md §9). It is pure:
// turning a Query into SQL is the store's business.
package search

import (
	"strings"
	"unicode/utf8"

	"github.com/mergedesk/mergedesk"
)

// Limits on one query. They keep the SQL a query compiles to small.
const (
	MaxLen   = 1024 // bytes
	MaxTerms = 32
)

// The kinds of record a search returns, in the order results are listed.
const (
	KindUser         = "user"
	KindTicket       = "ticket"
	KindOrganization = "organization"
	KindGroup        = "group"
)

// Kinds lists every kind a search can return.
var Kinds = []string{KindUser, KindTicket, KindOrganization, KindGroup}

// Term is one condition of a query. Terms are ANDed.
type Term struct {
	Negate bool   // leading '-'
	Field  string // lower-cased field name; "" for a bare word or phrase
	Op     string // ":" "<" ">" "<=" ">=" (bare words use ":")
	Value  string // unquoted value, as written (callers lower-case it)
}

// Query is a parsed search query.
type Query struct{ Terms []Term }

// Parse parses s leniently: an unterminated quote runs to the end of the input,
// a word that only looks like a field (ann@example.com, 10:30) is a bare word, and
// ASCII control characters separate terms like spaces. Empty phrases ("") are
// dropped. The error, a RecordInvalid *mergedesk.Error on field "query", is only
// for input over MaxLen bytes, more than MaxTerms terms, or invalid UTF-8.
func Parse(s string) (Query, error) {
	if len(s) > MaxLen {
		return Query{}, mergedesk.Invalid("query", mergedesk.CodeTooLong, "Query: is too long (maximum is %d bytes)", MaxLen)
	}
	if !utf8.ValidString(s) {
		return Query{}, mergedesk.Invalid("query", mergedesk.CodeInvalid, "Query: is not valid UTF-8")
	}
	// Control characters would otherwise reach the database inside quoted values,
	// and PostgreSQL refuses NUL in text.
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	var q Query
	for p := 0; ; {
		for p < len(s) && s[p] == ' ' {
			p++
		}
		if p == len(s) {
			return q, nil
		}
		var t Term
		t, p = parseTerm(s, p)
		if t.Field == "" && t.Value == "" {
			continue
		}
		if len(q.Terms) == MaxTerms {
			return Query{}, mergedesk.Invalid("query", mergedesk.CodeTooLong, "Query: has too many terms (maximum is %d)", MaxTerms)
		}
		q.Terms = append(q.Terms, t)
	}
}

// parseTerm reads the term that starts at s[p], which is not a space, and returns
// it with the offset just after it.
func parseTerm(s string, p int) (Term, int) {
	t := Term{Op: ":"}
	// Any run of '-' negates once; a '-' on its own is a word.
	for s[p] == '-' && p+1 < len(s) && s[p+1] != ' ' {
		t.Negate = true
		p++
	}
	if s[p] == '"' {
		t.Value, p = quoted(s, p)
		return t, p
	}
	if n := fieldLen(s[p:]); n > 0 {
		if op := opAt(s[p+n:]); op != "" {
			t.Field = strings.ToLower(s[p : p+n])
			t.Op = op
			p += n + len(op)
			if p < len(s) && s[p] == '"' {
				t.Value, p = quoted(s, p)
				return t, p
			}
			e := wordEnd(s, p)
			t.Value = s[p:e]
			return t, e
		}
	}
	e := wordEnd(s, p)
	t.Value = s[p:e]
	return t, e
}

// quoted returns the text between the quote at s[p] and the next quote (or the
// end of s), and the offset after the closing quote.
func quoted(s string, p int) (string, int) {
	i := strings.IndexByte(s[p+1:], '"')
	if i < 0 {
		return s[p+1:], len(s)
	}
	return s[p+1 : p+1+i], p + 2 + i
}

func wordEnd(s string, p int) int {
	if i := strings.IndexByte(s[p:], ' '); i >= 0 {
		return p + i
	}
	return len(s)
}

// fieldLen returns the length of the field name that s starts with: an ASCII
// letter followed by letters, digits and '_'.
func fieldLen(s string) int {
	if s == "" || !isLetter(s[0]) {
		return 0
	}
	n := 1
	for n < len(s) && (isLetter(s[n]) || s[n] >= '0' && s[n] <= '9' || s[n] == '_') {
		n++
	}
	return n
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// opAt returns the operator s starts with, or "".
func opAt(s string) string {
	switch {
	case strings.HasPrefix(s, ":"):
		return ":"
	case strings.HasPrefix(s, "<="), strings.HasPrefix(s, ">="):
		return s[:2]
	case strings.HasPrefix(s, "<"), strings.HasPrefix(s, ">"):
		return s[:1]
	}
	return ""
}

// String returns the query in the grammar Parse reads: Parse(q.String()) gives
// back q for any q that Parse returned (within MaxLen).
func (q Query) String() string {
	parts := make([]string, len(q.Terms))
	for i, t := range q.Terms {
		parts[i] = t.String()
	}
	return strings.Join(parts, " ")
}

// String returns the term in the grammar Parse reads, quoting the value where
// it would otherwise read differently.
func (t Term) String() string {
	var b strings.Builder
	if t.Negate {
		b.WriteByte('-')
	}
	if t.Field != "" {
		b.WriteString(t.Field)
		b.WriteString(t.Op)
		v := t.Value
		if v == "" || strings.Contains(v, " ") || v[0] == '"' || (t.Op == "<" || t.Op == ">") && v[0] == '=' {
			v = `"` + v + `"`
		}
		b.WriteString(v)
		return b.String()
	}
	v := t.Value
	if v == "" || strings.Contains(v, " ") || v[0] == '"' || v[0] == '-' || looksLikeField(v) {
		v = `"` + v + `"`
	}
	b.WriteString(v)
	return b.String()
}

func looksLikeField(v string) bool {
	n := fieldLen(v)
	return n > 0 && opAt(v[n:]) != ""
}

// Types returns the kinds to search, in the order of Kinds: those named by
// type: terms, or all kinds when there is none; -type:x leaves x out. Values are
// compared case-insensitively. The result is empty, not nil, when a type: term
// names no known kind.
func (q Query) Types() []string {
	include := map[string]bool{}
	exclude := map[string]bool{}
	for _, t := range q.Terms {
		if t.Field != "type" {
			continue
		}
		if t.Negate {
			exclude[strings.ToLower(t.Value)] = true
		} else {
			include[strings.ToLower(t.Value)] = true
		}
	}
	out := make([]string, 0, len(Kinds))
	for _, k := range Kinds {
		if (len(include) == 0 || include[k]) && !exclude[k] {
			out = append(out, k)
		}
	}
	return out
}

// WithoutType returns q without its type: terms, which choose the kinds to
// search rather than filter records.
func (q Query) WithoutType() Query {
	var out Query
	for _, t := range q.Terms {
		if t.Field != "type" {
			out.Terms = append(out.Terms, t)
		}
	}
	return out
}
