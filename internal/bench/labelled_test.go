package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/mergedesk/mergedesk/internal/duplicates"
)

func TestQualityInMemory(t *testing.T) {
	path := filepath.Join("..", "..", "..", "shared", "data", "fake_20000.csv")
	f, err := os.Open(path)
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	l, err := ReadLabelled(f, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("profiles %d, true pairs %d, fields %v", len(l.Rows), l.TruePairs(), l.Fields)
	ps := l.Profiles()
	pairs, m, compared, err := duplicates.Scan(context.Background(), ps, l.Fields, 0.0001)
	if err != nil {
		t.Fatal(err)
	}
	var sp []ScoredPair
	for _, p := range pairs {
		sp = append(sp, ScoredPair{A: int(p.A - 1), B: int(p.B - 1), Score: p.Score})
	}
	fmt.Printf("compared %d, model dup/user %.4f\n", compared, m.DuplicatesPerUser)
	for name, p := range m.Params {
		fmt.Printf("  %-22s m=%.3f u=%.5f\n", name, p.M, p.U)
	}
	for _, th := range []float64{0.5, 0.8, 0.9, 0.95, 0.99, 0.999, 0.9999} {
		q := l.Measure(sp, th)
		fmt.Printf("th %.2f: P %.4f R %.4f F1 %.4f  (suggested %d)\n", th, q.Precision, q.Recall, q.F1, q.Suggested)
		g := l.MeasureGroups(sp, th)
		fmt.Printf("   groups: P %.4f R %.4f F1 %.4f  (pairs %d)\n", g.Precision, g.Recall, g.F1, g.Suggested)
	}
	q := l.Measure(sp, 0.9)
	fmt.Printf("recall@P.95 %.4f (th %.4f) recall@P.99 %.4f (th %.4f)\n", q.RecallAt[0.95][0], q.RecallAt[0.95][1], q.RecallAt[0.99][0], q.RecallAt[0.99][1])
	// blocking recall: all pairs scored above 0.0001 that are true
	q0 := l.Measure(sp, 0)
	fmt.Printf("candidate recall (score>1e-4): %.4f\n", q0.Recall)
}
