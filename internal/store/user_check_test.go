package store_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/store"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
)

// TestUserWritesCheckInTransaction: every store write to a user runs its check
// on the user as the write's transaction reads it. A check built for an agent
// refuses a user that was an end user when the caller looked and is an admin by
// the time of the write, and nothing is written.
func TestUserWritesCheckInTransaction(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		agent := &mergedesk.Principal{ID: 999, Role: mergedesk.RoleAgent}
		check := mergedesk.UserWriteCheck(agent, mergedesk.UserChange{})
		u, err := db.CreateUser(ctx, mergedesk.NewUser{Name: "Soon Admin", Email: "soon@example.com", Tags: []string{"keep"}})
		if err != nil {
			t.Fatal(err)
		}
		second, err := db.AddIdentity(ctx, u.ID, mergedesk.NewIdentity{Type: "email", Value: "second@example.com"}, check)
		if err != nil {
			t.Fatalf("agent adds an end user's identity: %v", err)
		}
		admin := mergedesk.RoleAdmin
		if _, err := db.UpdateUser(ctx, u.ID, mergedesk.UserUpdate{Role: &admin}, nil); err != nil {
			t.Fatal(err)
		}
		before, err := db.User(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		v, yes, notes := "takeover@evil.example", true, ptr("hijacked")
		writes := map[string]func() error{
			"AddIdentity": func() error {
				_, err := db.AddIdentity(ctx, u.ID, mergedesk.NewIdentity{Type: "email", Value: v}, check)
				return err
			},
			"UpdateIdentity": func() error {
				_, err := db.UpdateIdentity(ctx, u.ID, second.ID, &v, &yes, nil, check)
				return err
			},
			"MakePrimary": func() error {
				_, err := db.MakePrimary(ctx, u.ID, second.ID, check)
				return err
			},
			"DeleteIdentity": func() error { return db.DeleteIdentity(ctx, u.ID, second.ID, check) },
			"SetUserTags": func() error {
				_, err := db.SetUserTags(ctx, u.ID, "set", []string{"pwned"}, check)
				return err
			},
			"UpdateUser": func() error {
				_, err := db.UpdateUser(ctx, u.ID, mergedesk.UserUpdate{Notes: &notes, Email: &v}, check)
				return err
			},
			"DeleteUser": func() error {
				_, err := db.DeleteUser(ctx, u.ID, agent.ID, check)
				return err
			},
		}
		for name, write := range writes {
			if err := write(); mergedesk.ErrorCode(err) != mergedesk.EForbidden {
				t.Errorf("%s by an agent on an admin: err = %v, want Forbidden", name, err)
			}
		}
		after, err := db.User(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(after, before) {
			t.Errorf("refused writes changed the user:\nbefore %+v\nafter  %+v", before, after)
		}
	})
}

// TestUserWriteWaitsForPromotion: a write whose check runs while a promotion is
// in flight waits for it (PostgreSQL: the user's row lock; SQLite: the one
// writer) and is then decided on the promoted user.
func TestUserWriteWaitsForPromotion(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		agent := &mergedesk.Principal{ID: 999, Role: mergedesk.RoleAgent}
		u, err := db.CreateUser(ctx, mergedesk.NewUser{Name: "Soon Admin", Email: "soon@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		err = db.Update(ctx, func(tx *store.Tx) error {
			if _, err := tx.Exec(ctx, "UPDATE users SET role = 'admin', updated_at = updated_at WHERE id = ?", u.ID); err != nil {
				return err
			}
			go func() {
				_, err := db.AddIdentity(ctx, u.ID, mergedesk.NewIdentity{Type: "email", Value: "takeover@evil.example"},
					mergedesk.UserWriteCheck(agent, mergedesk.UserChange{}))
				done <- err
			}()
			select {
			case err := <-done:
				t.Errorf("the write did not wait for the promotion: err = %v", err)
			case <-time.After(200 * time.Millisecond):
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := <-done; mergedesk.ErrorCode(err) != mergedesk.EForbidden {
			t.Errorf("agent's write after the promotion committed: err = %v, want Forbidden", err)
		}
		got, err := db.User(ctx, u.ID)
		if err != nil || got.Role != mergedesk.RoleAdmin || len(got.Identities) != 1 {
			t.Errorf("user = %+v, %v; want an admin with one identity", got, err)
		}
	})
}
