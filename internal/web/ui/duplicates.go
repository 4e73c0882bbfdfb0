package ui

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/mergedesk/mergedesk"
)

// VeryLikely is the least score the UI words "very likely"; anything else that
// was suggested (at least duplicates.min_score) is "likely". docs/duplicates.md
// ("What the agent sees") says why these two words.
const VeryLikely = 0.99

// scoreWords puts a suggestion's score into words.
func scoreWords(score float64) string {
	if score >= VeryLikely {
		return "very likely"
	}
	return "likely"
}

// PairView is one suggested pair as the UI shows it: the other profile (on a
// profile page) or both (on the Duplicates page), the score and reasons in
// words, the merge preview's blockers and the suggested direction (rule D6).
type PairView struct {
	Other CustomerRow
	// SuggestionID is the stored suggestion, 0 when the pair was computed
	// live and not stored yet.
	SuggestionID int64
	Score        string // e.g. "0.997"
	Words        string
	For, Against []string
	Eligible     bool
	// Blockers are the merge preview's refusals in words, each with its way
	// out (wayOut) when the signed-in agent may take it.
	Blockers []Blocker
	Source   *mergedesk.User
	Target   *mergedesk.User
	// Where a way-out form brings the agent back: the panel of profile Panel,
	// or group Group of the Duplicates page. CSRF is the session's token.
	Panel, Group int64
	CSRF         string
}

// pairView builds a pair's view for the agent of ctx: ways out are offered
// on either profile of the pair that the agent may write (the handler checks
// again), since the blocker names whose it is.
func pairView(ctx context.Context, score float64, rs []mergedesk.DuplicateReason, m *mergedesk.MergeEligibility, source, target *mergedesk.User) PairView {
	v := PairView{Score: strconv.FormatFloat(score, 'f', 3, 64), Words: scoreWords(score), Source: source, Target: target, Eligible: true}
	if c := currentFrom(ctx); c != nil {
		v.CSRF = c.Session.CSRFToken
	}
	for _, r := range rs {
		switch {
		case r.Weight > 0:
			v.For = append(v.For, r.Description)
		case r.Weight < 0:
			v.Against = append(v.Against, r.Description)
		}
	}
	if m == nil {
		return v
	}
	v.Eligible = m.Eligible
	var writable []*mergedesk.User
	for _, u := range []*mergedesk.User{source, target} {
		if mergedesk.CanWriteUser(principal(ctx), u, mergedesk.UserChange{}) == nil {
			writable = append(writable, u)
		}
	}
	for i, text := range reasons(m.Blockers, source, target) {
		b := Blocker{Reason: text}
		for _, u := range writable {
			if b.WayOut = wayOut(m.Blockers[i], u); b.WayOut != nil {
				break
			}
		}
		v.Blockers = append(v.Blockers, b)
	}
	return v
}

// DuplicatesPanel is the Possible duplicates panel of a profile.
type DuplicatesPanel struct {
	User       *mergedesk.User
	Candidates []PairView
	CSRF       string
	Notice     string
}

// duplicatesOn reports whether the signed-in agent may see duplicates and
// detection is wired and switched on (Settings.Duplicates.Enabled).
func (s *Server) duplicatesOn(r *http.Request) (bool, error) {
	if s.Duplicates == nil {
		return false, nil
	}
	if err := mergedesk.CanReadDuplicates(actor(r)); err != nil {
		return false, err
	}
	st, err := s.DB.Settings(r.Context())
	if err != nil {
		return false, err
	}
	return st.Duplicates.Enabled, nil
}

// requireDuplicates is nil when duplicatesOn holds, else the error to answer
// with: the check's, or 404 while detection is off.
func (s *Server) requireDuplicates(r *http.Request) error {
	on, err := s.duplicatesOn(r)
	if err == nil && !on {
		err = mergedesk.NotFound()
	}
	return err
}

// duplicatesPanel serves the panel; the profile page loads it after itself so
// a slow comparison never holds the profile up.
func (s *Server) duplicatesPanel(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := s.requireDuplicates(r); err != nil {
		return err
	}
	p, err := s.panel(r, id)
	if err != nil {
		return err
	}
	return s.render(w, http.StatusOK, "user", "duplicates_panel", p)
}

func (s *Server) panel(r *http.Request, id int64) (*DuplicatesPanel, error) {
	ctx := r.Context()
	u, err := s.DB.User(ctx, id)
	if err != nil {
		return nil, err
	}
	cands, err := s.Duplicates.ForUser(ctx, id, nil, false)
	if err != nil {
		return nil, err
	}
	p := &DuplicatesPanel{User: u, CSRF: currentFrom(ctx).Session.CSRFToken}
	for _, c := range cands {
		source, target := u, c.User
		if c.SuggestedTargetID == u.ID {
			source, target = c.User, u
		}
		v := pairView(ctx, c.Score, c.Reasons, c.Merge, source, target)
		v.Other = customerRow(c.User)
		v.Panel = u.ID
		if c.Suggestion != nil {
			v.SuggestionID = c.Suggestion.ID
		}
		p.Candidates = append(p.Candidates, v)
	}
	return p, nil
}

// dismissDuplicate marks the pair of the user and form value other "not the
// same person" (rule D7). The form names the stored suggestion when the page
// knew it; a pair computed live that is not stored yet is stored first
// (Evaluate), since only a stored suggestion keeps its dismissal. The answer
// is the panel or the group it came from, without the pair.
func (s *Server) dismissDuplicate(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := mergedesk.CanReadDuplicates(actor(r)); err != nil {
		return err
	}
	if s.Duplicates == nil {
		return mergedesk.NotFound()
	}
	other, err := strconv.ParseInt(r.PostFormValue("other"), 10, 64)
	if err != nil || other <= 0 {
		return mergedesk.NotFound()
	}
	sid, _ := strconv.ParseInt(r.PostFormValue("suggestion"), 10, 64)
	if sid == 0 {
		if sid, err = s.storedPair(ctx, id, other); err != nil {
			return err
		}
	}
	sg, err := s.Duplicates.Suggestion(ctx, sid)
	if err != nil {
		return err
	}
	if sg.UserIDs != [2]int64{min(id, other), max(id, other)} {
		return mergedesk.NotFound()
	}
	if _, err := s.Duplicates.Dismiss(ctx, sid, currentFrom(ctx).User.ID); err != nil {
		return err
	}
	users, err := s.DB.UsersByIDs(ctx, []int64{other})
	if err != nil {
		return err
	}
	name := fmt.Sprintf("#%d", other)
	if len(users) == 1 {
		name = users[0].Name
	}
	if r.PostFormValue("from") == "duplicates" {
		if !isHTMX(r) {
			http.Redirect(w, r, "/duplicates", http.StatusSeeOther)
			return nil
		}
		g, err := s.group(ctx, sg.GroupID)
		if err != nil {
			return err
		}
		g.CSRF = currentFrom(ctx).Session.CSRFToken
		g.Notice = "Marked as not the same person. This pair will not be suggested again."
		return s.render(w, http.StatusOK, "duplicates", "duplicate_group", g)
	}
	if !isHTMX(r) {
		http.Redirect(w, r, fmt.Sprintf("/users/%d", id), http.StatusSeeOther)
		return nil
	}
	p, err := s.panel(r, id)
	if err != nil {
		return err
	}
	p.Notice = name + " is marked as not the same person and will not be suggested again."
	return s.render(w, http.StatusOK, "user", "duplicates_panel", p)
}

// storedPair returns the id of the stored suggestion of a pair, storing the
// user's suggestions first when the pair was only computed live.
func (s *Server) storedPair(ctx context.Context, id, other int64) (int64, error) {
	find := func() (int64, error) {
		cands, err := s.Duplicates.ForUser(ctx, id, nil, true)
		if err != nil {
			return 0, err
		}
		for _, c := range cands {
			if c.User.ID == other && c.Suggestion != nil {
				return c.Suggestion.ID, nil
			}
		}
		return 0, nil
	}
	sid, err := find()
	if err != nil || sid != 0 {
		return sid, err
	}
	if err := s.Duplicates.Evaluate(ctx, []int64{id}); err != nil {
		return 0, err
	}
	if sid, err = find(); err == nil && sid == 0 {
		err = mergedesk.NotFound()
	}
	return sid, err
}

// GroupView is one group of suggestions (rule D9): its profiles side by side,
// the suggested target first, and its pairs with their reasons.
type GroupView struct {
	ID       int64
	Words    string
	Target   *mergedesk.User
	Profiles []CustomerRow
	Pairs    []PairView
	// Sources are the profiles to merge into Target, comma-separated, in the
	// order the group merge previews them.
	Sources string
	CSRF    string
	Notice  string
}

// DuplicatesPage lists open groups, best first.
type DuplicatesPage struct {
	Layout
	Enabled bool
	Groups  []*GroupView
	Paging  Paging
}

// groupPageSize is how many suggestions one page of the Duplicates page reads.
const groupPageSize = 20

// duplicatesPage shows the open suggestions grouped by group_id, best group
// first. It pages through suggestions (best first) and shows each group on the
// page that holds its best pair, with all of its pairs.
func (s *Server) duplicatesPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if s.Duplicates == nil {
		return mergedesk.NotFound()
	}
	on, err := s.duplicatesOn(r)
	if err != nil {
		return err
	}
	p := DuplicatesPage{Layout: s.layout(r, "Duplicates", "duplicates"), Enabled: on}
	if !on {
		return s.render(w, http.StatusOK, "duplicates", "layout", p)
	}
	page := pageParam(r)
	list, info, err := s.Duplicates.Suggestions(ctx, mergedesk.SuggestionFilter{Status: mergedesk.SuggestionOpen},
		mergedesk.Page{Size: groupPageSize, Offset: (page - 1) * groupPageSize, Desc: true})
	if err != nil {
		return err
	}
	onPage := map[int64]bool{}
	for _, sg := range list {
		onPage[sg.ID] = true
	}
	seen := map[int64]bool{}
	for _, sg := range list {
		if seen[sg.GroupID] {
			continue
		}
		seen[sg.GroupID] = true
		g, err := s.group(ctx, sg.GroupID)
		if err != nil {
			return err
		}
		// A group whose best pair is on an earlier page was shown there.
		if len(g.Pairs) == 0 || !onPage[g.Pairs[0].SuggestionID] {
			continue
		}
		g.CSRF = p.CSRF
		p.Groups = append(p.Groups, g)
	}
	p.Paging = paging("/duplicates", nil, page, info.Total, groupPageSize)
	return s.render(w, http.StatusOK, "duplicates", "layout", p)
}

// maxGroupPairs caps the pairs of one group the page reads.
const maxGroupPairs = 100

// group reads the open pairs of a group and picks its target: the profile
// most of its pairs suggest as target, the best pair's target on a tie.
func (s *Server) group(ctx context.Context, gid int64) (*GroupView, error) {
	g := &GroupView{ID: gid}
	list, _, err := s.Duplicates.Suggestions(ctx, mergedesk.SuggestionFilter{Status: mergedesk.SuggestionOpen, GroupID: &gid},
		mergedesk.Page{Size: maxGroupPairs, Desc: true})
	if err != nil || len(list) == 0 {
		return g, err
	}
	var ids []int64
	votes := map[int64]int{}
	for _, sg := range list {
		for _, id := range sg.UserIDs {
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		votes[sg.SuggestedTargetID]++
	}
	target := list[0].SuggestedTargetID
	for _, sg := range list {
		if votes[sg.SuggestedTargetID] > votes[target] {
			target = sg.SuggestedTargetID
		}
	}
	users, err := s.usersByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	g.Words = scoreWords(list[0].Score)
	g.Target = users[target]
	slices.Sort(ids)
	var sources []string
	if u := users[target]; u != nil {
		g.Profiles = append(g.Profiles, customerRow(u))
	}
	for _, id := range ids {
		if u := users[id]; u != nil && id != target {
			g.Profiles = append(g.Profiles, customerRow(u))
			sources = append(sources, strconv.FormatInt(id, 10))
		}
	}
	g.Sources = strings.Join(sources, ",")
	for _, sg := range list {
		a, b := users[sg.UserIDs[0]], users[sg.UserIDs[1]]
		if a == nil || b == nil {
			continue
		}
		source, tgt := a, b
		if sg.SuggestedTargetID == a.ID {
			source, tgt = b, a
		}
		v := pairView(ctx, sg.Score, sg.Reasons, sg.Merge, source, tgt)
		v.SuggestionID = sg.ID
		v.Group = gid
		g.Pairs = append(g.Pairs, v)
	}
	return g, nil
}

// groupMerge shows one merge of a group: the preview of merging the first
// source into the target, carrying the rest, so every merge is previewed and
// confirmed on its own (the merge dialog's flow, rule M31). The dialog asks
// for it with htmx; an agent without JavaScript gets it as a page, and after
// each confirmed merge comes back here for the next (merge), with step and
// merged saying how far the group has got.
func (s *Server) groupMerge(w http.ResponseWriter, r *http.Request) error {
	if err := mergedesk.CanMerge(actor(r)); err != nil {
		return err
	}
	q := r.URL.Query()
	target, err := strconv.ParseInt(q.Get("target"), 10, 64)
	if err != nil {
		return s.render(w, http.StatusUnprocessableEntity, "user", "merge_error", "Choose the user to merge into first.")
	}
	sources, err := idList(q.Get("sources"))
	if err != nil || len(sources) == 0 {
		return s.render(w, http.StatusUnprocessableEntity, "user", "merge_error", "This group has nothing left to merge.")
	}
	f, err := s.preview(r.Context(), sources[0], target)
	if err != nil {
		return err
	}
	f.CSRF = currentFrom(r.Context()).Session.CSRFToken
	f.Then = joinIDs(sources[1:])
	// The steps already taken are the page's own count, for people; the
	// merges themselves are the sources left.
	step, err := strconv.Atoi(q.Get("step"))
	if err != nil || step < 1 || step > maxGroupPairs {
		step = 1
	}
	f.Step, f.Steps = step, step-1+len(sources)
	if merged, err := strconv.ParseInt(q.Get("merged"), 10, 64); err == nil && merged > 0 && step > 1 {
		f.Notice = mergedNotice(step-1, f.Steps, merged, f.Target.Name)
	}
	return s.renderPreview(w, r, http.StatusOK, f)
}

// mergedNotice says that merge step of steps of a group is done.
func mergedNotice(step, steps int, source int64, target string) string {
	return fmt.Sprintf("Merge %d of %d done: profile #%d is now part of %s.", step, steps, source, target)
}

// nextGroupMerge is where an agent without JavaScript goes after confirming
// merge step of a group into target: the preview of the next one.
func nextGroupMerge(target int64, then []int64, step int, merged int64) string {
	v := url.Values{}
	v.Set("target", strconv.FormatInt(target, 10))
	v.Set("sources", joinIDs(then))
	v.Set("step", strconv.Itoa(step+1))
	v.Set("merged", strconv.FormatInt(merged, 10))
	return "/duplicates/merge?" + v.Encode()
}

// idList parses "1,2,3".
func idList(v string) ([]int64, error) {
	var out []int64
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		id, err := strconv.ParseInt(part, 10, 64)
		if err != nil || id <= 0 {
			return nil, fmt.Errorf("id list: %q is not an id", part)
		}
		out = append(out, id)
	}
	return out, nil
}

func joinIDs(ids []int64) string {
	ss := make([]string, len(ids))
	for i, id := range ids {
		ss[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(ss, ",")
}
