package bench

import (
	"context"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/mergedesk/mergedesk/internal/identity"
)

// TestPlantedDuplicates checks that the planted second profiles share no
// identity value with the first (identity resolution would fold them) and
// that they are deterministic.
func TestPlantedDuplicates(t *testing.T) {
	seen := map[string]bool{}
	for k := range 600 {
		i := plantedOf(k, 20_000, 600)
		u, kind := Duplicate(k, i)
		if again, _ := Duplicate(k, i); again.Name != u.Name || again.Email != u.Email || again.Phone != u.Phone {
			t.Fatalf("Duplicate(%d) is not deterministic", k)
		}
		orig := User(i)
		if u.Email != "" && strings.EqualFold(u.Email, orig.Email) {
			t.Errorf("%d (%s): same email %s", k, plantedKinds[kind], u.Email)
		}
		if u.Phone != "" {
			a, err1 := identity.Phone(u.Phone, "")
			b, err2 := identity.Phone(orig.Phone, "")
			if err1 != nil || err2 != nil || a == b {
				t.Errorf("%d (%s): phone %s vs %s: %v %v", k, plantedKinds[kind], a, b, err1, err2)
			}
		}
		for _, v := range []string{u.Email, u.Phone} {
			if v != "" && seen[v] {
				t.Errorf("%d: %s planted twice", k, v)
			}
			seen[v] = true
		}
		if u.Email == "" && u.Phone == "" && len(u.Identities) == 0 {
			t.Errorf("%d: no identity", k)
		}
	}
}

// TestDuplicatesScale runs the scale bench's scan on 2,000 users (SQLite, and
// PostgreSQL with MERGEDESK_TEST_POSTGRES) and checks its figures: the planted
// pairs with strong evidence are all found.
func TestDuplicatesScale(t *testing.T) {
	dbs := []string{""}
	if pg := os.Getenv("MERGEDESK_TEST_POSTGRES"); pg != "" {
		dbs = append(dbs, pg)
	}
	for _, dsn := range dbs {
		var out strings.Builder
		c := DuplicatesScaleConfig{LoadConfig: LoadConfig{DB: dsn, Users: 2000, Batch: 500}, DupPct: 3, SkipLoad: true}
		err := DuplicatesScale(context.Background(), c, &out, io.Discard)
		t.Log("\n" + out.String())
		if err != nil && !strings.Contains(err.Error(), "target(s) missed") {
			t.Fatal(err)
		}
		checkScaleOutput(t, out.String())
	}
}

// checkScaleOutput checks the figures of a scale bench's report.
func checkScaleOutput(t *testing.T, s string) {
	t.Helper()
	for _, want := range []string{"import: 2060 profiles", "scan: ", "load profiles", "index", "estimate", "key rebuild", "compare", "write",
		"peak RSS", "peak Go heap", "candidate pairs compared: ", "full scan of 2060 users"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	m := regexp.MustCompile(`planted pairs suggested at min_score [0-9.]+: (\d+) of (\d+)`).FindStringSubmatch(s)
	if m == nil || m[2] != "60" {
		t.Fatalf("no planted pairs line with 60 pairs: %v", m)
	}
	for _, kind := range []string{"email +tag", "name typo, phone without +49", "initial, phone without +49"} {
		m := regexp.MustCompile(regexp.QuoteMeta(kind+":") + `\s+(\d+) of\s+(\d+)`).FindStringSubmatch(s)
		if m == nil || m[1] != m[2] {
			t.Errorf("%s: found %v, want all", kind, m)
		}
	}
	if found, _ := strconv.Atoi(m[1]); found < 30 {
		t.Errorf("only %d of 60 planted pairs found", found)
	}
}
