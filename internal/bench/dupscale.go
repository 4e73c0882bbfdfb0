package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	randv2 "math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/detector"
	"github.com/mergedesk/mergedesk/internal/store"
)

// Targets of `mergedesk bench duplicates --users N` (docs/benchmarks.md).
const (
	// ScanSecondsTarget is the full scan's wall time on a million end users.
	ScanSecondsTarget = 90
	// ScanMemoryTarget is the peak RSS of the scanning process, bytes.
	ScanMemoryTarget = 1_000_000_000
	// ForUserP99Target is GET /users/{id}/duplicates' p99.
	ForUserP99Target = 20 * time.Millisecond
	// ChannelsTarget is POST /channels/messages' floor with live detection on.
	ChannelsTarget = 2000
)

// DuplicatesScaleConfig is `mergedesk bench duplicates --users N`.
type DuplicatesScaleConfig struct {
	LoadConfig
	// DupPct is the share of users who get a second profile, percent.
	DupPct float64
	// Rounds alternate the loads (duplicates, channels on, channels off).
	Rounds     int
	UnknownPct int
	// ScanProfile, when set, gets a CPU profile of the scan alone.
	ScanProfile string
	// SkipLoad stops after the scan (no server).
	SkipLoad bool
	Progress func(phase string, done, total int)
}

// Planted duplicate kinds: each is a second profile of one person of the
// population that shares no identity value with the first.
var plantedKinds = []string{
	"email +tag",                      // same name; the same mailbox with a +tag
	"gmail, same local part",          // same name; the local part at Gmail or Googlemail (dots moved)
	"name typo, phone without +49",    // a typo in the given name; the phone typed without its country code
	"swapped name, phone without +49", // family name first; the phone without its country code
	"initial, phone without +49",      // the given name's initial; the phone without its country code
	"X handle spelling the name",      // same name; only an X handle
}

// plantedOf is the population index the k-th of planted duplicates copies:
// spread evenly over the population.
func plantedOf(k, users, planted int) int { return int(int64(k) * int64(users) / int64(planted)) }

// Duplicate returns the k-th planted duplicate, a second profile of User(i),
// and its kind (an index into plantedKinds). It is deterministic.
func Duplicate(k, i int) (mergedesk.NewUser, int) {
	f := firstNames[i%len(firstNames)]
	l := lastNames[(i/len(firstNames))%len(lastNames)]
	local, domain, _ := strings.Cut(Email(i), "@")
	national := fmt.Sprintf("%08d", i) // User(i)'s phone is +49 30 and these eight digits
	noCC := []string{"30 " + national, "(30) " + national[:4] + "-" + national[4:], "30" + national}[k/len(plantedKinds)%3]
	kind := k % len(plantedKinds)
	u := mergedesk.NewUser{Name: f.name + " " + l.name}
	switch kind {
	case 0:
		u.Email = local + "+" + []string{"shop", "billing", "news"}[k/len(plantedKinds)%3] + "@" + domain
	case 1:
		// maria.schmidt.5 → mariaschmidt.5@gmail.com, maria.schmidt5@googlemail.com, …
		l := strings.ReplaceAll(local, ".", "")
		at := len(f.ascii) + (k/len(plantedKinds))%(len(l)-len(f.ascii))
		u.Email = l[:at] + "." + l[at:] + []string{"@gmail.com", "@googlemail.com"}[k/len(plantedKinds)%2]
	case 2:
		u.Name = typo([]rune(f.name), k/len(plantedKinds)) + " " + l.name
		u.Phone = noCC
	case 3:
		u.Name = l.name + " " + f.name
		u.Phone = noCC
	case 4:
		u.Name = string([]rune(f.name)[:1]) + ". " + l.name
		u.Phone = noCC
	case 5:
		u.Identities = []mergedesk.NewIdentity{{Type: mergedesk.IdentityTwitter, Value: f.ascii + l.ascii + strconv.Itoa(i)}}
	}
	return u, kind
}

// typo makes one edit in a name of two or more letters: a letter dropped,
// doubled, or two neighbours swapped, never the first letter.
func typo(r []rune, v int) string {
	p := 1 + v%(len(r)-1)
	switch v % 3 {
	case 0:
		r = slices.Delete(r, p, p+1)
	case 1:
		r = slices.Insert(r, p, r[p])
	default:
		if p == len(r)-1 {
			p--
		}
		if p == 0 {
			p = 1
		}
		if p+1 < len(r) {
			r[p], r[p+1] = r[p+1], r[p]
		}
	}
	return string(r)
}

// DuplicatesScale imports c.Users synthetic end users and c.DupPct percent
// of planted duplicates into a fresh database, runs the full scan of
// `mergedesk duplicates scan` and prints its time by phase, its memory, the
// pairs compared and the planted pairs found; then it starts the server and
// measures GET /users/{id}/duplicates and POST /channels/messages with live
// detection on and off, alternating, and prints PASS or FAIL against the
// targets.
func DuplicatesScale(ctx context.Context, c DuplicatesScaleConfig, stdout, stderr io.Writer) error {
	dsn, cleanup, err := Database(c.DB, stderr)
	if err != nil {
		return err
	}
	if !c.Keep {
		defer cleanup()
	}
	c.Rounds = max(c.Rounds, 1)
	progress := func(phase string, done, total int) {
		if c.Progress != nil {
			c.Progress(phase, done, total)
		}
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer func() {
		if db != nil {
			db.Close()
		}
	}()
	dialect := db.Dialect()
	planted := int(float64(c.Users) * c.DupPct / 100)
	fmt.Fprintf(stdout, "mergedesk bench duplicates: %s, %d end users of `bench users` and %d planted duplicates (%.1f%%), GOMAXPROCS %d, %s/%s\n",
		dialect, c.Users, planted, c.DupPct, runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)
	off, _ := json.Marshal(map[string]any{"duplicates": map[string]any{"enabled": false}})
	if _, err := db.UpdateSettings(ctx, off); err != nil {
		return err
	}
	if err := db.BeginBulk(ctx, c.CacheMiB); err != nil {
		return err
	}

	// Import: the population, then the duplicates (second profiles come later).
	total := c.Users + planted
	ids := make([]int64, total)
	kinds := make([]int, planted)
	start := time.Now()
	done := 0
	var importErrs []string
	_, _, err = importRows(ctx, db, total, c.Batch, func(i int) mergedesk.NewUser {
		if i < c.Users {
			return User(i)
		}
		k := i - c.Users
		u, kind := Duplicate(k, plantedOf(k, c.Users, planted))
		kinds[k] = kind
		return u
	}, func(lo int, res mergedesk.ImportResult) {
		copy(ids[lo:], res.IDs)
		for j, id := range res.IDs {
			if id == 0 && len(importErrs) < 3 {
				importErrs = append(importErrs, fmt.Sprintf("row %d: %v", lo+j, res.Errors[j]))
			}
		}
		done += len(res.IDs)
		progress("importing", done, total)
	})
	if err != nil {
		return err
	}
	missing := 0
	for _, id := range ids {
		if id == 0 {
			missing++
		}
	}
	fmt.Fprintf(stdout, "import: %d profiles in %s", total-missing, time.Since(start).Round(time.Millisecond))
	if missing > 0 {
		fmt.Fprintf(stdout, " (%d refused, e.g. %s)", missing, strings.Join(importErrs, "; "))
	}
	fmt.Fprintln(stdout)

	// The scan, as `mergedesk duplicates scan` runs it: on a connection
	// without the import's page cache.
	if err := db.Close(); err != nil {
		return err
	}
	if db, err = store.Open(ctx, dsn); err != nil {
		return err
	}
	on, _ := json.Marshal(map[string]any{"duplicates": map[string]any{"enabled": true}})
	s, err := db.UpdateSettings(ctx, on)
	if err != nil {
		return err
	}
	runtime.GC()
	debug.FreeOSMemory()
	resetPeakRSS()
	heap := startHeapSampler()
	stopProfile, err := StartCPUProfile(c.ScanProfile)
	if err != nil {
		return err
	}
	det := detector.New(db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	sum, err := det.Scan(ctx, "bench-duplicates", func(done, total int) error {
		progress("scanning", done, total)
		return nil
	})
	stopProfile()
	peakHeap := heap()
	if err != nil {
		return err
	}
	_, peakRSS, _ := RSS(os.Getpid())
	var phases []string
	for _, p := range sum.Phases {
		phases = append(phases, fmt.Sprintf("%s %.1f", p.Name, p.Seconds))
	}
	fmt.Fprintf(stdout, "scan: %.1f s for %d users (%s s); keys written for %d users\n", sum.Seconds, sum.Users, strings.Join(phases, ", "), sum.KeysWritten)
	fmt.Fprintf(stdout, "scan memory: peak RSS %d MB (this process, reset before the scan), peak Go heap %d MB\n", peakRSS>>20, peakHeap>>20)
	fmt.Fprintf(stdout, "candidate pairs compared: %d (%.1f per user); suggestions %d in %d groups\n",
		sum.Compared, float64(sum.Compared)/float64(max(sum.Users, 1)), sum.Suggestions, sum.Groups)

	// Recall of the planted pairs at the threshold.
	stored, err := db.DuplicateScores(ctx)
	if err != nil {
		return err
	}
	type pair [2]int64
	plantedKind := map[pair]int{}
	var withDup []int64 // users of a planted pair, both sides
	for k := range planted {
		a, b := ids[plantedOf(k, c.Users, planted)], ids[c.Users+k]
		if a == 0 || b == 0 {
			continue
		}
		plantedKind[pair{min(a, b), max(a, b)}] = kinds[k]
		withDup = append(withDup, a, b)
	}
	found := make([]int, len(plantedKinds))
	all := make([]int, len(plantedKinds))
	for _, k := range plantedKind {
		all[k]++
	}
	other := 0
	for _, sg := range stored {
		if sg.Score < s.Duplicates.MinScore {
			continue
		}
		if k, ok := plantedKind[pair(sg.UserIDs)]; ok {
			found[k]++
		} else {
			other++
		}
	}
	nFound := 0
	for _, f := range found {
		nFound += f
	}
	fmt.Fprintf(stdout, "planted pairs suggested at min_score %.2f: %d of %d (recall %.3f); suggestions that are not planted pairs: %d\n",
		s.Duplicates.MinScore, nFound, len(plantedKind), float64(nFound)/float64(max(len(plantedKind), 1)), other)
	for k, name := range plantedKinds {
		fmt.Fprintf(stdout, "  %-34s %6d of %6d\n", name+":", found[k], all[k])
	}
	// A second scan, as any later scan runs: the keys are stored already.
	again, err := det.Scan(ctx, "bench-duplicates-again", func(done, total int) error {
		progress("scanning again", done, total)
		return nil
	})
	if err != nil {
		return err
	}
	phases = phases[:0]
	for _, p := range again.Phases {
		phases = append(phases, fmt.Sprintf("%s %.1f", p.Name, p.Seconds))
	}
	fmt.Fprintf(stdout, "scan again: %.1f s (%s s); keys written for %d users; suggestions %d\n",
		again.Seconds, strings.Join(phases, ", "), again.KeysWritten, again.Suggestions)
	if err := db.Close(); err != nil {
		return err
	}
	db = nil
	v := &verdicts{w: stdout}
	scanChecks := func() {
		v.check(sum.Seconds <= ScanSecondsTarget, "full scan of %d users, the first after the import (writes every user's keys) %.1f s <= %d s", sum.Users, sum.Seconds, ScanSecondsTarget)
		v.check(again.Seconds <= ScanSecondsTarget, "full scan of %d users, again (keys stored) %.1f s <= %d s", again.Users, again.Seconds, ScanSecondsTarget)
		v.check(peakRSS < ScanMemoryTarget, "scan peak RSS %d MB < %d MB", peakRSS>>20, ScanMemoryTarget>>20)
	}
	if c.SkipLoad || len(withDup) == 0 {
		fmt.Fprintln(stdout)
		scanChecks()
		return v.err("duplicates")
	}

	// The server: GET /users/{id}/duplicates, then channel messages with
	// detection on and off, alternating.
	tok := make([]byte, 24)
	rand.Read(tok)
	adminEmail, token := "bench-admin@example.com", hex.EncodeToString(tok)
	srv, err := startServer(ctx, c.InProcess, ServerOptions{DSN: dsn, AdminEmail: adminEmail, AdminToken: token}, stderr)
	if err != nil {
		return err
	}
	defer srv.stop()
	auth := "Basic " + basicAuth(adminEmail+"/token", token)
	tr := &http.Transport{MaxIdleConns: c.Concurrency, MaxIdleConnsPerHost: c.Concurrency, MaxConnsPerHost: c.Concurrency}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	triggers, err := createBenchTriggers(ctx, client, srv.url, auth)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "server: pid %d at %s; %d clients, %s warm-up, %d rounds of GET duplicates, messages with detection on, off (order alternating), %s each in all; %d triggers, %d%% unknown senders\n",
		srv.pid, srv.url, c.Concurrency, c.Warmup, c.Rounds, c.Duration, triggers, c.UnknownPct)
	setEnabled := func(enabled bool) error {
		body := fmt.Sprintf(`{"settings":{"duplicates":{"enabled":%t}}}`, enabled)
		req, _ := http.NewRequestWithContext(ctx, "PUT", srv.url+"/api/v2/account/settings.json", strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("PUT /account/settings: status %d: %s", resp.StatusCode, b)
		}
		return nil
	}
	stopLoadProfile, err := StartCPUProfile(c.LoadProfile)
	if err != nil {
		return err
	}
	defer stopLoadProfile()
	firstID, lastID := slices.Min(ids[:c.Users]), slices.Max(ids[:c.Users])
	var dupResults []Result
	msgs := map[bool][]float64{}
	lat := map[bool]*latencies{true: {}, false: {}}
	msgErrors := map[bool]int64{}
	ml := messageLoad{client: client, baseURL: srv.url, auth: auth, users: c.Users, unknownPct: c.UnknownPct, concurrency: c.Concurrency}
	per := c.Duration / time.Duration(c.Rounds)
	for round := range c.Rounds {
		if err := setEnabled(true); err != nil {
			return err
		}
		res, err := Load{BaseURL: srv.url, Authorization: auth, Concurrency: c.Concurrency, Duration: per, Warmup: c.Warmup,
			Path: func(r *randv2.Rand) string {
				id := firstID + r.Int64N(lastID-firstID+1)
				if r.IntN(2) == 0 {
					id = withDup[r.IntN(len(withDup))]
				}
				return "/api/v2/users/" + strconv.FormatInt(id, 10) + "/duplicates.json"
			}}.Run(ctx)
		if err != nil {
			return fmt.Errorf("GET /users/{id}/duplicates: %w", err)
		}
		dupResults = append(dupResults, res)
		fmt.Fprintf(stderr, "bench duplicates: round %d/%d: GET duplicates %.0f req/s, p99 %.1f ms\n", round+1, c.Rounds, res.RPS(), ms(res.P99))
		for _, enabled := range []bool{round%2 == 0, round%2 != 0} {
			if err := setEnabled(enabled); err != nil {
				return err
			}
			ml.run(ctx, c.Warmup)
			l, elapsed := ml.run(ctx, per)
			rate := float64(len(l.d)) / elapsed.Seconds()
			msgs[enabled] = append(msgs[enabled], rate)
			lat[enabled].d = append(lat[enabled].d, l.d...)
			msgErrors[enabled] += l.errors.Load()
			if f, ok := l.first.Load().(string); ok {
				lat[enabled].first.CompareAndSwap(nil, f)
			}
			fmt.Fprintf(stderr, "bench duplicates: round %d/%d: messages with detection %s %.0f msg/s\n", round+1, c.Rounds, onOff(enabled), rate)
		}
	}
	if err := setEnabled(true); err != nil {
		return err
	}
	dup := Merged(dupResults)
	fmt.Fprintf(stdout, "%-44s %s\n", "GET /api/v2/users/{id}/duplicates:", dup)
	rate := map[bool]float64{}
	for _, enabled := range []bool{true, false} {
		l := lat[enabled]
		l.errors.Store(msgErrors[enabled])
		// The rate over all rounds: messages / measured time.
		elapsed := per * time.Duration(len(msgs[enabled]))
		rate[enabled] = float64(len(l.d)) / elapsed.Seconds()
		fmt.Fprintf(stdout, "%s; per round %s msg/s\n", l.report("POST /channels/messages, detection "+onOff(enabled), elapsed), fmtRates(msgs[enabled]))
	}
	if rss, peak, err := RSS(srv.pid); err == nil {
		fmt.Fprintf(stdout, "server memory: RSS %d MB, peak RSS %d MB\n", rss>>20, peak>>20)
	}
	machineLoad(stdout, runtime.NumCPU())
	fmt.Fprintln(stdout)
	scanChecks()
	v.check(dup.P99 <= ForUserP99Target, "GET /users/{id}/duplicates p99 %.1f ms <= %d ms", ms(dup.P99), ForUserP99Target/time.Millisecond)
	v.check(dup.Errors == 0, "GET /users/{id}/duplicates: %d failed requests", dup.Errors)
	v.check(rate[true] >= ChannelsTarget, "POST /channels/messages with live detection on %.0f msg/s >= %d msg/s (off: %.0f msg/s, same run)",
		rate[true], ChannelsTarget, rate[false])
	v.check(msgErrors[true]+msgErrors[false] == 0, "POST /channels/messages: %d failed requests", msgErrors[true]+msgErrors[false])
	if c.Keep {
		fmt.Fprintf(stdout, "database kept: %s\n", dsn)
	}
	return v.err("duplicates")
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func fmtRates(rs []float64) string {
	var s []string
	for _, r := range rs {
		s = append(s, strconv.FormatFloat(r, 'f', 0, 64))
	}
	return strings.Join(s, ", ")
}

// resetPeakRSS resets this process's VmHWM (Linux: clear_refs 5), so the
// peak read later is that of what ran since.
func resetPeakRSS() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// startHeapSampler samples the Go heap (live and dead objects not yet
// collected) every 100 ms until the returned function is called, which
// returns the largest sample.
func startHeapSampler() func() uint64 {
	var mu sync.Mutex
	var peak uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() {
		metrics.Read(sample)
		mu.Lock()
		peak = max(peak, sample[0].Value.Uint64())
		mu.Unlock()
	}
	go func() {
		defer close(done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				read()
			}
		}
	}()
	return func() uint64 {
		close(stop)
		<-done
		read()
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}
