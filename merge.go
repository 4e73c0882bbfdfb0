package mergedesk

import (
	"encoding/json"
	"time"
)

// UserMerge is the merge record (rule M30, docs/api.md §12.5).
type UserMerge struct {
	ID              int64
	ActorID         int64
	SourceID        int64
	TargetID        int64
	TicketsMoved    int
	CCsMoved        int
	IdentitiesMoved []MovedIdentity
	Fields          []MergeField
	SourceSnapshot  json.RawMessage
	// DuplicateSuggestionID and DuplicateScore record the open duplicate
	// suggestion of the pair the merge resolved (rule D13); nil otherwise.
	DuplicateSuggestionID *int64
	DuplicateScore        *float64
	CreatedAt             time.Time
}

// MovedIdentity is an identity as it is on the target after a merge.
type MovedIdentity struct {
	ID       int64  `json:"id"`
	Type     string `json:"type"`
	Value    string `json:"value"`
	Primary  bool   `json:"primary"`
	Verified bool   `json:"verified"`
}

// MergeField is one row of a merge's field-by-field outcome (docs/merge.md; docs/api.md
// §12.3). Outcome is one of the merge package's outcomes.
type MergeField struct {
	Field       string `json:"field"`
	Rule        string `json:"rule"`
	Outcome     string `json:"outcome"`
	SourceValue any    `json:"source_value"`
	TargetValue any    `json:"target_value"`
}

// MergeSnapshot is the merge record's picture of u as a merge source just
// before the merge (docs/merge.md, M30): its full profile, identities and organization ids,
// including what rules M20–M25 drop.
func (u *User) MergeSnapshot() json.RawMessage {
	phone, shared := PhoneOf(u)
	ids := []map[string]any{}
	for _, id := range u.Identities {
		ids = append(ids, map[string]any{"id": id.ID, "type": id.Type, "value": id.Value, "verified": id.Verified, "primary": id.Primary})
	}
	orgs := []int64{}
	for _, m := range u.Memberships {
		orgs = append(orgs, m.OrganizationID)
	}
	loc := LocaleByID(u.LocaleID)
	locale := "en-US"
	if loc != nil {
		locale = loc.Locale
	}
	var photo any
	if u.RemotePhotoURL != nil {
		photo = map[string]any{"content_url": *u.RemotePhotoURL}
	}
	var roleType *int
	if u.Role == RoleAdmin {
		four := 4
		roleType = &four
	}
	var lastLogin *string
	if u.LastLoginAt != nil {
		s := u.LastLoginAt.Format(time.RFC3339)
		lastLogin = &s
	}
	b, _ := json.Marshal(map[string]any{
		"user": map[string]any{"id": u.ID, "name": u.Name, "email": u.Email(), "phone": phone, "shared_phone_number": shared,
			"role": u.Role, "role_type": roleType, "verified": u.Verified(), "active": u.Active, "merged_into_id": u.MergedIntoID,
			"suspended": u.Suspended, "external_id": u.ExternalID, "locale": locale, "locale_id": u.LocaleID, "time_zone": u.TimeZone,
			"iana_time_zone": IANATimeZone(u.TimeZone), "organization_id": u.DefaultOrganizationID(),
			"tags": nonNilStrings(u.Tags), "details": u.Details, "notes": u.Notes, "alias": u.Alias, "signature": u.Signature,
			"user_fields": u.UserFields, "photo": photo, "created_at": u.CreatedAt.Format(time.RFC3339),
			"updated_at": u.UpdatedAt.Format(time.RFC3339), "last_login_at": lastLogin},
		"identities": ids, "organization_ids": orgs})
	return b
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
