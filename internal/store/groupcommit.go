package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mergedesk/mergedesk"
)

// maxGroupCommit bounds the messages one shared transaction carries. A batch
// holds SQLite's write lock for its whole duration, so the bound also bounds
// how long other writers wait.
const maxGroupCommit = 32

// groupCommit combines concurrent inbound messages on SQLite into shared write
// transactions. SQLite has one writer; per-message transactions spend much of
// the writer's time beginning, committing and handing its connection from one
// goroutine to the next, and write the same index pages to the WAL again and
// again. Messages queue here; a writer goroutine, started when the queue
// becomes non-empty and ending when it is empty, takes what is waiting (up to
// maxGroupCommit), runs each message inside its own SAVEPOINT, commits once and
// then answers every caller. A message refused by business rules is rolled
// back to its savepoint and never affects the others.
type groupCommit struct {
	mu      sync.Mutex
	queue   []*pendingMessage
	running bool
}

// pendingMessage is one caller's message and, once done is closed, its
// outcome.
type pendingMessage struct {
	ctx  context.Context
	m    preparedMessage
	out  *mergedesk.Received
	err  error
	done chan struct{}
}

// receiveGrouped records m in the next shared transaction and waits for its
// outcome. It waits even when ctx ends: once a batch has taken the message it
// may commit, and the caller must learn that it did.
func (db *DB) receiveGrouped(ctx context.Context, m preparedMessage) (*mergedesk.Received, error) {
	p := &pendingMessage{ctx: ctx, m: m, done: make(chan struct{})}
	g := &db.inbound
	g.mu.Lock()
	g.queue = append(g.queue, p)
	start := !g.running
	g.running = true
	g.mu.Unlock()
	if start {
		go db.commitGroups()
	}
	<-p.done
	return p.out, p.err
}

// commitGroups writes batches until the queue is empty.
func (db *DB) commitGroups() {
	g := &db.inbound
	for {
		batch := g.take(maxGroupCommit)
		if len(batch) == 0 {
			g.mu.Lock()
			if len(g.queue) > 0 {
				g.mu.Unlock()
				continue
			}
			g.running = false
			g.mu.Unlock()
			return
		}
		batch = db.commitGroup(batch)
		for _, p := range batch {
			close(p.done)
		}
	}
}

// take removes up to n messages from the head of the queue and returns them.
func (g *groupCommit) take(n int) []*pendingMessage {
	g.mu.Lock()
	defer g.mu.Unlock()
	n = min(len(g.queue), n)
	if n == 0 {
		return nil
	}
	batch := g.queue[:n:n]
	g.queue = append([]*pendingMessage(nil), g.queue[n:]...)
	return batch
}

// commitGroup writes one batch in one transaction and returns the batch with
// the messages that joined it while it ran (see runGroup). A transient
// conflict (SQLite busy) retries the whole batch; any other error of the
// transaction itself (begin, commit, a savepoint that cannot be rolled back
// to) fails every message of the batch, none of which was then stored.
func (db *DB) commitGroup(batch []*pendingMessage) []*pendingMessage {
	live := make([]*pendingMessage, 0, maxGroupCommit)
	for _, p := range batch {
		if err := p.ctx.Err(); err != nil {
			p.err = err // never started: nothing stored
			continue
		}
		live = append(live, p)
	}
	if len(live) == 0 {
		return batch
	}
	started := len(live)
	// The messages' own contexts must not cancel statements of the shared
	// transaction: SQLite answers an interrupted write by rolling back the
	// whole transaction, the other messages with it.
	ctx := context.WithoutCancel(live[0].ctx)
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt*attempt) * 10 * time.Millisecond)
		}
		for _, p := range live {
			p.out, p.err = nil, nil
		}
		err = db.runGroup(ctx, &live)
		if err == nil || !isRetryable(err) {
			break
		}
	}
	if err != nil {
		for _, p := range live {
			// A message refused on its own keeps its reason; the others were
			// not stored and learn why.
			if p.err == nil {
				p.out, p.err = nil, err
			}
		}
	}
	return append(batch, live[started:]...)
}

// runGroup runs one attempt of a batch; a panic fails the batch instead of
// the server. Messages that arrived while the batch ran join it before it
// commits (up to maxGroupCommit): they would otherwise wait for this commit
// and then pay for one of their own, and a commit, which writes every page
// the batch changed to the WAL, costs about as much as a message. They are
// appended to *live, so a retry runs them too.
func (db *DB) runGroup(ctx context.Context, live *[]*pendingMessage) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("receive messages: panic: %v", r)
		}
	}()
	return db.update(ctx, func(tx *Tx) error {
		for i := 0; i < len(*live); i++ {
			if err := db.receiveInSavepoint(tx, (*live)[i]); err != nil {
				return err
			}
			if i == len(*live)-1 && len(*live) < maxGroupCommit {
				*live = append(*live, db.inbound.take(maxGroupCommit-len(*live))...)
			}
		}
		return nil
	})
}

// receiveInSavepoint records one message of a batch inside its own savepoint.
// The message's own outcome goes to p; the error returned is one that fails the
// whole batch (a transient conflict, or a savepoint that cannot be released or
// rolled back to because SQLite abandoned the transaction).
func (db *DB) receiveInSavepoint(tx *Tx, p *pendingMessage) error {
	if err := p.ctx.Err(); err != nil {
		p.err = err
		return nil
	}
	ctx := context.WithoutCancel(p.ctx)
	// The savepoint statements go through tx.exec, like every other, so they
	// are parsed once on the writer rather than for every message.
	for attempt := 0; attempt < maxReceiveAttempts; attempt++ {
		if _, err := tx.exec(ctx, "SAVEPOINT message"); err != nil {
			return fmt.Errorf("savepoint: %w", err)
		}
		after := len(tx.after)
		out, err := receive(ctx, tx, p.m, db.ticketHook())
		if err == nil {
			if _, err := tx.exec(ctx, "RELEASE message"); err != nil {
				return fmt.Errorf("release savepoint: %w", err)
			}
			p.out, p.err = out, nil
			return nil
		}
		// Forget what the rolled back message registered to run after commit.
		clear(tx.after[after:])
		tx.after = tx.after[:after]
		if _, rerr := tx.exec(ctx, "ROLLBACK TO message"); rerr != nil {
			return errors.Join(err, fmt.Errorf("rollback to savepoint: %w", rerr))
		}
		if _, rerr := tx.exec(ctx, "RELEASE message"); rerr != nil {
			return errors.Join(err, fmt.Errorf("release savepoint: %w", rerr))
		}
		if isRetryable(err) {
			return err
		}
		p.out, p.err = nil, err
		// One writer runs the batch, so no other transaction captures an
		// identity meanwhile; another process could, and then the message is
		// simply tried again and finds the captured user.
		if !errors.Is(err, errCaptureRace) && !isUniqueViolation(err) {
			return nil
		}
	}
	return nil
}
