package api_test

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"sync"
	"testing"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/store"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
	"github.com/mergedesk/mergedesk/internal/web/api"
)

// promoteOnRead is the API's store with an admin stepping in: when a handler
// reads the armed user, it gets the end user it asked for, and the user is made
// an admin right after, before the handler's write reaches the store.
type promoteOnRead struct {
	api.Store
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

// TestRoleWriteRacesPromotion: an agent's write to an end user who is promoted
// to admin after the handler looked at them and before the write is refused, and
// changes nothing. The check that counts runs in the store, on the user as the
// write's transaction reads it, not on the handler's earlier read.
func TestRoleWriteRacesPromotion(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		st := &promoteOnRead{Store: db, db: db}
		e := newEnvWith(t, db, st)
		cases := []struct {
			name, method, path string
			body               any
		}{
			{"UpdateUser", "PUT", "/users/%d", map[string]any{"user": map[string]any{"notes": "hijacked", "email": "takeover-update-user@evil.example"}}},
			{"DeleteUser", "DELETE", "/users/%d", nil},
			{"AddTags", "PUT", "/users/%d/tags", map[string]any{"tags": []string{"pwned"}}},
			{"SetTags", "POST", "/users/%d/tags", map[string]any{"tags": []string{"pwned"}}},
			{"RemoveTags", "DELETE", "/users/%d/tags", map[string]any{"tags": []string{"keep"}}},
			{"AddIdentity", "POST", "/users/%d/identities", map[string]any{"identity": map[string]any{"type": "email", "value": "takeover-add@evil.example"}}},
			{"UpdateIdentity", "PUT", "/users/%d/identities/%d", map[string]any{"identity": map[string]any{"value": "takeover-update@evil.example"}}},
			{"VerifyIdentity", "PUT", "/users/%d/identities/%d/verify", nil},
			{"MakePrimary", "PUT", "/users/%d/identities/%d/make_primary", nil},
			{"DeleteIdentity", "DELETE", "/users/%d/identities/%d", nil},
		}
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				uid := mkUser(t, e, map[string]any{"name": "Soon Admin", "email": fmt.Sprintf("soon%d@example.com", i), "tags": []string{"keep"}})
				second := id(t, obj(t, e.Must(http.StatusCreated, "POST", fmt.Sprintf("/users/%d/identities", uid),
					map[string]any{"identity": map[string]any{"type": "email", "value": fmt.Sprintf("second%d@example.com", i)}}), "identity"))
				path := fmt.Sprintf(c.path, uid)
				if c.path != "/users/%d" && c.path != "/users/%d/tags" && c.path != "/users/%d/identities" {
					path = fmt.Sprintf(c.path, uid, second)
				}
				st.arm(uid)
				status, m := e.Do(c.method, path, e.AgentToken, c.body)
				st.arm(0)
				after, err := db.User(context.Background(), uid)
				if err != nil {
					t.Fatal(err)
				}
				if after.Role != mergedesk.RoleAdmin {
					t.Fatalf("role after = %q: the promotion did not happen in between", after.Role)
				}
				if status != http.StatusForbidden {
					t.Errorf("%s %s by an agent, user promoted in between = %d %v, want 403", c.method, path, status, m)
				}
				if !after.Active || after.Notes != nil || !reflect.DeepEqual(after.Tags, []string{"keep"}) {
					t.Errorf("user changed: active %v, notes %v, tags %v", after.Active, after.Notes, after.Tags)
				}
				var values []string
				for _, ident := range after.Identities {
					values = append(values, fmt.Sprintf("%s primary=%v verified=%v", ident.Value, ident.Primary, ident.Verified))
				}
				want := []string{fmt.Sprintf("soon%d@example.com primary=true verified=false", i),
					fmt.Sprintf("second%d@example.com primary=false verified=false", i)}
				if !reflect.DeepEqual(values, want) {
					t.Errorf("identities = %q, want %q", values, want)
				}
			})
		}
	})
}
