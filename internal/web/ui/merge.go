package ui

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/identity"
	"github.com/mergedesk/mergedesk/internal/merge"
)

// maxCandidates is how many matching users the merge dialog lists.
const maxCandidates = 20

// Candidate is a user the merge dialog offers as the target.
type Candidate struct {
	CustomerRow
	Eligible bool
	Reasons  []string
	// Resolvable: not eligible, but every blocker has a way out on the source
	// (wayOut) that the agent may take, so Merge leads to the preview, which
	// offers it.
	Resolvable bool
}

// CandidatesFragment is the dialog's list of matching users.
type CandidatesFragment struct {
	Source     *mergedesk.User
	Query      string
	Candidates []Candidate
	Total      int
}

func (s *Server) mergeCandidates(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := pathID(r)
	if err != nil {
		return err
	}
	src, err := s.DB.User(ctx, id)
	if err != nil {
		return err
	}
	f := CandidatesFragment{Source: src, Query: strings.TrimSpace(r.URL.Query().Get("q"))}
	mayWrite := mergedesk.CanWriteUser(actor(r), src, mergedesk.UserChange{}) == nil
	if f.Query != "" {
		// Every role is listed, so an agent of the same name shows up as
		// ineligible with the reason instead of silently missing.
		users, total, err := s.searchUsers(ctx, f.Query, false, maxCandidates+1, 0)
		if err != nil {
			return err
		}
		f.Total = total
		for _, u := range users {
			if u.ID == src.ID {
				f.Total--
				continue
			}
			if len(f.Candidates) == maxCandidates {
				break
			}
			c := Candidate{CustomerRow: customerRow(u)}
			plan, err := s.DB.PreviewMerge(ctx, src.ID, u.ID)
			if err != nil {
				return err
			}
			c.Eligible = plan.Eligible()
			c.Reasons = reasons(plan.Blockers, src, u)
			c.Resolvable = !c.Eligible && mayWrite && resolvable(plan.Blockers, src)
			f.Candidates = append(f.Candidates, c)
		}
	}
	return s.render(w, http.StatusOK, "user", "merge_candidates", f)
}

// reasons puts the rules a merge breaks (docs/api.md §12.1) into words.
func reasons(blockers []mergedesk.FieldError, source, target *mergedesk.User) []string {
	var out []string
	for _, b := range blockers {
		who := "This user"
		if b.UserID != nil {
			switch *b.UserID {
			case source.ID:
				who = source.Name + " (the user being merged)"
			case target.ID:
				who = target.Name
			}
		}
		var msg string
		switch b.Error {
		case merge.CodeSameUser:
			msg = "A user cannot be merged into itself."
		case merge.CodeNotEndUser:
			msg = who + " is an agent or admin; only end users can be merged."
		case merge.CodeUserInactive:
			msg = who + " is no longer active (deleted or already merged)."
		case merge.CodeUnverified:
			msg = who + " has no verified identity and no email address or X (Twitter) handle."
		case merge.CodeTooManyTickets:
			msg = who + " is the requester of more than 10,000 tickets."
		case merge.CodeExternalIDSSO:
			msg = who + " has an external ID while single sign-on is on."
		default:
			msg = b.Description
		}
		out = append(out, msg)
	}
	return out
}

// WayOut is an action that removes a merge blocker: a form the agent submits
// (POST to Action, with the session's CSRF token) to change the profile so the
// rule no longer refuses. Label is the button's text.
type WayOut struct {
	Label  string
	Action string
}

// wayOut is the one place that knows how a blocker can be lifted from a
// profile: given a blocker of the merge preview (merge.Check's FieldError) and
// the user u the caller offers to change, it returns the action that lifts it,
// or nil when the blocker is not about u or the UI has no way out of it (an
// agent cannot stop being an agent, a deleted user stays deleted; M4 and M5
// need work no button does).
//
// Today there is one: rule M3 (UnverifiedWithoutEmailOrX) refuses a user
// without any verified identity and without an email or X identity, typically
// a caller the phone channel captured. Once an agent has confirmed who is
// calling, verifying one of the user's identities satisfies M3, so the way out
// is "Verify <value>" for u's first unverified identity, phone numbers first
// (primary before the others), then the other channels in the order of
// mergedesk.IdentityTypes. Values are shown as the profile shows them (phones
// in the international format of identity.FormatPhone).
//
// The action posts to POST /users/{id}/identities/{identity}/verify, which
// checks mergedesk.CanWriteUser in the store write the API's
// PUT /users/{id}/identities/{id}/verify uses. Callers add what brings the
// agent back (the merge dialog adds the target so it answers with a fresh
// preview, the Possible duplicates panel its profile and the Duplicates page
// its group, to be shown again); without it the form returns to the profile.
// Callers that offer the action to someone who may not write u should not: the
// handler refuses them. The dialog, the panel and the Duplicates page all call
// this, so they always offer the same way out.
func wayOut(b mergedesk.FieldError, u *mergedesk.User) *WayOut {
	if u == nil || b.UserID == nil || *b.UserID != u.ID || !u.Active {
		return nil
	}
	switch b.Error {
	case merge.CodeUnverified:
		id := verifiableIdentity(u)
		if id == nil {
			return nil
		}
		label := "Verify " + identity.FormatPhone(id.Value)
		if id.Type != mergedesk.IdentityPhone {
			label = "Verify " + identityLabel(id.Type) + " " + id.Value
		}
		return &WayOut{Label: label, Action: fmt.Sprintf("/users/%d/identities/%d/verify", u.ID, id.ID)}
	}
	return nil
}

// verifiableIdentity is the identity wayOut offers to verify: the first
// unverified one, phone numbers first, primary first within a type.
func verifiableIdentity(u *mergedesk.User) *mergedesk.Identity {
	types := append([]string{mergedesk.IdentityPhone}, mergedesk.IdentityTypes...)
	for _, typ := range types {
		var found *mergedesk.Identity
		for i := range u.Identities {
			id := &u.Identities[i]
			if id.Type != typ || id.Verified {
				continue
			}
			if found == nil || id.Primary && !found.Primary {
				found = id
			}
		}
		if found != nil {
			return found
		}
	}
	return nil
}

// resolvable reports whether every blocker has a way out on u (wayOut): the
// merge becomes possible by the actions alone.
func resolvable(blockers []mergedesk.FieldError, u *mergedesk.User) bool {
	for _, b := range blockers {
		if wayOut(b, u) == nil {
			return false
		}
	}
	return len(blockers) > 0
}

// Blocker is a rule the merge breaks, in words, with its way out if the agent
// can take one.
type Blocker struct {
	Reason string
	WayOut *WayOut
}

// FieldRow is one row of the preview, with its values as text.
type FieldRow struct {
	mergedesk.MergeField
	Label, Source, Target string
}

// PreviewFragment is the confirmation step: what the merge will do (rule M31).
type PreviewFragment struct {
	Source, Target *mergedesk.User
	Plan           *merge.Plan
	Blockers       []Blocker
	Moved, Added   []FieldRow
	Lost, Kept     []FieldRow
	CSRF           string
	Stale          bool // the users changed since the last preview
	Error          string
	// Then are the profiles still to merge into Target after this one, comma-
	// separated, when the agent merges a whole group (Duplicates page): each
	// gets its own preview and confirmation. Step counts the merges of the group.
	Then        string
	Step, Steps int
	Notice      string
}

// MergePage is a merge preview on a page of its own, for a request that did
// not come from the dialog (no JavaScript): the same preview and the same
// Confirm and merge form.
type MergePage struct {
	Layout
	Preview *PreviewFragment
}

// renderPreview answers with the preview f: the fragment the dialog swaps in
// for htmx, a whole page otherwise, so a form posted without JavaScript never
// lands on a bare fragment.
func (s *Server) renderPreview(w http.ResponseWriter, r *http.Request, status int, f *PreviewFragment) error {
	if isHTMX(r) {
		return s.render(w, status, "user", "merge_preview", f)
	}
	section, title := "customers", "Merge "+f.Source.Name
	if f.Steps > 0 {
		section, title = "duplicates", "Merge a group"
	}
	return s.render(w, status, "merge", "layout", MergePage{Layout: s.layout(r, title, section), Preview: f})
}

func (s *Server) mergePreview(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	target, err := strconv.ParseInt(r.URL.Query().Get("target"), 10, 64)
	if err != nil {
		return s.render(w, http.StatusUnprocessableEntity, "user", "merge_error", "Choose the user to merge into first.")
	}
	f, err := s.preview(r.Context(), id, target)
	if err != nil {
		return err
	}
	f.CSRF = currentFrom(r.Context()).Session.CSRFToken
	return s.renderPreview(w, r, http.StatusOK, f)
}

func (s *Server) preview(ctx context.Context, source, target int64) (*PreviewFragment, error) {
	users, err := s.DB.UsersByIDs(ctx, []int64{source, target})
	if err != nil {
		return nil, err
	}
	if len(users) != 2 {
		return nil, mergedesk.NotFound()
	}
	plan, err := s.DB.PreviewMerge(ctx, source, target)
	if err != nil {
		return nil, err
	}
	f := &PreviewFragment{Source: users[0], Target: users[1], Plan: plan}
	// Ways out are offered on the source only, the profile the agent opened the
	// dialog on, and only to an agent who may write it.
	mayWrite := mergedesk.CanWriteUser(principal(ctx), f.Source, mergedesk.UserChange{}) == nil
	for i, text := range reasons(plan.Blockers, f.Source, f.Target) {
		b := Blocker{Reason: text}
		if mayWrite {
			b.WayOut = wayOut(plan.Blockers[i], f.Source)
		}
		f.Blockers = append(f.Blockers, b)
	}
	orgs := map[int64]string{}
	for _, u := range users {
		for _, m := range u.Memberships {
			orgs[m.OrganizationID] = m.OrganizationName
		}
	}
	for _, fld := range plan.Fields {
		row := FieldRow{MergeField: fld, Label: fieldLabel(fld.Field),
			Source: valueText(phoneValue(fld.Field, fld.SourceValue), orgs), Target: valueText(phoneValue(fld.Field, fld.TargetValue), orgs)}
		switch fld.Outcome {
		case merge.Moved:
			f.Moved = append(f.Moved, row)
		case merge.Added:
			f.Added = append(f.Added, row)
		case merge.Lost:
			f.Lost = append(f.Lost, row)
		case merge.Kept:
			f.Kept = append(f.Kept, row)
		}
	}
	return f, nil
}

// phoneValue formats the values of the preview's phone fields for people
// (identity.FormatPhone); other fields' values are returned as they are.
func phoneValue(field string, v any) any {
	switch field {
	case "phone", "shared_phone_number":
		if p, ok := v.(*string); ok && p != nil {
			f := identity.FormatPhone(*p)
			return &f
		}
	case "phone_numbers":
		if ps, ok := v.([]string); ok {
			out := make([]string, len(ps))
			for i, p := range ps {
				out[i] = identity.FormatPhone(p)
			}
			return out
		}
	}
	return v
}

// valueText writes a preview value for people: lists joined, organization ids
// as names, nothing as a dash.
func valueText(v any, orgs map[int64]string) string {
	switch x := v.(type) {
	case nil:
		return "—"
	case *string:
		if x == nil || *x == "" {
			return "—"
		}
		return *x
	case string:
		if x == "" {
			return "—"
		}
		return x
	case *int64:
		if x == nil {
			return "—"
		}
		return orgText(*x, orgs)
	case []int64:
		ss := make([]string, len(x))
		for i, id := range x {
			ss[i] = orgText(id, orgs)
		}
		return joinOrDash(ss)
	case []string:
		return joinOrDash(x)
	case []map[string]string:
		ss := make([]string, len(x))
		for i, m := range x {
			v := m["value"]
			if m["type"] == mergedesk.IdentityPhone {
				v = identity.FormatPhone(v)
			}
			ss[i] = identityLabel(m["type"]) + ": " + v
		}
		return joinOrDash(ss)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		ss := make([]string, len(keys))
		for i, k := range keys {
			ss[i] = fmt.Sprintf("%s: %v", k, x[k])
		}
		return joinOrDash(ss)
	case merge.HelpCenter:
		if x == (merge.HelpCenter{}) {
			return "—"
		}
		return fmt.Sprintf("%d posts, %d comments, %d votes, %d subscriptions", x.Posts, x.Comments, x.Votes, x.Subscriptions)
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
		return "—"
	}
	return fmt.Sprint(v)
}

func orgText(id int64, orgs map[int64]string) string {
	if n := orgs[id]; n != "" {
		return n
	}
	return fmt.Sprintf("organization %d", id)
}

func joinOrDash(ss []string) string {
	if len(ss) == 0 {
		return "—"
	}
	return strings.Join(ss, ", ")
}

// merge runs the merge the agent confirmed, with the version of the preview they
// saw: if either user changed since, the store refuses (409) and the dialog shows
// the new preview to confirm again. On success the agent lands on the target.
func (s *Server) merge(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := pathID(r)
	if err != nil {
		return err
	}
	target, err := strconv.ParseInt(r.PostFormValue("target"), 10, 64)
	if err != nil {
		return s.render(w, http.StatusUnprocessableEntity, "user", "merge_error", "Choose the user to merge into first.")
	}
	version := r.PostFormValue("version")
	if version == "" {
		return s.render(w, http.StatusUnprocessableEntity, "user", "merge_error", "Review the preview before merging.")
	}
	cur := currentFrom(ctx)
	if err := mergedesk.CanMerge(actor(r)); err != nil {
		return err
	}
	_, _, mergeErr := s.DB.MergeUsers(ctx, id, target, cur.User.ID, version)
	then, _ := idList(r.PostFormValue("then"))
	step, _ := strconv.Atoi(r.PostFormValue("step"))
	steps, _ := strconv.Atoi(r.PostFormValue("steps"))
	if mergeErr == nil && len(then) > 0 {
		// The next merge of the group, previewed and confirmed like the
		// first: in the dialog, or on the group merge page without
		// JavaScript (a redirect, so reloading never posts the merge again).
		if !isHTMX(r) {
			http.Redirect(w, r, nextGroupMerge(target, then, step, id), http.StatusSeeOther)
			return nil
		}
		f, err := s.preview(ctx, then[0], target)
		if err != nil {
			return err
		}
		f.CSRF, f.Then, f.Step, f.Steps = cur.Session.CSRFToken, joinIDs(then[1:]), step+1, steps
		f.Notice = mergedNotice(step, steps, id, f.Target.Name)
		return s.render(w, http.StatusOK, "user", "merge_preview", f)
	}
	if mergeErr == nil {
		to := fmt.Sprintf("/users/%d?merged=%d", target, id)
		if isHTMX(r) {
			w.Header().Set("HX-Redirect", to)
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
		return nil
	}
	code := mergedesk.ErrorCode(mergeErr)
	if code != mergedesk.EMergeStale && code != mergedesk.EInvalid {
		return mergeErr
	}
	// Show what is true now: a fresh preview (with blockers, if any).
	f, err := s.preview(ctx, id, target)
	if err != nil {
		return err
	}
	f.CSRF, f.Then, f.Step, f.Steps = cur.Session.CSRFToken, r.PostFormValue("then"), step, steps
	status := http.StatusConflict
	if code == mergedesk.EMergeStale {
		f.Stale = true
	} else {
		status = http.StatusUnprocessableEntity
		f.Error = errorMessage(mergeErr)
	}
	if isHTMX(r) {
		// htmx swaps only 2xx responses by default; the fragment carries the news.
		status = http.StatusOK
	}
	return s.renderPreview(w, r, status, f)
}

// verifyIdentity verifies one identity of a user: the agent confirmed that the
// contact point is the person's (wayOut's action for rule M3). It is the store
// write of the API's PUT /users/{id}/identities/{id}/verify, with the domain's
// check (mergedesk.UserWriteCheck: agents write end users only) run inside its
// transaction. Sent from the merge dialog with the target, it answers with the
// fresh preview of that merge, so the agent lands on Confirm and merge;
// sent from the Possible duplicates panel (panel) or a group of the Duplicates
// page (group), it shows that again, with the pair now eligible;
// otherwise it returns to the profile.
func (s *Server) verifyIdentity(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := pathID(r)
	if err != nil {
		return err
	}
	identityID, err := strconv.ParseInt(r.PathValue("identity"), 10, 64)
	if err != nil || identityID <= 0 {
		return mergedesk.NotFound()
	}
	verified := true
	ident, err := s.DB.UpdateIdentity(ctx, id, identityID, nil, &verified, nil,
		mergedesk.UserWriteCheck(actor(r), mergedesk.UserChange{}))
	if err != nil {
		return err
	}
	if r.PostFormValue("panel") != "" || r.PostFormValue("group") != "" {
		return s.verifiedToDuplicates(w, r, id, ident)
	}
	t := r.PostFormValue("target")
	if t == "" {
		http.Redirect(w, r, fmt.Sprintf("/users/%d?saved=verified", id), http.StatusSeeOther)
		return nil
	}
	target, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		return s.render(w, http.StatusUnprocessableEntity, "user", "merge_error", "Choose the user to merge into first.")
	}
	f, err := s.preview(ctx, id, target)
	if err != nil {
		return err
	}
	f.CSRF = currentFrom(ctx).Session.CSRFToken
	// A way out taken during a group merge keeps the group's remaining merges.
	if then := r.PostFormValue("then"); r.PostFormValue("steps") != "" {
		f.Then = then
		f.Step, _ = strconv.Atoi(r.PostFormValue("step"))
		f.Steps, _ = strconv.Atoi(r.PostFormValue("steps"))
	}
	return s.renderPreview(w, r, http.StatusOK, f)
}

// verifiedToDuplicates answers a way out taken on duplicates: the panel of
// profile "panel" or group "group" of the Duplicates page, shown again with a
// notice, so the agent goes on to Review merge. The identity of user id is
// verified already.
func (s *Server) verifiedToDuplicates(w http.ResponseWriter, r *http.Request, id int64, ident *mergedesk.Identity) error {
	ctx := r.Context()
	notice := "Verified."
	if ident != nil {
		v := ident.Value
		if ident.Type == mergedesk.IdentityPhone {
			v = identity.FormatPhone(v)
		}
		notice = v + " is verified."
	}
	if g := r.PostFormValue("group"); g != "" {
		gid, err := strconv.ParseInt(g, 10, 64)
		if err != nil || gid <= 0 {
			return mergedesk.NotFound()
		}
		if !isHTMX(r) {
			http.Redirect(w, r, "/duplicates", http.StatusSeeOther)
			return nil
		}
		if err := s.requireDuplicates(r); err != nil {
			return err
		}
		gv, err := s.group(ctx, gid)
		if err != nil {
			return err
		}
		gv.CSRF = currentFrom(ctx).Session.CSRFToken
		gv.Notice = notice
		return s.render(w, http.StatusOK, "duplicates", "duplicate_group", gv)
	}
	panel, err := strconv.ParseInt(r.PostFormValue("panel"), 10, 64)
	if err != nil || panel <= 0 {
		return mergedesk.NotFound()
	}
	if !isHTMX(r) {
		http.Redirect(w, r, fmt.Sprintf("/users/%d?saved=verified", panel), http.StatusSeeOther)
		return nil
	}
	if err := s.requireDuplicates(r); err != nil {
		return err
	}
	p, err := s.panel(r, panel)
	if err != nil {
		return err
	}
	p.Notice = notice
	return s.render(w, http.StatusOK, "user", "duplicates_panel", p)
}
