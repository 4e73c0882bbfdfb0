package main

import (
	"context"
	"io"
)

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return usageError{"import: not implemented yet"}
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return usageError{"bench: not implemented yet"}
}
