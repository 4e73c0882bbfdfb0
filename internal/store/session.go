package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mergedesk/mergedesk"
)

// NewSessionToken returns a fresh random token of 256 bits in base32.
func NewSessionToken() string { return rand.Text() + rand.Text() }

// CreateSession starts a session for userID that ends after ttl and returns the
// token to put in the cookie. Expired sessions of every user are purged on the way.
func (db *DB) CreateSession(ctx context.Context, userID int64, ttl time.Duration, userAgent, ip string) (string, *mergedesk.Session, error) {
	token := NewSessionToken()
	s := &mergedesk.Session{UserID: userID, CSRFToken: rand.Text()}
	if len(userAgent) > 512 {
		userAgent = userAgent[:512]
	}
	err := db.Update(ctx, func(tx *Tx) error {
		now := tx.Now()
		if _, err := tx.exec(ctx, "DELETE FROM sessions WHERE expires_at <= ?", unix(now)); err != nil {
			return fmt.Errorf("purge sessions: %w", err)
		}
		if err := tx.queryRow(ctx, "SELECT role FROM users WHERE id = ?", userID).Scan(&s.Role); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return mergedesk.NotFound()
			}
			return err
		}
		s.CreatedAt, s.ExpiresAt = now, now.Add(ttl)
		id, err := tx.insert(ctx, `INSERT INTO sessions (token_hash, user_id, csrf_token, user_agent, ip, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, tokenHash(token), userID, s.CSRFToken, userAgent, ip, unix(s.CreatedAt), unix(s.ExpiresAt))
		if err != nil {
			return err
		}
		s.ID = id
		_, err = tx.exec(ctx, "UPDATE users SET last_login_at = ? WHERE id = ?", unix(now), userID)
		return err
	})
	if err != nil {
		return "", nil, fmt.Errorf("create session for user %d: %w", userID, err)
	}
	return token, s, nil
}

// SessionByToken returns the unexpired session of token whose user is still
// active and not suspended, or nil. Deleting, suspending or merging away a user
// thereby ends their sessions at once.
func (db *DB) SessionByToken(ctx context.Context, token string) (*mergedesk.Session, error) {
	if token == "" {
		return nil, nil
	}
	var s mergedesk.Session
	var created, expires int64
	err := db.r().queryRow(ctx, `SELECT s.id, s.user_id, u.role, s.csrf_token, s.created_at, s.expires_at
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.token_hash = ? AND s.expires_at > ? AND u.active = TRUE AND u.suspended = FALSE`,
		tokenHash(token), unix(db.Now())).Scan(&s.ID, &s.UserID, &s.Role, &s.CSRFToken, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	s.CreatedAt, s.ExpiresAt = fromUnix(created), fromUnix(expires)
	return &s, nil
}

// DeleteSession ends the session of token (sign-out). An unknown token is not an error.
func (db *DB) DeleteSession(ctx context.Context, token string) error {
	return db.Update(ctx, func(tx *Tx) error {
		if _, err := tx.exec(ctx, "DELETE FROM sessions WHERE token_hash = ?", tokenHash(token)); err != nil {
			return fmt.Errorf("delete session: %w", err)
		}
		return nil
	})
}
