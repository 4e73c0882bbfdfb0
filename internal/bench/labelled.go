package bench

import (
	"encoding/csv"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/mergedesk/mergedesk/internal/duplicates"
	"github.com/mergedesk/mergedesk/internal/identity"
)

// Labelled is a CSV of people with a column saying which rows are one person,
// read the way Mergedesk would see it: a row whose email another row already
// owns is that row's profile (identity resolution), so it adds no profile.
type Labelled struct {
	Rows     []LabelledRow // one per profile, in file order
	Fields   []string      // user-field columns compared (duplicates.user_fields)
	Resolved int           // rows that identity resolution folded into an earlier one
}

// LabelledRow is one profile of a labelled CSV.
type LabelledRow struct {
	Name   string
	Email  string
	Phone  string
	Fields []string // in Labelled.Fields order
	Label  string
}

// Column names recognised in a labelled CSV; every other column except the
// record id becomes a user field.
var (
	labelColumns  = []string{"cluster", "label", "entity_id", "person_id", "true_id", "match_id", "group"}
	idColumns     = []string{"unique_id", "id", "rec_id", "record_id", "row_id"}
	givenColumns  = []string{"first_name", "given_name", "firstname", "forename", "first"}
	familyColumns = []string{"surname", "last_name", "lastname", "family_name", "last"}
	nameColumns   = []string{"name", "full_name", "fullname"}
	emailColumns  = []string{"email", "email_address", "e_mail", "mail"}
	phoneColumns  = []string{"phone", "phone_number", "telephone", "mobile"}
)

var febrlID = regexp.MustCompile(`^rec-(\d+)-(?:org|dup-\d+)$`)

// ReadLabelled reads a labelled CSV. label names the label column ("" finds it).
func ReadLabelled(r io.Reader, label string) (*Labelled, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("reading the header: %w", err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	find := func(names []string) int {
		for _, n := range names {
			if i, ok := col[n]; ok {
				return i
			}
		}
		return -1
	}
	li := find(labelColumns)
	if label != "" {
		li = find([]string{strings.ToLower(label)})
	}
	idi := find(idColumns)
	// FEBRL files name the person in the record id: rec-12-org, rec-12-dup-0.
	febrl := li < 0 && label == "" && idi >= 0
	if li < 0 && !febrl {
		return nil, fmt.Errorf("no label column (one of %s, or name it with --label)", strings.Join(labelColumns, ", "))
	}
	gi, fi, ni, ei, pi := find(givenColumns), find(familyColumns), find(nameColumns), find(emailColumns), find(phoneColumns)
	used := map[int]bool{li: true, gi: true, fi: true, ni: true, ei: true, pi: true, idi: true}
	out := &Labelled{}
	var fieldCols []int
	for i, h := range head {
		if !used[i] {
			fieldCols = append(fieldCols, i)
			out.Fields = append(out.Fields, strings.ToLower(strings.TrimSpace(h)))
		}
	}
	get := func(rec []string, i int) string {
		if i < 0 || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	owner := map[string]bool{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		lab := get(rec, li)
		if febrl {
			m := febrlID.FindStringSubmatch(get(rec, idi))
			if m == nil {
				return nil, fmt.Errorf("no label column, and record id %q is not rec-N-org or rec-N-dup-K", get(rec, idi))
			}
			lab = m[1]
		}
		// Identity resolution: an address or number another row owns is that
		// row's profile.
		email := strings.ToLower(get(rec, ei))
		phone, _ := identity.Phone(get(rec, pi), "US")
		if email != "" && owner["e:"+email] || phone != "" && owner["p:"+phone] {
			out.Resolved++
			continue
		}
		if email != "" {
			owner["e:"+email] = true
		}
		if phone != "" {
			owner["p:"+phone] = true
		}
		name := get(rec, ni)
		if name == "" {
			name = strings.TrimSpace(get(rec, gi) + " " + get(rec, fi))
		}
		row := LabelledRow{Name: name, Email: email, Phone: get(rec, pi), Label: lab}
		for _, c := range fieldCols {
			row.Fields = append(row.Fields, get(rec, c))
		}
		out.Rows = append(out.Rows, row)
	}
	return out, nil
}

// TruePairs counts the pairs of profiles that share a label.
func (l *Labelled) TruePairs() int64 {
	n := map[string]int64{}
	for _, r := range l.Rows {
		n[r.Label]++
	}
	var t int64
	for _, c := range n {
		t += c * (c - 1) / 2
	}
	return t
}

// Quality is pairwise precision and recall of suggestions against labels.
type Quality struct {
	TruePairs, Suggested, Correct int64
	Precision, Recall, F1         float64
	// RecallAt maps a precision (0.95, 0.99) to the best recall any threshold
	// reaches with at least that precision, and the threshold.
	RecallAt map[float64][2]float64
}

// ScoredPair is a suggested pair of profiles (indexes into Rows) and its score.
type ScoredPair struct {
	A, B  int
	Score float64
}

// Measure scores suggestions at threshold min against the labels; pairs holds
// every pair the scan scored (at any score) so that the recall reachable at a
// given precision can be read off.
func (l *Labelled) Measure(pairs []ScoredPair, min float64) Quality {
	q := Quality{TruePairs: l.TruePairs(), RecallAt: map[float64][2]float64{}}
	same := func(p ScoredPair) bool { return l.Rows[p.A].Label == l.Rows[p.B].Label }
	for _, p := range pairs {
		if p.Score >= min {
			q.Suggested++
			if same(p) {
				q.Correct++
			}
		}
	}
	q.Precision, q.Recall, q.F1 = prf(q.Correct, q.Suggested, q.TruePairs)
	sorted := slices.Clone(pairs)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Score > sorted[j].Score })
	var correct int64
	for i, p := range sorted {
		if same(p) {
			correct++
		}
		if i+1 < len(sorted) && sorted[i+1].Score == p.Score {
			continue
		}
		prec, rec, _ := prf(correct, int64(i+1), q.TruePairs)
		for _, at := range []float64{0.95, 0.99} {
			if prec >= at && rec > q.RecallAt[at][0] {
				q.RecallAt[at] = [2]float64{rec, p.Score}
			}
		}
	}
	return q
}

func prf(correct, suggested, truth int64) (p, r, f float64) {
	if suggested > 0 {
		p = float64(correct) / float64(suggested)
	}
	if truth > 0 {
		r = float64(correct) / float64(truth)
	}
	if p+r > 0 {
		f = 2 * p * r / (p + r)
	}
	return
}

// Profiles returns the rows as detection profiles, ids 1…n in row order.
func (l *Labelled) Profiles() []*duplicates.Profile {
	out := make([]*duplicates.Profile, len(l.Rows))
	for i, r := range l.Rows {
		p := &duplicates.Profile{ID: int64(i + 1), Name: r.Name, Fields: r.Fields}
		if r.Email != "" {
			p.Emails = []string{r.Email}
		}
		out[i] = p
	}
	return out
}

// MeasureGroups scores the groups that suggestions at threshold min form (rule
// D9: chained pairs are one group) against the labels: every pair of profiles
// in one group counts as suggested, the way a team merging groups acts on them.
func (l *Labelled) MeasureGroups(pairs []ScoredPair, min float64) Quality {
	q := Quality{TruePairs: l.TruePairs()}
	parent := make([]int, len(l.Rows))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(x int) int {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	for _, p := range pairs {
		if p.Score >= min {
			a, b := find(p.A), find(p.B)
			if a != b {
				parent[a] = b
			}
		}
	}
	groups := map[int]map[string]int64{}
	for i, r := range l.Rows {
		g := find(i)
		if groups[g] == nil {
			groups[g] = map[string]int64{}
		}
		groups[g][r.Label]++
	}
	for _, g := range groups {
		var n int64
		for _, c := range g {
			n += c
			q.Correct += c * (c - 1) / 2
		}
		q.Suggested += n * (n - 1) / 2
	}
	q.Precision, q.Recall, q.F1 = prf(q.Correct, q.Suggested, q.TruePairs)
	return q
}

// transitiveQuality measures suggestions at threshold plus the pairs A~C that
// some B links with s(A,B)·s(B,C) ≥ threshold (a lower bound on A≡C).
func (l *Labelled) transitiveQuality(pairs []ScoredPair, threshold float64) Quality {
	adj := map[int]map[int]float64{}
	add := func(a, b int, s float64) {
		if adj[a] == nil {
			adj[a] = map[int]float64{}
		}
		adj[a][b] = s
	}
	best := map[[2]int]float64{}
	for _, p := range pairs {
		if p.Score >= threshold {
			add(p.A, p.B, p.Score)
			add(p.B, p.A, p.Score)
		}
		best[[2]int{min(p.A, p.B), max(p.A, p.B)}] = p.Score
	}
	for _, ns := range adj {
		for a, sa := range ns {
			for c, sc := range ns {
				if a < c && sa*sc >= threshold {
					k := [2]int{a, c}
					if sa*sc > best[k] {
						best[k] = sa * sc
					}
				}
			}
		}
	}
	var out []ScoredPair
	for k, s := range best {
		out = append(out, ScoredPair{A: k[0], B: k[1], Score: s})
	}
	return l.Measure(out, threshold)
}
