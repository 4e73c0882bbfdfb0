package api

import (
	"encoding/json"
	"net/http"

	"github.com/mergedesk/mergedesk"
)

func (s *Server) settingsRoutes() {
	s.handle("GET /account/settings", Staff, s.getSettings)
	s.handle("PUT /account/settings", Admin, s.updateSettings)
}

// settingsView drops the write-only JWT shared secret (docs/api.md §14).
func settingsView(st mergedesk.Settings) map[string]any {
	st.SSO.JWT.SharedSecret = ""
	return map[string]any{"settings": st}
}

func (s *Server) getSettings(w http.ResponseWriter, r *http.Request) error {
	st, err := s.DB.Settings(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, settingsView(st))
}

// updateSettings merges a partial {"settings":{...}} into the stored settings.
func (s *Server) updateSettings(w http.ResponseWriter, r *http.Request) error {
	var env struct {
		Settings json.RawMessage `json:"settings"`
	}
	if err := decode(r, &env); err != nil {
		return err
	}
	if len(env.Settings) == 0 || string(env.Settings) == "null" {
		return mergedesk.Errorf(mergedesk.EParamMissing, "settings parameter is missing")
	}
	st, err := s.DB.UpdateSettings(r.Context(), env.Settings)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, settingsView(st))
}
