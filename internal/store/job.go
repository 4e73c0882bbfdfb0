package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mergedesk/mergedesk"
)

// JobRetention is how long finished jobs are kept (docs/api.md §8).
const JobRetention = 7 * 24 * time.Hour

const jobColumns = "id, job_type, owner_id, status, total, progress, message, payload, results, created_at, updated_at"

func scanJob(row interface{ Scan(...any) error }) (*mergedesk.Job, error) {
	var j mergedesk.Job
	var msg, results sql.NullString
	var payload string
	var c, u int64
	if err := row.Scan(&j.ID, &j.Type, &j.OwnerID, &j.Status, &j.Total, &j.Progress, &msg, &payload, &results, &c, &u); err != nil {
		return nil, err
	}
	j.Message, j.Payload = strPtr(msg), json.RawMessage(payload)
	if results.Valid {
		if err := json.Unmarshal([]byte(results.String), &j.Results); err != nil {
			return nil, fmt.Errorf("decode job results: %w", err)
		}
		if j.Results == nil {
			j.Results = []json.RawMessage{}
		}
	}
	j.CreatedAt, j.UpdatedAt = fromUnix(c), fromUnix(u)
	return &j, nil
}

// CreateJob queues a job over items; the payload is the JSON array of items.
func (db *DB) CreateJob(ctx context.Context, typ string, ownerID int64, items []json.RawMessage) (*mergedesk.Job, error) {
	b := make([]byte, 16)
	rand.Read(b)
	id := hex.EncodeToString(b)
	payload, err := json.Marshal(items)
	if err != nil {
		return nil, err
	}
	err = db.Update(ctx, func(tx *Tx) error {
		now := unix(tx.now)
		_, err := tx.exec(ctx, "INSERT INTO jobs ("+jobColumns+") VALUES (?, ?, ?, ?, ?, 0, NULL, ?, NULL, ?, ?)",
			id, typ, ownerID, mergedesk.JobQueued, len(items), string(payload), now, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create job: %w", err)
	}
	return db.Job(ctx, id)
}

// CreateSingletonJob queues a job of type typ with no items unless one of that
// type is queued or working, in which case it returns that one (a scan
// started while one runs, docs/duplicates-runtime.md). created says which.
// Concurrent callers, on one server or several, get one job between them: the
// row is marked singleton, and the unique index jobs_singleton_live (migration
// 00105) admits one live singleton row per type. A caller whose insert loses
// to another's (on PostgreSQL it waits for that transaction to commit) reads
// the winner's job instead.
func (db *DB) CreateSingletonJob(ctx context.Context, typ string, ownerID int64) (j *mergedesk.Job, created bool, err error) {
	var id string
	err = db.Update(ctx, func(tx *Tx) error {
		// Each statement of a PostgreSQL read-committed transaction sees what
		// committed before it, so the read after a lost insert finds the winner.
		for range 3 {
			err := tx.queryRow(ctx, "SELECT id FROM jobs WHERE job_type = ? AND status IN (?, ?) ORDER BY created_at, id LIMIT 1",
				typ, mergedesk.JobQueued, mergedesk.JobWorking).Scan(&id)
			if err == nil {
				created = false
				return nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			b := make([]byte, 16)
			rand.Read(b)
			id = hex.EncodeToString(b)
			now := unix(tx.now)
			res, err := tx.exec(ctx, "INSERT INTO jobs ("+jobColumns+", singleton) VALUES (?, ?, ?, ?, 0, 0, NULL, '[]', NULL, ?, ?, TRUE)"+
				" ON CONFLICT DO NOTHING", id, typ, ownerID, mergedesk.JobQueued, now, now)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 1 {
				created = n == 1
				return err
			}
			// Another caller's job took the slot; it may even have finished
			// already, in which case the next round queues a new one.
		}
		return fmt.Errorf("no live %s job found or queued", typ)
	})
	if err != nil {
		return nil, false, fmt.Errorf("create %s job: %w", typ, err)
	}
	j, err = db.Job(ctx, id)
	return j, created, err
}

// Job returns a job kept within the retention period.
func (db *DB) Job(ctx context.Context, id string) (*mergedesk.Job, error) {
	j, err := scanJob(db.r().queryRow(ctx, "SELECT "+jobColumns+" FROM jobs WHERE id = ? AND created_at > ?",
		id, unix(db.Now().Add(-JobRetention))))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, mergedesk.NotFound()
	}
	return j, err
}

// Jobs returns the jobs with these ids (unknown ids skipped), or the owner's
// recent jobs when ids is empty.
func (db *DB) Jobs(ctx context.Context, ids []string, ownerID int64) ([]*mergedesk.Job, error) {
	var out []*mergedesk.Job
	if len(ids) == 0 {
		rows, err := db.r().query(ctx, "SELECT "+jobColumns+" FROM jobs WHERE owner_id = ? AND created_at > ? ORDER BY created_at DESC LIMIT 100",
			ownerID, unix(db.Now().Add(-JobRetention)))
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			j, err := scanJob(rows)
			if err != nil {
				return nil, err
			}
			out = append(out, j)
		}
		return out, rows.Err()
	}
	for _, id := range ids {
		j, err := db.Job(ctx, id)
		if mergedesk.ErrorCode(err) == mergedesk.ENotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}

// ClaimJob marks the oldest queued or interrupted (working) job as working and
// returns it, or nil when there is none.
func (db *DB) ClaimJob(ctx context.Context) (*mergedesk.Job, error) {
	var out *mergedesk.Job
	err := db.Update(ctx, func(tx *Tx) error {
		j, err := scanJob(tx.queryRow(ctx, "SELECT "+jobColumns+" FROM jobs WHERE status IN (?, ?) ORDER BY created_at, id LIMIT 1",
			mergedesk.JobQueued, mergedesk.JobWorking))
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if j.Results == nil {
			j.Results = []json.RawMessage{}
		}
		j.Status = mergedesk.JobWorking
		if _, err := tx.exec(ctx, "UPDATE jobs SET status = ?, results = ?, updated_at = ? WHERE id = ?",
			j.Status, encodeJSON(j.Results), unix(tx.now), j.ID); err != nil {
			return err
		}
		out = j
		return nil
	})
	return out, err
}

// SaveJob records a job's progress, results, status and message.
func (db *DB) SaveJob(ctx context.Context, j *mergedesk.Job) error {
	return db.Update(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, "UPDATE jobs SET status = ?, total = ?, progress = ?, message = ?, results = ?, updated_at = ? WHERE id = ?",
			j.Status, j.Total, j.Progress, nullable(j.Message), encodeJSON(j.Results), unix(tx.now), j.ID)
		return err
	})
}

// PurgeJobs deletes jobs older than the retention period.
func (db *DB) PurgeJobs(ctx context.Context) error {
	return db.Update(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, "DELETE FROM jobs WHERE created_at <= ?", unix(tx.now.Add(-JobRetention)))
		return err
	})
}
