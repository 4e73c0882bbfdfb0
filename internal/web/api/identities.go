package api

import (
	"net/http"

	"github.com/mergedesk/mergedesk"
)

// identityBody is an identity in a request (docs/api.md §3).
type identityBody struct {
	Type               string      `json:"type"`
	Value              Opt[string] `json:"value"`
	Verified           Opt[bool]   `json:"verified"`
	Primary            Opt[bool]   `json:"primary"`
	VerificationMethod Opt[string] `json:"verification_method"`
}

func (b identityBody) newIdentity() (mergedesk.NewIdentity, error) {
	if b.VerificationMethod.Set && b.VerificationMethod.V != "none" && b.VerificationMethod.V != "low" {
		return mergedesk.NewIdentity{}, mergedesk.Errorf(mergedesk.EParamMissing, "verification_method must be none or low")
	}
	return mergedesk.NewIdentity{Type: b.Type, Value: b.Value.V, Verified: b.Verified.V, Primary: b.Primary.V,
		VerificationMethod: b.VerificationMethod.V}, nil
}

func (s *Server) identityRoutes() {
	s.handle("GET /users/{uid}/identities", Self, s.listIdentities)
	s.handle("GET /users/{uid}/identities/{id}", Self, s.getIdentity)
	s.handle("POST /users/{uid}/identities", Staff, s.createIdentity)
	s.handle("PUT /users/{uid}/identities/{id}", Staff, s.updateIdentity)
	s.handle("PUT /users/{uid}/identities/{id}/make_primary", Staff, s.makePrimary)
	s.handle("PUT /users/{uid}/identities/{id}/verify", Staff, s.verifyIdentity)
	s.handle("PUT /users/{uid}/identities/{id}/request_verification", Staff, s.requestVerification)
	s.handle("DELETE /users/{uid}/identities/{id}", Staff, s.deleteIdentity)
}

func (s *Server) listIdentities(w http.ResponseWriter, r *http.Request) error {
	uid, err := pathID(r, "uid")
	if err != nil {
		return err
	}
	if err := mergedesk.CanReadUser(actor(r), uid); err != nil {
		return err
	}
	q := r.URL.Query()
	types := append(q["type[]"], q["type"]...)
	ids, err := s.DB.Identities(r.Context(), uid, types)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"identities": s.identitiesView(r, ids),
		"next_page": nil, "previous_page": nil, "count": len(ids)})
}

func identityPath(r *http.Request) (uid, id int64, err error) {
	return pathIDs(r, "uid", "id")
}

// writableIdentityPath reads the ids of an identity route that writes, and
// refuses a caller who may not write that user (mergedesk.CanWriteUser): an
// identity is a way to reach, and to sign in as, its user.
func (s *Server) writableIdentityPath(r *http.Request) (uid, id int64, err error) {
	if uid, id, err = identityPath(r); err != nil {
		return 0, 0, err
	}
	if _, err := s.writableUser(r, uid); err != nil {
		return 0, 0, err
	}
	return uid, id, nil
}

func (s *Server) getIdentity(w http.ResponseWriter, r *http.Request) error {
	uid, id, err := identityPath(r)
	if err != nil {
		return err
	}
	if err := mergedesk.CanReadUser(actor(r), uid); err != nil {
		return err
	}
	ident, err := s.DB.Identity(r.Context(), uid, id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"identity": s.identityView(r, *ident)})
}

func decodeIdentity(r *http.Request) (*identityBody, error) {
	var env struct {
		Identity *identityBody `json:"identity"`
	}
	if err := decode(r, &env); err != nil {
		return nil, err
	}
	if env.Identity == nil {
		return nil, mergedesk.Errorf(mergedesk.EParamMissing, "identity parameter is missing")
	}
	return env.Identity, nil
}

func (s *Server) createIdentity(w http.ResponseWriter, r *http.Request) error {
	uid, err := pathID(r, "uid")
	if err != nil {
		return err
	}
	if _, err := s.writableUser(r, uid); err != nil {
		return err
	}
	b, err := decodeIdentity(r)
	if err != nil {
		return err
	}
	ni, err := b.newIdentity()
	if err != nil {
		return err
	}
	ident, err := s.DB.AddIdentity(r.Context(), uid, ni, mergedesk.UserWriteCheck(actor(r), mergedesk.UserChange{}))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, map[string]any{"identity": s.identityView(r, *ident)})
}

func (s *Server) updateIdentity(w http.ResponseWriter, r *http.Request) error {
	uid, id, err := s.writableIdentityPath(r)
	if err != nil {
		return err
	}
	b, err := decodeIdentity(r)
	if err != nil {
		return err
	}
	ident, err := s.DB.UpdateIdentity(r.Context(), uid, id, b.Value.Ptr(), b.Verified.Ptr(), b.VerificationMethod.Ptr(), mergedesk.UserWriteCheck(actor(r), mergedesk.UserChange{}))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"identity": s.identityView(r, *ident)})
}

func (s *Server) makePrimary(w http.ResponseWriter, r *http.Request) error {
	uid, id, err := s.writableIdentityPath(r)
	if err != nil {
		return err
	}
	ids, err := s.DB.MakePrimary(r.Context(), uid, id, mergedesk.UserWriteCheck(actor(r), mergedesk.UserChange{}))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"identities": s.identitiesView(r, ids)})
}

func (s *Server) verifyIdentity(w http.ResponseWriter, r *http.Request) error {
	uid, id, err := s.writableIdentityPath(r)
	if err != nil {
		return err
	}
	t := true
	ident, err := s.DB.UpdateIdentity(r.Context(), uid, id, nil, &t, nil, mergedesk.UserWriteCheck(actor(r), mergedesk.UserChange{}))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"identity": s.identityView(r, *ident)})
}

func (s *Server) requestVerification(w http.ResponseWriter, r *http.Request) error {
	uid, id, err := s.writableIdentityPath(r)
	if err != nil {
		return err
	}
	if _, err := s.DB.Identity(r.Context(), uid, id); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{})
}

func (s *Server) deleteIdentity(w http.ResponseWriter, r *http.Request) error {
	uid, id, err := s.writableIdentityPath(r)
	if err != nil {
		return err
	}
	if err := s.DB.DeleteIdentity(r.Context(), uid, id, mergedesk.UserWriteCheck(actor(r), mergedesk.UserChange{})); err != nil {
		return err
	}
	return writeJSON(w, http.StatusNoContent, nil)
}
