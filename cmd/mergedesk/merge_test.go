package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/store"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
)

// mergeFixture is a database with an admin, an agent and two end users; the
// source requests four tickets (two archived) with the CC user on each.
type mergeFixture struct {
	dsn                  string
	db                   *store.DB
	admin, agent         *mergedesk.User
	source, target, ccer *mergedesk.User
}

func newMergeFixture(t *testing.T, dsn string) *mergeFixture {
	t.Helper()
	ctx := context.Background()
	f := &mergeFixture{dsn: dsn, db: storetest.MustOpen(t, dsn)}
	var err error
	if f.admin, err = f.db.EnsureAdmin(ctx, "admin@example.com", ""); err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct {
		p  **mergedesk.User
		nu mergedesk.NewUser
	}{
		{&f.agent, mergedesk.NewUser{Name: "Agent Smith", Email: "agent@example.com", Role: mergedesk.RoleAgent, Verified: true}},
		{&f.source, mergedesk.NewUser{Name: "Ann Lee", Email: "ann@example.com", Tags: []string{"vip"}}},
		{&f.target, mergedesk.NewUser{Name: "Ann Lee", Email: "ann.lee@corp.example", Verified: true}},
		{&f.ccer, mergedesk.NewUser{Name: "Carl Cc", Email: "carl@example.com", Verified: true}},
	} {
		if *u.p, err = f.db.CreateUser(ctx, u.nu); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.db.SeedTickets(ctx, f.source.ID, 4, []int64{f.ccer.ID}, "merge-test"); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *mergeFixture) run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = Run(context.Background(), append([]string{"merge"}, append(args, "--db", f.dsn)...), &out, &errOut)
	return out.String(), errOut.String(), err
}

// cmd is the merge command with a scripted terminal.
func (f *mergeFixture) cmd(source, target int64, stdin io.Reader) *mergeCmd {
	return &mergeCmd{DB: f.dsn, Source: strconv.FormatInt(source, 10), Target: strconv.FormatInt(target, 10),
		Stdin: stdin, Terminal: true}
}

// assertNotMerged checks that nothing of a merge happened.
func (f *mergeFixture) assertNotMerged(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	s, err := f.db.User(ctx, f.source.ID)
	if err != nil || !s.Active || s.MergedIntoID != nil || s.Email() == nil {
		t.Errorf("source = %+v, %v; want untouched", s, err)
	}
	rel, err := f.db.Related(ctx, f.source.ID)
	if err != nil || rel.Requested != 4 {
		t.Errorf("source requests %d tickets (%v), want 4", rel.Requested, err)
	}
	ms, _, err := f.db.UserMerges(ctx, nil, mergedesk.Page{})
	if err != nil || len(ms) != 0 {
		t.Errorf("merge records = %d (%v), want none", len(ms), err)
	}
}

func (f *mergeFixture) assertMerged(t *testing.T, actor int64) {
	t.Helper()
	ctx := context.Background()
	s, err := f.db.User(ctx, f.source.ID)
	if err != nil || s.Active || s.MergedIntoID == nil || *s.MergedIntoID != f.target.ID {
		t.Fatalf("source = %+v, %v; want merged into %d", s, err, f.target.ID)
	}
	rel, err := f.db.Related(ctx, f.target.ID)
	if err != nil || rel.Requested != 4 {
		t.Errorf("target requests %d tickets (%v), want 4", rel.Requested, err)
	}
	ms, _, err := f.db.UserMerges(ctx, nil, mergedesk.Page{})
	if err != nil || len(ms) != 1 || ms[0].ActorID != actor {
		t.Errorf("merge records = %+v (%v), want one by %d", ms, err, actor)
	}
}

func TestMergeDryRun(t *testing.T) {
	for name, dsn := range storetest.DSNs(t) {
		t.Run(name, func(t *testing.T) {
			f := newMergeFixture(t, dsn)
			out, _, err := f.run(t, strconv.FormatInt(f.source.ID, 10), strconv.FormatInt(f.target.ID, 10), "--dry-run")
			if err != nil {
				t.Fatalf("dry run: %v\n%s", err, out)
			}
			t.Log(out)
			for _, want := range []string{
				"FIELD", "RULE", "OUTCOME", "SOURCE VALUE → TARGET VALUE",
				"ann@example.com → ann.lee@corp.example",
				"tags", "M20", "lost", "vip → -",
				"Tickets: 4 requested by the source move to the target (2 of them archived); 0 CC lists change",
				"Blockers: none",
				"Dry run: nothing was changed.",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			f.assertNotMerged(t)
		})
	}
}

func TestMergeYes(t *testing.T) {
	for name, dsn := range storetest.DSNs(t) {
		t.Run(name, func(t *testing.T) {
			f := newMergeFixture(t, dsn)
			// Emails name the users too; flags may follow the arguments.
			out, _, err := f.run(t, "ann@example.com", "ann.lee@corp.example", "--yes", "--actor", "agent@example.com")
			if err != nil {
				t.Fatalf("merge: %v\n%s", err, out)
			}
			want := "Merged user " + strconv.FormatInt(f.source.ID, 10) + " into user " + strconv.FormatInt(f.target.ID, 10) + ": 4 tickets"
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
			f.assertMerged(t, f.agent.ID)
		})
	}
}

func TestMergeDefaultActorIsFirstAdmin(t *testing.T) {
	f := newMergeFixture(t, storetest.DSNs(t)["sqlite"])
	t.Setenv("MERGEDESK_ADMIN_EMAIL", "")
	if out, _, err := f.run(t, "--yes", strconv.FormatInt(f.source.ID, 10), strconv.FormatInt(f.target.ID, 10)); err != nil {
		t.Fatalf("merge: %v\n%s", err, out)
	}
	f.assertMerged(t, f.admin.ID)
}

func TestMergeRefused(t *testing.T) {
	for name, dsn := range storetest.DSNs(t) {
		t.Run(name, func(t *testing.T) {
			f := newMergeFixture(t, dsn)
			for _, tc := range []struct {
				name, code     string
				source, target int64
				args           []string
				want           []string
			}{
				{"NotEndUser", "NotEndUser", f.source.ID, f.agent.ID, []string{"--yes"}, []string{
					"The merge is refused; 1 rule(s) block it:",
					"User " + strconv.FormatInt(f.agent.ID, 10) + " is an agent; only end users can be merged (M1). [NotEndUser]"}},
				{"SameUserDryRun", "SameUser", f.source.ID, f.source.ID, []string{"--dry-run"}, []string{
					"cannot be merged into itself (M2). [SameUser]"}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					out, _, err := f.run(t, append([]string{strconv.FormatInt(tc.source, 10), strconv.FormatInt(tc.target, 10)}, tc.args...)...)
					var r refusal
					if !errors.As(err, &r) {
						t.Fatalf("err = %v, want a refusal (exit 1)", err)
					}
					if !strings.Contains(err.Error(), tc.code) {
						t.Errorf("err = %q, want the code", err)
					}
					for _, w := range tc.want {
						if !strings.Contains(out, w) {
							t.Errorf("output lacks %q:\n%s", w, out)
						}
					}
					f.assertNotMerged(t)
				})
			}
		})
	}
}

func TestMergeWithoutTerminalNeedsYes(t *testing.T) {
	f := newMergeFixture(t, storetest.DSNs(t)["sqlite"])
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w.WriteString("y\n") // a pipe saying yes is not a person confirming
	w.Close()
	stdin := os.Stdin
	os.Stdin = r
	defer func() { os.Stdin = stdin }()
	out, _, err := f.run(t, strconv.FormatInt(f.source.ID, 10), strconv.FormatInt(f.target.ID, 10))
	var ue usageError
	if err == nil || errors.As(err, &ue) || !strings.Contains(err.Error(), "pass --yes") {
		t.Fatalf("err = %v, want exit 1 asking for --yes", err)
	}
	if !strings.Contains(out, "Blockers: none") {
		t.Errorf("the preview should still be printed:\n%s", out)
	}
	f.assertNotMerged(t)
}

func TestMergeConfirmOnTerminal(t *testing.T) {
	for name, dsn := range storetest.DSNs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			f := newMergeFixture(t, dsn)
			for _, answer := range []string{"", "n\n", "nope\n"} {
				var out, errOut bytes.Buffer
				err := f.cmd(f.source.ID, f.target.ID, strings.NewReader(answer)).run(ctx, &out, &errOut)
				if err == nil || !strings.Contains(err.Error(), "cancelled") {
					t.Errorf("answer %q: err = %v, want cancelled", answer, err)
				}
				want := "Merge user " + strconv.FormatInt(f.source.ID, 10) + " into " + strconv.FormatInt(f.target.ID, 10) + "? This cannot be undone [y/N] "
				if !strings.Contains(errOut.String(), want) {
					t.Errorf("prompt = %q, want %q", errOut.String(), want)
				}
			}
			f.assertNotMerged(t)
			var out, errOut bytes.Buffer
			if err := f.cmd(f.source.ID, f.target.ID, strings.NewReader("Y\n")).run(ctx, &out, &errOut); err != nil {
				t.Fatalf("confirmed merge: %v\n%s", err, out.String())
			}
			f.assertMerged(t, f.admin.ID)
		})
	}
}

// changingReader changes the target when the person is asked, then says yes.
type changingReader struct {
	change func()
	done   bool
}

func (r *changingReader) Read(p []byte) (int, error) {
	if r.done {
		return 0, io.EOF
	}
	r.change()
	r.done = true
	return copy(p, "y\n"), nil
}

func TestMergeChangedSincePreview(t *testing.T) {
	for name, dsn := range storetest.DSNs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			f := newMergeFixture(t, dsn)
			stdin := &changingReader{change: func() {
				// Two more tickets for the source change the plan's version.
				if err := f.db.SeedTickets(ctx, f.source.ID, 2, nil, "merge-test-late"); err != nil {
					t.Error(err)
				}
			}}
			var out, errOut bytes.Buffer
			err := f.cmd(f.source.ID, f.target.ID, stdin).run(ctx, &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), "changed since the preview") {
				t.Fatalf("err = %v, want changed since the preview", err)
			}
			s, _ := f.db.User(ctx, f.source.ID)
			if !s.Active {
				t.Errorf("source was merged despite the stale preview")
			}
		})
	}
}

func TestMergeUsageAndActor(t *testing.T) {
	f := newMergeFixture(t, storetest.DSNs(t)["sqlite"])
	s, tg := strconv.FormatInt(f.source.ID, 10), strconv.FormatInt(f.target.ID, 10)
	for _, tc := range []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{"NoArguments", nil, true, "want SOURCE and TARGET, got 0"},
		{"ThreeArguments", []string{s, tg, "7"}, true, "got 3"},
		{"NotAnID", []string{"ann", tg}, true, `SOURCE "ann" is neither a user id nor an email address`},
		{"DryRunAndYes", []string{s, tg, "--dry-run", "--yes"}, true, "contradict"},
		{"UnknownFlag", []string{s, tg, "--force"}, true, "flag provided but not defined"},
		{"UnknownUser", []string{s, "999999"}, false, "TARGET: user 999999 does not exist"},
		{"UnknownEmail", []string{"nobody@example.com", tg}, false, "no active user has this email"},
		{"EndUserActor", []string{s, tg, "--yes", "--actor", "carl@example.com"}, false, "only agents and admins may merge users (M6)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := f.run(t, tc.args...)
			var ue usageError
			if err == nil || errors.As(err, &ue) != tc.usage || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v (usage %t), want %q (usage %t)", err, errors.As(err, &ue), tc.want, tc.usage)
			}
		})
	}
	f.assertNotMerged(t)

	var out, errOut bytes.Buffer
	err := Run(context.Background(), []string{"merge", s, tg, "--dry-run", "--db", "sqlite:" + t.TempDir() + "/missing.db"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing database: err = %v", err)
	}
}
