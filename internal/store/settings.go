package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/identity"
)

// Settings returns the account settings. They are cached in memory and reloaded
// after every change made through this DB.
func (db *DB) Settings(ctx context.Context) (mergedesk.Settings, error) {
	db.settingsMu.RLock()
	s := db.settings
	db.settingsMu.RUnlock()
	if s != nil {
		return *s, nil
	}
	v, err := loadSettings(ctx, db.r())
	if err != nil {
		return v, err
	}
	db.settingsMu.Lock()
	db.settings = &v
	db.settingsMu.Unlock()
	return v, nil
}

func loadSettings(ctx context.Context, q querier) (mergedesk.Settings, error) {
	s := mergedesk.DefaultSettings()
	var data string
	err := q.queryRow(ctx, "SELECT data FROM account_settings WHERE id = 1").Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("load settings: %w", err)
	}
	if err := json.Unmarshal([]byte(data), &s); err != nil {
		return s, fmt.Errorf("decode settings: %w", err)
	}
	return s, nil
}

// txSettings reads the settings inside tx, so a merge sees the settings that hold
// when it commits (docs/api.md §14).
func (tx *Tx) settings(ctx context.Context) (mergedesk.Settings, error) {
	return loadSettings(ctx, tx)
}

// UpdateSettings merges patch (a partial settings object) into the stored settings
// and returns the result. An invalid value gives RecordInvalid and changes nothing.
func (db *DB) UpdateSettings(ctx context.Context, patch json.RawMessage) (mergedesk.Settings, error) {
	var out mergedesk.Settings
	err := db.Update(ctx, func(tx *Tx) error {
		s, err := tx.settings(ctx)
		if err != nil {
			return err
		}
		dec := json.NewDecoder(bytes.NewReader(patch))
		if err := dec.Decode(&s); err != nil {
			// A value of the wrong type under duplicates is a bad setting
			// (rule D12: 422 naming the field), not bad JSON.
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) && strings.HasPrefix(te.Field, "duplicates.") {
				return mergedesk.Invalid(te.Field, mergedesk.CodeInvalid, "%s: %s is not a valid value", te.Field, te.Value)
			}
			return mergedesk.Errorf(mergedesk.EInvalidJSON, "settings: %v", err)
		}
		if err := s.Duplicates.Validate(); err != nil {
			return err
		}
		s.Phone.DefaultRegion = strings.ToUpper(strings.TrimSpace(s.Phone.DefaultRegion))
		if !identity.ValidRegion(s.Phone.DefaultRegion) {
			return mergedesk.Invalid("phone.default_region", mergedesk.CodeInvalid,
				"Default region: %q is not an ISO 3166-1 alpha-2 code", s.Phone.DefaultRegion)
		}
		data := encodeJSON(s)
		res, err := tx.exec(ctx, "UPDATE account_settings SET data = ? WHERE id = 1", data)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if _, err := tx.exec(ctx, "INSERT INTO account_settings (id, data) VALUES (1, ?)", data); err != nil {
				return err
			}
		}
		out = s
		return nil
	})
	if err == nil {
		db.settingsMu.Lock()
		db.settings = &out
		db.settingsMu.Unlock()
	}
	return out, err
}
