package mergedesk_test

// TestReadmeAPIWalkthrough runs the README's "Using the API" walk-through as
// written: every curl command of the block, in order, through bash and curl,
// against the real binary. The placeholders (SOURCE_ID, TARGET_ID, ...) are
// filled in from earlier answers the way a reader would, and each
// "#   → ..." line under a command lists "key":value fragments its answer must
// contain. It runs on an empty database (as the README starts the server) and
// on `serve --demo`.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// readmeCommand is one command of the walk-through and the fragments its
// output must contain.
type readmeCommand struct {
	text   string
	expect []string
}

// readmeWalkthrough returns the setup lines (export, A=, H=, API=) and the
// curl commands of the first sh block after "## Using the API".
func readmeWalkthrough(t *testing.T) (setup []string, cmds []readmeCommand) {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "## Using the API")
	if i < 0 {
		t.Fatal(`README.md has no "## Using the API" section`)
	}
	s = s[i:]
	start := strings.Index(s, "```sh\n")
	if start < 0 {
		t.Fatal("no sh block under Using the API")
	}
	s = s[start+len("```sh\n"):]
	s = s[:strings.Index(s, "\n```")]
	var cur strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if cur.Len() > 0 {
			cur.WriteString("\n" + line)
		} else {
			trimmed := strings.TrimSpace(line)
			if rest, ok := strings.CutPrefix(trimmed, "#"); ok {
				if exp, ok := strings.CutPrefix(strings.TrimSpace(rest), "→"); ok && len(cmds) > 0 {
					cmds[len(cmds)-1].expect = append(cmds[len(cmds)-1].expect, strings.TrimSpace(exp))
				}
				continue
			}
			if trimmed == "" {
				continue
			}
			cur.WriteString(line)
		}
		// A command goes on while a line ends in \ or a single quote is open.
		text := cur.String()
		if strings.HasSuffix(text, `\`) || strings.Count(text, "'")%2 == 1 {
			continue
		}
		cur.Reset()
		switch first := strings.Fields(text)[0]; {
		case first == "curl":
			cmds = append(cmds, readmeCommand{text: text})
		case first == "export", strings.HasPrefix(first, "A="), strings.HasPrefix(first, "H="), strings.HasPrefix(first, "API="):
			setup = append(setup, text)
		case first == "go":
			// The server: the test starts it.
		default:
			t.Fatalf("README walk-through: a command the test does not know how to run: %q", text)
		}
	}
	if len(cmds) == 0 {
		t.Fatal("no curl commands in the walk-through")
	}
	return setup, cmds
}

// expectedFragment matches "key":value pairs of a → line: strings, numbers,
// literals, [] and placeholders. "key":"..." is skipped.
var expectedFragment = regexp.MustCompile(`"\w+":(?:"[^"]*"|-?\d+(?:\.\d+)?|true|false|null|\[\]|[A-Z]+(?:_[A-Z]+)*_ID)`)

var placeholder = regexp.MustCompile(`\b(?:SOURCE_ID|TARGET_ID|IDENTITY_ID|JOB_ID|VERSION_FROM_PREVIEW)\b`)

func TestReadmeAPIWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("CI=true but %s is not installed", tool)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
	setup, cmds := readmeWalkthrough(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "mergedesk")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/mergedesk").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var env []string
	for _, line := range setup {
		if rest, ok := strings.CutPrefix(line, "export "); ok {
			env = append(env, strings.Fields(rest)...)
		}
	}
	for _, tc := range []struct {
		name string
		args []string
	}{{"Empty", nil}, {"Demo", []string{"--demo"}}} {
		t.Run(tc.name, func(t *testing.T) {
			addr := startReadmeServer(t, bin, append(env, "MERGEDESK_DB=sqlite:"+filepath.Join(t.TempDir(), "md.db")), tc.args...)
			prelude := strings.ReplaceAll(strings.Join(setup, "\n"), "http://127.0.0.1:8080", "http://"+addr)
			vals := map[string]string{}
			for _, c := range cmds {
				text := placeholder.ReplaceAllStringFunc(c.text, func(p string) string {
					v, ok := vals[p]
					if !ok {
						t.Fatalf("%s is used before an answer gave it:\n%s", p, c.text)
					}
					return v
				})
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				out, err := exec.CommandContext(ctx, "bash", "-c", prelude+"\n"+text).Output()
				cancel()
				if err != nil {
					t.Fatalf("%s: %v", text, err)
				}
				var body map[string]any
				if err := json.Unmarshal(out, &body); err != nil {
					t.Fatalf("%s: the answer is not a JSON object (%v):\n%s", text, err, out)
				}
				// An error answer is a mistake unless the README says it is coming.
				if _, failed := body["error"]; failed && !strings.Contains(strings.Join(c.expect, " "), `"error":`) {
					t.Fatalf("%s: an error the README does not announce:\n%s", text, out)
				}
				for _, exp := range c.expect {
					for _, frag := range expectedFragment.FindAllString(exp, -1) {
						if strings.HasSuffix(frag, `:"..."`) {
							continue // a value that differs from run to run
						}
						frag = placeholder.ReplaceAllStringFunc(frag, func(p string) string { return vals[p] })
						if !strings.Contains(string(out), frag) {
							t.Errorf("%s\nanswer lacks %s (README: → %s):\n%s", text, frag, exp, out)
						}
					}
				}
				learn(t, text, body, vals)
			}
			for _, p := range []string{"SOURCE_ID", "TARGET_ID", "IDENTITY_ID", "VERSION_FROM_PREVIEW", "JOB_ID"} {
				if _, ok := vals[p]; !ok {
					t.Errorf("the walk-through never learned %s", p)
				}
			}
		})
	}
}

// learn fills in the placeholders the way the README tells the reader to:
// TARGET_ID is the user created first, SOURCE_ID the caller the phone search
// finds, IDENTITY_ID its phone identity, VERSION_FROM_PREVIEW the latest
// preview's version, JOB_ID the bulk job.
func learn(t *testing.T, cmd string, body map[string]any, vals map[string]string) {
	t.Helper()
	id := func(v any) string {
		f, ok := v.(float64)
		if !ok {
			t.Fatalf("%s: no id in the answer", cmd)
		}
		return fmt.Sprint(int64(f))
	}
	obj := func(key string) map[string]any { m, _ := body[key].(map[string]any); return m }
	switch {
	case strings.Contains(cmd, "/users.json") && strings.Contains(cmd, "-X POST") && vals["TARGET_ID"] == "":
		vals["TARGET_ID"] = id(obj("user")["id"])
	case strings.Contains(cmd, "/users/search.json"):
		users, _ := body["users"].([]any)
		if len(users) != 1 {
			t.Fatalf("%s: %d users, want the caller alone", cmd, len(users))
		}
		vals["SOURCE_ID"] = id(users[0].(map[string]any)["id"])
	case strings.Contains(cmd, "/identities.json"):
		ids, _ := body["identities"].([]any)
		for _, x := range ids {
			if m := x.(map[string]any); m["type"] == "phone_number" {
				vals["IDENTITY_ID"] = id(m["id"])
			}
		}
	case strings.Contains(cmd, "/merge_preview.json"):
		if v, _ := obj("merge_preview")["version"].(string); v != "" {
			vals["VERSION_FROM_PREVIEW"] = v
		}
	case strings.Contains(cmd, "/create_many.json"):
		vals["JOB_ID"] = fmt.Sprint(obj("job_status")["id"])
	}
}

// startReadmeServer starts `mergedesk serve` on a free port and waits until it
// answers /healthz.
func startReadmeServer(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), append(env, "MERGEDESK_ADDR="+addr)...)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
		}
	}()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
	}
	t.Fatalf("mergedesk serve did not answer on %s", addr)
	return ""
}
