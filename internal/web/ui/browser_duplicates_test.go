package ui_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/mergedesk/mergedesk/internal/store/storetest"
)

func panelCandidate(id int64) string {
	return fmt.Sprintf(`#duplicates li.duplicate[data-user="%d"]`, id)
}

// waitPanel opens a profile and waits for its Possible duplicates panel.
func waitPanel(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	do(t, ctx, "open the profile and its duplicates panel",
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS("#duplicates-h")),
		chromedp.WaitNotPresent(chromedp.CSS("#duplicates .loading")),
	)
}

func mustMergedInto(t *testing.T, f *dupFixture, source, target int64) {
	t.Helper()
	u, err := f.DB.User(context.Background(), source)
	if err != nil {
		t.Fatal(err)
	}
	if u.Active || u.MergedIntoID == nil || *u.MergedIntoID != target {
		t.Errorf("user %d: active %v, merged into %v; want merged into %d", source, u.Active, u.MergedIntoID, target)
	}
}

// TestBrowserDuplicateReviewMerge: from the panel, Review merge lands on the
// preview in the suggested direction, and Confirm and merge merges.
func TestBrowserDuplicateReviewMerge(t *testing.T) {
	f, ts := dupSetup(t)
	ctx := tab(t)
	browserLogin(t, ctx, ts)
	waitPanel(t, ctx, fmt.Sprintf("%s/users/%d", ts.URL, f.Maria2.ID))
	cand := panelCandidate(f.Maria.ID)
	got := run(t, ctx, "candidate", chromedp.Text(chromedp.CSS(cand)))
	for _, want := range []string{"maria.souza@gmail.com", "very likely", "is the same mailbox as"} {
		if !strings.Contains(strings.ToLower(got), want) {
			t.Errorf("candidate %q lacks %q", got, want)
		}
	}
	do(t, ctx, "review merge",
		chromedp.Click(chromedp.CSS(cand+" button.review-merge")),
		chromedp.WaitVisible(chromedp.CSS("#merge-preview")),
		chromedp.WaitVisible(button("Confirm and merge")),
	)
	if title := run(t, ctx, "preview title", chromedp.Text(chromedp.CSS("#preview-title"))); title != "Merge Maria Souza into Maria Souza?" {
		t.Errorf("preview title %q", title)
	}
	do(t, ctx, "confirm",
		chromedp.Click(button("Confirm and merge")),
		chromedp.WaitVisible(chromedp.CSS("#notice")),
	)
	if loc := run(t, ctx, "location", chromedp.Location()); loc != fmt.Sprintf("%s/users/%d?merged=%d", ts.URL, f.Maria.ID, f.Maria2.ID) {
		t.Errorf("after the merge: at %s", loc)
	}
	mustMergedInto(t, f, f.Maria2.ID, f.Maria.ID)
}

// TestBrowserDuplicateDismiss: Not the same person removes the candidate, and
// it stays gone after a reload (rule D7).
func TestBrowserDuplicateDismiss(t *testing.T) {
	f, ts := dupSetup(t)
	ctx := tab(t)
	browserLogin(t, ctx, ts)
	url := fmt.Sprintf("%s/users/%d", ts.URL, f.Maria.ID)
	waitPanel(t, ctx, url)
	cand := panelCandidate(f.MSouza.ID)
	do(t, ctx, "dismiss",
		chromedp.WaitVisible(chromedp.CSS(cand)),
		chromedp.Click(chromedp.CSS(cand+" button.dismiss")),
		chromedp.WaitVisible(chromedp.CSS("#duplicates-notice")),
		chromedp.WaitNotPresent(chromedp.CSS(cand)),
	)
	waitPanel(t, ctx, url)
	do(t, ctx, "the other candidate is still there", chromedp.WaitVisible(chromedp.CSS(panelCandidate(f.Maria2.ID))))
	if n := run(t, ctx, "after reload", chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, cand))); n != 0 {
		t.Error("the dismissed candidate is back after a reload")
	}
	u, err := f.DB.User(context.Background(), f.MSouza.ID)
	if err != nil || !u.Active {
		t.Errorf("dismissing changed the user: %+v %v", u, err)
	}
}

// TestBrowserDuplicateGroupMerge: on the Duplicates page, a group of three is
// merged into its suggested target, one preview and confirmation per merge.
func TestBrowserDuplicateGroupMerge(t *testing.T) {
	f, ts := dupSetup(t)
	ctx := tab(t)
	browserLogin(t, ctx, ts)
	// Maria is the verified one: the suggested target.
	group := fmt.Sprintf(`article.duplicate-group[data-target="%d"]`, f.Maria.ID)
	do(t, ctx, "open the Duplicates page",
		chromedp.Click(`//nav//a[normalize-space()="Duplicates"]`),
		chromedp.WaitVisible(chromedp.CSS(group)),
	)
	if n := run(t, ctx, "profiles", chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, group+" .dup-col"))); n != 3 {
		t.Fatalf("the group shows %d profiles, want 3", n)
	}
	do(t, ctx, "first preview",
		chromedp.Click(chromedp.CSS(group+" button.merge-group")),
		chromedp.WaitVisible(chromedp.CSS("#preview-step")),
		chromedp.WaitVisible(button("Confirm and merge")),
	)
	if step := run(t, ctx, "step", chromedp.Text(chromedp.CSS("#preview-step"))); step != "Merge 1 of 2 of this group" {
		t.Errorf("step %q", step)
	}
	do(t, ctx, "confirm the first, see the second",
		chromedp.Click(button("Confirm and merge")),
		chromedp.WaitVisible(chromedp.CSS("#preview-notice")),
		chromedp.WaitVisible(button("Confirm and merge")),
	)
	if step := run(t, ctx, "step", chromedp.Text(chromedp.CSS("#preview-step"))); step != "Merge 2 of 2 of this group" {
		t.Errorf("step %q", step)
	}
	do(t, ctx, "confirm the second",
		chromedp.Click(button("Confirm and merge")),
		chromedp.WaitVisible(chromedp.CSS("#notice")),
	)
	mustMergedInto(t, f, f.Maria2.ID, f.Maria.ID)
	mustMergedInto(t, f, f.MSouza.ID, f.Maria.ID)
	if loc := run(t, ctx, "location", chromedp.Location()); !strings.HasPrefix(loc, fmt.Sprintf("%s/users/%d?merged=", ts.URL, f.Maria.ID)) {
		t.Errorf("after the group merge: at %s", loc)
	}
}

// TestBrowserDuplicateVerifyWayOut: a phone-only caller the detector suggests
// as a duplicate of a customer cannot be merged (rule M3); the panel offers
// the merge dialog's way out, Verify, and shows the pair eligible after it, so
// Review merge leads to Confirm and merge.
func TestBrowserDuplicateVerifyWayOut(t *testing.T) {
	f := newDupFixture(t, storetest.MustOpen(t, "sqlite:"+t.TempDir()+"/ui.db"))
	caller, customer := annPair(t, f)
	f.detect(t)
	_, ts := newDupServer(t, f)
	ctx := tab(t)
	browserLogin(t, ctx, ts)
	waitPanel(t, ctx, fmt.Sprintf("%s/users/%d", ts.URL, caller.ID))
	cand := panelCandidate(customer.ID)
	blockers := run(t, ctx, "blockers", chromedp.Text(chromedp.CSS(cand+" .blockers")))
	if !strings.Contains(blockers, "no verified identity and no email address or X (Twitter) handle") {
		t.Errorf("the refusal does not say why: %q", blockers)
	}
	verify := cand + " button.way-out-action"
	if label := run(t, ctx, "way out", chromedp.Text(chromedp.CSS(verify))); label != "Verify +1 212 555 0199" {
		t.Errorf("way out %q, want Verify +1 212 555 0199", label)
	}
	do(t, ctx, "verify the number",
		chromedp.Click(chromedp.CSS(verify)),
		chromedp.WaitVisible(chromedp.CSS("#duplicates-notice")),
		chromedp.WaitVisible(chromedp.CSS(cand)),
	)
	if n := run(t, ctx, "blockers gone", chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, cand+" .blockers"))); n != 0 {
		t.Error("the candidate still shows blockers after verifying")
	}
	if u, _ := f.DB.User(context.Background(), caller.ID); !u.Active || !u.Verified() {
		t.Fatalf("after Verify: active=%v verified=%v, want an active, verified caller", u.Active, u.Verified())
	}
	do(t, ctx, "review merge",
		chromedp.Click(chromedp.CSS(cand+" button.review-merge")),
		chromedp.WaitVisible(chromedp.CSS("#merge-preview")),
		chromedp.WaitVisible(button("Confirm and merge")),
	)
	if title := run(t, ctx, "preview title", chromedp.Text(chromedp.CSS("#preview-title"))); title != "Merge Ann Example into Ann Example?" {
		t.Errorf("preview title %q", title)
	}
	if got := run(t, ctx, "phones", chromedp.Text(chromedp.CSS(`#merge-preview tr[data-field="phone_numbers"]`))); !strings.Contains(got, "+1 212 555 0199") {
		t.Errorf("the preview's phone numbers %q are not in the international format", got)
	}
	do(t, ctx, "confirm",
		chromedp.Click(button("Confirm and merge")),
		chromedp.WaitVisible(chromedp.CSS("#notice")),
	)
	if loc := run(t, ctx, "location", chromedp.Location()); loc != fmt.Sprintf("%s/users/%d?merged=%d", ts.URL, customer.ID, caller.ID) {
		t.Errorf("after the merge: at %s", loc)
	}
	mustMergedInto(t, f, caller.ID, customer.ID)
}
