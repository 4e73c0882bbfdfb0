package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Load describes one HTTP load run: Concurrency keep-alive clients each send
// GET BaseURL+Path(rng) back to back for Duration, after Warmup unrecorded.
type Load struct {
	BaseURL       string
	Authorization string
	Concurrency   int
	Duration      time.Duration
	Warmup        time.Duration
	// Path returns the next request's path and query; each client has its own rng.
	Path func(rng *rand.Rand) string
}

// Result is what a Load run measured. Requests and the latencies count
// successful requests only (HTTP 200, body read); failures are Errors.
type Result struct {
	Requests int
	Errors   int
	// FirstError describes the first failed request, for the report.
	FirstError string
	Elapsed    time.Duration
	P50, P99   time.Duration
	Max        time.Duration

	lat []time.Duration // sorted, for Merged
}

// RPS is successful requests per second.
func (r Result) RPS() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

func (r Result) String() string {
	s := fmt.Sprintf("%8d requests, %7.0f req/s, p50 %6.2f ms, p99 %6.2f ms, max %6.1f ms, errors %d",
		r.Requests, r.RPS(), ms(r.P50), ms(r.P99), ms(r.Max), r.Errors)
	if r.FirstError != "" {
		s += " (first: " + r.FirstError + ")"
	}
	return s
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Run drives the load and returns the latency distribution.
func (l Load) Run(ctx context.Context) (Result, error) {
	tr := &http.Transport{MaxIdleConns: l.Concurrency, MaxIdleConnsPerHost: l.Concurrency,
		MaxConnsPerHost: l.Concurrency, DisableCompression: true, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	if l.Warmup > 0 {
		if _, err := l.run(ctx, client, l.Warmup); err != nil {
			return Result{}, err
		}
	}
	return l.run(ctx, client, l.Duration)
}

func (l Load) run(ctx context.Context, client *http.Client, d time.Duration) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	type worker struct {
		lat      []time.Duration
		errors   int
		firstErr string
	}
	ws := make([]worker, l.Concurrency)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range ws {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w)+1, uint64(start.UnixNano())))
			ws[w].lat = make([]time.Duration, 0, 1<<16)
			for ctx.Err() == nil {
				req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, l.BaseURL+l.Path(rng), nil)
				if err != nil {
					ws[w].errors++
					continue
				}
				req.Header.Set("Authorization", l.Authorization)
				t0 := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("%s: HTTP %d", req.URL.Path, resp.StatusCode)
					}
				}
				if err != nil {
					if ws[w].errors == 0 {
						ws[w].firstErr = err.Error()
					}
					ws[w].errors++
					continue
				}
				ws[w].lat = append(ws[w].lat, time.Since(t0))
			}
		})
	}
	wg.Wait()
	res := Result{Elapsed: time.Since(start)}
	var all []time.Duration
	for _, w := range ws {
		all = append(all, w.lat...)
		res.Errors += w.errors
		if res.FirstError == "" {
			res.FirstError = w.firstErr
		}
	}
	if len(all) == 0 {
		return res, fmt.Errorf("no request succeeded in %s (%d errors, first: %s)", d, res.Errors, res.FirstError)
	}
	res.setLatencies(all)
	return res, nil
}

func (r *Result) setLatencies(all []time.Duration) {
	slices.Sort(all)
	r.lat, r.Requests = all, len(all)
	r.P50 = all[len(all)/2]
	r.P99 = all[min(len(all)-1, len(all)*99/100)]
	r.Max = all[len(all)-1]
}

// Merged combines runs of the same load into one result: counts and elapsed
// times add up, percentiles are those of all requests together.
func Merged(rs []Result) Result {
	var m Result
	var all []time.Duration
	for _, r := range rs {
		m.Errors += r.Errors
		m.Elapsed += r.Elapsed
		if m.FirstError == "" {
			m.FirstError = r.FirstError
		}
		all = append(all, r.lat...)
	}
	if len(all) > 0 {
		m.setLatencies(all)
	}
	return m
}

// RSS returns the resident and peak resident set size of a process, in bytes,
// from /proc/<pid>/status (Linux).
func RSS(pid int) (rss, peak int64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64) // kB
		if k == "VmRSS" {
			rss = n << 10
		} else {
			peak = n << 10
		}
	}
	return rss, peak, nil
}

// CPUTime returns the user plus system CPU time a process has used, from
// /proc/<pid>/stat (Linux; clock ticks of 1/100 s).
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name may contain spaces; fields resume after its ')'.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}
