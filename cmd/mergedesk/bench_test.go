package main

import (
	"bytes"
	"context"
	"errors"
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
