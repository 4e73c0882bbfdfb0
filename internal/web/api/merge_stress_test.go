package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mergedesk/mergedesk"
)

// stressDuration is how long each database is hammered.
const stressDuration = 6 * time.Second

// stressRunners is how many user sets are under attack at any moment.
const stressRunners = 3

// TestMergeStressConcurrentWrites proves rule M8 under concurrency: merges of the
// same users in both directions and in cycles, racing ticket creates (by
// requester id, by the requester's email, with CCs), identity edits and reads,
// never answer 5xx, never hang, and leave a database where every merge is
// whole and every write landed where the merges say it must.
func TestMergeStressConcurrentWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for several seconds per database")
	}
	eachDB(t, func(t *testing.T, e *env) {
		s := &stress{t: t, e: e, client: &http.Client{Timeout: 30 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
		// Internal errors are logged with their cause: show them if the test fails.
		e.Server.Logger = slog.New(slog.NewTextHandler(&s.log, nil))
		deadline := time.Now().Add(stressDuration)
		var wg sync.WaitGroup
		for range stressRunners {
			wg.Go(func() {
				for time.Now().Before(deadline) && !t.Failed() {
					s.round()
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			t.Logf("server log:\n%s", s.log.String())
			return
		}
		s.check()
	})
}

// stress is one database under attack.
type stress struct {
	t      *testing.T
	e      *env
	client *http.Client
	log    lockedBuffer

	n    atomic.Int64 // user sets created
	mu   sync.Mutex
	sets []*userSet

	requests, merged, refused atomic.Int64
	slowest                   atomic.Int64 // nanoseconds
}

// userSet is three end users A, B, C that a round merges into each other while
// other requests use them, and a bystander D that requests a ticket CC'ing them.
type userSet struct {
	users   [3]int64
	emails  [3]string // primary emails, never deleted: inline requesters use them
	second  [3]int64  // a secondary email identity of each
	bystand int64
	handed  int64 // an open ticket of A that a request hands over to the bystander

	results []result
}

// result is one request of a round and what the server answered.
type result struct {
	op     string // merge, ticketByID, ticketByEmail, ticketCCs, addIdentity, deleteIdentity, makePrimary, read
	user   int    // index in the set the op is about (source of a merge)
	target int    // target index of a merge
	status int
	body   map[string]any
	extra  int64 // the identity id an op touched
}

// round creates a user set and fires every kind of request at it at once.
func (s *stress) round() {
	t, ctx := s.t, context.Background()
	n := s.n.Add(1)

	set := &userSet{}
	for i := range 3 {
		name := string(rune('a' + i))
		set.emails[i] = fmt.Sprintf("s%d-%s@stress.test", n, name)
		u, err := s.e.DB.CreateUser(ctx, mergedesk.NewUser{Name: fmt.Sprintf("Set %d %s", n, name), Email: set.emails[i],
			Identities: []mergedesk.NewIdentity{{Type: mergedesk.IdentityEmail, Value: fmt.Sprintf("s%d-%s-2@stress.test", n, name)}}})
		if err != nil {
			t.Errorf("create user: %v", err)
			return
		}
		set.users[i] = u.ID
		for _, id := range u.Identities {
			if !id.Primary {
				set.second[i] = id.ID
			}
		}
	}
	d, err := s.e.DB.CreateUser(ctx, mergedesk.NewUser{Name: fmt.Sprintf("Set %d bystander", n), Email: fmt.Sprintf("s%d-d@stress.test", n)})
	if err != nil {
		t.Errorf("create user: %v", err)
		return
	}
	set.bystand = d.ID
	// Each user requests a few tickets CC'ing the next, so merges move CCs too.
	for i := range 3 {
		if err := s.e.DB.SeedTickets(ctx, set.users[i], 6, []int64{set.users[(i+1)%3]}, fmt.Sprintf("s%d-%d", n, i)); err != nil {
			t.Errorf("seed: %v", err)
			return
		}
	}

	tag := fmt.Sprintf("s%d-0", n)
	open, _, err := s.e.DB.Tickets(ctx, mergedesk.TicketFilter{ExternalID: &tag, RequesterID: &set.users[0]}, mergedesk.Page{Size: 1})
	if err != nil || len(open) != 1 || open[0].Status != "open" {
		t.Errorf("open ticket of A: %v %v", open, err)
		return
	}
	set.handed = open[0].ID

	u := set.users
	ops := []func() result{
		// Both directions, and a cycle: A→B, B→A, B→C, C→A.
		s.merge(set, 0, 1), s.merge(set, 1, 0), s.merge(set, 1, 2), s.merge(set, 2, 0),
	}
	for i := range 3 {
		ops = append(ops, func() result {
			r := result{op: "ticketByID", user: i}
			r.status, r.body = s.do("POST", "/tickets", map[string]any{"ticket": map[string]any{
				"subject": "by id", "requester_id": u[i], "comment": map[string]any{"body": "hi"}}})
			return r
		})
	}
	for i := range 2 {
		ops = append(ops, func() result {
			r := result{op: "ticketByEmail", user: i}
			r.status, r.body = s.do("POST", "/tickets", map[string]any{"ticket": map[string]any{
				"subject": "by email", "requester": map[string]any{"name": "Whoever", "email": strings.ToUpper(set.emails[i])},
				"comment": map[string]any{"body": "hi"}}})
			return r
		})
	}
	ops = append(ops, func() result {
		r := result{op: "ticketCCs"}
		r.status, r.body = s.do("POST", "/tickets", map[string]any{"ticket": map[string]any{
			"subject": "ccs", "requester_id": set.bystand, "collaborators": []any{u[0], set.emails[1]},
			"comment": map[string]any{"body": "hi"}}})
		return r
	})
	for i := range 2 {
		ops = append(ops, func() result {
			r := result{op: "addIdentity", user: i}
			r.status, r.body = s.do("POST", fmt.Sprintf("/users/%d/identities", u[i]), map[string]any{"identity": map[string]any{
				"type": "email", "value": fmt.Sprintf("s%d-%d-new@stress.test", n, i), "primary": i == 1}})
			return r
		})
	}
	ops = append(ops,
		// A requester change away from a user being merged takes no lock on that
		// user, only on the ticket.
		func() result {
			r := result{op: "handOver", extra: set.handed}
			r.status, r.body = s.do("PUT", fmt.Sprintf("/tickets/%d", set.handed), map[string]any{"ticket": map[string]any{
				"requester_id": set.bystand}})
			return r
		},
		func() result {
			r := result{op: "deleteIdentity", user: 2, extra: set.second[2]}
			r.status, r.body = s.do("DELETE", fmt.Sprintf("/users/%d/identities/%d", u[2], set.second[2]), nil)
			return r
		},
		func() result {
			r := result{op: "makePrimary", user: 1, extra: set.second[1]}
			r.status, r.body = s.do("PUT", fmt.Sprintf("/users/%d/identities/%d/make_primary", u[1], set.second[1]), nil)
			return r
		},
		func() result {
			r := result{op: "read", user: 0}
			r.status, r.body = s.do("GET", fmt.Sprintf("/users/%d", u[0]), nil)
			return r
		},
		func() result {
			r := result{op: "read", user: 1}
			r.status, r.body = s.do("GET", fmt.Sprintf("/users/%d/identities", u[1]), nil)
			return r
		},
		func() result {
			r := result{op: "read", user: 2}
			r.status, r.body = s.do("GET", fmt.Sprintf("/users/%d/tickets/requested", u[2]), nil)
			return r
		},
	)

	start := make(chan struct{})
	results := make([]result, len(ops))
	var wg sync.WaitGroup
	for i, op := range ops {
		wg.Go(func() {
			<-start
			results[i] = op()
		})
	}
	close(start)
	wg.Wait()

	set.results = results
	for _, r := range results {
		s.checkStatus(set, r)
	}
	s.mu.Lock()
	s.sets = append(s.sets, set)
	s.mu.Unlock()
}

func (s *stress) merge(set *userSet, from, to int) func() result {
	return func() result {
		r := result{op: "merge", user: from, target: to}
		r.status, r.body = s.do("PUT", fmt.Sprintf("/users/%d/merge", set.users[from]), map[string]any{"user": map[string]any{"id": set.users[to]}})
		switch r.status {
		case http.StatusOK:
			s.merged.Add(1)
		case http.StatusUnprocessableEntity:
			s.refused.Add(1)
		}
		return r
	}
}

// do sends one request as the admin. A transport error (a hang past the client
// timeout included) is a test failure reported as status 0.
func (s *stress) do(method, path string, body any) (int, map[string]any) {
	s.requests.Add(1)
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.e.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+s.e.AdminToken)
	req.Header.Set("Content-Type", "application/json")
	began := time.Now()
	resp, err := s.client.Do(req)
	if d := int64(time.Since(began)); d > s.slowest.Load() {
		s.slowest.Store(d)
	}
	if err != nil {
		s.t.Errorf("%s %s: %v", method, path, err)
		return 0, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			s.t.Errorf("%s %s = %d, body is not JSON: %s", method, path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, m
}

// checkStatus fails the test for a 5xx or any answer the op cannot legitimately
// give. Refusals must be the clear 422 UserInactive (the user was merged away
// first); identity ops may also find the identity gone (404).
func (s *stress) checkStatus(set *userSet, r result) {
	ok := map[string][]int{
		"merge":          {200, 422},
		"ticketByID":     {201, 422},
		"ticketByEmail":  {201},
		"ticketCCs":      {201, 422},
		"addIdentity":    {201, 422},
		"deleteIdentity": {204, 404, 422},
		"makePrimary":    {200, 404, 422},
		"handOver":       {200},
		"read":           {200},
	}[r.op]
	if !slices.Contains(ok, r.status) {
		s.t.Errorf("set %v: %s of user %d: status %d, want one of %v: %v", set.users, r.op, r.user, r.status, ok, r.body)
		return
	}
	if r.status == 422 {
		if codes := errorCodes(r.body); !slices.Equal(codes, []string{mergedesk.CodeUserInactive}) {
			s.t.Errorf("set %v: %s of user %d: 422 with %v, want only UserInactive: %v", set.users, r.op, r.user, codes, r.body)
		}
	}
}

// errorCodes returns the distinct codes of a RecordInvalid body's details.
func errorCodes(body map[string]any) []string {
	var out []string
	details, _ := body["details"].(map[string]any)
	for _, v := range details {
		list, _ := v.([]any)
		for _, d := range list {
			if m, ok := d.(map[string]any); ok {
				if c, ok := m["error"].(string); ok && !slices.Contains(out, c) {
					out = append(out, c)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// check verifies the database once the dust has settled.
func (s *stress) check() {
	t, ctx := s.t, context.Background()
	t.Logf("%d user sets, %d requests (slowest %v): %d merges applied, %d refused", len(s.sets), s.requests.Load(),
		time.Duration(s.slowest.Load()).Round(time.Millisecond), s.merged.Load(), s.refused.Load())
	if s.merged.Load() == 0 || s.refused.Load() == 0 {
		t.Errorf("want both applied and refused merges")
	}
	violations, err := s.e.DB.CheckInvariants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range violations {
		t.Errorf("invariant: %s", v)
	}
	for _, set := range s.sets {
		s.checkSet(set)
		if t.Failed() {
			return
		}
	}
}

// checkSet holds a set's final state against what its requests were told.
func (s *stress) checkSet(set *userSet) {
	t, ctx := s.t, context.Background()
	users, err := s.e.DB.UsersByIDs(ctx, set.users[:])
	if err != nil || len(users) != 3 {
		t.Fatalf("users %v: %v", set.users, err)
	}
	into := map[int64]*int64{}
	for _, u := range users {
		into[u.ID] = u.MergedIntoID
	}
	// final follows merged_into_id to the user that holds everything now.
	final := func(id int64) int64 {
		for range 4 {
			if into[id] == nil {
				return id
			}
			id = *into[id]
		}
		t.Fatalf("set %v: merged_into_id cycle", set.users)
		return 0
	}
	// chain returns the merge record ids that moved what id held.
	records := map[int64]int64{} // source -> record id
	for _, u := range set.users {
		src := u
		ms, _, err := s.e.DB.UserMerges(ctx, &src, mergedesk.Page{})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.SourceID == u {
				records[u] = m.ID
			}
		}
	}
	chain := func(id int64) []int64 {
		var out []int64
		for into[id] != nil {
			out = append(out, records[id])
			id = *into[id]
		}
		return out
	}
	where := fmt.Sprintf("set %v (merged into %v)", set.users, []any{ptrStr(into[set.users[0]]), ptrStr(into[set.users[1]]), ptrStr(into[set.users[2]])})

	applied := map[int64]int64{}
	for _, r := range set.results {
		if r.op == "merge" && r.status == 200 {
			applied[set.users[r.user]] = set.users[r.target]
		}
	}
	for _, u := range users {
		want, ok := applied[u.ID]
		switch {
		case ok && (u.Active || u.MergedIntoID == nil || *u.MergedIntoID != want):
			t.Errorf("%s: merge %d into %d answered 200 but user is active=%v merged_into=%s", where, u.ID, want, u.Active, ptrStr(u.MergedIntoID))
		case !ok && !u.Active:
			t.Errorf("%s: user %d is inactive but no merge of it answered 200", where, u.ID)
		case ok && records[u.ID] == 0:
			t.Errorf("%s: merge of %d answered 200 but has no record", where, u.ID)
		}
	}

	for _, r := range set.results {
		x := set.users[r.user]
		switch r.op {
		case "ticketByID", "ticketByEmail", "ticketCCs":
			if r.status == 422 {
				// Refused: a user it names was merged away before it could lock it.
				if r.op == "ticketByID" && into[x] == nil {
					t.Errorf("%s: ticket for %d refused as UserInactive, but the user is active", where, x)
				}
				continue
			}
			tk := obj(t, r.body, "ticket")
			tid, first := id(t, tk), int64(tk["requester_id"].(float64))
			got, err := s.e.DB.Ticket(ctx, tid)
			if err != nil {
				t.Fatal(err)
			}
			wantFirst := []int64{x}
			if r.op == "ticketByEmail" {
				// Whoever owned the email when the ticket was created: x or a
				// user x had been merged into.
				wantFirst = append(wantFirst, followers(x, into)...)
			}
			if r.op == "ticketCCs" {
				first, wantFirst = set.bystand, []int64{set.bystand}
			}
			if !slices.Contains(wantFirst, first) {
				t.Errorf("%s: %s ticket %d was created for %d, want one of %v", where, r.op, tid, first, wantFirst)
				continue
			}
			if got.RequesterID != final(first) {
				t.Errorf("%s: %s ticket %d created for %d is requested by %d, want %d (M9)", where, r.op, tid, first, got.RequesterID, final(first))
			}
			audits := s.mergeAuditsOf(tid)
			for _, rec := range chain(first) {
				if !slices.Contains(audits, rec) {
					t.Errorf("%s: ticket %d of %d lacks the audit of merge %d (has %v)", where, tid, first, rec, audits)
				}
			}
			if r.op == "ticketCCs" {
				want := []int64{final(set.users[0]), final(set.users[1])}
				slices.Sort(want)
				want = slices.Compact(want)
				if !slices.Equal(got.EmailCCIDs, want) {
					t.Errorf("%s: ticket %d CCs %v, want %v (M10)", where, tid, got.EmailCCIDs, want)
				}
			}
		case "addIdentity":
			if r.status == 422 {
				if into[x] == nil {
					t.Errorf("%s: identity for active user %d refused as UserInactive", where, x)
				}
				continue
			}
			s.checkIdentityOwner(set, where, id(t, obj(t, r.body, "identity")), final(x))
		case "deleteIdentity":
			if r.status == 204 {
				s.checkIdentityOwner(set, where, r.extra, 0)
			} else {
				s.checkIdentityOwner(set, where, r.extra, final(x))
			}
		case "makePrimary":
			s.checkIdentityOwner(set, where, r.extra, final(x))
		case "handOver":
			tk, err := s.e.DB.Ticket(ctx, r.extra)
			if err != nil {
				t.Fatal(err)
			}
			if tk.RequesterID != set.bystand {
				t.Errorf("%s: ticket %d handed over to %d is requested by %d", where, r.extra, set.bystand, tk.RequesterID)
			}
		}
	}
	// The primary emails were never deleted, so each belongs to where its user went.
	for i, email := range set.emails {
		owner, err := s.e.DB.UserByEmail(ctx, email)
		if err != nil || owner.ID != final(set.users[i]) {
			t.Errorf("%s: %s belongs to %v (%v), want %d (M29)", where, email, owner, err, final(set.users[i]))
		}
	}
}

// followers returns the users x was merged into, in order.
func followers(x int64, into map[int64]*int64) []int64 {
	var out []int64
	for into[x] != nil && len(out) < 4 {
		x = *into[x]
		out = append(out, x)
	}
	return out
}

// checkIdentityOwner checks which user of the set owns identity id now; want 0
// means none (it was deleted).
func (s *stress) checkIdentityOwner(set *userSet, where string, id, want int64) {
	s.t.Helper()
	var owners []int64
	for _, u := range append(set.users[:], set.bystand) {
		ids, err := s.e.DB.Identities(context.Background(), u, nil)
		if err != nil {
			s.t.Fatal(err)
		}
		for _, i := range ids {
			if i.ID == id {
				owners = append(owners, u)
			}
		}
	}
	if want == 0 && len(owners) != 0 || want != 0 && !slices.Equal(owners, []int64{want}) {
		s.t.Errorf("%s: identity %d is owned by %v, want %d (0: deleted)", where, id, owners, want)
	}
}

// mergeAuditsOf returns the user_merge_id of every merge audit of a ticket.
func (s *stress) mergeAuditsOf(ticketID int64) []int64 {
	as, _, err := s.e.DB.TicketAudits(context.Background(), ticketID, mergedesk.Page{})
	if err != nil {
		s.t.Fatal(err)
	}
	var out []int64
	for _, a := range as {
		var m struct {
			Custom struct {
				UserMergeID int64 `json:"user_merge_id"`
			} `json:"custom"`
		}
		if err := json.Unmarshal(a.Metadata, &m); err != nil {
			s.t.Fatalf("audit %d metadata %s: %v", a.ID, a.Metadata, err)
		}
		if m.Custom.UserMergeID != 0 {
			out = append(out, m.Custom.UserMergeID)
		}
	}
	return out
}

func ptrStr(p *int64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}

// lockedBuffer is a bytes.Buffer safe for the server's concurrent log writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
