package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/bench"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
)

// TestMain lets the test binary stand in for the mergedesk binary when `bench`
// starts the server as a child process (os.Executable is the test binary).
func TestMain(m *testing.M) {
	if os.Getenv(bench.ChildEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestImportCSV(t *testing.T) {
	for name, dsn := range storetest.DSNs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			csv := filepath.Join(t.TempDir(), "people.csv")
			os.WriteFile(csv, []byte("unique_id,first_name,surname,dob,city,email,cluster\n"+
				"0,Robert,Alan,1971-06-24,,robert255@smith.net,0\n"+
				"1,Rob,Allen,1971-06-24,London,ROBERT255@smith.net,0\n"+ // same e-mail: skipped
				"2,,,1986-02-15,Leeds,,1\n"+ // no name, no e-mail: named after the external id
				"3,Jane,Doe,,,not-an-email,2\n"), 0o644) // invalid e-mail: imported without
			var out, errOut bytes.Buffer
			if err := Run(ctx, []string{"import", "--db", dsn, csv}, &out, &errOut); err != nil {
				t.Fatalf("import: %v\n%s", err, errOut.String())
			}
			if !strings.Contains(out.String(), "imported 3 users, skipped 1") || !strings.Contains(out.String(), "users/s") {
				t.Errorf("output = %q", out.String())
			}
			if !strings.Contains(errOut.String(), "line 3: skipped: Email: ROBERT255@smith.net is already being used") {
				t.Errorf("stderr = %q, want the skipped line reported", errOut.String())
			}
			db := storetest.MustOpen(t, dsn)
			rob, err := db.UserByExternalID(ctx, "fake-0")
			if err != nil || rob.Name != "Robert Alan" || *rob.Email() != "robert255@smith.net" || rob.UserFields["dob"] != "1971-06-24" {
				t.Errorf("fake-0 = %+v, %v", rob, err)
			}
			anon, err := db.UserByExternalID(ctx, "fake-2")
			if err != nil || anon.Name != "fake-2" || anon.UserFields["city"] != "Leeds" {
				t.Errorf("fake-2 = %+v, %v", anon, err)
			}
			jane, err := db.UserByExternalID(ctx, "fake-3")
			if err != nil || jane.Email() != nil {
				t.Errorf("fake-3 = %+v, %v; want no e-mail", jane, err)
			}
		})
	}
}

func TestImportJSONL(t *testing.T) {
	ctx := context.Background()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "m.db")
	f := filepath.Join(t.TempDir(), "users.jsonl")
	os.WriteFile(f, []byte(`{"name":"Ann Lee","email":"ann@example.com","phone":"(415) 555-0101","tags":["vip"],"external_id":"a1"}
{"user":{"name":"Bo","identities":[{"type":"twitter","value":"@bo"},{"type":"email","value":"bo@example.com"}]}}

{"name":"Ann Twin","phone":"+1 415 555 0101"}
`), 0o644)
	var out, errOut bytes.Buffer
	if err := Run(ctx, []string{"import", "--db", dsn, f}, &out, &errOut); err != nil {
		t.Fatalf("import: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "imported 2 users, skipped 1") {
		t.Errorf("output = %q, stderr %q", out.String(), errOut.String())
	}
	db := storetest.MustOpen(t, dsn)
	bo, err := db.UserByEmail(ctx, "bo@example.com")
	if err != nil || len(bo.Identities) != 2 {
		t.Errorf("bo = %+v, %v", bo, err)
	}
}

// TestImportSharedDataFile imports the shared data set, which lives beside the
// repository (../shared/data/ from its root: CI clones the repository next to
// shared/). In CI a missing file is a failure; elsewhere the test skips.
func TestImportSharedDataFile(t *testing.T) {
	data := filepath.Join(repoRoot(t), "..", "shared", "data", "fake_20000.csv")
	if _, err := os.Stat(data); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shared data file: %v (CI expects shared/ beside the repository)", err)
		}
		t.Skipf("shared data file not present: %v", err)
	}
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "m.db")
	var out, errOut bytes.Buffer
	if err := Run(context.Background(), []string{"import", "--db", dsn, data}, &out, &errOut); err != nil {
		t.Fatalf("import: %v\n%s", err, errOut.String())
	}
	m := regexp.MustCompile(`imported (\d+) users, skipped (\d+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("output = %q", out.String())
	}
	created, _ := strconv.Atoi(m[1])
	skipped, _ := strconv.Atoi(m[2])
	if created+skipped != 20000 || created < 10000 {
		t.Errorf("created %d + skipped %d, want 20000 rows with most imported", created, skipped)
	}
	t.Log(strings.TrimSpace(out.String()))
}

func TestServeDemo(t *testing.T) {
	for name, dsn := range storetest.DSNs(t) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			m, err := ParseServe([]string{"--demo", "--addr", "127.0.0.1:0", "--db", dsn}, os.Stderr)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			m.Stdout = &out
			if err := m.Start(ctx); err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			logins := regexp.MustCompile(`demo (\w+) +(\S+)  password: (\S+)  api token: (\S+)`).FindAllStringSubmatch(out.String(), -1)
			if len(logins) != 2 {
				t.Fatalf("start-up output = %q, want two demo logins", out.String())
			}
			base := "http://" + m.Listener.Addr().String() + "/api/v2"
			get := func(path, user, pass string, v any) {
				t.Helper()
				req, _ := http.NewRequest(http.MethodGet, base+path, nil)
				req.SetBasicAuth(user, pass)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("GET %s as %s: HTTP %d", path, user, resp.StatusCode)
				}
				if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
					t.Fatal(err)
				}
			}
			for _, l := range logins {
				var me struct{ User struct{ Role string } }
				get("/users/me", l[2]+"/token", l[4], &me) // API token
				get("/users/me", l[2], l[3], &me)          // password
				if me.User.Role != l[1] {
					t.Errorf("%s is %q, want %q", l[2], me.User.Role, l[1])
				}
			}
			agent, token := logins[1][2]+"/token", logins[1][4]
			count := func(path string) int {
				var c struct{ Count int }
				get(path, agent, token, &c)
				return c.Count
			}
			if n := count("/users?role=end-user"); n < 45 || n > 60 {
				t.Errorf("end users = %d, want about 50", n)
			}
			if n := count("/organizations"); n < 3 {
				t.Errorf("organizations = %d, want several", n)
			}
			if n := count("/tickets"); n < 180 || n > 220 {
				t.Errorf("tickets = %d, want about 200", n)
			}
			for _, q := range []string{"status:new", "status:open", "status:pending", "status:hold", "status:solved", "status:closed", "archived:true"} {
				var c struct{ Count int }
				get("/search/count?query="+strings.ReplaceAll("type:ticket "+q, " ", "+"), agent, token, &c)
				if c.Count == 0 {
					t.Errorf("search %q: no tickets", q)
				}
			}
			// One person split across channels: e-mail, phone-only and X profiles.
			var maria struct{ Users []mergedesk.User }
			get("/users/search?query=Maria", agent, token, &maria)
			if len(maria.Users) < 3 {
				t.Errorf("users matching Maria = %d, want the e-mail, phone and X profiles", len(maria.Users))
			}
			// A restart on the loaded database loads nothing more.
			m.Close()
			m2 := &Main{Addr: "127.0.0.1:0", DB: dsn, Demo: true, Stdout: &out}
			out.Reset()
			if err := m2.Start(ctx); err != nil {
				t.Fatal(err)
			}
			defer m2.Close()
			// Tokens are hashed and cannot be shown again; the passwords can.
			if got := out.String(); strings.Contains(got, "api token") || !strings.Contains(got, "demo data already loaded") {
				t.Errorf("second start printed %q, want the password hint and no tokens", got)
			}
		})
	}
}

func TestBenchSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	cases := map[string][]string{"sqlite": {}}
	if pg := storetest.PostgresURL(t); pg != "" {
		cases["postgres"] = []string{"--db", pg}
	}
	for name, extra := range cases {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			var out, errOut bytes.Buffer
			args := append([]string{"bench", "users", "--users", "2000", "--batch", "500", "--concurrency", "2",
				"--duration", "300ms", "--rounds", "2", "--warmup", "50ms"}, extra...)
			// 2,000 users for 300 ms says nothing about speed: a missed
			// throughput target is fine here, a failed request is not.
			err := Run(ctx, args, &out, &errOut)
			if err != nil && !strings.Contains(err.Error(), "target(s) missed") {
				t.Fatalf("bench: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
			}
			for _, want := range []string{"import: 2000 users (4000 identities)", "users/s",
				"GET /api/v2/users/{id}:", "GET /api/v2/users/search?query=email:X:", "req/s", "p99", "server memory: RSS",
				"search / show throughput: ", "PASS  GET /api/v2/users/{id}: 0 failed requests",
				"PASS  GET /api/v2/users/search?query=email:X: 0 failed requests"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
			t.Log("\n" + out.String())
		})
	}
}

// repoRoot is the directory holding go.mod, found upwards from the package's
// directory (go test's working directory).
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}
