package store

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mergedesk/mergedesk"
)

// pbkdf2Iterations follows OWASP's 2023 guidance for PBKDF2-HMAC-SHA256.
const pbkdf2Iterations = 600_000

// HashPassword returns a salted PBKDF2-SHA256 hash of pw.
func HashPassword(pw string) (string, error) {
	salt := make([]byte, 16)
	rand.Read(salt)
	key, err := pbkdf2.Key(sha256.New, pw, salt, pbkdf2Iterations, 32)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("pbkdf2-sha256$%d$%s$%s", pbkdf2Iterations,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// CheckPassword reports whether pw matches hash.
func CheckPassword(hash, pw string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" {
		return false
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 || iter > 10_000_000 {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[2])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[3])
	if err1 != nil || err2 != nil {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, pw, salt, iter, len(want))
	return err == nil && hmac.Equal(got, want)
}

// tokenHash is how API tokens are stored: SHA-256, since tokens are long random
// strings (a slow hash adds nothing and would cost every request).
func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func setPassword(ctx context.Context, tx *Tx, userID int64, pw string) error {
	if len(pw) < mergedesk.MinPasswordLen {
		return mergedesk.Invalid("password", mergedesk.CodePasswordLength, "Password: is too short (minimum is %d characters)", mergedesk.MinPasswordLen)
	}
	h, err := HashPassword(pw)
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, "UPDATE users SET password_hash = ? WHERE id = ?", h, userID)
	return err
}

// SetPassword sets an active user's password.
func (db *DB) SetPassword(ctx context.Context, userID int64, pw string) error {
	if len(pw) < mergedesk.MinPasswordLen {
		return mergedesk.Invalid("password", mergedesk.CodePasswordLength, "Password: is too short (minimum is %d characters)", mergedesk.MinPasswordLen)
	}
	return db.Update(ctx, func(tx *Tx) error {
		if _, err := activeUser(ctx, tx, userID); err != nil {
			return err
		}
		return setPassword(ctx, tx, userID, pw)
	})
}

// CreateAPIToken creates a random token for a user. If value is not empty it is
// registered as given (the bootstrap admin's MERGEDESK_ADMIN_TOKEN).
func (db *DB) CreateAPIToken(ctx context.Context, userID int64, description *string, value string) (*mergedesk.APIToken, error) {
	if value == "" {
		b := make([]byte, 30)
		rand.Read(b)
		value = base64.RawURLEncoding.EncodeToString(b)
	}
	t := &mergedesk.APIToken{UserID: userID, Description: description, Token: value}
	err := db.Update(ctx, func(tx *Tx) error {
		if _, err := activeUser(ctx, tx, userID); err != nil {
			return err
		}
		t.CreatedAt = tx.now
		var err error
		t.ID, err = tx.insert(ctx, "INSERT INTO api_tokens (user_id, description, token_hash, created_at) VALUES (?, ?, ?, ?)",
			userID, nullable(description), tokenHash(value), unix(tx.now))
		if isUniqueViolation(err) {
			return mergedesk.Invalid("token", mergedesk.CodeDuplicate, "Token: is already registered")
		}
		return err
	})
	return t, err
}

// EnsureAPIToken registers value for userID unless that token already exists.
func (db *DB) EnsureAPIToken(ctx context.Context, userID int64, value string) error {
	var owner int64
	err := db.r().queryRow(ctx, "SELECT user_id FROM api_tokens WHERE token_hash = ?", tokenHash(value)).Scan(&owner)
	if err == nil {
		if owner != userID {
			return errors.New("the admin token is registered to another user")
		}
		return nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	d := "bootstrap"
	_, err = db.CreateAPIToken(ctx, userID, &d, value)
	return err
}

// APITokens lists a user's tokens without their values.
func (db *DB) APITokens(ctx context.Context, userID int64) ([]mergedesk.APIToken, error) {
	rows, err := db.r().query(ctx, "SELECT id, user_id, description, created_at FROM api_tokens WHERE user_id = ? ORDER BY id", userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []mergedesk.APIToken{}
	for rows.Next() {
		var t mergedesk.APIToken
		var d sql.NullString
		var c int64
		if err := rows.Scan(&t.ID, &t.UserID, &d, &c); err != nil {
			return nil, err
		}
		t.Description, t.CreatedAt = strPtr(d), fromUnix(c)
		out = append(out, t)
	}
	return out, rows.Err()
}

// DeleteAPIToken revokes a token of a user.
func (db *DB) DeleteAPIToken(ctx context.Context, userID, id int64) error {
	return db.Update(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, "DELETE FROM api_tokens WHERE id = ? AND user_id = ?", id, userID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return mergedesk.NotFound()
		}
		return nil
	})
}

// UserIDByToken returns the owner of an API token, or 0.
func (db *DB) UserIDByToken(ctx context.Context, token string) (int64, error) {
	var id int64
	err := db.r().queryRow(ctx, "SELECT user_id FROM api_tokens WHERE token_hash = ?", tokenHash(token)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return id, err
}

// PasswordHash returns the stored password hash of a user ("" when none).
func (db *DB) PasswordHash(ctx context.Context, userID int64) (string, error) {
	var h sql.NullString
	err := db.r().queryRow(ctx, "SELECT password_hash FROM users WHERE id = ?", userID).Scan(&h)
	return h.String, err
}

// UserIDByEmail returns the id of the active user owning email, or 0.
func (db *DB) UserIDByEmail(ctx context.Context, email string) (int64, error) {
	return userIDByIdentity(ctx, db.r(), mergedesk.IdentityEmail, strings.ToLower(strings.TrimSpace(email)))
}

// EnsureAdmin makes sure an admin with email exists (bootstrap, idempotent) and
// returns it. An existing end user or agent with that email is promoted.
func (db *DB) EnsureAdmin(ctx context.Context, email, password string) (*mergedesk.User, error) {
	var out *mergedesk.User
	err := db.Update(ctx, func(tx *Tx) error {
		u, err := userByEmail(ctx, tx, email)
		if mergedesk.ErrorCode(err) == mergedesk.ENotFound {
			name := email[:max(0, strings.IndexByte(email, '@'))]
			if name == "" {
				name = "Admin"
			}
			u, err = createUser(ctx, tx, mergedesk.NewUser{Name: name, Role: mergedesk.RoleAdmin, Email: email, Verified: true})
		}
		if err != nil {
			return err
		}
		if u.Role != mergedesk.RoleAdmin {
			if _, err := tx.exec(ctx, "UPDATE users SET role = 'admin', updated_at = ? WHERE id = ?", unix(tx.now), u.ID); err != nil {
				return err
			}
		}
		if password != "" {
			if err := setPassword(ctx, tx, u.ID, password); err != nil {
				return err
			}
		}
		out, err = loadUser(ctx, tx, u.ID)
		return err
	})
	return out, err
}

// TokenPrincipal resolves an API token to its active, unsuspended owner. When email
// is not empty the token must belong to the user owning that email. It returns nil
// when the credentials do not resolve.
func (db *DB) TokenPrincipal(ctx context.Context, token, email string) (*mergedesk.Principal, error) {
	q := `SELECT u.id, u.role FROM api_tokens t JOIN users u ON u.id = t.user_id
		WHERE t.token_hash = ? AND u.active = TRUE AND u.suspended = FALSE`
	args := []any{tokenHash(token)}
	if email != "" {
		q += ` AND EXISTS (SELECT 1 FROM identities i WHERE i.user_id = u.id AND i.type = 'email' AND i.value_norm = ?)`
		args = append(args, strings.ToLower(strings.TrimSpace(email)))
	}
	var p mergedesk.Principal
	err := db.r().queryRow(ctx, q, args...).Scan(&p.ID, &p.Role)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// PasswordPrincipal resolves an email and password to an active, unsuspended user,
// or nil. It is slow on purpose (PBKDF2); callers cache successes.
func (db *DB) PasswordPrincipal(ctx context.Context, email, password string) (*mergedesk.Principal, error) {
	var p mergedesk.Principal
	var hash sql.NullString
	err := db.r().queryRow(ctx, `SELECT u.id, u.role, u.password_hash FROM identities i JOIN users u ON u.id = i.user_id
		WHERE i.type = 'email' AND i.value_norm = ? AND u.active = TRUE AND u.suspended = FALSE`,
		strings.ToLower(strings.TrimSpace(email))).Scan(&p.ID, &p.Role, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		// Spend the same time as a real check, so timing does not reveal accounts.
		CheckPassword(dummyHash, password)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !hash.Valid {
		// An account without a password (captured end users, token-only staff)
		// costs a check too: timing must not tell it from one with a password.
		CheckPassword(dummyHash, password)
		return nil, nil
	}
	if !CheckPassword(hash.String, password) {
		return nil, nil
	}
	return &p, nil
}

var dummyHash, _ = HashPassword("mergedesk-dummy-password")

// PrincipalByID returns the active, unsuspended user id as a principal, or nil.
func (db *DB) PrincipalByID(ctx context.Context, id int64) (*mergedesk.Principal, error) {
	var p mergedesk.Principal
	err := db.r().queryRow(ctx, "SELECT id, role FROM users WHERE id = ? AND active = TRUE AND suspended = FALSE", id).Scan(&p.ID, &p.Role)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return &p, err
}
