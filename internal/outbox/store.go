package outbox

import (
	"context"
	"time"

	"github.com/mergedesk/mergedesk"
)

// Store is the outbox queue the worker delivers from; internal/store's *DB
// implements it.
type Store interface {
	ClaimOutbox(ctx context.Context, kinds []string, limit int, lease time.Duration) ([]*mergedesk.OutboxMessage, error)
	OutboxDelivered(ctx context.Context, id int64, httpStatus int) error
	OutboxAttemptFailed(ctx context.Context, id int64, cause string, httpStatus int, retryAt *time.Time) error
	Webhook(ctx context.Context, id string) (*mergedesk.Webhook, error)
}
