package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestBenchUsage(t *testing.T) {
	for _, args := range [][]string{
		{"merge", "--tickets", "10001"}, {"merge", "--runs", "0"}, {"merge", "extra"}, {"merge", "--db", "mysql://x"},
		{"users", "--rounds", "0"}, {"users", "--db", "mysql://x"}, {"channels", "--unknown-pct", "101"}, {"nothing"}, {},
	} {
		err := runBench(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{})
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: err = %v, want a usage error", args, err)
		}
	}
}

// TestBenchDuplicatesScale runs `mergedesk bench duplicates --users 2000` with
// the server in process and checks that every figure is printed. Targets are
// not held here: a test machine's timings say nothing.
func TestBenchDuplicatesScale(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and loads it")
	}
	var out bytes.Buffer
	err := runBench(context.Background(), []string{"duplicates", "--users", "2000", "--server", "inprocess",
		"--duration", "1s", "--rounds", "1", "--warmup", "100ms", "--concurrency", "2"}, &out, io.Discard)
	t.Log("\n" + out.String())
	if err != nil && !strings.Contains(err.Error(), "target(s) missed") {
		t.Fatal(err)
	}
	for _, want := range []string{"scan: ", "key rebuild", "peak RSS", "candidate pairs compared: ", "planted pairs suggested",
		"GET /api/v2/users/{id}/duplicates:", "detection on:", "detection off:", "full scan of 2060 users",
		"GET /users/{id}/duplicates p99", "POST /channels/messages with live detection on", " 0 failed requests"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out.String(), "FAIL  GET /users/{id}/duplicates: ") || strings.Contains(out.String(), "FAIL  POST /channels/messages: ") {
		t.Error("failed requests")
	}
}
