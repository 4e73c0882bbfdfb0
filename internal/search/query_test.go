package search

import (
	"reflect"
	"strings"
	"testing"

	"github.com/mergedesk/mergedesk"
)

func TestParse(t *testing.T) {
	bare := func(v string) Term { return Term{Op: ":", Value: v} }
	tests := []struct {
		name string
		in   string
		want []Term
	}{
		{"Empty", "", nil},
		{"Spaces", "  \t\n ", nil},
		{"BareWords", "printer  fire", []Term{bare("printer"), bare("fire")}},
		{"Phrase", `"printer on fire" now`, []Term{bare("printer on fire"), bare("now")}},
		{"UnterminatedPhrase", `"printer on`, []Term{bare("printer on")}},
		{"EmptyPhraseDropped", `"" a -""`, []Term{bare("a")}},
		{"PhraseThenWord", `"a"b`, []Term{bare("a"), bare("b")}},
		{"Field", "status:open", []Term{{Field: "status", Op: ":", Value: "open"}}},
		{"FieldCaseInsensitive", "Status:Open", []Term{{Field: "status", Op: ":", Value: "Open"}}},
		{"FieldQuoted", `phone:"(415) 555-0101"`, []Term{{Field: "phone", Op: ":", Value: "(415) 555-0101"}}},
		{"FieldUnterminated", `name:"Ann Lee`, []Term{{Field: "name", Op: ":", Value: "Ann Lee"}}},
		{"FieldEmpty", "name: x", []Term{{Field: "name", Op: ":"}, bare("x")}},
		{"FieldEmptyQuoted", `name:""`, []Term{{Field: "name", Op: ":"}}},
		{"Less", "created<2024-05-02", []Term{{Field: "created", Op: "<", Value: "2024-05-02"}}},
		{"Greater", "priority>normal", []Term{{Field: "priority", Op: ">", Value: "normal"}}},
		{"LessEqual", "status<=pending", []Term{{Field: "status", Op: "<=", Value: "pending"}}},
		{"GreaterEqual", "updated>=2024-01-01", []Term{{Field: "updated", Op: ">=", Value: "2024-01-01"}}},
		{"ValueKeepsColon", "via:a:b", []Term{{Field: "via", Op: ":", Value: "a:b"}}},
		{"FieldUnderscore", "ticket_type:incident external_id:X-1", []Term{
			{Field: "ticket_type", Op: ":", Value: "incident"}, {Field: "external_id", Op: ":", Value: "X-1"}}},
		{"Negated", "-tags:vip -spam", []Term{{Negate: true, Field: "tags", Op: ":", Value: "vip"}, {Negate: true, Op: ":", Value: "spam"}}},
		{"NegatedPhrase", `-"out of office"`, []Term{{Negate: true, Op: ":", Value: "out of office"}}},
		{"DoubleDashNegatesOnce", "--x", []Term{{Negate: true, Op: ":", Value: "x"}}},
		{"LoneDash", "a - b -", []Term{bare("a"), bare("-"), bare("b"), bare("-")}},
		{"EmailIsBare", "ann@example.com", []Term{bare("ann@example.com")}},
		{"TimeIsBare", "10:30", []Term{bare("10:30")}},
		{"NonASCIIIsBare", "é:x", []Term{bare("é:x")}},
		{"QuoteInsideWord", `ab"c d"`, []Term{bare(`ab"c`), bare(`d"`)}},
		{"ControlCharsSeparate", "a\x00b\"c\x01d\"", []Term{bare("a"), bare("b\"c"), bare("d\"")}},
		{"Unicode", "Ünal name:Zoë", []Term{bare("Ünal"), {Field: "name", Op: ":", Value: "Zoë"}}},
		{"Type", "type:user ann", []Term{{Field: "type", Op: ":", Value: "user"}, bare("ann")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got.Terms, tt.want) {
				t.Errorf("Parse(%q)\n got %#v\nwant %#v", tt.in, got.Terms, tt.want)
			}
			again, err := Parse(got.String())
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Errorf("Parse(%q) = %#v, %v; want %#v", got.String(), again, err, got)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"ErrTooLong", strings.Repeat("a", MaxLen+1)},
		{"ErrTooManyTerms", strings.Repeat("a ", MaxTerms+1)},
		{"ErrInvalidUTF8", "ann \xff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.in)
			if got := mergedesk.ErrorCode(err); got != mergedesk.EInvalid {
				t.Errorf("Parse: error %v (code %q), want code %q", err, got, mergedesk.EInvalid)
			}
		})
	}
	if _, err := Parse(strings.Repeat("a ", MaxTerms)); err != nil {
		t.Errorf("Parse(%d terms): %v", MaxTerms, err)
	}
	if _, err := Parse(strings.Repeat("a", MaxLen)); err != nil {
		t.Errorf("Parse(%d bytes): %v", MaxLen, err)
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		term Term
		want string
	}{
		{Term{Op: ":", Value: "ann"}, "ann"},
		{Term{Op: ":", Value: "ann lee"}, `"ann lee"`},
		{Term{Op: ":", Value: "-ann"}, `"-ann"`},
		{Term{Op: ":", Value: "a:b"}, `"a:b"`},
		{Term{Op: ":", Value: "10:30"}, "10:30"},
		{Term{Negate: true, Op: ":", Value: "ann"}, "-ann"},
		{Term{Field: "name", Op: ":", Value: ""}, `name:""`},
		{Term{Field: "name", Op: ":", Value: "Ann Lee"}, `name:"Ann Lee"`},
		{Term{Field: "created", Op: "<", Value: "=x"}, `created<"=x"`},
		{Term{Negate: true, Field: "status", Op: ">=", Value: "open"}, "-status>=open"},
	}
	for _, tt := range tests {
		if got := tt.term.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.term, got, tt.want)
		}
	}
}

func TestTypes(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"ann", Kinds},
		{"type:user ann", []string{KindUser}},
		{"type:Ticket type:user", []string{KindUser, KindTicket}},
		{"-type:user", []string{KindTicket, KindOrganization, KindGroup}},
		{"type:user -type:user", []string{}},
		{"type:widget", []string{}},
	}
	for _, tt := range tests {
		q, err := Parse(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := q.Types(); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Parse(%q).Types() = %q, want %q", tt.in, got, tt.want)
		}
	}
	q, _ := Parse("type:user ann -type:group status:open")
	if got, want := q.WithoutType().String(), "ann status:open"; got != want {
		t.Errorf("WithoutType() = %q, want %q", got, want)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", `"printer on fire"`, `phone:"(415) 555-0101"`, "-tags:vip created>=2024-05-02",
		`"unterminated`, "a - -- ---x", `ab"c d"`, "10:30 é:x", "created<\"=x\"", "a\x00b",
		`name:"" "" -"`, "status<=pending priority>normal type:user",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := Parse(s)
		if err != nil {
			return
		}
		if len(q.Terms) > MaxTerms {
			t.Fatalf("Parse(%q): %d terms", s, len(q.Terms))
		}
		for _, term := range q.Terms {
			switch term.Op {
			case ":", "<", ">", "<=", ">=":
			default:
				t.Fatalf("Parse(%q): term %#v has op %q", s, term, term.Op)
			}
			if term.Field != strings.ToLower(term.Field) {
				t.Fatalf("Parse(%q): field %q not lower-case", s, term.Field)
			}
		}
		s2 := q.String()
		if len(s2) > MaxLen {
			return // quoting can lengthen a query past the limit
		}
		q2, err := Parse(s2)
		if err != nil {
			t.Fatalf("Parse(%q) (from %q): %v", s2, s, err)
		}
		if !reflect.DeepEqual(q2, q) {
			t.Fatalf("round trip of %q via %q:\n got %#v\nwant %#v", s, s2, q2, q)
		}
	})
}
