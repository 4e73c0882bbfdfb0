package bench

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sharedData finds ../shared/data from the repository root; under CI a
// missing file fails the test rather than skipping it.
func sharedData(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join("..", "..", "..", "shared", "data", name)
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI: %v", err)
		}
		t.Skip(err)
	}
	return path
}

// TestDuplicateQuality runs `mergedesk bench duplicates` on the shared labelled
// data set and holds the default threshold to its promise: precision at least
// 0.95. Recall is held to the level this model reaches (docs/duplicates.md),
// so that a change that loses recall fails; the target is 0.80.
func TestDuplicateQuality(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute of work")
	}
	var out strings.Builder
	q, err := DuplicateQuality(context.Background(), DuplicatesConfig{CSV: sharedData(t, "fake_20000.csv")}, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	if q.TruePairs != 12208 {
		t.Errorf("true pairs %d, want 12208 (13,088 profiles after identity resolution)", q.TruePairs)
	}
	if q.Precision < 0.95 {
		t.Errorf("precision %.4f at the default min_score, want ≥ 0.95", q.Precision)
	}
	if q.Recall < 0.61 {
		t.Errorf("recall %.4f at the default min_score fell below the 0.61 this model reached", q.Recall)
	}
}

func TestReadLabelled(t *testing.T) {
	l, err := ReadLabelled(strings.NewReader(`id,first_name,surname,dob,email,cluster
1,Maria,Souza,1984-02-11,maria@example.com,a
2,María,Souza,1984-02-11,MARIA@example.com,a
3,Maria,Sousa,,m.sousa@example.com,a
4,Kwame,Mbeki,1970-01-01,,b
`), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Rows) != 3 || l.Resolved != 1 {
		t.Fatalf("rows %d resolved %d: identity resolution folds row 2 into row 1", len(l.Rows), l.Resolved)
	}
	if len(l.Fields) != 1 || l.Fields[0] != "dob" || l.Rows[0].Name != "Maria Souza" {
		t.Errorf("fields %v, first row %+v", l.Fields, l.Rows[0])
	}
	if l.TruePairs() != 1 {
		t.Errorf("true pairs %d", l.TruePairs())
	}
	q := l.Measure([]ScoredPair{{0, 1, 0.99}, {1, 2, 0.5}}, 0.9)
	if q.Suggested != 1 || q.Correct != 1 || q.Precision != 1 || q.Recall != 1 {
		t.Errorf("measure: %+v", q)
	}
	if _, err := ReadLabelled(strings.NewReader("name,email\nA,a@example.com\n"), ""); err == nil {
		t.Error("no label column: want an error")
	}
}

func TestReadLabelledFEBRL(t *testing.T) {
	l, err := ReadLabelled(strings.NewReader(`rec_id,given_name,surname,date_of_birth,postcode,phone_number
rec-1-org,ann,example,19560409,2000,02 9876 5432
rec-1-dup-0,anne,exmaple,19560409,2000,
rec-2-org,kwame,mbeki,19700101,3000,+1 212 555 0199
rec-3-org,kwame,mbeki,19700101,3000,(212) 555-0199
`), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Rows) != 3 || l.Resolved != 1 || l.TruePairs() != 1 || l.Rows[1].Label != "1" {
		t.Fatalf("rows %+v resolved %d", l.Rows, l.Resolved)
	}
	if strings.Join(l.Fields, ",") != "date_of_birth,postcode" {
		t.Errorf("fields %v", l.Fields)
	}
}

// TestDuplicateQualityPeople holds the default threshold to precision ≥ 0.95 on
// a second data set built unlike the shared one (WritePeople): relatives at one
// address must not be suggested, and without emails the names, dates and
// places must carry the evidence.
func TestDuplicateQualityPeople(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute of work")
	}
	path := filepath.Join(t.TempDir(), "people.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := WritePeople(f, 3000, 7); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var out strings.Builder
	q, err := DuplicateQuality(context.Background(), DuplicatesConfig{CSV: path}, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	if q.Precision < 0.95 || q.Recall < 0.9 {
		t.Errorf("precision %.4f recall %.4f at the default min_score, want ≥ 0.95 and ≥ 0.9", q.Precision, q.Recall)
	}
}
