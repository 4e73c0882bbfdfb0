package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/mergedesk/mergedesk"
)

const webhookColumns = `id, name, description, endpoint, http_method, request_format, status, subscriptions, auth_type,
	auth_data, auth_add_position, signing_secret, created_at, created_by, updated_at, updated_by`

func scanWebhook(row interface{ Scan(...any) error }) (*mergedesk.Webhook, error) {
	var w mergedesk.Webhook
	var desc, authType, authData, authPos sql.NullString
	var subs string
	var c, u int64
	if err := row.Scan(&w.ID, &w.Name, &desc, &w.Endpoint, &w.HTTPMethod, &w.RequestFormat, &w.Status, &subs,
		&authType, &authData, &authPos, &w.SigningSecret, &c, &w.CreatedBy, &u, &w.UpdatedBy); err != nil {
		return nil, err
	}
	w.Description, w.CreatedAt, w.UpdatedAt = strPtr(desc), fromUnix(c), fromUnix(u)
	if err := decodeInto(subs, &w.Subscriptions); err != nil || w.Subscriptions == nil {
		w.Subscriptions = []string{}
	}
	if authType.Valid {
		w.Auth = &mergedesk.WebhookAuth{Type: authType.String, AddPosition: authPos.String, Data: decodeObject(authData.String)}
	}
	return &w, nil
}

func loadWebhook(ctx context.Context, q querier, id string) (*mergedesk.Webhook, error) {
	w, err := scanWebhook(q.queryRow(ctx, "SELECT "+webhookColumns+" FROM webhooks WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, mergedesk.NotFound()
	}
	if err != nil {
		return nil, fmt.Errorf("webhook %s: %w", id, err)
	}
	return w, nil
}

// Webhook returns one webhook. Errors: RecordNotFound.
func (db *DB) Webhook(ctx context.Context, id string) (*mergedesk.Webhook, error) {
	return loadWebhook(ctx, db.r(), id)
}

// Webhook returns one webhook inside the transaction. Errors: RecordNotFound.
func (tx *Tx) Webhook(ctx context.Context, id string) (*mergedesk.Webhook, error) {
	return loadWebhook(ctx, tx, id)
}

// Webhooks lists webhooks in id (creation) order, one cursor page at a time.
func (db *DB) Webhooks(ctx context.Context, p mergedesk.WebhookPage) ([]*mergedesk.Webhook, mergedesk.PageInfo, error) {
	hs, info, err := paginate(ctx, db.r(), list{cols: webhookColumns, from: "webhooks"},
		pageRequest[string]{size: p.Size, cursor: true, after: p.After, before: p.Before},
		func(rows *sql.Rows) (*mergedesk.Webhook, error) { return scanWebhook(rows) })
	if err != nil {
		return nil, info, fmt.Errorf("list webhooks: %w", err)
	}
	if hs == nil {
		hs = []*mergedesk.Webhook{}
	}
	return hs, info, nil
}

// CreateWebhook creates a webhook with a new signing secret. Errors:
// RecordInvalid (BlankValue, InvalidValue).
func (db *DB) CreateWebhook(ctx context.Context, w mergedesk.WebhookWrite, actorID int64) (*mergedesk.Webhook, error) {
	h := &mergedesk.Webhook{ID: NewULID(time.Now()), Subscriptions: []string{"conditional_ticket_events"}, SigningSecret: newSecret(),
		CreatedBy: actorID, UpdatedBy: actorID}
	if err := w.CheckRequired(true); err != nil {
		return nil, err
	}
	if err := h.Apply(w); err != nil {
		return nil, err
	}
	err := db.Update(ctx, func(tx *Tx) error {
		h.CreatedAt, h.UpdatedAt = tx.now, tx.now
		_, err := tx.exec(ctx, "INSERT INTO webhooks ("+webhookColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			webhookArgs(h)...)
		if err != nil {
			return fmt.Errorf("insert webhook: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return db.Webhook(ctx, h.ID)
}

func webhookArgs(h *mergedesk.Webhook) []any {
	var authType, authData, authPos any
	if h.Auth != nil {
		authType, authData, authPos = h.Auth.Type, encodeJSON(h.Auth.Data), h.Auth.AddPosition
	}
	return []any{h.ID, h.Name, nullable(h.Description), h.Endpoint, h.HTTPMethod, h.RequestFormat, h.Status,
		encodeJSON(h.Subscriptions), authType, authData, authPos, h.SigningSecret, unix(h.CreatedAt), h.CreatedBy,
		unix(h.UpdatedAt), h.UpdatedBy}
}

// UpdateWebhook applies w to a webhook (PUT and PATCH). Errors: RecordNotFound,
// RecordInvalid.
func (db *DB) UpdateWebhook(ctx context.Context, id string, w mergedesk.WebhookWrite, actorID int64) error {
	return db.Update(ctx, func(tx *Tx) error {
		h, err := loadWebhook(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := w.CheckRequired(false); err != nil {
			return err
		}
		if err := h.Apply(w); err != nil {
			return err
		}
		h.UpdatedAt, h.UpdatedBy = tx.now, actorID
		a := webhookArgs(h)
		if _, err := tx.exec(ctx, `UPDATE webhooks SET name = ?, description = ?, endpoint = ?, http_method = ?, request_format = ?,
			status = ?, subscriptions = ?, auth_type = ?, auth_data = ?, auth_add_position = ?, updated_at = ?, updated_by = ?
			WHERE id = ?`, append(a[1:11:11], a[14], a[15], id)...); err != nil {
			return fmt.Errorf("update webhook %s: %w", id, err)
		}
		return nil
	})
}

// DeleteWebhook deletes a webhook; trigger actions naming it are skipped from
// then on. Errors: RecordNotFound.
func (db *DB) DeleteWebhook(ctx context.Context, id string) error {
	return db.Update(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, "DELETE FROM webhooks WHERE id = ?", id)
		if err != nil {
			return fmt.Errorf("delete webhook %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return mergedesk.NotFound()
		}
		return nil
	})
}

// NewULID returns a 26-character, time-ordered id in Crockford base32: 48 bits
// of milliseconds and 80 random bits, like a ULID.
func NewULID(t time.Time) string {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixMilli())<<16)
	rand.Read(b[6:])
	// 128 bits as 26 base32 digits: the first digit carries the top 3 bits.
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	out := make([]byte, 26)
	for i := 25; i >= 0; i-- {
		out[i] = alphabet[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out)
}

func newSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
