package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/mergedesk/mergedesk"
)

// userBody is the writable part of a user in a request (docs/api.md §2.1).
type userBody struct {
	Name              Opt[string]            `json:"name"`
	Email             Opt[string]            `json:"email"`
	Phone             Opt[string]            `json:"phone"`
	SharedPhoneNumber Opt[bool]              `json:"shared_phone_number"`
	Role              Opt[string]            `json:"role"`
	Verified          Opt[bool]              `json:"verified"`
	Suspended         Opt[bool]              `json:"suspended"`
	ExternalID        Opt[string]            `json:"external_id"`
	Locale            Opt[string]            `json:"locale"`
	LocaleID          Opt[Int]               `json:"locale_id"`
	TimeZone          Opt[string]            `json:"time_zone"`
	OrganizationID    Ref                    `json:"organization_id"`
	Organization      *struct{ Name string } `json:"organization"`
	Tags              Opt[[]string]          `json:"tags"`
	Details           Opt[string]            `json:"details"`
	Notes             Opt[string]            `json:"notes"`
	Alias             Opt[string]            `json:"alias"`
	Signature         Opt[string]            `json:"signature"`
	UserFields        Opt[map[string]any]    `json:"user_fields"`
	RemotePhotoURL    Opt[string]            `json:"remote_photo_url"`
	Identities        []identityBody         `json:"identities"`
}

// ID is read only for create_or_update matching and merges; otherwise ignored.
type userEnvelope struct {
	User *userBody `json:"user"`
}

func (b *userBody) localeID() (*int64, error) {
	if b.Locale.Set && !b.Locale.Null && b.Locale.V != "" {
		l := mergedesk.LocaleByName(b.Locale.V)
		if l == nil {
			return nil, mergedesk.Invalid("locale", mergedesk.CodeInvalid, "Locale: %q is not a supported locale", b.Locale.V)
		}
		return &l.ID, nil
	}
	if b.LocaleID.Set && !b.LocaleID.Null && b.LocaleID.V != 0 {
		v := int64(b.LocaleID.V)
		return &v, nil
	}
	return nil, nil
}

func (b *userBody) userFields() (map[string]any, error) {
	if !b.UserFields.Set || b.UserFields.Null {
		return nil, nil
	}
	out := make(map[string]any, len(b.UserFields.V))
	for k, v := range b.UserFields.V {
		fv, ok := fieldValue(v)
		if !ok {
			return nil, mergedesk.Invalid("user_fields", mergedesk.CodeInvalid, "User fields: %s must be a string, boolean or null", k)
		}
		out[k] = fv
	}
	return out, nil
}

// newUser converts a create body.
func (b *userBody) newUser() (mergedesk.NewUser, error) {
	nu := mergedesk.NewUser{Name: b.Name.V, Role: b.Role.V, Email: b.Email.V, Phone: b.Phone.V,
		SharedPhone: b.SharedPhoneNumber.V, Verified: b.Verified.V, Suspended: b.Suspended.V,
		ExternalID: b.ExternalID.Ptr(), TimeZone: b.TimeZone.V, Tags: b.Tags.V, Details: b.Details.Ptr(),
		Notes: b.Notes.Ptr(), Alias: b.Alias.Ptr(), Signature: b.Signature.Ptr(), RemotePhotoURL: b.RemotePhotoURL.Ptr(),
		OrganizationID: refPtr(b.OrganizationID)}
	if b.Organization != nil && b.Organization.Name != "" {
		nu.OrganizationName = &b.Organization.Name
	}
	loc, err := b.localeID()
	if err != nil {
		return nu, err
	}
	if loc != nil {
		nu.LocaleID = *loc
	}
	if nu.UserFields, err = b.userFields(); err != nil {
		return nu, err
	}
	for _, ib := range b.Identities {
		ni, err := ib.newIdentity()
		if err != nil {
			return nu, err
		}
		nu.Identities = append(nu.Identities, ni)
	}
	return nu, nil
}

// update converts an update body (§2.4).
func (b *userBody) update() (mergedesk.UserUpdate, error) {
	u := mergedesk.UserUpdate{Name: b.Name.Ptr(), Role: b.Role.Ptr(), Suspended: b.Suspended.Ptr(),
		ExternalID: strUpdate(b.ExternalID), TimeZone: b.TimeZone.Ptr(), Details: strUpdate(b.Details),
		Notes: strUpdate(b.Notes), Alias: strUpdate(b.Alias), Signature: strUpdate(b.Signature),
		RemotePhotoURL: strUpdate(b.RemotePhotoURL), Email: b.Email.Ptr(), Verified: b.Verified.Ptr(),
		Phone: b.Phone.Ptr(), SharedPhoneNumber: b.SharedPhoneNumber.Ptr(), OrganizationID: refUpdate(b.OrganizationID)}
	if b.Tags.Set && !b.Tags.Null {
		u.Tags = &b.Tags.V
	}
	if b.TimeZone.Set && b.TimeZone.V == "" {
		u.TimeZone = nil
	}
	var err error
	if u.LocaleID, err = b.localeID(); err != nil {
		return u, err
	}
	u.UserFields, err = b.userFields()
	return u, err
}

func pathID(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, mergedesk.NotFound()
	}
	return id, nil
}

// pathIDs reads two id path values, such as a post and one of its comments.
func pathIDs(r *http.Request, parent, child string) (int64, int64, error) {
	p, err := pathID(r, parent)
	if err != nil {
		return 0, 0, err
	}
	c, err := pathID(r, child)
	return p, c, err
}

// actor is the caller of a request as the domain's authorization functions take
// it (authz.go). Every role question goes to them; handlers only ask.
func actor(r *http.Request) *mergedesk.Principal {
	if c := callerFrom(r.Context()); c != nil {
		return &c.Principal
	}
	return nil
}

// roleChange is the authorization view of a body's role field.
func (b *userBody) roleChange() mergedesk.UserChange {
	return mergedesk.UserChange{Role: b.Role.V}
}

// writableUser loads the user id and returns it if the caller may write it
// (mergedesk.CanWriteUser): every route that changes a user, its tags or its
// identities starts here, before it reads the body, so a refusal is a 403 and
// not a complaint about the body.
func (s *Server) writableUser(r *http.Request, id int64) (*mergedesk.User, error) {
	u, err := s.DB.User(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if err := mergedesk.CanWriteUser(actor(r), u, mergedesk.UserChange{}); err != nil {
		return nil, err
	}
	return u, nil
}

func (s *Server) tagging(ctx context.Context) bool {
	st, err := s.DB.Settings(ctx)
	return err != nil || st.Users.Tagging
}

func (s *Server) writeUser(w http.ResponseWriter, r *http.Request, status int, u *mergedesk.User) error {
	if status == http.StatusCreated {
		w.Header().Set("Location", s.userURL(r, u.ID))
	}
	return writeJSON(w, status, map[string]any{"user": s.userView(r, u, s.tagging(r.Context()))})
}

func (s *Server) writeUsers(w http.ResponseWriter, r *http.Request, users []*mergedesk.User, p mergedesk.Page, info mergedesk.PageInfo) error {
	tagging := s.tagging(r.Context())
	out := make([]*userJSON, len(users))
	for i, u := range users {
		out[i] = s.fullUser(r, u, tagging)
	}
	first, last := ends(users, func(u *mergedesk.User) int64 { return u.ID })
	return s.list(w, r, "users", out, p, info, first, last)
}

func (s *Server) userRoutes() {
	s.handle("GET /users", Staff, s.listUsers)
	s.handle("GET /organizations/{id}/users", Staff, s.listOrganizationUsers)
	s.handle("GET /users/me", Self, s.me)
	s.handle("GET /users/{id}", Self, s.getUser)
	s.handle("GET /users/show_many", Staff, s.showManyUsers)
	s.handle("POST /users", Staff, s.createUser)
	s.handle("POST /users/create_or_update", Staff, s.createOrUpdateUser)
	s.handle("POST /users/create_many", Staff, s.bulkUsers(JobCreateUsers))
	s.handle("POST /users/create_or_update_many", Staff, s.bulkUsers(JobCreateOrUpdateUsers))
	s.handle("PUT /users/{id}", Staff, s.updateUser)
	s.handle("DELETE /users/{id}", Staff, s.deleteUser)
	s.handle("GET /users/autocomplete", Staff, s.autocompleteUsers)
	s.handle("GET /users/{id}/related", Staff, s.relatedUser)
	s.handle("GET /users/{id}/tags", Staff, s.userTags)
	s.handle("PUT /users/{id}/tags", Staff, s.setUserTags("add", http.StatusOK))
	s.handle("POST /users/{id}/tags", Staff, s.setUserTags("set", http.StatusCreated))
	s.handle("DELETE /users/{id}/tags", Staff, s.setUserTags("remove", http.StatusNoContent))
	s.handle("GET /deleted_users", Staff, s.listDeletedUsers)
	s.handle("GET /deleted_users/{id}", Staff, s.getDeletedUser)
	s.handle("POST /users/{id}/password", Self, s.setPassword)
	s.handle("GET /users/{id}/api_tokens", Self, s.listAPITokens)
	s.handle("POST /users/{id}/api_tokens", Self, s.createAPIToken)
	s.handle("DELETE /users/{id}/api_tokens/{token_id}", Self, s.deleteAPIToken)
	s.handle("GET /locales", Self, func(w http.ResponseWriter, r *http.Request) error {
		return writeJSON(w, http.StatusOK, map[string]any{"locales": mergedesk.Locales})
	})
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	var f mergedesk.UserFilter
	for _, role := range append(q["role"], q["role[]"]...) {
		if role != "" {
			f.Roles = append(f.Roles, role)
		}
	}
	if q.Has("external_id") && q.Get("external_id") != "" {
		e := q.Get("external_id")
		f.ExternalID = &e
	}
	users, info, err := s.DB.Users(r.Context(), f, p)
	if err != nil {
		return err
	}
	return s.writeUsers(w, r, users, p, info)
}

func (s *Server) listOrganizationUsers(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if _, err := s.DB.Organization(r.Context(), id); err != nil {
		return err
	}
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	users, info, err := s.DB.Users(r.Context(), mergedesk.UserFilter{OrgID: &id}, p)
	if err != nil {
		return err
	}
	return s.writeUsers(w, r, users, p, info)
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) error {
	u, err := s.DB.User(r.Context(), callerFrom(r.Context()).ID)
	if err != nil {
		return err
	}
	return s.writeUser(w, r, http.StatusOK, u)
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := mergedesk.CanReadUser(actor(r), id); err != nil {
		return err
	}
	u, err := s.DB.User(r.Context(), id)
	if err != nil {
		return err
	}
	return s.writeUser(w, r, http.StatusOK, u)
}

// idList parses "1,2,3" (at most 100 values).
func idList(s string) ([]int64, error) {
	var out []int64
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, err := strconv.ParseInt(part, 10, 64)
		if err != nil {
			return nil, mergedesk.Errorf(mergedesk.EParamMissing, "ids: %q is not an id", truncate(part, 30))
		}
		out = append(out, id)
	}
	if len(out) > 100 {
		return nil, mergedesk.Errorf(mergedesk.ETooManyValues, "at most 100 ids are allowed, got %d", len(out))
	}
	return out, nil
}

func stringList(s string) ([]string, error) {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	if len(out) > 100 {
		return nil, mergedesk.Errorf(mergedesk.ETooManyValues, "at most 100 values are allowed, got %d", len(out))
	}
	return out, nil
}

func (s *Server) showManyUsers(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	ids, err := idList(q.Get("ids"))
	if err != nil {
		return err
	}
	exts, err := stringList(q.Get("external_ids"))
	if err != nil {
		return err
	}
	if len(ids) == 0 && len(exts) == 0 {
		return mergedesk.Errorf(mergedesk.EParamMissing, "ids or external_ids is required")
	}
	users, err := s.DB.ShowManyUsers(r.Context(), ids, exts)
	if err != nil {
		return err
	}
	tagging := s.tagging(r.Context())
	out := make([]*userJSON, len(users))
	for i, u := range users {
		out[i] = s.fullUser(r, u, tagging)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"users": out, "next_page": nil, "previous_page": nil, "count": len(out)})
}

func decodeUser(r *http.Request) (*userBody, error) {
	var env userEnvelope
	if err := decode(r, &env); err != nil {
		return nil, err
	}
	if env.User == nil {
		return nil, mergedesk.Errorf(mergedesk.EParamMissing, "user parameter is missing")
	}
	return env.User, nil
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeUser(r)
	if err != nil {
		return err
	}
	if err := mergedesk.CanWriteUser(actor(r), nil, b.roleChange()); err != nil {
		return err
	}
	nu, err := b.newUser()
	if err != nil {
		return err
	}
	u, err := s.DB.CreateUser(r.Context(), nu)
	if err != nil {
		return err
	}
	return s.writeUser(w, r, http.StatusCreated, u)
}

func (s *Server) createOrUpdateUser(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeUser(r)
	if err != nil {
		return err
	}
	u, created, err := s.createOrUpdate(r, b)
	if err != nil {
		return err
	}
	w.Header().Set("Location", s.userURL(r, u.ID))
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return writeJSON(w, status, map[string]any{"user": s.fullUser(r, u, s.tagging(r.Context()))})
}

// createOrUpdate matches by external_id, then email; updates a match, else creates.
func (s *Server) createOrUpdate(r *http.Request, b *userBody) (*mergedesk.User, bool, error) {
	nu, err := b.newUser()
	if err != nil {
		return nil, false, err
	}
	upd, err := b.update()
	if err != nil {
		return nil, false, err
	}
	return s.DB.CreateOrUpdateUser(r.Context(), nu, upd, mergedesk.UserWriteCheck(actor(r), b.roleChange()))
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	cur, err := s.writableUser(r, id)
	if err != nil {
		return err
	}
	b, err := decodeUser(r)
	if err != nil {
		return err
	}
	if err := mergedesk.CanWriteUser(actor(r), cur, b.roleChange()); err != nil {
		return err
	}
	upd, err := b.update()
	if err != nil {
		return err
	}
	u, err := s.DB.UpdateUser(r.Context(), id, upd, mergedesk.UserWriteCheck(actor(r), b.roleChange()))
	if err != nil {
		return err
	}
	s.tokens.reset() // a suspension takes effect at once
	return s.writeUser(w, r, http.StatusOK, u)
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if _, err := s.writableUser(r, id); err != nil {
		return err
	}
	u, err := s.DB.DeleteUser(r.Context(), id, callerFrom(r.Context()).ID, mergedesk.UserWriteCheck(actor(r), mergedesk.UserChange{}))
	if err != nil {
		return err
	}
	s.tokens.reset()
	return s.writeUser(w, r, http.StatusOK, u)
}

func (s *Server) autocompleteUsers(w http.ResponseWriter, r *http.Request) error {
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	users, err := s.DB.Autocomplete(r.Context(), r.URL.Query().Get("name"), p.Size)
	if err != nil {
		return err
	}
	tagging := s.tagging(r.Context())
	out := make([]*userJSON, len(users))
	for i, u := range users {
		out[i] = s.fullUser(r, u, tagging)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"users": out, "next_page": nil, "previous_page": nil, "count": len(out)})
}

func (s *Server) relatedUser(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if _, err := s.DB.User(r.Context(), id); err != nil {
		return err
	}
	rel, err := s.DB.Related(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"user_related": map[string]any{
		"requested_tickets": rel.Requested, "ccd_tickets": rel.CCd, "assigned_tickets": rel.Assigned, "organization_subscriptions": 0}})
}

func (s *Server) userTags(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	tags, err := s.DB.UserTags(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"tags": tags})
}

func (s *Server) setUserTags(mode string, status int) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, "id")
		if err != nil {
			return err
		}
		if _, err := s.writableUser(r, id); err != nil {
			return err
		}
		var body struct {
			Tags []string `json:"tags"`
		}
		if err := decode(r, &body); err != nil {
			return err
		}
		if body.Tags == nil && mode != "set" {
			return mergedesk.Errorf(mergedesk.EParamMissing, "tags parameter is missing")
		}
		tags, err := s.DB.SetUserTags(r.Context(), id, mode, body.Tags, mergedesk.UserWriteCheck(actor(r), mergedesk.UserChange{}))
		if err != nil {
			return err
		}
		return writeJSON(w, status, map[string]any{"tags": tags})
	}
}

func (s *Server) deletedUserView(r *http.Request, d *mergedesk.DeletedUser) map[string]any {
	loc := mergedesk.LocaleByID(d.LocaleID)
	if loc == nil {
		loc = &mergedesk.Locales[0]
	}
	var photo *photoJSON
	if d.RemotePhotoURL != nil {
		photo = photoOf(&mergedesk.User{RemotePhotoURL: d.RemotePhotoURL})
	}
	return map[string]any{"id": d.ID, "url": s.url(r, "/deleted_users/"+strconv.FormatInt(d.ID, 10)), "name": d.Name,
		"email": d.Email, "phone": d.Phone, "shared_phone_number": d.SharedPhoneNumber, "photo": photo,
		"locale": loc.Locale, "locale_id": loc.ID, "time_zone": d.TimeZone, "organization_id": d.OrganizationID,
		"role": d.Role, "active": false, "created_at": ts(d.CreatedAt), "updated_at": ts(d.UpdatedAt),
		"merged_into_id": d.MergedIntoID}
}

func (s *Server) listDeletedUsers(w http.ResponseWriter, r *http.Request) error {
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	ds, info, err := s.DB.DeletedUsers(r.Context(), p)
	if err != nil {
		return err
	}
	out := make([]map[string]any, len(ds))
	for i := range ds {
		out[i] = s.deletedUserView(r, &ds[i])
	}
	first, last := ends(ds, func(d mergedesk.DeletedUser) int64 { return d.ID })
	return s.list(w, r, "deleted_users", out, p, info, first, last)
}

func (s *Server) getDeletedUser(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	d, err := s.DB.DeletedUser(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"deleted_user": s.deletedUserView(r, d)})
}

func (s *Server) setPassword(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := mergedesk.CanManageCredentials(actor(r), id); err != nil {
		return err
	}
	var body struct {
		Password string `json:"password"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	if err := s.DB.SetPassword(r.Context(), id, body.Password); err != nil {
		return err
	}
	s.auth.reset()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) tokenView(r *http.Request, t mergedesk.APIToken) map[string]any {
	m := map[string]any{"id": t.ID, "description": t.Description, "created_at": ts(t.CreatedAt)}
	if t.Token != "" {
		m["token"] = t.Token
	}
	return m
}

func (s *Server) listAPITokens(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := mergedesk.CanManageCredentials(actor(r), id); err != nil {
		return err
	}
	ts, err := s.DB.APITokens(r.Context(), id)
	if err != nil {
		return err
	}
	out := make([]map[string]any, len(ts))
	for i, t := range ts {
		out[i] = s.tokenView(r, t)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"api_tokens": out})
}

func (s *Server) createAPIToken(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := mergedesk.CanManageCredentials(actor(r), id); err != nil {
		return err
	}
	var body struct {
		APIToken struct {
			Description *string `json:"description"`
		} `json:"api_token"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	t, err := s.DB.CreateAPIToken(r.Context(), id, body.APIToken.Description, "")
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, map[string]any{"api_token": s.tokenView(r, *t)})
}

func (s *Server) deleteAPIToken(w http.ResponseWriter, r *http.Request) error {
	id, tid, err := pathIDs(r, "id", "token_id")
	if err != nil {
		return err
	}
	if err := mergedesk.CanManageCredentials(actor(r), id); err != nil {
		return err
	}
	if err := s.DB.DeleteAPIToken(r.Context(), id, tid); err != nil {
		return err
	}
	s.tokens.reset()
	return writeJSON(w, http.StatusNoContent, nil)
}

var _ = json.Marshal
