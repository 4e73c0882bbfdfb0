package demo

import (
	"context"
	"fmt"
)

// Detector is the duplicate detection the demo runs after loading
// (internal/detector's *Detector in cmd/mergedesk).
type Detector interface {
	// RunQueue re-evaluates one batch of queued users and says how many it took.
	RunQueue(ctx context.Context) (int, error)
}

// maxDetectBatches bounds Detect: the demo queues about sixty users.
const maxDetectBatches = 100

// Detect evaluates every user the load queued for duplicate detection (the
// store queues each user it creates, rule D8), so the split personas are open
// suggestions as soon as the demo server answers, without waiting for the
// live worker or a scan. Call it after Load.
func Detect(ctx context.Context, d Detector) error {
	for range maxDetectBatches {
		n, err := d.RunQueue(ctx)
		if err != nil {
			return fmt.Errorf("demo duplicates: %w", err)
		}
		if n == 0 {
			return nil
		}
	}
	return fmt.Errorf("demo duplicates: the queue did not drain after %d batches", maxDetectBatches)
}
