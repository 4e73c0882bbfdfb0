package channel

import (
	"context"

	"github.com/mergedesk/mergedesk"
)

// Store takes one inbound message: identity resolution, threading and the
// ticket write happen in one transaction there. internal/store's *DB implements it.
type Store interface {
	ReceiveMessage(ctx context.Context, m mergedesk.InboundMessage) (*mergedesk.Received, error)
}
