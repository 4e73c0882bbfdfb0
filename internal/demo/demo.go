// Package demo loads a small realistic data set into an empty database.
package demo

import (
	"context"

	"github.com/mergedesk/mergedesk/internal/store"
)

// Login is a demo account printed at start-up.
type Login struct {
	Role, Email, Password, Token string
}

// Load fills an empty database and returns the demo logins; on a database that
// already has users it does nothing and returns nil.
func Load(ctx context.Context, db *store.DB) ([]Login, error) {
	return nil, nil
}
