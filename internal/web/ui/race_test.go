package ui_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/store"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
	"github.com/mergedesk/mergedesk/internal/web/ui"
)

// promoteOnRead is the UI's store with an admin stepping in: when a handler
// reads the armed user, it gets the end user it asked for, and the user is made
// an admin right after, before the handler's write reaches the store.
type promoteOnRead struct {
	ui.Store
	db *store.DB

	mu     sync.Mutex
	target int64
}

func (p *promoteOnRead) arm(id int64) {
	p.mu.Lock()
	p.target = id
	p.mu.Unlock()
}

func (p *promoteOnRead) User(ctx context.Context, id int64) (*mergedesk.User, error) {
	u, err := p.Store.User(ctx, id)
	p.mu.Lock()
	armed := p.target == id
	if armed {
		p.target = 0
	}
	p.mu.Unlock()
	if err == nil && armed {
		admin := mergedesk.RoleAdmin
		if _, err := p.db.UpdateUser(ctx, id, mergedesk.UserUpdate{Role: &admin}, nil); err != nil {
			return nil, err
		}
	}
	return u, err
}

// TestUIWriteRacesPromotion: the profile and identity forms, sent by an agent
// for an end user who becomes an admin after the handler's check and before the
// write, are refused by the store's check in the transaction and change nothing.
func TestUIWriteRacesPromotion(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		st := &promoteOnRead{Store: db, db: db}
		s, err := ui.New(st, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(s)
		t.Cleanup(ts.Close)
		c := agentClient(t, ts.URL)
		for i, w := range uiWrites[:2] {
			t.Run(w.pattern, func(t *testing.T) {
				u := mustUser(t, db, mergedesk.NewUser{Name: "Soon Admin", Email: fmt.Sprintf("soon%d@example.com", i), Tags: []string{"keep"}})
				path := fmt.Sprintf("/users/%d/%s", u.ID, w.pattern[len("POST /users/{id}/"):])
				st.arm(u.ID)
				resp, _ := c.post(path, w.form(f, u))
				st.arm(0)
				after, err := db.User(ctx, u.ID)
				if err != nil {
					t.Fatal(err)
				}
				if after.Role != mergedesk.RoleAdmin {
					t.Fatalf("role after = %q: the promotion did not happen in between", after.Role)
				}
				if resp.StatusCode != http.StatusForbidden {
					t.Errorf("agent POST %s, user promoted in between = %d, want 403", path, resp.StatusCode)
				}
				if after.Name != "Soon Admin" || !slices.Equal(after.Tags, []string{"keep"}) || after.Notes != nil || len(after.Identities) != 1 {
					t.Errorf("user changed: name %q, tags %v, notes %q, %d identities", after.Name, after.Tags, deref(after.Notes), len(after.Identities))
				}
			})
		}
	})
}
