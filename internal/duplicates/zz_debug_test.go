package duplicates

import (
	"context"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

func loadFake(t *testing.T) ([]*Profile, []string) {
	f, err := os.Open("../../../shared/data/fake_20000.csv")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	recs, _ := csv.NewReader(f).ReadAll()
	var ps []*Profile
	var labels []string
	owner := map[string]bool{}
	for _, r := range recs[1:] {
		e := strings.ToLower(r[5])
		if e != "" && owner[e] {
			continue
		}
		owner[e] = e != ""
		p := &Profile{ID: int64(len(ps) + 1), Name: strings.TrimSpace(r[1] + " " + r[2]), Fields: []string{r[3], r[4]}}
		if strings.Contains(e, "@") {
			p.Emails = []string{e}
		}
		ps = append(ps, p)
		labels = append(labels, r[6])
	}
	return ps, labels
}

func TestDebugFN(t *testing.T) {
	if os.Getenv("DEBUG_FN") == "" {
		t.Skip()
	}
	ps, labels := loadFake(t)
	fields := []string{"dob", "city"}
	pairs, m, _, _ := Scan(context.Background(), ps, fields, 0.0)
	fmt.Printf("dup/user %.3f\n", m.DuplicatesPerUser)
	rng := rand.New(rand.NewPCG(7, 8))
	n, fp := 0, 0
	for _, p := range pairs {
		same := labels[p.A-1] == labels[p.B-1]
		show := same && p.Score < 0.95 && p.Score > 0.3 && rng.IntN(30) == 0 && n < 25
		if !same && p.Score >= 0.95 && rng.IntN(3) == 0 && fp < 12 {
			show = true
			fp++
			fmt.Print("FP ")
		}
		if show {
			n++
			fmt.Printf("%.4f %q %v %v | %q %v %v\n", p.Score, ps[p.A-1].Name, ps[p.A-1].Emails, ps[p.A-1].Fields, ps[p.B-1].Name, ps[p.B-1].Emails, ps[p.B-1].Fields)
			for _, r := range p.Reasons {
				fmt.Printf("     %s %.2f\n", r.Match, r.Weight)
			}
		}
	}
}

func TestDebugQuick(t *testing.T) {
	if os.Getenv("DEBUG_Q") == "" {
		t.Skip()
	}
	ps, labels := loadFake(t)
	fields := []string{"dob", "city"}
	ix := NewIndex(ps, fields)
	m, _ := ix.Estimate(context.Background())
	pairs, compared, _ := ix.ScanRange(context.Background(), m, 0, len(ps), 0)
	cl := map[string]int{}
	for _, l := range labels {
		cl[l]++
	}
	truth := 0
	for _, c := range cl {
		truth += c * (c - 1) / 2
	}
	cand, at95, sug := 0, 0, 0
	for _, p := range pairs {
		same := labels[p.A-1] == labels[p.B-1]
		if same {
			cand++
		}
		if p.Score >= 0.95 {
			sug++
			if same {
				at95++
			}
		}
	}
	fmt.Printf("compared %d, candidate recall %.4f, at .95: P %.4f R %.4f\n", compared, float64(cand)/float64(truth), float64(at95)/float64(sug), float64(at95)/float64(truth))
}
