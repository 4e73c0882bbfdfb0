package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mergedesk/mergedesk/internal/store/storetest"
)

// buildBinary compiles the real mergedesk binary once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mergedesk")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startBinary starts `mergedesk serve` with env and waits for /healthz.
func startBinary(t *testing.T, bin string, env []string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), append(env, "MERGEDESK_ADDR="+addr)...)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return cmd, addr
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("server did not become healthy on %s", addr)
	return nil, ""
}

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestBinaryServeBootstrapAndGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	for name, dsn := range storetest.DSNs(t) {
		t.Run(name, func(t *testing.T) {
			env := []string{"MERGEDESK_DB=" + dsn, "MERGEDESK_ADMIN_EMAIL=root@example.com",
				"MERGEDESK_ADMIN_PASSWORD=correct-horse", "MERGEDESK_ADMIN_TOKEN=tok-123456"}
			// Start twice: the bootstrap admin is idempotent.
			for round := 0; round < 2; round++ {
				cmd, addr := startBinary(t, bin, env)
				status, body := get(t, "http://"+addr+"/api/v2/users?role=admin", "tok-123456")
				if status != 200 || strings.Count(body, `"role":"admin"`) != 1 {
					t.Fatalf("round %d: admins = %d %s", round, status, body)
				}
				// Basic auth with the password works too.
				req, _ := http.NewRequest("GET", "http://"+addr+"/api/v2/users/me.json", nil)
				req.SetBasicAuth("ROOT@example.com", "correct-horse")
				resp, err := http.DefaultClient.Do(req)
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("password auth: %v %v", resp.StatusCode, err)
				}
				resp.Body.Close()
				if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- cmd.Wait() }()
				select {
				case err := <-done:
					if err != nil {
						t.Fatalf("exit after SIGTERM: %v", err)
					}
				case <-time.After(30 * time.Second):
					t.Fatal("no graceful exit within 30s")
				}
			}
		})
	}
}

func TestFlagWinsOverEnv(t *testing.T) {
	t.Setenv("MERGEDESK_ADDR", "127.0.0.1:1")
	t.Setenv("MERGEDESK_BASE_URL", "http://env.example/")
	m, err := ParseServe([]string{"--addr", "127.0.0.1:2"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if m.Addr != "127.0.0.1:2" || m.BaseURL != "http://env.example" {
		t.Errorf("addr, base = %q, %q", m.Addr, m.BaseURL)
	}
	if m.DB != "sqlite:mergedesk.db" {
		t.Errorf("default db = %q", m.DB)
	}
}

func TestUnknownCommand(t *testing.T) {
	err := Run(context.Background(), []string{"frobnicate"}, io.Discard, io.Discard)
	if _, ok := err.(usageError); !ok {
		t.Fatalf("err = %v, want usage error", err)
	}
	err = Run(context.Background(), []string{"serve", "--db", "mysql://x"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "unknown database") {
		t.Fatalf("bad db err = %v", err)
	}
}

var _ = fmt.Sprint

func TestMigrateCommand(t *testing.T) {
	for name, dsn := range storetest.DSNs(t) {
		t.Run(name, func(t *testing.T) {
			var out strings.Builder
			for i := 0; i < 2; i++ { // idempotent
				out.Reset()
				if err := Run(context.Background(), []string{"migrate", "--db", dsn}, &out, io.Discard); err != nil {
					t.Fatalf("migrate: %v", err)
				}
			}
			if !strings.Contains(out.String(), "migrations applied to "+name) {
				t.Errorf("migrate printed %q", out.String())
			}
		})
	}
}

// TestBaseURL checks that --base-url, not the request's Host, builds url fields,
// Location headers and paging links.
func TestBaseURL(t *testing.T) {
	m := &Main{Addr: "127.0.0.1:0", DB: "sqlite:" + t.TempDir() + "/b.db", BaseURL: "https://help.example.com",
		AdminEmail: "root@example.com", AdminToken: "tok-base-url"}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	base := "http://" + m.Listener.Addr().String() + "/api/v2"
	req, _ := http.NewRequest("POST", base+"/users", strings.NewReader(`{"user":{"name":"Ann","email":"ann@example.com"}}`))
	req.Header.Set("Authorization", "Bearer tok-base-url")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "https://help.example.com/api/v2/users/") {
		t.Errorf("Location = %q", loc)
	}
	_, body := get(t, base+"/users.json?per_page=1", "tok-base-url")
	for _, want := range []string{`"url":"https://help.example.com/api/v2/users/`, `"next_page":"https://help.example.com/api/v2/users.json?page=2\u0026per_page=1"`} {
		if !strings.Contains(body, want) {
			t.Errorf("list lacks %s:\n%s", want, body)
		}
	}
}
