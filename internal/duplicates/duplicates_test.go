package duplicates

import (
	"context"
	"testing"
)

func TestFold(t *testing.T) {
	for in, want := range map[string][]string{
		"Jürgen Müller":        {"juergen", "mueller"},
		"José  García":         {"jose", "garcia"},
		"Søren Łukasz":         {"soren", "lukasz"},
		"Dr. Anna de Vries":    {"anna", "devries"},
		"O'Brien, Siobhán":     {"obrien", "siobhan"},
		"Дмитрий Иванов":       {"dmitrii", "ivanov"},
		"":                     {},
		"Mr":                   {},
		"Zoë van der Berg Jr.": {"zoe", "vanderberg"},
	} {
		got := nameParts(in)
		if len(got) != len(want) {
			t.Errorf("nameParts(%q) = %q, want %q", in, got, want)
			continue
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("nameParts(%q) = %q, want %q", in, got, want)
			}
		}
	}
}

func TestMailbox(t *testing.T) {
	a, _ := parseMailbox("Maria.Souza+billing@gmail.com")
	b, _ := parseMailbox("mariasouza@googlemail.com")
	if a.canon != b.canon {
		t.Errorf("Gmail rules: %q != %q", a.canon, b.canon)
	}
	c, _ := parseMailbox("maria.souza@example.com")
	d, _ := parseMailbox("mariasouza@example.com")
	if c.canon == d.canon {
		t.Errorf("dots only fold at Gmail: %q == %q", c.canon, d.canon)
	}
	if _, ok := parseMailbox("not-an-address"); ok {
		t.Error("parsed an address without @")
	}
}

func TestStringSimilarity(t *testing.T) {
	if d := editDistance("robert", "rboert", 2); d != 1 {
		t.Errorf("transposition = %d edits, want 1", d)
	}
	if d := editDistance("kierkegaard", "smith", 2); d != 3 {
		t.Errorf("over the limit = %d, want limit+1", d)
	}
	if s := jaroWinkler("martha", "marhta"); s < 0.96 || s > 0.962 {
		t.Errorf("jaroWinkler(martha, marhta) = %.4f, want 0.961", s)
	}
	if !nicknames("bob", "robert") || !nicknames("rob", "bob") || nicknames("bob", "alice") {
		t.Error("nicknames")
	}
}

func TestPhone(t *testing.T) {
	a, _ := parsePhone("+4930123456789")
	b, _ := parsePhone("+130123456789")
	if a.national != "30123456789" || a.country != "49" || b.country != "1" {
		t.Errorf("parsePhone: %+v %+v", a, b)
	}
}

// pairScore compares two profiles among a population where their values are
// neither rare nor common.
func pairScore(t *testing.T, a, b *Profile) Result {
	t.Helper()
	ps := []*Profile{a, b}
	for i := 0; i < 2000; i++ {
		ps = append(ps, &Profile{ID: int64(100 + i), Name: "Person" + string(rune('a'+i%26)) + " Other" + string(rune('a'+i/26%26))})
	}
	return DefaultModel().Compare(a, b, []string{"dob"}, NewMapStats(ps))
}

func TestCompareReasons(t *testing.T) {
	same := pairScore(t,
		&Profile{ID: 1, Name: "Maria Souza", Emails: []string{"maria.souza+billing@gmail.com"}, Fields: []string{"1984-02-11"}},
		&Profile{ID: 2, Name: "Souza Maria", Emails: []string{"mariasouza@googlemail.com"}, Fields: []string{"1984-02-11"}})
	if same.Score < 0.99 {
		t.Errorf("same mailbox, swapped name, same date: score %.3f", same.Score)
	}
	codes := map[string]bool{}
	for _, r := range same.Reasons {
		codes[r.Match] = true
		if r.Description == "" || r.Weight <= 0 {
			t.Errorf("reason %+v", r)
		}
	}
	for _, c := range []string{"same_mailbox", "same_given_name", "same_family_name", "same_date"} {
		if !codes[c] {
			t.Errorf("missing reason %s in %+v", c, same.Reasons)
		}
	}

	diff := pairScore(t,
		&Profile{ID: 1, Name: "Maria Souza", Fields: []string{"1984-02-11"}},
		&Profile{ID: 2, Name: "Maria Souza", Fields: []string{"1948-11-30"}})
	var against bool
	for _, r := range diff.Reasons {
		if r.Match == "different_date" && r.Weight < 0 {
			against = true
		}
	}
	if !against || diff.Score >= same.Score {
		t.Errorf("different dates count against: %+v", diff)
	}

	nick := pairScore(t,
		&Profile{ID: 1, Name: "Bob Kierkegaard", Phones: []string{"+12125550199"}},
		&Profile{ID: 2, Name: "Robert Kierkegaard", Phones: []string{"+4912125550199"}})
	if nick.Score < 0.9 {
		t.Errorf("nickname and the same national number: %+v", nick)
	}

	strangers := pairScore(t,
		&Profile{ID: 1, Name: "Maria Souza", Emails: []string{"maria@gmail.com"}},
		&Profile{ID: 2, Name: "Kwame Mbeki", Emails: []string{"kwame@gmail.com"}})
	if strangers.Score > 0.01 {
		t.Errorf("strangers: %+v", strangers)
	}
}

func TestScanAndGroups(t *testing.T) {
	ps := []*Profile{
		{ID: 1, Name: "Ann Example", Emails: []string{"ann.example@gmail.com"}},
		{ID: 2, Name: "Ann Exmaple", Emails: []string{"annexample@gmail.com"}},
		{ID: 3, Name: "Ann Example", Emails: []string{"ann.example+shop@gmail.com"}},
		{ID: 4, Name: "Kwame Mbeki", Emails: []string{"kwame@example.org"}},
	}
	pairs, _, compared, err := Scan(context.Background(), ps, nil, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if compared == 0 || compared > 6 {
		t.Errorf("compared %d pairs", compared)
	}
	var edges [][2]int64
	for _, p := range pairs {
		if p.A == 4 || p.B == 4 {
			t.Errorf("Kwame suggested: %+v", p)
		}
		edges = append(edges, [2]int64{p.A, p.B})
	}
	g := Groups(edges)
	if g[1] != 1 || g[2] != 1 || g[3] != 1 {
		t.Errorf("groups %v from %v", g, edges)
	}
}

// TestNearNeverOutweighsExact: two differently mistyped spellings of a common
// town are each rare, but the evidence is the town's, not the typos' (D4).
func TestNearNeverOutweighsExact(t *testing.T) {
	var ps []*Profile
	for i := 0; i < 3000; i++ {
		ps = append(ps, &Profile{ID: int64(i + 10), Name: "P" + string(rune('a'+i%26)) + " Q" + string(rune('a'+i/26%26)),
			Fields: []string{[]string{"franklin", "salem", "milton"}[i%3]}})
	}
	a := &Profile{ID: 1, Name: "Nancy Dubois", Fields: []string{"franlkin"}}
	b := &Profile{ID: 2, Name: "Nancy Dubois", Fields: []string{"farnklin"}}
	c := &Profile{ID: 3, Name: "Nancy Dubois", Fields: []string{"franklin"}}
	d := &Profile{ID: 4, Name: "Nancy Dubois", Fields: []string{"franklin"}}
	ps = append(ps, a, b, c, d)
	// the model as a scan would estimate it for this account
	m, err := NewIndex(ps, []string{"town"}).Estimate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	st := NewMapStats(ps)
	near, exact := m.Compare(a, b, []string{"town"}, st), m.Compare(c, d, []string{"town"}, st)
	if near.Score > exact.Score+0.001 {
		t.Errorf("typos %.4f outweigh the exact town %.4f: %+v", near.Score, exact.Score, near.Reasons)
	}
}
