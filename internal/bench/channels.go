package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	randv2 "math/rand/v2"
	"net"
	"net/http"
	"net/smtp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mergedesk/mergedesk/internal/store"
)

// LoadConfig is what the benches that import users and then load a server
// over HTTP share.
type LoadConfig struct {
	DB          string // "" = a temp SQLite file; postgres://... = a fresh schema on that server
	Users       int
	Batch       int
	Concurrency int
	// Duration is the measured time per endpoint.
	Duration time.Duration
	Warmup   time.Duration
	// InProcess, when set, runs the server in this process; otherwise it is a
	// child process `mergedesk serve`.
	InProcess   StartFunc
	Keep        bool
	LoadProfile string
	CacheMiB    int
}

// ChannelsConfig is `mergedesk bench channels`.
type ChannelsConfig struct {
	LoadConfig
	SMTPClients  int
	SMTPDuration time.Duration
	UnknownPct   int
}

// Channels creates a fresh database with c.Users synthetic end users (an
// e-mail and a phone identity each), starts the server with its SMTP
// listener, then measures POST /api/v2/channels/messages (senders given as
// phone numbers in varied formats, e-mail addresses and, for a share of
// messages, unknown numbers that are captured as new users) and SMTP
// ingestion from concurrent clients.
func Channels(ctx context.Context, c ChannelsConfig, stdout, stderr io.Writer) error {
	dsn, cleanup, err := Database(c.DB, stderr)
	if err != nil {
		return err
	}
	if !c.Keep {
		defer cleanup()
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	dialect := db.Dialect()
	if err := db.BeginBulk(ctx, c.CacheMiB); err != nil {
		db.Close()
		return err
	}
	fmt.Fprintf(stdout, "mergedesk bench channels: %s, %d end users, GOMAXPROCS %d, %s/%s\n",
		dialect, c.Users, runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)
	start := time.Now()
	created, _, err := importSynthetic(ctx, db, c.Users, c.Batch, nil)
	db.Close()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "import: %d users in %s\n", created, time.Since(start).Round(time.Millisecond))

	// The server, with an SMTP listener on a free port.
	smtpAddr, err := freeSMTPAddr()
	if err != nil {
		return err
	}
	tok := make([]byte, 24)
	rand.Read(tok)
	adminEmail, token := "bench-admin@example.com", hex.EncodeToString(tok)
	srv, err := startServer(ctx, c.InProcess, ServerOptions{DSN: dsn, SMTPAddr: smtpAddr, AdminEmail: adminEmail, AdminToken: token}, stderr)
	if err != nil {
		return err
	}
	defer srv.stop()
	return channelLoads(ctx, c, srv.url, smtpAddr, adminEmail, token, srv.pid, stdout)
}

func freeSMTPAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// latencies collects request durations from many goroutines.
type latencies struct {
	mu     sync.Mutex
	d      []time.Duration
	errors atomic.Int64
	first  atomic.Value
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) fail(err error) {
	l.errors.Add(1)
	l.first.CompareAndSwap(nil, err.Error())
}

func (l *latencies) report(name string, elapsed time.Duration) string {
	slices.Sort(l.d)
	q := func(p float64) float64 {
		if len(l.d) == 0 {
			return 0
		}
		return float64(l.d[min(len(l.d)-1, int(p*float64(len(l.d))))]) / float64(time.Millisecond)
	}
	s := fmt.Sprintf("%-34s %7d messages, %7.0f msg/s, p50 %6.2f ms, p99 %6.2f ms, max %7.1f ms, errors %d",
		name+":", len(l.d), float64(len(l.d))/elapsed.Seconds(), q(0.5), q(0.99), q(1), l.errors.Load())
	if f, ok := l.first.Load().(string); ok {
		s += " (first: " + f + ")"
	}
	return s
}

// unknownSeq numbers the unknown senders, so each is new.
var unknownSeq atomic.Int64

// channelMessage returns the next API message body: mostly known users by
// phone (in the import's varied formats) or e-mail, some unknown numbers.
func channelMessage(r *randv2.Rand, users, unknownPct int) []byte {
	var m map[string]any
	i := r.IntN(users)
	switch p := r.IntN(100); {
	case p < unknownPct:
		n := unknownSeq.Add(1)
		m = map[string]any{"channel": "sms", "from": map[string]any{"type": "phone_number", "value": fmt.Sprintf("+49 40 %08d", n)},
			"body": "Hello, I am new here."}
	case p < unknownPct+(100-unknownPct)/4:
		m = map[string]any{"channel": "chat", "from": map[string]any{"type": "email", "value": Email(i)},
			"body": "Chat transcript: where is my parcel?"}
	default:
		m = map[string]any{"channel": "voice", "from": map[string]any{"type": "phone_number", "value": User(i).Phone},
			"subject": "Call", "body": "Voicemail: please call me back."}
	}
	b, _ := json.Marshal(map[string]any{"message": m})
	return b
}

func channelLoads(ctx context.Context, c ChannelsConfig, baseURL, smtpAddr, email, token string, pid int, stdout io.Writer) error {
	auth := "Basic " + basicAuth(email+"/token", token)
	tr := &http.Transport{MaxIdleConns: c.Concurrency, MaxIdleConnsPerHost: c.Concurrency, MaxConnsPerHost: c.Concurrency}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	n, err := createBenchTriggers(ctx, client, baseURL, auth)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "server: %s (pid %d), SMTP %s; %d HTTP clients, %d SMTP clients, %d%% unknown senders, %d active triggers\n",
		baseURL, pid, smtpAddr, c.Concurrency, c.SMTPClients, c.UnknownPct, n)

	ml := messageLoad{client: client, baseURL: baseURL, auth: auth, users: c.Users, unknownPct: c.UnknownPct, concurrency: c.Concurrency}
	cpu0, _ := CPUTime(pid)
	ml.run(ctx, c.Warmup)
	stopProfile, err := StartCPUProfile(c.LoadProfile)
	if err != nil {
		return err
	}
	l, elapsed := ml.run(ctx, c.Duration)
	stopProfile()
	cpu1, _ := CPUTime(pid)
	fmt.Fprintln(stdout, l.report("POST /api/v2/channels/messages", elapsed))
	if cpu1 > cpu0 {
		fmt.Fprintf(stdout, "%-34s server CPU %.2f cores (warm-up included)\n", "", (cpu1-cpu0).Seconds()/(c.Warmup+elapsed).Seconds())
	}

	// SMTP: each client keeps one connection and sends mail back to back.
	smtpLoad := func(d time.Duration) (*latencies, time.Duration) {
		l := &latencies{}
		deadline := time.Now().Add(d)
		start := time.Now()
		var wg sync.WaitGroup
		for w := range c.SMTPClients {
			wg.Go(func() {
				r := randv2.New(randv2.NewPCG(uint64(w)+1000, uint64(time.Now().UnixNano())))
				cl, err := smtp.Dial(smtpAddr)
				if err != nil {
					l.fail(err)
					return
				}
				defer cl.Close()
				if err := cl.Hello("bench.example"); err != nil {
					l.fail(err)
					return
				}
				for n := 0; time.Now().Before(deadline) && ctx.Err() == nil; n++ {
					from := Email(r.IntN(c.Users))
					if r.IntN(100) < c.UnknownPct {
						from = "new-" + strconv.FormatInt(unknownSeq.Add(1), 10) + "@unknown.example"
					}
					msg := "From: " + from + "\r\nTo: support@mergedesk.example\r\nSubject: Order question " + strconv.Itoa(n) +
						"\r\nMessage-ID: <" + strconv.Itoa(w) + "." + strconv.Itoa(n) + "." + strconv.FormatInt(time.Now().UnixNano(), 36) +
						"@bench.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nWhere is my order? It was due last week.\r\n"
					t0 := time.Now()
					if err := sendOne(cl, from, msg); err != nil {
						l.fail(err)
						if cl.Reset() != nil {
							return
						}
						continue
					}
					l.add(time.Since(t0))
				}
				cl.Quit()
			})
		}
		wg.Wait()
		return l, time.Since(start)
	}
	smtpLoad(c.Warmup)
	l, elapsed = smtpLoad(c.SMTPDuration)
	fmt.Fprintln(stdout, l.report(fmt.Sprintf("SMTP (%d clients)", c.SMTPClients), elapsed))
	if rss, peak, err := RSS(pid); err == nil {
		fmt.Fprintf(stdout, "server memory: RSS %d MB, peak RSS %d MB\n", rss>>20, peak>>20)
	}
	return nil
}

// messageLoad posts channel messages (channelMessage) from concurrent clients.
type messageLoad struct {
	client                         *http.Client
	baseURL, auth                  string
	users, unknownPct, concurrency int
}

func (m messageLoad) post(ctx context.Context, r *randv2.Rand, l *latencies) {
	body := channelMessage(r, m.users, m.unknownPct)
	req, _ := http.NewRequestWithContext(ctx, "POST", m.baseURL+"/api/v2/channels/messages.json", bytes.NewReader(body))
	req.Header.Set("Authorization", m.auth)
	req.Header.Set("Content-Type", "application/json")
	t0 := time.Now()
	resp, err := m.client.Do(req)
	if err != nil {
		l.fail(err)
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		l.fail(fmt.Errorf("status %d", resp.StatusCode))
		return
	}
	l.add(time.Since(t0))
}

// run posts back to back from m.concurrency clients for d.
func (m messageLoad) run(ctx context.Context, d time.Duration) (*latencies, time.Duration) {
	l := &latencies{}
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range m.concurrency {
		wg.Go(func() {
			r := randv2.New(randv2.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for time.Now().Before(deadline) && ctx.Err() == nil {
				m.post(ctx, r, l)
			}
		})
	}
	wg.Wait()
	return l, time.Since(start)
}

// benchTriggers are the active triggers every measured message meets: the kind
// of rule set a help desk accumulates. Most do not match most messages (they
// test tags, priorities and statuses that new messages do not have, or
// channels the load does not use); a few fire on a share of the load: tagging
// SMS from new numbers, prioritising chat, a receipt mail to chat senders
// (which have an e-mail address, so the outbox gets rows) and routing voice
// calls to a group. GROUP is replaced by the id of a group created first.
var benchTriggers = []string{
	`{"title":"Tag new SMS","conditions":{"all":[{"field":"update_type","operator":"is","value":"Create"},{"field":"via_id","operator":"is","value":"sms"}]},"actions":[{"field":"current_tags","value":"sms new_number"}]}`,
	`{"title":"Chat priority","conditions":{"all":[{"field":"update_type","operator":"is","value":"Create"},{"field":"via_id","operator":"is","value":"chat"},{"field":"priority","operator":"is","value":""}]},"actions":[{"field":"priority","value":"normal"}]}`,
	`{"title":"Chat receipt","conditions":{"all":[{"field":"update_type","operator":"is","value":"Create"},{"field":"via_id","operator":"is","value":"chat"}]},"actions":[{"field":"notification_user","value":["requester_id","[Ticket #{{ticket.id}}] {{ticket.title}}","Hello {{ticket.requester.name}}, we received your chat and will reply soon."]}]}`,
	`{"title":"Route voice","conditions":{"all":[{"field":"update_type","operator":"is","value":"Create"},{"field":"via_id","operator":"is","value":"voice"},{"field":"group_id","operator":"is","value":""}]},"actions":[{"field":"group_id","value":"GROUP"}]}`,
	`{"title":"VIP urgent","conditions":{"all":[{"field":"current_tags","operator":"includes","value":"vip platinum"}]},"actions":[{"field":"priority","value":"urgent"}]}`,
	`{"title":"VIP notify","conditions":{"all":[{"field":"current_tags","operator":"includes","value":"vip"},{"field":"update_type","operator":"is","value":"Change"}]},"actions":[{"field":"notification_user","value":["requester_id","VIP update on #{{ticket.id}}","{{ticket.status}}"]}]}`,
	`{"title":"Urgent to tier 2","conditions":{"all":[{"field":"priority","operator":"is","value":"urgent"},{"field":"group_id","operator":"is_not","value":"GROUP"}]},"actions":[{"field":"group_id","value":"GROUP"}]}`,
	`{"title":"Reopened by customer","conditions":{"all":[{"field":"update_type","operator":"is","value":"Change"},{"field":"status","operator":"value_previous","value":"solved"}]},"actions":[{"field":"current_tags","value":"reopened"}]}`,
	`{"title":"WhatsApp tag","conditions":{"all":[{"field":"via_id","operator":"is","value":"whatsapp"}]},"actions":[{"field":"current_tags","value":"whatsapp"}]}`,
	`{"title":"Facebook tag","conditions":{"all":[{"field":"via_id","operator":"is","value":"facebook"}]},"actions":[{"field":"current_tags","value":"social facebook"}]}`,
	`{"title":"Twitter tag","conditions":{"all":[{"field":"via_id","operator":"is","value":"twitter"}]},"actions":[{"field":"current_tags","value":"social twitter"}]}`,
	`{"title":"Mail on hold","conditions":{"all":[{"field":"via_id","operator":"is","value":"email"},{"field":"status","operator":"is","value":"hold"}]},"actions":[{"field":"status","value":"open"}]}`,
	`{"title":"Spam words","conditions":{"all":[{"field":"current_tags","operator":"includes","value":"spam phishing"}]},"actions":[{"field":"status","value":"solved"},{"field":"set_tags","value":"spam"}]}`,
	`{"title":"Pending nudge","conditions":{"all":[{"field":"update_type","operator":"is","value":"Change"},{"field":"status","operator":"is","value":"pending"}]},"actions":[{"field":"current_tags","value":"awaiting_customer"}]}`,
	`{"title":"High priority","conditions":{"all":[{"field":"priority","operator":"is","value":"high"},{"field":"current_tags","operator":"not_includes","value":"escalated"}]},"actions":[{"field":"current_tags","value":"escalated"}]}`,
	`{"title":"Solved cleanup","conditions":{"all":[{"field":"status","operator":"value","value":"solved"}]},"actions":[{"field":"remove_tags","value":"awaiting_customer"}]}`,
	`{"title":"Web form","conditions":{"all":[{"field":"update_type","operator":"is","value":"Create"},{"field":"via_id","operator":"is","value":"web"}]},"actions":[{"field":"current_tags","value":"web_form"}]}`,
	`{"title":"Messaging","conditions":{"all":[{"field":"via_id","operator":"is","value":"native_messaging"}],"any":[{"field":"status","operator":"is","value":"new"},{"field":"status","operator":"is","value":"open"}]},"actions":[{"field":"current_tags","value":"messaging"}]}`,
	`{"title":"Closed follow-up","conditions":{"all":[{"field":"status","operator":"is","value":"closed"}]},"actions":[{"field":"current_tags","value":"closed_followup"}]}`,
	`{"title":"Low priority","conditions":{"all":[{"field":"priority","operator":"is","value":"low"},{"field":"update_type","operator":"is","value":"Create"}]},"actions":[{"field":"current_tags","value":"low_touch"}]}`,
}

// createBenchTriggers creates a group and benchTriggers through the API and
// returns how many triggers are active.
func createBenchTriggers(ctx context.Context, client *http.Client, baseURL, auth string) (int, error) {
	post := func(path, body string) (map[string]any, error) {
		req, err := http.NewRequestWithContext(ctx, "POST", baseURL+path, strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", auth)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusCreated {
			return nil, fmt.Errorf("POST %s: status %d: %s", path, resp.StatusCode, b)
		}
		var out map[string]any
		return out, json.Unmarshal(b, &out)
	}
	g, err := post("/api/v2/groups.json", `{"group":{"name":"Tier 2"}}`)
	if err != nil {
		return 0, err
	}
	group, _ := g["group"].(map[string]any)
	gid := strconv.FormatFloat(group["id"].(float64), 'f', -1, 64)
	for _, t := range benchTriggers {
		if _, err := post("/api/v2/triggers.json", `{"trigger":`+strings.ReplaceAll(t, "GROUP", gid)+`}`); err != nil {
			return 0, err
		}
	}
	return len(benchTriggers), nil
}

func sendOne(cl *smtp.Client, from, msg string) error {
	if err := cl.Mail(from); err != nil {
		return err
	}
	if err := cl.Rcpt("support@mergedesk.example"); err != nil {
		return err
	}
	w, err := cl.Data()
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, msg); err != nil {
		return err
	}
	return w.Close()
}
