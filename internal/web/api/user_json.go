package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/mergedesk/mergedesk"
)

// ts formats a timestamp as RFC 3339 UTC with second precision.
func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func tsPtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := ts(*t)
	return &s
}

// userJSON is the full user object of docs/api.md §2.1, fields in the documented order.
type userJSON struct {
	ID                   int64          `json:"id"`
	URL                  string         `json:"url"`
	Name                 string         `json:"name"`
	Email                *string        `json:"email"`
	Phone                *string        `json:"phone"`
	SharedPhoneNumber    *bool          `json:"shared_phone_number"`
	Role                 string         `json:"role"`
	RoleType             *int           `json:"role_type"`
	Verified             bool           `json:"verified"`
	Active               bool           `json:"active"`
	MergedIntoID         *int64         `json:"merged_into_id"`
	Suspended            bool           `json:"suspended"`
	ExternalID           *string        `json:"external_id"`
	Locale               string         `json:"locale"`
	LocaleID             int64          `json:"locale_id"`
	TimeZone             string         `json:"time_zone"`
	IANATimeZone         string         `json:"iana_time_zone"`
	OrganizationID       *int64         `json:"organization_id"`
	Tags                 *[]string      `json:"tags,omitempty"`
	Details              *string        `json:"details"`
	Notes                *string        `json:"notes"`
	Alias                *string        `json:"alias"`
	Signature            *string        `json:"signature"`
	UserFields           map[string]any `json:"user_fields"`
	Photo                *photoJSON     `json:"photo"`
	CreatedAt            string         `json:"created_at"`
	UpdatedAt            string         `json:"updated_at"`
	LastLoginAt          *string        `json:"last_login_at"`
	RestrictedAgent      bool           `json:"restricted_agent"`
	TicketRestriction    *string        `json:"ticket_restriction"`
	Shared               bool           `json:"shared"`
	SharedAgent          bool           `json:"shared_agent"`
	Moderator            bool           `json:"moderator"`
	OnlyPrivateComments  bool           `json:"only_private_comments"`
	TwoFactorAuthEnabled bool           `json:"two_factor_auth_enabled"`
	ReportCSV            bool           `json:"report_csv"`
	ChatOnly             bool           `json:"chat_only"`
	CustomRoleID         *int64         `json:"custom_role_id"`
	DefaultGroupID       *int64         `json:"default_group_id"`
	ResultType           string         `json:"result_type,omitempty"`
}

// endUserJSON is the restricted view an end user gets of themselves (§2.2).
type endUserJSON struct {
	ID                int64      `json:"id"`
	URL               string     `json:"url"`
	Name              string     `json:"name"`
	Email             *string    `json:"email"`
	CreatedAt         string     `json:"created_at"`
	UpdatedAt         string     `json:"updated_at"`
	TimeZone          string     `json:"time_zone"`
	IANATimeZone      string     `json:"iana_time_zone"`
	Phone             *string    `json:"phone"`
	SharedPhoneNumber *bool      `json:"shared_phone_number"`
	Photo             *photoJSON `json:"photo"`
	Locale            string     `json:"locale"`
	LocaleID          int64      `json:"locale_id"`
	OrganizationID    *int64     `json:"organization_id"`
	Role              string     `json:"role"`
	Verified          bool       `json:"verified"`
}

type photoJSON struct {
	ContentURL string   `json:"content_url"`
	FileName   string   `json:"file_name"`
	Thumbnails []string `json:"thumbnails"`
}

func photoOf(u *mergedesk.User) *photoJSON {
	if u.RemotePhotoURL == nil {
		return nil
	}
	name := *u.RemotePhotoURL
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '/' {
			name = name[i+1:]
			break
		}
	}
	return &photoJSON{ContentURL: *u.RemotePhotoURL, FileName: name, Thumbnails: []string{}}
}

func (s *Server) userURL(r *http.Request, id int64) string {
	return s.url(r, "/users/"+strconv.FormatInt(id, 10))
}

// userView renders u for the caller: the full object for staff, the restricted
// one for end users.
func (s *Server) userView(r *http.Request, u *mergedesk.User, tagging bool) any {
	if p := actor(r); p != nil && !mergedesk.IsStaff(p) {
		return s.endUserView(r, u)
	}
	return s.fullUser(r, u, tagging)
}

func (s *Server) fullUser(r *http.Request, u *mergedesk.User, tagging bool) *userJSON {
	loc := mergedesk.LocaleByID(u.LocaleID)
	if loc == nil {
		loc = &mergedesk.Locales[0]
	}
	phone, shared := mergedesk.PhoneOf(u)
	j := &userJSON{
		ID: u.ID, URL: s.userURL(r, u.ID), Name: u.Name, Email: u.Email(), Phone: phone, SharedPhoneNumber: shared,
		Role: u.Role, Verified: u.Verified(), Active: u.Active, MergedIntoID: u.MergedIntoID, Suspended: u.Suspended,
		ExternalID: u.ExternalID, Locale: loc.Locale, LocaleID: loc.ID, TimeZone: u.TimeZone,
		IANATimeZone: ianaOrUTC(u.TimeZone), OrganizationID: u.DefaultOrganizationID(), Details: u.Details,
		Notes: u.Notes, Alias: u.Alias, Signature: u.Signature, UserFields: u.UserFields, Photo: photoOf(u),
		CreatedAt: ts(u.CreatedAt), UpdatedAt: ts(u.UpdatedAt), LastLoginAt: tsPtr(u.LastLoginAt),
	}
	if tagging {
		tags := u.Tags
		if tags == nil {
			tags = []string{}
		}
		j.Tags = &tags
	}
	if j.UserFields == nil {
		j.UserFields = map[string]any{}
	}
	if u.Role == mergedesk.RoleAdmin {
		four := 4
		j.RoleType = &four
	}
	if u.Role == mergedesk.RoleEndUser {
		req := "requested"
		j.RestrictedAgent, j.TicketRestriction = true, &req
	}
	return j
}

func (s *Server) endUserView(r *http.Request, u *mergedesk.User) *endUserJSON {
	f := s.fullUser(r, u, false)
	return &endUserJSON{ID: f.ID, URL: f.URL, Name: f.Name, Email: f.Email, CreatedAt: f.CreatedAt, UpdatedAt: f.UpdatedAt,
		TimeZone: f.TimeZone, IANATimeZone: f.IANATimeZone, Phone: f.Phone, SharedPhoneNumber: f.SharedPhoneNumber,
		Photo: f.Photo, Locale: f.Locale, LocaleID: f.LocaleID, OrganizationID: f.OrganizationID, Role: f.Role, Verified: f.Verified}
}

func ianaOrUTC(tz string) string {
	if v := mergedesk.IANATimeZone(tz); v != "" {
		return v
	}
	return "Etc/UTC"
}

// identityJSON is the identity object of docs/api.md §3.1.
type identityJSON struct {
	URL                string  `json:"url"`
	ID                 int64   `json:"id"`
	UserID             int64   `json:"user_id"`
	Type               string  `json:"type"`
	Value              string  `json:"value"`
	Verified           bool    `json:"verified"`
	Primary            bool    `json:"primary"`
	VerificationMethod string  `json:"verification_method"`
	VerifiedAt         *string `json:"verified_at"`
	DeliverableState   *string `json:"deliverable_state"`
	UndeliverableCount int64   `json:"undeliverable_count"`
	CreatedAt          string  `json:"created_at"`
	UpdatedAt          string  `json:"updated_at"`
}

func (s *Server) identityView(r *http.Request, id mergedesk.Identity) identityJSON {
	j := identityJSON{URL: s.url(r, "/users/"+strconv.FormatInt(id.UserID, 10)+"/identities/"+strconv.FormatInt(id.ID, 10)),
		ID: id.ID, UserID: id.UserID, Type: id.Type, Value: id.Value, Verified: id.Verified, Primary: id.Primary,
		VerificationMethod: id.VerificationMethod, UndeliverableCount: id.UndeliverableCount,
		CreatedAt: ts(id.CreatedAt), UpdatedAt: ts(id.UpdatedAt)}
	if id.Verified {
		j.VerifiedAt = &j.UpdatedAt
	}
	if id.Type == mergedesk.IdentityEmail {
		d := "deliverable"
		j.DeliverableState = &d
	}
	return j
}

func (s *Server) identitiesView(r *http.Request, ids []mergedesk.Identity) []identityJSON {
	out := make([]identityJSON, len(ids))
	for i, id := range ids {
		out[i] = s.identityView(r, id)
	}
	return out
}
