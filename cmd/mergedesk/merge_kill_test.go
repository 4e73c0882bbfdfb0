package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/store"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
)

const (
	// killTrials is how many merges each database sees killed; more run when one
	// outcome has not occurred yet.
	killTrials    = 20
	maxKillTrials = 32
	// killTickets is what each source requests: the M4 maximum.
	killTickets = 10000
	// hubTickets CC every source, half of them archived.
	hubTickets = 200
)

// TestMergeSurvivesKill proves rule M8 under failure: the real binary is
// SIGKILLed at a random moment while it merges a user with 10,000 tickets and
// serves other writes to the same users. After a restart, the merge is either
// wholly there or not at all, nothing else is lost, and every invariant holds.
func TestMergeSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and seeds hundreds of thousands of tickets")
	}
	bin := buildBinary(t)
	for name, dsn := range storetest.DSNs(t) {
		t.Run(name, func(t *testing.T) {
			k := newKillRig(t, bin, dsn)
			k.run()
		})
	}
}

// killRig is one database, the binary serving it, and the pairs of users it
// merges.
type killRig struct {
	t       *testing.T
	bin     string
	env     []string
	db      *store.DB // the test's own handle, for seeding and checking
	raw     *sql.DB   // plain SQL for counts the store does not offer
	admin   int64
	ccs     []int64 // CC'd on every source ticket; never merged
	hub     int64   // requests hubTickets CC'ing every source
	pairs   []*killPair
	dialect string
	cmd     *exec.Cmd
	addr    string
	appName string
	starts  int
	client  *http.Client
}

// killPair is a source with killTickets tickets and a fresh target.
type killPair struct {
	n              int
	source, target int64
	merged         bool
}

const killToken = "kill-test-token-0123456789"

func newKillRig(t *testing.T, bin, dsn string) *killRig {
	ctx := context.Background()
	k := &killRig{t: t, bin: bin, client: &http.Client{Timeout: 60 * time.Second},
		env: []string{"MERGEDESK_DB=" + dsn, "MERGEDESK_ADMIN_EMAIL=root@kill.test",
			"MERGEDESK_ADMIN_TOKEN=" + killToken}}
	k.db = storetest.MustOpen(t, dsn)
	driver, rawDSN := "pgx", dsn
	k.dialect = "postgres"
	if strings.HasPrefix(dsn, "sqlite:") {
		k.dialect = "sqlite"
		driver, rawDSN = "sqlite", "file:"+strings.TrimPrefix(dsn, "sqlite:")+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)"
	}
	var err error
	if k.raw, err = sql.Open(driver, rawDSN); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.raw.Close() })
	admin, err := k.db.EnsureAdmin(ctx, "root@kill.test", "")
	if err != nil {
		t.Fatal(err)
	}
	k.admin = admin.ID
	for i := range 2 {
		k.ccs = append(k.ccs, k.mustUser(fmt.Sprintf("cc%d", i)))
	}
	k.hub = k.mustUser("hub")
	began := time.Now()
	for range 4 {
		k.addPair()
	}
	// The hub's tickets CC the sources seeded so far; later sources are CC'd on
	// the hub's tickets by the trial's own concurrent write.
	var sources []int64
	for _, p := range k.pairs {
		sources = append(sources, p.source)
	}
	if err := k.db.SeedTickets(ctx, k.hub, hubTickets, sources, "hub"); err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded %d pairs of %d tickets in %v", len(k.pairs), killTickets, time.Since(began).Round(time.Millisecond))
	return k
}

func (k *killRig) mustUser(name string) int64 {
	k.t.Helper()
	u, err := k.db.CreateUser(context.Background(), mergedesk.NewUser{Name: name, Email: name + "@kill.test"})
	if err != nil {
		k.t.Fatalf("create %s: %v", name, err)
	}
	return u.ID
}

// addPair seeds a new source with killTickets tickets (half open CC'ing k.ccs,
// half closed and archived) and a target with a few of its own.
func (k *killRig) addPair() *killPair {
	ctx := context.Background()
	n := len(k.pairs)
	p := &killPair{n: n, source: k.mustUser(fmt.Sprintf("source%d", n)), target: k.mustUser(fmt.Sprintf("target%d", n))}
	if err := k.db.SeedTickets(ctx, p.source, killTickets, k.ccs, fmt.Sprintf("src-%d", n)); err != nil {
		k.t.Fatal(err)
	}
	if err := k.db.SeedTickets(ctx, p.target, 4, k.ccs, fmt.Sprintf("tgt-%d", n)); err != nil {
		k.t.Fatal(err)
	}
	k.pairs = append(k.pairs, p)
	return p
}

// fresh returns a pair not merged yet, seeding one when none is left.
func (k *killRig) fresh() *killPair {
	for _, p := range k.pairs {
		if !p.merged {
			return p
		}
	}
	return k.addPair()
}

func (k *killRig) start() {
	k.starts++
	// PostgreSQL sessions of this process are found by name after the kill.
	k.appName = fmt.Sprintf("mergedesk-kill-%d-%d", os.Getpid(), k.starts)
	k.cmd, k.addr = startBinary(k.t, k.bin, append(k.env, "PGAPPNAME="+k.appName))
}

// kill SIGKILLs the server. On PostgreSQL it then waits until the server's
// sessions are gone: a backend finishes its current statement before it notices
// its client died, and only then rolls back (or commits, if COMMIT had been
// sent), so checking earlier could see the database change afterwards.
func (k *killRig) kill() {
	k.cmd.Process.Signal(syscall.SIGKILL)
	k.cmd.Wait()
	if k.dialect != "postgres" {
		return
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		k.scan(fmt.Sprintf("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = '%s'", k.appName), &n)
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			k.t.Fatalf("%d sessions of the killed server still open after 30s", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// do sends one request as the admin and returns the status (0 when the
// connection failed, as it does when the server is killed).
func (k *killRig) do(method, path string, body any) int {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, "http://"+k.addr+"/api/v2"+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+killToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (k *killRig) merge(p *killPair) int {
	return k.do("PUT", fmt.Sprintf("/users/%d/merge", p.source), map[string]any{"user": map[string]any{"id": p.target}})
}

// counts are what a merge must conserve: rows of the seeded tickets (the
// trials' own concurrent tickets are tagged conc-) and their CC rows.
type counts struct{ tickets, ccs, mergeAudits, records int64 }

func (k *killRig) counts() counts {
	var c counts
	k.scan(`SELECT (SELECT COUNT(*) FROM tickets WHERE external_id NOT LIKE 'conc-%'),
		(SELECT COUNT(*) FROM ticket_ccs c JOIN tickets t ON t.id = c.ticket_id WHERE t.external_id NOT LIKE 'conc-%'),
		(SELECT COUNT(*) FROM audits WHERE user_merge_id IS NOT NULL), (SELECT COUNT(*) FROM user_merges)`,
		&c.tickets, &c.ccs, &c.mergeAudits, &c.records)
	return c
}

func (k *killRig) scan(q string, dest ...any) {
	k.t.Helper()
	if err := k.raw.QueryRow(q).Scan(dest...); err != nil {
		k.t.Fatalf("%s: %v", q, err)
	}
}

func (k *killRig) count(q string, args ...any) int64 {
	k.t.Helper()
	var n int64
	k.scan(fmt.Sprintf(q, args...), &n)
	return n
}

func (k *killRig) run() {
	t := k.t
	k.start()
	// Measure a merge to choose the window in which to kill.
	p := k.fresh()
	began := time.Now()
	if status := k.merge(p); status != http.StatusOK {
		t.Fatalf("calibration merge = %d", status)
	}
	d := time.Since(began)
	p.merged = true
	k.check(p, true, "calibration")
	t.Logf("a merge of %d tickets takes %v; killing within [0, %v]", killTickets, d.Round(time.Millisecond), (d * 3 / 2).Round(time.Millisecond))

	var applied, rolledBack int
	for trial := 0; trial < maxKillTrials; trial++ {
		if trial >= killTrials && applied > 0 && rolledBack > 0 {
			break
		}
		window := d * 3 / 2
		switch {
		case trial >= killTrials && applied == 0:
			window = d * 3 // give the commit a chance
		case trial >= killTrials && rolledBack == 0:
			window = d / 2
		}
		delay := time.Duration(rand.Int64N(int64(window)))
		if k.trial(trial, delay) {
			applied++
		} else {
			rolledBack++
		}
		if t.Failed() {
			return
		}
	}
	t.Logf("%d trials: %d merges applied, %d rolled back", applied+rolledBack, applied, rolledBack)
	if applied == 0 || rolledBack == 0 {
		t.Errorf("want both outcomes: %d applied, %d rolled back", applied, rolledBack)
	}
}

// trial fires a merge and concurrent writes at the running server, kills it
// after delay, restarts it and checks the database. It reports whether the
// merge was applied.
func (k *killRig) trial(n int, delay time.Duration) bool {
	p := k.fresh()
	before := k.counts()
	conc := fmt.Sprintf("conc-%d", n)
	var wg sync.WaitGroup
	statuses := make([]int, 5)
	wg.Go(func() { statuses[0] = k.merge(p) })
	time.Sleep(time.Millisecond) // the merge goes first; the others queue behind its locks
	wg.Go(func() {
		// For the target: one more ticket for the source would break M4.
		statuses[1] = k.do("POST", "/tickets", map[string]any{"ticket": map[string]any{"subject": "racing the merge",
			"external_id": conc, "requester_id": p.target, "collaborators": []any{k.ccs[1]}, "comment": map[string]any{"body": "hi"}}})
	})
	wg.Go(func() {
		statuses[2] = k.do("POST", "/tickets", map[string]any{"ticket": map[string]any{"subject": "cc the source",
			"external_id": conc, "requester_id": k.hub, "collaborators": []any{p.source, k.ccs[0]}, "comment": map[string]any{"body": "hi"}}})
	})
	wg.Go(func() {
		statuses[3] = k.do("POST", fmt.Sprintf("/users/%d/identities", p.target), map[string]any{"identity": map[string]any{
			"type": "email", "value": fmt.Sprintf("%s@kill.test", conc)}})
	})
	wg.Go(func() {
		statuses[4] = k.do("PUT", fmt.Sprintf("/users/%d", k.ccs[1]), map[string]any{"user": map[string]any{"name": "cc1 " + conc}})
	})
	time.Sleep(delay)
	k.kill()
	wg.Wait()
	k.start()
	if statuses[0] != 0 && statuses[0] != http.StatusOK {
		k.t.Fatalf("trial %d: merge answered %d before the kill", n, statuses[0])
	}

	c := k.counts()
	if c.tickets != before.tickets || c.ccs != before.ccs {
		k.t.Errorf("trial %d: tickets %d -> %d, CC rows %d -> %d; want them conserved", n, before.tickets, c.tickets, before.ccs, c.ccs)
	}
	src, err := k.db.User(context.Background(), p.source)
	if err != nil {
		k.t.Fatal(err)
	}
	applied := !src.Active
	if !applied && c.mergeAudits != before.mergeAudits {
		k.t.Errorf("trial %d: merge not applied but merge audits %d -> %d", n, before.mergeAudits, c.mergeAudits)
	}
	if !applied && c.records != before.records {
		k.t.Errorf("trial %d: merge not applied but merge records %d -> %d", n, before.records, c.records)
	}
	if applied && c.records != before.records+1 {
		k.t.Errorf("trial %d: merge applied but merge records %d -> %d", n, before.records, c.records)
	}
	p.merged = applied
	k.t.Logf("trial %d: pair %d, killed after %v: applied=%v (statuses %v)", n, p.n, delay.Round(time.Millisecond), applied, statuses)
	k.check(p, applied, fmt.Sprintf("trial %d (kill after %v, statuses %v)", n, delay.Round(time.Millisecond), statuses))
	return applied
}

// check holds the database to "all of the merge of p, or none of it".
func (k *killRig) check(p *killPair, applied bool, where string) {
	t, ctx := k.t, context.Background()
	t.Helper()
	violations, err := k.db.CheckInvariants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range violations {
		t.Errorf("%s: invariant: %s", where, v)
	}
	src, err := k.db.User(ctx, p.source)
	if err != nil {
		t.Fatal(err)
	}
	tag := fmt.Sprintf("src-%d", p.n)
	recs, _, err := k.db.UserMerges(ctx, &p.source, mergedesk.Page{})
	if err != nil {
		t.Fatal(err)
	}
	var rec *mergedesk.UserMerge
	for _, r := range recs {
		if r.SourceID == p.source {
			rec = r
		}
	}
	// Non-archived hub tickets CC the source until the merge replaces it.
	hubOpenCCd := k.count(`SELECT COUNT(*) FROM ticket_ccs c JOIN tickets t ON t.id = c.ticket_id
		WHERE t.external_id = 'hub' AND t.archived = FALSE AND c.kind = 'cc' AND c.user_id = %d`, p.source)
	if !applied {
		onSource := k.count("SELECT COUNT(*) FROM tickets WHERE external_id = '%s' AND requester_id = %d", tag, p.source)
		switch {
		case !src.Active || src.MergedIntoID != nil || rec != nil:
			t.Errorf("%s: half a merge: source active=%v merged_into=%v record=%v", where, src.Active, src.MergedIntoID, rec != nil)
		case onSource != killTickets:
			t.Errorf("%s: merge not applied, but only %d of %d tickets are still the source's", where, onSource, killTickets)
		case p.n < 4 && hubOpenCCd != hubTickets/2:
			t.Errorf("%s: merge not applied, but the source is CC'd on %d open hub tickets, want %d", where, hubOpenCCd, hubTickets/2)
		}
		return
	}
	if src.Active || src.MergedIntoID == nil || *src.MergedIntoID != p.target || rec == nil || rec.TargetID != p.target {
		t.Fatalf("%s: half a merge: source active=%v merged_into=%v record=%+v", where, src.Active, src.MergedIntoID, rec)
	}
	onTarget := k.count("SELECT COUNT(*) FROM tickets WHERE external_id = '%s' AND requester_id = %d", tag, p.target)
	oneAudit := k.count(`SELECT COUNT(*) FROM (SELECT a.ticket_id FROM audits a JOIN tickets t ON t.id = a.ticket_id
		WHERE a.user_merge_id = %d AND t.external_id = '%s' GROUP BY a.ticket_id HAVING COUNT(*) = 1) x`, rec.ID, tag)
	if onTarget != killTickets || oneAudit != killTickets {
		t.Errorf("%s: %d of %d tickets moved to the target, %d with one merge audit", where, onTarget, killTickets, oneAudit)
	}
	if rec.TicketsMoved < killTickets {
		t.Errorf("%s: record says %d tickets moved, want at least %d", where, rec.TicketsMoved, killTickets)
	}
	if hubOpenCCd != 0 {
		t.Errorf("%s: merged source still CC'd on %d open hub tickets", where, hubOpenCCd)
	}
	if p.n < 4 {
		hubAudits := k.count(`SELECT COUNT(*) FROM audits a JOIN tickets t ON t.id = a.ticket_id
			WHERE t.external_id = 'hub' AND a.user_merge_id = %d`, rec.ID)
		if hubAudits != hubTickets/2 {
			t.Errorf("%s: %d hub tickets have a merge audit, want the %d open ones (M10)", where, hubAudits, hubTickets/2)
		}
	}
}
