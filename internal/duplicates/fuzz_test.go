package duplicates

import (
	"math"
	"testing"
)

// FuzzCompare feeds arbitrary names, addresses, numbers, handles and field
// values through every comparator and the keys: nothing panics, the score is a
// probability and every reason is explained with a finite weight.
func FuzzCompare(f *testing.F) {
	f.Add("Maria Souza", "maria.souza+x@gmail.com", "+12125550199", "@maria_souza", "1984-02-11",
		"Souza, María", "MariaSouza@googlemail.com", "+4912125550199", "msouza", "11.02.1984")
	f.Add("", "", "", "", "", "Дмитрий Иванов", "a@b", "+1", "@", "2024-02-30")
	f.Add("Dr. Anna de Vries", "x@y.z", "12", "ä", "Zürich", "A", "@@", "+999999999999999999", "", "zurich")
	f.Fuzz(func(t *testing.T, n1, e1, p1, h1, v1, n2, e2, p2, h2, v2 string) {
		a := &Profile{ID: 1, Name: n1, Emails: []string{e1}, Phones: []string{p1},
			Handles: []Handle{{Type: "twitter", Value: h1}}, Fields: []string{v1}, OrgDomains: []string{e2}}
		b := &Profile{ID: 2, Name: n2, Emails: []string{e2}, Phones: []string{p2},
			Handles: []Handle{{Type: "facebook", Value: h2}}, Fields: []string{v2}, OrgIDs: []int64{7}}
		_ = Keys(a)
		r := DefaultModel().Compare(a, b, []string{"dob"}, NewMapStats([]*Profile{a, b}))
		if !(r.Score >= 0 && r.Score <= 1) {
			t.Fatalf("score %v", r.Score)
		}
		for _, x := range r.Reasons {
			if x.Field == "" || x.Match == "" || math.IsNaN(x.Weight) || math.IsInf(x.Weight, 0) {
				t.Fatalf("reason %+v", x)
			}
		}
	})
}
