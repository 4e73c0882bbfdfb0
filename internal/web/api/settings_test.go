package api_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestAccountSettings(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		status, raw := e.DoRaw("GET", "/account/settings.json", e.AgentToken, nil)
		want := `{"settings":{"users":{"multiple_organizations":false,"tagging":true},"sso":{"jwt":{"enabled":false},"saml":{"enabled":false}},"phone":{"default_region":"US"},"duplicates":{"enabled":true,"min_score":0.95,"user_fields":[]}}}`
		if status != http.StatusOK || strings.TrimSpace(string(raw)) != want {
			t.Errorf("GET = %d %s\nwant %s", status, raw, want)
		}

		// A partial body merges; the shared secret is write-only.
		status, raw = e.DoRaw("PUT", "/account/settings", e.AdminToken, `{"settings":{"sso":{"jwt":{"enabled":true,"shared_secret":"s3cret"}},"phone":{"default_region":"de"}}}`)
		want = `{"settings":{"users":{"multiple_organizations":false,"tagging":true},"sso":{"jwt":{"enabled":true},"saml":{"enabled":false}},"phone":{"default_region":"DE"},"duplicates":{"enabled":true,"min_score":0.95,"user_fields":[]}}}`
		if status != http.StatusOK || strings.TrimSpace(string(raw)) != want {
			t.Errorf("PUT = %d %s\nwant %s", status, raw, want)
		}
		if _, raw := e.DoRaw("GET", "/account/settings", e.AdminToken, nil); strings.Contains(string(raw), "s3cret") || strings.TrimSpace(string(raw)) != want {
			t.Errorf("GET after PUT = %s", raw)
		}
		st, _ := e.DB.Settings(t.Context())
		if st.SSO.JWT.SharedSecret != "s3cret" {
			t.Errorf("stored shared secret = %q", st.SSO.JWT.SharedSecret)
		}

		for _, tt := range []struct {
			name   string
			token  string
			body   string
			status int
		}{
			{"AgentWrite", e.AgentToken, `{"settings":{"users":{"tagging":false}}}`, 403},
			{"EndUserRead", e.EndUserToken, "", 403},
			{"BadRegion", e.AdminToken, `{"settings":{"phone":{"default_region":"XX"}}}`, 422},
			{"MissingWrapper", e.AdminToken, `{"users":{"tagging":false}}`, 400},
			{"WrongType", e.AdminToken, `{"settings":{"users":{"tagging":"no"}}}`, 400},
			// Duplicates settings (docs/duplicates.md D11, D12).
			{"AgentDuplicates", e.AgentToken, `{"settings":{"duplicates":{"enabled":false}}}`, 403},
			{"DuplicatesMinScore", e.AdminToken, `{"settings":{"duplicates":{"min_score":0}}}`, 422},
			{"DuplicatesMinScoreType", e.AdminToken, `{"settings":{"duplicates":{"min_score":"high"}}}`, 422},
			{"DuplicatesUserFields", e.AdminToken, `{"settings":{"duplicates":{"user_fields":[" "]}}}`, 422},
		} {
			t.Run(tt.name, func(t *testing.T) {
				method := "PUT"
				if tt.body == "" {
					method = "GET"
				}
				if s, m := e.Do(method, "/account/settings", tt.token, tt.body); s != tt.status {
					t.Errorf("%s = %d %v, want %d", method, s, m, tt.status)
				}
			})
		}
		if _, raw := e.DoRaw("GET", "/account/settings", e.AdminToken, nil); strings.TrimSpace(string(raw)) != want {
			t.Errorf("refused writes changed the settings: %s", raw)
		}
	})
}
