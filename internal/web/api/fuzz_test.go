package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
	"github.com/mergedesk/mergedesk/internal/web/api"
)

// FuzzRequestDecoding posts arbitrary bodies to the main write endpoints through
// the handler in process and fails on any 5xx: whatever a client sends, the
// answer is a 2xx or a Zendesk-shaped 4xx.
func FuzzRequestDecoding(f *testing.F) {
	ctx := context.Background()
	db := storetest.MustOpen(f, "sqlite:"+filepath.Join(f.TempDir(), "fuzz.db"))
	srv := &api.Server{DB: db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	adm, err := db.CreateUser(ctx, mergedesk.NewUser{Name: "Fuzz Admin", Role: mergedesk.RoleAdmin, Email: "fuzz-admin@example.com", Verified: true})
	if err != nil {
		f.Fatal(err)
	}
	tok, err := db.CreateAPIToken(ctx, adm.ID, nil, "")
	if err != nil {
		f.Fatal(err)
	}
	target, err := db.CreateUser(ctx, mergedesk.NewUser{Name: "Fuzz Target", Email: "fuzz-target@example.com"})
	if err != nil {
		f.Fatal(err)
	}
	endpoints := []struct{ method, path string }{
		{"POST", "/api/v2/users.json"},
		{"PUT", fmt.Sprintf("/api/v2/users/%d.json", target.ID)},
		{"POST", "/api/v2/tickets.json"},
		{"POST", "/api/v2/organizations.json"},
	}

	seeds := []string{
		`{"user":{"name":"Ann Lee","email":"ann@example.com","phone":"+14155550101","tags":["vip"],"verified":true}}`,
		`{"user":{"name":"","email":"x@y.z","photo":{},"user_fields":null,"last_login_at":"0001-01-01T00:00:00Z","locale_id":"8"}}`,
		`{"user":{"name":"Bo","identities":[{"type":"email","value":"bo@example.com"},{"type":"phone_number","value":"(415) 555-0102"}],"organization":{"name":"Acme"}}}`,
		`{"user":{"name":"Cy","organization_id":"abc","user_fields":{"a":1,"b":[1,2],"c":{"d":null}}}}`,
		`{"user":{"name":"Di","role":"agent","external_id":"e-1","time_zone":"Berlin","remote_photo_url":"http://x/y.png"}}`,
		`{"ticket":{"subject":"Refund","comment":{"body":"I was charged twice."},"requester":{"name":"Ann","email":"ann@example.com","locale_id":"8"},"collaborators":[1,"cc@example.com",{"name":"Bo","email":"bo@example.com"}],"custom_fields":[{"id":900,"value":"gold"},{"id":901,"value":5}],"group_id":0}}`,
		`{"ticket":{"subject":"x","requester_id":1,"email_ccs":[{"user_email":"a@b.c","action":"put"}],"followers":[{"user_id":2,"action":"put"}],"safe_update":true,"updated_stamp":"2024-01-01T00:00:00Z"}}`,
		`{"organization":{"name":"Acme","domain_names":["acme.com"],"group_id":0,"tags":null,"organization_fields":null,"external_id":"o-1"}}`,
		`{"organization":{"name":5}}`,
		`{"user":`, `null`, ``, `[]`, `{"user":null}`, `{"user":{"name":1e400}}`, `{"user":{"locale_id":"99999999999999999999"}}`,
		"\xff\xfe{\"user\":{}}", `{"user":{"name":"\u0000"}}`,
	}
	for _, s := range seeds {
		for i := range endpoints {
			f.Add([]byte(s), uint8(i))
		}
	}

	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		ep := endpoints[int(which)%len(endpoints)]
		req := httptest.NewRequest(ep.method, ep.path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s with %q = %d: %s", ep.method, ep.path, body, rec.Code, rec.Body.String())
		}
		if rec.Code != http.StatusNoContent && rec.Header().Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("%s %s = %d with Content-Type %q", ep.method, ep.path, rec.Code, rec.Header().Get("Content-Type"))
		}
	})
}
