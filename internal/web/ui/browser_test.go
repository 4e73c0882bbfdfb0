package ui_test

// Browser tests: the critical agent flows in real Chromium, driven by chromedp.
// One browser serves the whole run; each test gets its own tab in its own
// browser context (separate cookies). Without Chromium the tests skip, except
// under CI=true, where they fail. On failure a screenshot of the tab is written
// to a directory the test logs.

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

var browser struct {
	once   sync.Once
	ctx    context.Context
	cancel func()
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if browser.cancel != nil {
		browser.cancel()
	}
	os.Exit(code)
}

// chromiumPath is MERGEDESK_CHROMIUM, else Debian's chromium, else "".
func chromiumPath() string {
	if p := os.Getenv("MERGEDESK_CHROMIUM"); p != "" {
		return p
	}
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	return ""
}

// tab returns a chromedp context for a new tab, starting the shared browser on
// first use with the flags of a machine without outside network.
func tab(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but Chromium is not installed (source .ci/chromium.sh; ensure_chromium)")
		}
		t.Skip("Chromium is not installed; set MERGEDESK_CHROMIUM or install Debian's chromium")
	}
	browser.once.Do(func() {
		dir, err := os.MkdirTemp("", "mergedesk-chromium-")
		if err != nil {
			browser.err = err
			return
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
			chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-sync", true),
			chromedp.UserDataDir(dir), chromedp.WindowSize(1280, 900))
		actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, bcancel := chromedp.NewContext(actx)
		browser.ctx = bctx
		browser.cancel = func() { bcancel(); acancel(); os.RemoveAll(dir) }
		browser.err = chromedp.Do(bctx)
	})
	if browser.err != nil {
		t.Fatalf("start chromium %s: %v", path, browser.err)
	}
	ctx, cancel := chromedp.NewContext(browser.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	// Runs before cancel (cleanups run last-in first-out).
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
		defer scancel()
		buf, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Logf("screenshot: %v", err)
			return
		}
		dir, err := os.MkdirTemp("", "mergedesk-ui-"+strings.ReplaceAll(t.Name(), "/", "_")+"-")
		if err != nil {
			t.Logf("screenshot: %v", err)
			return
		}
		p := filepath.Join(dir, "failure.png")
		if err := os.WriteFile(p, buf, 0o644); err == nil {
			t.Logf("screenshot of the failing page: %s", p)
		}
		if loc, err := chromedp.Run(sctx, chromedp.Location()); err == nil {
			t.Logf("page at failure: %s", loc)
		}
	})
	return ctx
}

// do runs steps with a time limit and fails the test with what was being done.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(c, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func run[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(c, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// button selects a button by its exact visible label.
func button(label string) string {
	return fmt.Sprintf(`//button[normalize-space()=%q]`, label)
}

func browserLogin(t *testing.T, ctx context.Context, ts *httptest.Server) {
	t.Helper()
	do(t, ctx, "sign in",
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), agentEmail),
		chromedp.SendKeys(chromedp.CSS("#password"), agentPassword),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("nav.sidebar")),
	)
}

func TestBrowserLogin(t *testing.T) {
	_, _, ts := setup(t)
	ctx := tab(t)
	do(t, ctx, "wrong password",
		chromedp.Navigate(ts.URL+"/customers"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), agentEmail),
		chromedp.SendKeys(chromedp.CSS("#password"), "wrong"),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#error")),
	)
	if got := run(t, ctx, "error", chromedp.Text(chromedp.CSS("#error"))); !strings.Contains(got, "not correct") {
		t.Errorf("error: %q", got)
	}
	// A script cannot read the session cookie (HttpOnly).
	browserLogin(t, ctx, ts)
	if loc := run(t, ctx, "location", chromedp.Location()); loc != ts.URL+"/customers" {
		t.Errorf("after sign-in: at %s, want /customers", loc)
	}
	if c := run(t, ctx, "cookie", chromedp.Evaluate[string]("document.cookie")); strings.Contains(c, "mergedesk_session") {
		t.Errorf("document.cookie shows the session: %q", c)
	}
	do(t, ctx, "sign out",
		chromedp.Click(button("Sign out")),
		chromedp.WaitVisible(chromedp.CSS("#email")),
	)
}

func TestBrowserSearch(t *testing.T) {
	f, _, ts := setup(t)
	ctx := tab(t)
	browserLogin(t, ctx, ts)
	dup := fmt.Sprintf(`table.customers tr[data-user="%d"]`, f.AnnDup.ID)
	do(t, ctx, "search as you type",
		chromedp.Click(`//nav//a[normalize-space()="Customers"]`),
		chromedp.WaitVisible(chromedp.CSS("#customer-q")),
		chromedp.SendKeys(chromedp.CSS("#customer-q"), "corp.example"),
		chromedp.WaitVisible(chromedp.CSS(dup)),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll("table.customers tbody tr").length === 1 && location.search.includes("q=corp.example")`,
			chromedp.WithPollingInterval(50*time.Millisecond)),
	)
	rows := run(t, ctx, "rows", chromedp.Evaluate[int](`document.querySelectorAll("table.customers tbody tr").length`))
	if rows != 1 {
		t.Errorf("search for corp.example: %d rows, want 1", rows)
	}
	if loc := run(t, ctx, "location", chromedp.Location()); !strings.Contains(loc, "q=corp.example") {
		t.Errorf("the URL does not keep the search: %s", loc)
	}
	do(t, ctx, "search by phone",
		chromedp.Evaluate[chromedp.Void](`document.getElementById("customer-q").value = ""`),
		chromedp.SendKeys(chromedp.CSS("#customer-q"), "(415) 555-0101"),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`table.customers tr[data-user="%d"]`, f.Ann.ID))),
		chromedp.WaitNotPresent(chromedp.CSS(dup)),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`table.customers tr[data-user="%d"] a`, f.Ann.ID))),
		chromedp.WaitVisible(chromedp.CSS("h1#user-name")),
	)
	if loc := run(t, ctx, "location", chromedp.Location()); loc != fmt.Sprintf("%s/users/%d", ts.URL, f.Ann.ID) {
		t.Errorf("clicked the user, landed on %s", loc)
	}
}

func TestBrowserProfileFromTicket(t *testing.T) {
	f, _, ts := setup(t)
	ctx := tab(t)
	browserLogin(t, ctx, ts)
	do(t, ctx, "ticket → requester",
		chromedp.Navigate(fmt.Sprintf("%s/tickets/%d", ts.URL, f.DupTicket.ID)),
		chromedp.Click(chromedp.CSS("#requester a")),
		chromedp.WaitVisible(chromedp.CSS("h1#user-name")),
	)
	if loc := run(t, ctx, "location", chromedp.Location()); loc != fmt.Sprintf("%s/users/%d", ts.URL, f.AnnDup.ID) {
		t.Errorf("requester link led to %s", loc)
	}
	if got := run(t, ctx, "tickets", chromedp.Text(chromedp.CSS("#requested table.tickets"))); !strings.Contains(got, "Invoice question") || !strings.Contains(strings.ToLower(got), "pending") {
		t.Errorf("requested tickets: %q", got)
	}
	// Phone width: nothing sticks out sideways.
	do(t, ctx, "phone width", chromedp.EmulateViewport(390, 844), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("h1#user-name")))
	if over := run(t, ctx, "overflow", chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)); over {
		t.Error("the profile overflows a 390 px wide screen")
	}
}

// openMerge opens the merge dialog on the source's profile the way an agent does.
func openMerge(t *testing.T, ctx context.Context, ts *httptest.Server, source int64) {
	t.Helper()
	do(t, ctx, "open the merge dialog",
		chromedp.Navigate(fmt.Sprintf("%s/users/%d", ts.URL, source)),
		chromedp.Click(button("User options")),
		chromedp.WaitVisible(`//*[@role="menuitem"][normalize-space()="Merge into another user"]`),
		chromedp.Click(`//*[@role="menuitem"][normalize-space()="Merge into another user"]`),
		chromedp.WaitVisible(chromedp.CSS("dialog#merge-dialog #merge-q")),
	)
	if open := run(t, ctx, "dialog open", chromedp.Evaluate[bool](`document.getElementById("merge-dialog").open`)); !open {
		t.Fatal("the merge dialog is not open")
	}
	if id := run(t, ctx, "focus", chromedp.Evaluate[string](`document.activeElement.id`)); id != "merge-q" {
		t.Errorf("focus is on %q, want the dialog's search field", id)
	}
}

func candidate(id int64) string { return fmt.Sprintf(`li.candidate[data-user="%d"]`, id) }

func TestBrowserMerge(t *testing.T) {
	f, _, ts := setup(t)
	ctx := tab(t)
	browserLogin(t, ctx, ts)
	do(t, ctx, "find the duplicate",
		chromedp.Click(`//nav//a[normalize-space()="Customers"]`),
		chromedp.SendKeys(chromedp.CSS("#customer-q"), "Ann Lee"),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`tr[data-user="%d"] a`, f.AnnDup.ID))),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`tr[data-user="%d"] a`, f.AnnDup.ID))),
		chromedp.WaitVisible(chromedp.CSS("h1#user-name")),
	)
	openMerge(t, ctx, ts, f.AnnDup.ID)
	do(t, ctx, "choose the target",
		chromedp.SendKeys(chromedp.CSS("#merge-q"), "Ann"),
		chromedp.WaitVisible(chromedp.CSS(candidate(f.Ann.ID))),
	)
	if got := run(t, ctx, "candidate", chromedp.Text(chromedp.CSS(candidate(f.Ann.ID)))); !strings.Contains(got, "ann@example.com") ||
		!strings.Contains(got, "ann.work@example.com") || !strings.Contains(got, "Acme Corp") {
		t.Errorf("the candidate does not show emails in full and the organization: %q", got)
	}
	do(t, ctx, "select and preview",
		chromedp.Click(chromedp.CSS(candidate(f.Ann.ID)+" input[type=radio]")),
		chromedp.WaitEnabled(chromedp.CSS("#merge-button")),
		chromedp.Click(button("Merge")),
		chromedp.WaitVisible(chromedp.CSS("#merge-preview")),
	)
	preview := run(t, ctx, "preview", chromedp.Text(chromedp.CSS("#merge-preview")))
	for _, want := range []string{"1 ticket requested by Ann Lee moves", "1 ticket changes its CCs", "ann.lee@corp.example", "trial"} {
		if !strings.Contains(preview, want) {
			t.Errorf("preview lacks %q:\n%s", want, preview)
		}
	}
	if u, _ := f.DB.User(context.Background(), f.AnnDup.ID); !u.Active {
		t.Fatal("merged before the confirmation")
	}
	do(t, ctx, "confirm",
		chromedp.Click(button("Confirm and merge")),
		chromedp.WaitVisible(chromedp.CSS("#notice")),
	)
	if loc := run(t, ctx, "location", chromedp.Location()); loc != fmt.Sprintf("%s/users/%d?merged=%d", ts.URL, f.Ann.ID, f.AnnDup.ID) {
		t.Errorf("after the merge: at %s", loc)
	}
	if got := run(t, ctx, "tickets", chromedp.Text(chromedp.CSS("#requested"))); !strings.Contains(got, "Invoice question") {
		t.Errorf("the moved ticket is not on the target: %q", got)
	}
	if u, _ := f.DB.User(context.Background(), f.AnnDup.ID); u.Active || u.MergedIntoID == nil || *u.MergedIntoID != f.Ann.ID {
		t.Errorf("source after the merge: active=%v merged_into=%v", u.Active, u.MergedIntoID)
	}
	// Every resource the pages loaded came from this server.
	res := run(t, ctx, "resources", chromedp.Evaluate[[]string](`performance.getEntriesByType("resource").map(e => e.name)`))
	for _, r := range res {
		if !strings.HasPrefix(r, ts.URL+"/") {
			t.Errorf("loaded from elsewhere: %s", r)
		}
	}
}

func TestBrowserMergeCancel(t *testing.T) {
	f, _, ts := setup(t)
	ctx := tab(t)
	browserLogin(t, ctx, ts)
	closeByEsc := chromedp.KeyEvent(kb.Escape)
	closeByX := chromedp.Click(chromedp.CSS("#merge-close"))
	closeByCancel := chromedp.Click(`//dialog//button[normalize-space()="Cancel"]`)
	for _, tc := range []struct {
		name  string
		steps []chromedp.Action[chromedp.Void]
		close chromedp.Action[chromedp.Void]
	}{
		{"Search/Esc", []chromedp.Action[chromedp.Void]{
			chromedp.SendKeys(chromedp.CSS("#merge-q"), "Ann"), chromedp.WaitVisible(chromedp.CSS(candidate(f.Ann.ID)))}, closeByEsc},
		{"Selected/Close", []chromedp.Action[chromedp.Void]{
			chromedp.SendKeys(chromedp.CSS("#merge-q"), "Ann"), chromedp.WaitVisible(chromedp.CSS(candidate(f.Ann.ID))),
			chromedp.Click(chromedp.CSS(candidate(f.Ann.ID) + " input[type=radio]")), chromedp.WaitEnabled(chromedp.CSS("#merge-button"))}, closeByX},
		{"Confirmation/Cancel", []chromedp.Action[chromedp.Void]{
			chromedp.SendKeys(chromedp.CSS("#merge-q"), "Ann"), chromedp.WaitVisible(chromedp.CSS(candidate(f.Ann.ID))),
			chromedp.Click(chromedp.CSS(candidate(f.Ann.ID) + " input[type=radio]")), chromedp.WaitEnabled(chromedp.CSS("#merge-button")),
			chromedp.Click(button("Merge")), chromedp.WaitVisible(button("Confirm and merge"))}, closeByCancel},
		{"Confirmation/Esc", []chromedp.Action[chromedp.Void]{
			chromedp.SendKeys(chromedp.CSS("#merge-q"), "Ann"), chromedp.WaitVisible(chromedp.CSS(candidate(f.Ann.ID))),
			chromedp.Click(chromedp.CSS(candidate(f.Ann.ID) + " input[type=radio]")), chromedp.WaitEnabled(chromedp.CSS("#merge-button")),
			chromedp.Click(button("Merge")), chromedp.WaitVisible(button("Confirm and merge"))}, closeByEsc},
	} {
		t.Run(tc.name, func(t *testing.T) {
			openMerge(t, ctx, ts, f.AnnDup.ID)
			do(t, ctx, "steps", tc.steps...)
			do(t, ctx, "close", tc.close)
			if open := run(t, ctx, "dialog", chromedp.Evaluate[bool](`document.getElementById("merge-dialog").open`)); open {
				t.Fatal("the dialog is still open")
			}
			// Reopened, the dialog starts again from the search.
			do(t, ctx, "reopen",
				chromedp.Click(button("User options")),
				chromedp.Click(`//*[@role="menuitem"][normalize-space()="Merge into another user"]`),
				chromedp.WaitVisible(chromedp.CSS("#merge-q")))
			if state := run(t, ctx, "reset", chromedp.Evaluate[string](
				`document.getElementById("merge-q").value + "|" + document.querySelectorAll("li.candidate").length + "|" + document.getElementById("merge-button").disabled`)); state != "|0|true" {
				t.Errorf("reopened dialog: value|candidates|disabled = %q, want a fresh search", state)
			}
			u, err := f.DB.User(context.Background(), f.AnnDup.ID)
			if err != nil || !u.Active || u.MergedIntoID != nil {
				t.Fatalf("cancelled merge changed the source: %+v %v", u, err)
			}
			tk, _ := f.DB.Ticket(context.Background(), f.DupTicket.ID)
			if tk.RequesterID != f.AnnDup.ID {
				t.Fatalf("cancelled merge moved a ticket")
			}
		})
	}
}

func TestBrowserIneligibleTarget(t *testing.T) {
	f, _, ts := setup(t)
	ctx := tab(t)
	browserLogin(t, ctx, ts)
	openMerge(t, ctx, ts, f.AnnDup.ID)
	do(t, ctx, "list",
		chromedp.SendKeys(chromedp.CSS("#merge-q"), "Ann"),
		chromedp.WaitVisible(chromedp.CSS(candidate(f.PhoneOnly.ID)+" .reason")),
	)
	reason := run(t, ctx, "reason", chromedp.Text(chromedp.CSS(candidate(f.PhoneOnly.ID)+" .reason")))
	if !strings.Contains(reason, "no verified identity and no email address or X (Twitter) handle") {
		t.Errorf("reason: %q", reason)
	}
	disabled := `document.getElementById("merge-button").disabled`
	do(t, ctx, "select the ineligible", chromedp.Click(chromedp.CSS(candidate(f.PhoneOnly.ID)+" input[type=radio]")))
	if !run(t, ctx, "disabled", chromedp.Evaluate[bool](disabled)) {
		t.Error("Merge is enabled for an ineligible target")
	}
	do(t, ctx, "select an eligible one", chromedp.Click(chromedp.CSS(candidate(f.Ann.ID)+" input[type=radio]")))
	if run(t, ctx, "enabled", chromedp.Evaluate[bool](disabled)) {
		t.Error("Merge stays disabled for an eligible target")
	}
	do(t, ctx, "back to the ineligible", chromedp.Click(chromedp.CSS(candidate(f.PhoneOnly.ID)+" input[type=radio]")))
	if !run(t, ctx, "disabled again", chromedp.Evaluate[bool](disabled)) {
		t.Error("Merge is enabled again for an ineligible target")
	}
}

func TestBrowserEscapedName(t *testing.T) {
	f, _, ts := setup(t)
	ctx := tab(t)
	var mu sync.Mutex
	var alerts []string
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			mu.Lock()
			alerts = append(alerts, ev.Message)
			mu.Unlock()
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	browserLogin(t, ctx, ts)
	const name = `<script>alert(1)</script>`
	do(t, ctx, "profile", chromedp.Navigate(fmt.Sprintf("%s/users/%d", ts.URL, f.Scripty.ID)), chromedp.WaitVisible(chromedp.CSS("h1#user-name")))
	if got := run(t, ctx, "name", chromedp.Text(chromedp.CSS("h1#user-name"))); got != name {
		t.Errorf("name shown as %q, want the literal text", got)
	}
	do(t, ctx, "search",
		chromedp.Navigate(ts.URL+"/customers"),
		chromedp.SendKeys(chromedp.CSS("#customer-q"), "xss@"),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`tr[data-user="%d"]`, f.Scripty.ID))),
	)
	openMerge(t, ctx, ts, f.Bob.ID)
	do(t, ctx, "candidates", chromedp.SendKeys(chromedp.CSS("#merge-q"), "script"), chromedp.WaitVisible(chromedp.CSS(candidate(f.Scripty.ID))))
	if got := run(t, ctx, "candidate", chromedp.Text(chromedp.CSS(candidate(f.Scripty.ID)+" .cand-name"))); got != name {
		t.Errorf("candidate name shown as %q", got)
	}
	if n := run(t, ctx, "scripts", chromedp.Evaluate[int](`document.querySelectorAll("script:not([src])").length`)); n != 0 {
		t.Errorf("%d inline script elements in the page", n)
	}
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(alerts) > 0 {
		t.Errorf("a script ran: alerts %q", alerts)
	}
}

// TestBrowserMergeVerifyWayOut: a phone-only caller cannot be merged (rule M3)
// until an agent verifies the number; the dialog offers it as the way out of
// the refusal, then lands on Confirm and merge.
func TestBrowserMergeVerifyWayOut(t *testing.T) {
	f, _, ts := setup(t)
	ctx := tab(t)
	browserLogin(t, ctx, ts)
	openMerge(t, ctx, ts, f.PhoneOnly.ID)
	do(t, ctx, "choose the existing customer",
		chromedp.SendKeys(chromedp.CSS("#merge-q"), "Ann Lee"),
		chromedp.WaitVisible(chromedp.CSS(candidate(f.Ann.ID)+" .reason")),
		chromedp.Click(chromedp.CSS(candidate(f.Ann.ID)+" input[type=radio]")),
		chromedp.WaitEnabled(chromedp.CSS("#merge-button")),
		chromedp.Click(button("Merge")),
		chromedp.WaitVisible(chromedp.CSS("#preview-blockers")),
	)
	blockers := run(t, ctx, "blockers", chromedp.Text(chromedp.CSS("#preview-blockers")))
	if !strings.Contains(blockers, "no verified identity and no email address or X (Twitter) handle") {
		t.Errorf("the refusal does not say why: %q", blockers)
	}
	if n := run(t, ctx, "confirm", chromedp.Evaluate[int](`document.querySelectorAll("#confirm-merge").length`)); n != 0 {
		t.Fatal("Confirm and merge is offered for a refused merge")
	}
	verify := button("Verify +1 415 555 0199")
	do(t, ctx, "verify the number",
		chromedp.WaitVisible(verify),
		chromedp.Click(verify),
		chromedp.WaitVisible(button("Confirm and merge")),
	)
	if n := run(t, ctx, "blockers gone", chromedp.Evaluate[int](`document.querySelectorAll("#preview-blockers").length`)); n != 0 {
		t.Error("the preview still shows blockers after verifying")
	}
	if id := run(t, ctx, "focus", chromedp.Evaluate[string](`document.activeElement.id`)); id != "preview-title" {
		t.Errorf("focus after verifying is on %q, want the preview's title", id)
	}
	if u, _ := f.DB.User(context.Background(), f.PhoneOnly.ID); !u.Active || !u.Verified() {
		t.Fatalf("after Verify: active=%v verified=%v, want an active, verified caller", u.Active, u.Verified())
	}
	do(t, ctx, "confirm",
		chromedp.Click(button("Confirm and merge")),
		chromedp.WaitVisible(chromedp.CSS("#notice")),
	)
	if loc := run(t, ctx, "location", chromedp.Location()); loc != fmt.Sprintf("%s/users/%d?merged=%d", ts.URL, f.Ann.ID, f.PhoneOnly.ID) {
		t.Errorf("after the merge: at %s", loc)
	}
	if got := run(t, ctx, "identities", chromedp.Text(chromedp.CSS(`.identity-group[data-type="phone_number"]`))); !strings.Contains(got, "+1 415 555 0199") {
		t.Errorf("the caller's number is not on the merged profile: %q", got)
	}
	if u, _ := f.DB.User(context.Background(), f.PhoneOnly.ID); u.Active || u.MergedIntoID == nil || *u.MergedIntoID != f.Ann.ID {
		t.Errorf("source after the merge: active=%v merged_into=%v", u.Active, u.MergedIntoID)
	}
}
