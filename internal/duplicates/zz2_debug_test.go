package duplicates_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"testing"

	"github.com/mergedesk/mergedesk/internal/bench"
	"github.com/mergedesk/mergedesk/internal/duplicates"
)

func TestDebugOther(t *testing.T) {
	path := os.Getenv("DEBUG_CSV")
	if path == "" {
		t.Skip()
	}
	f, _ := os.Open(path)
	l, err := bench.ReadLabelled(f, "")
	if err != nil {
		t.Fatal(err)
	}
	ps := l.Profiles()
	pairs, m, compared, _ := duplicates.Scan(context.Background(), ps, l.Fields, 0.9)
	b, _ := json.MarshalIndent(m, "", " ")
	fmt.Println(string(b), "compared", compared)
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].Score > pairs[j].Score })
	for i, p := range pairs {
		if i > 12 {
			break
		}
		same := l.Rows[p.A-1].Label == l.Rows[p.B-1].Label
		fmt.Printf("%v %.4f %q %v | %q %v\n", same, p.Score, ps[p.A-1].Name, ps[p.A-1].Fields, ps[p.B-1].Name, ps[p.B-1].Fields)
		for _, r := range p.Reasons {
			fmt.Printf("    %s %.2f\n", r.Match, r.Weight)
		}
	}
}
