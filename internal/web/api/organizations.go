package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/mergedesk/mergedesk"
)

// organizationJSON is the organization object of docs/api.md §4.1.
type organizationJSON struct {
	ID                 int64          `json:"id"`
	URL                string         `json:"url"`
	Name               string         `json:"name"`
	ExternalID         *string        `json:"external_id"`
	DomainNames        []string       `json:"domain_names"`
	GroupID            *int64         `json:"group_id"`
	SharedTickets      bool           `json:"shared_tickets"`
	SharedComments     bool           `json:"shared_comments"`
	Details            *string        `json:"details"`
	Notes              *string        `json:"notes"`
	Tags               []string       `json:"tags"`
	OrganizationFields map[string]any `json:"organization_fields"`
	CreatedAt          string         `json:"created_at"`
	UpdatedAt          string         `json:"updated_at"`
	// ResultType is set in search results only.
	ResultType string `json:"result_type,omitempty"`
}

func (s *Server) organizationURL(r *http.Request, id int64) string {
	return s.url(r, "/organizations/"+strconv.FormatInt(id, 10))
}

// organizationView renders an organization; arrays and objects are never null.
func (s *Server) organizationView(r *http.Request, o *mergedesk.Organization) *organizationJSON {
	j := &organizationJSON{ID: o.ID, URL: s.organizationURL(r, o.ID), Name: o.Name, ExternalID: o.ExternalID,
		DomainNames: o.DomainNames, GroupID: o.GroupID, SharedTickets: o.SharedTickets, SharedComments: o.SharedComments,
		Details: o.Details, Notes: o.Notes, Tags: o.Tags, OrganizationFields: o.OrganizationFields,
		CreatedAt: ts(o.CreatedAt), UpdatedAt: ts(o.UpdatedAt)}
	if j.DomainNames == nil {
		j.DomainNames = []string{}
	}
	if j.Tags == nil {
		j.Tags = []string{}
	}
	if j.OrganizationFields == nil {
		j.OrganizationFields = map[string]any{}
	}
	return j
}

func (s *Server) organizationsView(r *http.Request, orgs []*mergedesk.Organization) []*organizationJSON {
	out := make([]*organizationJSON, len(orgs))
	for i, o := range orgs {
		out[i] = s.organizationView(r, o)
	}
	return out
}

// organizationBody is the writable part of an organization in a request.
type organizationBody struct {
	Name               Opt[string]          `json:"name"`
	ExternalID         Opt[string]          `json:"external_id"`
	DomainNames        Opt[[]string]        `json:"domain_names"`
	GroupID            Ref                  `json:"group_id"`
	SharedTickets      Opt[bool]            `json:"shared_tickets"`
	SharedComments     Opt[bool]            `json:"shared_comments"`
	Details            Opt[string]          `json:"details"`
	Notes              Opt[string]          `json:"notes"`
	Tags               Opt[[]string]        `json:"tags"`
	OrganizationFields Opt[json.RawMessage] `json:"organization_fields"`
}

// write converts the body; null tags, domain_names and organization_fields mean
// no change (docs/api.md §1.3), which on create is the empty value.
func (b *organizationBody) write() (mergedesk.OrganizationWrite, error) {
	w := mergedesk.OrganizationWrite{Name: b.Name.Ptr(), ExternalID: strUpdate(b.ExternalID), DomainNames: b.DomainNames.Ptr(),
		GroupID: refUpdate(b.GroupID), SharedTickets: b.SharedTickets.Ptr(), SharedComments: b.SharedComments.Ptr(),
		Details: strUpdate(b.Details), Notes: strUpdate(b.Notes), Tags: b.Tags.Ptr()}
	if raw := b.OrganizationFields.Ptr(); raw != nil {
		// Decoded with UseNumber so that large numbers keep every digit.
		var fields map[string]any
		dec := json.NewDecoder(bytes.NewReader(*raw))
		dec.UseNumber()
		if err := dec.Decode(&fields); err != nil {
			return w, mergedesk.Errorf(mergedesk.EInvalidJSON, "organization_fields: expected an object")
		}
		w.OrganizationFields = make(map[string]any, len(fields))
		for k, v := range fields {
			fv, ok := fieldValue(v)
			if !ok {
				return w, mergedesk.Invalid("organization_fields", mergedesk.CodeInvalid,
					"Organization fields: %s must be a string, boolean or null", k)
			}
			w.OrganizationFields[k] = fv
		}
	}
	return w, nil
}

func decodeOrganization(r *http.Request) (*organizationBody, error) {
	var env struct {
		Organization *organizationBody `json:"organization"`
	}
	if err := decode(r, &env); err != nil {
		return nil, err
	}
	if env.Organization == nil {
		return nil, mergedesk.Errorf(mergedesk.EParamMissing, "organization parameter is missing")
	}
	return env.Organization, nil
}

func (s *Server) organizationRoutes() {
	s.handle("GET /organizations", Staff, s.listOrganizations)
	s.handle("GET /organizations/{id}", Staff, s.getOrganization)
	s.handle("GET /organizations/show_many", Staff, s.showManyOrganizations)
	s.handle("GET /organizations/search", Staff, s.searchOrganizations)
	s.handle("GET /organizations/autocomplete", Staff, s.autocompleteOrganizations)
	s.handle("POST /organizations", Staff, s.createOrganization)
	s.handle("PUT /organizations/{id}", Staff, s.updateOrganization)
	s.handle("DELETE /organizations/{id}", Staff, s.deleteOrganization)

	s.handle("GET /organization_memberships", Staff, s.listMemberships)
	s.handle("GET /organization_memberships/{id}", Staff, s.getMembership)
	s.handle("GET /organizations/{id}/organization_memberships", Staff, s.listOrganizationMemberships)
	s.handle("GET /users/{id}/organization_memberships", Staff, s.listUserMemberships)
	s.handle("POST /organization_memberships", Staff, s.createMembership)
	s.handle("DELETE /organization_memberships/{id}", Staff, s.deleteMembership)
	s.handle("DELETE /users/{uid}/organizations/{oid}", Staff, s.leaveOrganization)
	s.handle("PUT /users/{uid}/organizations/{oid}/make_default", Staff, s.makeDefaultOrganization)
	s.handle("PUT /users/{uid}/organization_memberships/{id}/make_default", Staff, s.makeDefaultMembership)
}

func (s *Server) listOrganizations(w http.ResponseWriter, r *http.Request) error {
	return s.writeOrganizationList(w, r, mergedesk.OrganizationFilter{})
}

func (s *Server) writeOrganizationList(w http.ResponseWriter, r *http.Request, f mergedesk.OrganizationFilter) error {
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	orgs, info, err := s.DB.Organizations(r.Context(), f, p)
	if err != nil {
		return err
	}
	first, last := ends(orgs, func(o *mergedesk.Organization) int64 { return o.ID })
	return s.list(w, r, "organizations", s.organizationsView(r, orgs), p, info, first, last)
}

func (s *Server) getOrganization(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	o, err := s.DB.Organization(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"organization": s.organizationView(r, o)})
}

func (s *Server) showManyOrganizations(w http.ResponseWriter, r *http.Request) error {
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
	orgs, err := s.DB.ShowManyOrganizations(r.Context(), ids, exts)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"organizations": s.organizationsView(r, orgs),
		"next_page": nil, "previous_page": nil, "count": len(orgs)})
}

// searchOrganizations is Zendesk's exact-match lookup (go-zendesk sends
// external_id), not the query grammar of /search.
func (s *Server) searchOrganizations(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var f mergedesk.OrganizationFilter
	switch {
	case q.Get("external_id") != "":
		e := q.Get("external_id")
		f.ExternalID = &e
	case q.Get("name") != "":
		n := q.Get("name")
		f.Name = &n
	default:
		return mergedesk.Errorf(mergedesk.EParamMissing, "external_id or name is required")
	}
	return s.writeOrganizationList(w, r, f)
}

func (s *Server) autocompleteOrganizations(w http.ResponseWriter, r *http.Request) error {
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	name := r.URL.Query().Get("name")
	if name == "" {
		return mergedesk.Errorf(mergedesk.EParamMissing, "name is required")
	}
	orgs, err := s.DB.AutocompleteOrganizations(r.Context(), name, p.Size)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"organizations": s.organizationsView(r, orgs),
		"next_page": nil, "previous_page": nil, "count": len(orgs)})
}

func (s *Server) createOrganization(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeOrganization(r)
	if err != nil {
		return err
	}
	ow, err := b.write()
	if err != nil {
		return err
	}
	o, err := s.DB.CreateOrganization(r.Context(), ow)
	if err != nil {
		return err
	}
	w.Header().Set("Location", s.organizationURL(r, o.ID))
	return writeJSON(w, http.StatusCreated, map[string]any{"organization": s.organizationView(r, o)})
}

func (s *Server) updateOrganization(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	b, err := decodeOrganization(r)
	if err != nil {
		return err
	}
	ow, err := b.write()
	if err != nil {
		return err
	}
	o, err := s.DB.UpdateOrganization(r.Context(), id, ow)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"organization": s.organizationView(r, o)})
}

func (s *Server) deleteOrganization(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.DB.DeleteOrganization(r.Context(), id); err != nil {
		return err
	}
	return writeJSON(w, http.StatusNoContent, nil)
}

// membershipJSON is the organization membership object of docs/api.md §4.2.
type membershipJSON struct {
	ID               int64  `json:"id"`
	URL              string `json:"url"`
	UserID           int64  `json:"user_id"`
	OrganizationID   int64  `json:"organization_id"`
	OrganizationName string `json:"organization_name"`
	// Default is true or null, never false: a Zendesk quirk clients rely on.
	Default     *bool  `json:"default"`
	ViewTickets bool   `json:"view_tickets"`
	CreatedAt   string `json:"created_at"`
	UpdatedAt   string `json:"updated_at"`
}

func (s *Server) membershipURL(r *http.Request, id int64) string {
	return s.url(r, "/organization_memberships/"+strconv.FormatInt(id, 10))
}

func (s *Server) membershipView(r *http.Request, m mergedesk.Membership) membershipJSON {
	j := membershipJSON{ID: m.ID, URL: s.membershipURL(r, m.ID), UserID: m.UserID, OrganizationID: m.OrganizationID,
		OrganizationName: m.OrganizationName, ViewTickets: m.ViewTickets, CreatedAt: ts(m.CreatedAt), UpdatedAt: ts(m.UpdatedAt)}
	if m.Default {
		t := true
		j.Default = &t
	}
	return j
}

func (s *Server) membershipsView(r *http.Request, ms []mergedesk.Membership) []membershipJSON {
	out := make([]membershipJSON, len(ms))
	for i, m := range ms {
		out[i] = s.membershipView(r, m)
	}
	return out
}

func (s *Server) writeMembershipList(w http.ResponseWriter, r *http.Request, f mergedesk.MembershipFilter) error {
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	ms, info, err := s.DB.Memberships(r.Context(), f, p)
	if err != nil {
		return err
	}
	first, last := ends(ms, func(m mergedesk.Membership) int64 { return m.ID })
	return s.list(w, r, "organization_memberships", s.membershipsView(r, ms), p, info, first, last)
}

// queryID reads an optional id filter such as ?user_id=5.
func queryID(r *http.Request, name string) (*int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return nil, nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, mergedesk.Errorf(mergedesk.EParamMissing, "%s: %q is not an id", name, truncate(v, 30))
	}
	return &id, nil
}

func (s *Server) listMemberships(w http.ResponseWriter, r *http.Request) error {
	var f mergedesk.MembershipFilter
	var err error
	if f.UserID, err = queryID(r, "user_id"); err != nil {
		return err
	}
	if f.OrganizationID, err = queryID(r, "organization_id"); err != nil {
		return err
	}
	return s.writeMembershipList(w, r, f)
}

func (s *Server) listOrganizationMemberships(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if _, err := s.DB.Organization(r.Context(), id); err != nil {
		return err
	}
	return s.writeMembershipList(w, r, mergedesk.MembershipFilter{OrganizationID: &id})
}

func (s *Server) listUserMemberships(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if _, err := s.DB.User(r.Context(), id); err != nil {
		return err
	}
	return s.writeMembershipList(w, r, mergedesk.MembershipFilter{UserID: &id})
}

func (s *Server) getMembership(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	m, err := s.DB.Membership(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"organization_membership": s.membershipView(r, *m)})
}

// memberCheck is the authorization of membership writes: they change the
// member's organization_id, so they are writes to the member
// (mergedesk.CanWriteUser), checked by the store on the member it locked.
func memberCheck(r *http.Request) func(*mergedesk.User) error {
	return mergedesk.UserWriteCheck(actor(r), mergedesk.UserChange{})
}

func (s *Server) createMembership(w http.ResponseWriter, r *http.Request) error {
	var env struct {
		Membership *struct {
			UserID         Ref       `json:"user_id"`
			OrganizationID Ref       `json:"organization_id"`
			Default        Opt[bool] `json:"default"`
		} `json:"organization_membership"`
	}
	if err := decode(r, &env); err != nil {
		return err
	}
	b := env.Membership
	if b == nil {
		return mergedesk.Errorf(mergedesk.EParamMissing, "organization_membership parameter is missing")
	}
	uid, oid := refPtr(b.UserID), refPtr(b.OrganizationID)
	if uid == nil {
		return mergedesk.Invalid("user_id", mergedesk.CodeBlank, "User: cannot be blank")
	}
	if oid == nil {
		return mergedesk.Invalid("organization_id", mergedesk.CodeBlank, "Organization: cannot be blank")
	}
	m, err := s.DB.CreateMembership(r.Context(), *uid, *oid, b.Default.V, memberCheck(r))
	if err != nil {
		return err
	}
	w.Header().Set("Location", s.membershipURL(r, m.ID))
	return writeJSON(w, http.StatusCreated, map[string]any{"organization_membership": s.membershipView(r, *m)})
}

func (s *Server) deleteMembership(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.DB.DeleteMembership(r.Context(), id, memberCheck(r)); err != nil {
		return err
	}
	return writeJSON(w, http.StatusNoContent, nil)
}

func userOrgPath(r *http.Request) (uid, oid int64, err error) {
	if uid, err = pathID(r, "uid"); err != nil {
		return
	}
	oid, err = pathID(r, "oid")
	return
}

func (s *Server) leaveOrganization(w http.ResponseWriter, r *http.Request) error {
	uid, oid, err := userOrgPath(r)
	if err != nil {
		return err
	}
	if err := s.DB.LeaveOrganization(r.Context(), uid, oid, memberCheck(r)); err != nil {
		return err
	}
	return writeJSON(w, http.StatusNoContent, nil)
}

// makeDefaultOrganization ignores the body, which clients send as null, {} or
// nothing (docs/api.md §1.3).
func (s *Server) makeDefaultOrganization(w http.ResponseWriter, r *http.Request) error {
	uid, oid, err := userOrgPath(r)
	if err != nil {
		return err
	}
	m, err := s.DB.MakeDefaultOrganization(r.Context(), uid, oid, memberCheck(r))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"organization_membership": s.membershipView(r, *m)})
}

func (s *Server) makeDefaultMembership(w http.ResponseWriter, r *http.Request) error {
	uid, err := pathID(r, "uid")
	if err != nil {
		return err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ms, err := s.DB.MakeDefaultMembership(r.Context(), uid, id, memberCheck(r))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"organization_memberships": s.membershipsView(r, ms)})
}
