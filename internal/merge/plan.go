// Package merge decides what merging one end user into another does, by the rules
// M1–M31 written up in docs/merge.md (the rule numbers in comments refer to it).
// It is pure: the store gathers the facts (both users, ticket counts, settings)
// inside the merge transaction, Decide plans, and the store applies the plan with
// set-based SQL. The preview (M31) is the same Plan,
// so a preview and the merge that follows it cannot disagree.
package merge

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/mergedesk/mergedesk"
)

// MaxTickets is the most tickets a user taking part in a merge may request (M4).
const MaxTickets = 10_000

// Refusal codes (docs/api.md §12.1), in the order details.base lists them.
const (
	CodeSameUser       = "SameUser"
	CodeNotEndUser     = "NotEndUser"
	CodeUserInactive   = "UserInactive"
	CodeUnverified     = "UnverifiedWithoutEmailOrX"
	CodeTooManyTickets = "TooManyTickets"
	CodeExternalIDSSO  = "ExternalIdWithSSO"
)

// Outcomes of a field (docs/api.md §12.3).
const (
	Unchanged = "unchanged"
	Kept      = "kept"
	Added     = "added"
	Moved     = "moved"
	Lost      = "lost"
)

// HelpCenter counts a user's community contributions (M26).
type HelpCenter struct {
	Posts         int `json:"posts"`
	Comments      int `json:"comments"`
	Votes         int `json:"votes"`
	Subscriptions int `json:"subscriptions"`
}

func (h HelpCenter) empty() bool { return h == HelpCenter{} }

// Side is what the store knows about one user of a merge.
type Side struct {
	User       *mergedesk.User // with identities and memberships
	Requested  int             // tickets it requests, every status, archived included, deleted excluded
	HelpCenter HelpCenter
}

// Input is everything a merge decision depends on.
type Input struct {
	Source, Target Side
	Settings       mergedesk.Settings
	// Archived is how many of the source's requested tickets are archived.
	Archived int
	// CCsChanged is how many non-archived tickets get a different CC list (M10).
	CCsChanged int
}

// IdentityMove is one source identity going to the target (M13, M16, M27).
type IdentityMove struct {
	mergedesk.Identity
	// Primary is its primary flag on the target: true only when the target had no
	// identity of its type and it was the source's primary of that type.
	Primary bool
}

// Plan is the decided outcome of a merge.
type Plan struct {
	Blockers []mergedesk.FieldError
	Fields   []mergedesk.MergeField
	// Result is the target as it will be after the merge.
	Result *mergedesk.User
	Moves  []IdentityMove
	// AddOrgIDs are organizations the target joins; DefaultOrgID, when set, is the
	// organization that becomes the target's default (it had none).
	AddOrgIDs    []int64
	DefaultOrgID *int64
	// SharedPhone is set when the source's shared number goes to the target.
	SharedPhone *string
	Tickets     TicketCounts
	Version     string
}

// TicketCounts are the preview's ticket numbers.
type TicketCounts struct {
	Requested int `json:"requested"`
	CCd       int `json:"ccd"`
	Archived  int `json:"archived"`
}

// Eligible reports whether nothing blocks the merge.
func (p *Plan) Eligible() bool { return len(p.Blockers) == 0 }

// Refusal returns the 422 RecordInvalid error of a blocked plan, or nil.
func (p *Plan) Refusal() error {
	if p.Eligible() {
		return nil
	}
	return &mergedesk.Error{Code: mergedesk.EInvalid, Description: "Record validation errors",
		Details: map[string][]mergedesk.FieldError{"base": p.Blockers}}
}

// Check returns every eligibility rule (M1–M5) the pair breaks, one entry per rule
// and user, in the order of docs/api.md §12.1.
func Check(in Input) []mergedesk.FieldError {
	var out []mergedesk.FieldError
	s, t := in.Source.User, in.Target.User
	sides := []Side{in.Source, in.Target}
	if s.ID == t.ID {
		out = append(out, mergedesk.FieldError{Error: CodeSameUser, AboutUser: true,
			Description: fmt.Sprintf("User %d cannot be merged into itself (M2).", s.ID)})
		sides = sides[:1]
	}
	add := func(code string, u *mergedesk.User, format string, args ...any) {
		id := u.ID
		out = append(out, mergedesk.FieldError{Error: code, Description: fmt.Sprintf(format, args...), UserID: &id, AboutUser: true})
	}
	for _, side := range sides {
		if u := side.User; u.Role != mergedesk.RoleEndUser {
			add(CodeNotEndUser, u, "User %d is an %s; only end users can be merged (M1).", u.ID, article(u.Role))
		}
	}
	for _, side := range sides {
		if u := side.User; !u.Active {
			if u.MergedIntoID != nil {
				add(CodeUserInactive, u, "User %d was already merged into user %d (M2).", u.ID, *u.MergedIntoID)
			} else {
				add(CodeUserInactive, u, "User %d is deleted (M2).", u.ID)
			}
		}
	}
	for _, side := range sides {
		if u := side.User; u.Active && !u.Verified() && !hasType(u, mergedesk.IdentityEmail) && !hasType(u, mergedesk.IdentityTwitter) {
			add(CodeUnverified, u, "User %d is unverified and has no email address or X account (M3).", u.ID)
		}
	}
	for _, side := range sides {
		if side.Requested > MaxTickets {
			add(CodeTooManyTickets, side.User, "User %d is the requester of %s tickets; the limit is %s (M4).",
				side.User.ID, thousands(side.Requested), thousands(MaxTickets))
		}
	}
	if in.Settings.SSOEnabled() {
		for _, side := range sides {
			if side.User.ExternalID != nil {
				add(CodeExternalIDSSO, side.User, "User %d has an external ID and single sign-on is enabled (M5).", side.User.ID)
			}
		}
	}
	return out
}

func article(role string) string {
	if role == mergedesk.RoleAdmin {
		return "admin"
	}
	return role
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func hasType(u *mergedesk.User, typ string) bool {
	for _, id := range u.Identities {
		if id.Type == typ {
			return true
		}
	}
	return false
}

func values(u *mergedesk.User, typ string) []string {
	out := []string{}
	for _, id := range u.Identities {
		if id.Type == typ {
			out = append(out, id.Value)
		}
	}
	return out
}

// otherTypes are the channel identities of M27.
var otherTypes = []string{mergedesk.IdentityTwitter, mergedesk.IdentityFacebook, mergedesk.IdentityGoogle,
	mergedesk.IdentityMessaging, mergedesk.IdentitySDK, mergedesk.IdentityAnyChannel}

// Decide computes the whole plan: blockers, field outcomes, identity moves,
// memberships and the resulting target. Fields and Result are computed even when
// the merge is blocked, so the UI can show them beside the blockers.
func Decide(in Input) *Plan {
	s, t := in.Source.User, in.Target.User
	p := &Plan{Blockers: Check(in), Tickets: TicketCounts{Requested: in.Source.Requested, CCd: in.CCsChanged, Archived: in.Archived}}
	res := cloneUser(t)

	// Identities (M13, M16, M27): every source identity moves; it is primary only
	// when the target had no identity of its type.
	targetTypes := map[string]bool{}
	for _, id := range t.Identities {
		targetTypes[id.Type] = true
	}
	for _, id := range s.Identities {
		m := IdentityMove{Identity: id, Primary: id.Primary && !targetTypes[id.Type]}
		p.Moves = append(p.Moves, m)
		moved := id
		moved.UserID, moved.Primary = t.ID, m.Primary
		res.Identities = append(res.Identities, moved)
	}
	sortIdentities(res.Identities)

	row := func(field, rule, outcome string, sv, tv any) {
		p.Fields = append(p.Fields, mergedesk.MergeField{Field: field, Rule: rule, Outcome: outcome, SourceValue: sv, TargetValue: tv})
	}
	pick := func(sourceHas, targetHas bool, ifBoth, ifSourceOnly string) string {
		switch {
		case !sourceHas:
			return Unchanged
		case targetHas:
			return ifBoth
		}
		return ifSourceOnly
	}

	// name: the target's stays.
	row("name", "", pick(s.Name != t.Name, true, Kept, Kept), s.Name, t.Name)

	se, te := s.Email(), t.Email()
	row("email", "M15", pick(se != nil, te != nil, Kept, Added), se, te)
	semails, temails := values(s, mergedesk.IdentityEmail), values(t, mergedesk.IdentityEmail)
	row("emails", "M16", pick(len(semails) > 0, true, Added, Added), semails, temails)

	sp, tp := primaryValue(s, mergedesk.IdentityPhone), primaryValue(t, mergedesk.IdentityPhone)
	row("phone", "M14", pick(sp != nil, tp != nil, Kept, Added), sp, tp)
	sphones, tphones := values(s, mergedesk.IdentityPhone), values(t, mergedesk.IdentityPhone)
	row("phone_numbers", "M13", pick(len(sphones) > 0, true, Added, Added), sphones, tphones)

	// The source's shared number (not an identity) goes to a target without any
	// phone; otherwise it is lost (our decision on M13).
	targetHasPhone := len(tphones) > 0 || t.SharedPhone != nil
	row("shared_phone_number", "M13", pick(s.SharedPhone != nil, targetHasPhone, Lost, Added), s.SharedPhone, t.SharedPhone)
	if s.SharedPhone != nil && !targetHasPhone {
		v := *s.SharedPhone
		p.SharedPhone, res.SharedPhone = &v, &v
	}

	sother, tother := identityPairs(s, otherTypes), identityPairs(t, otherTypes)
	row("identities", "M27", pick(len(sother) > 0, true, Moved, Moved), sother, tother)

	row("locale", "M17", pick(s.LocaleID != t.LocaleID, true, Kept, Kept), localeName(s.LocaleID), localeName(t.LocaleID))
	row("time_zone", "M18", pick(s.TimeZone != t.TimeZone, true, Kept, Kept), s.TimeZone, t.TimeZone)

	// Organizations (M19).
	sdef, tdef := s.DefaultOrganizationID(), t.DefaultOrganizationID()
	sorgs, torgs := orgIDs(s), orgIDs(t)
	row("organization_id", "M19", pick(sdef != nil, tdef != nil, Kept, Added), sdef, tdef)
	orgOutcome := Unchanged
	if len(sorgs) > 0 {
		var adds []int64
		if in.Settings.Users.MultipleOrganizations {
			for _, o := range sorgs {
				if !slices.Contains(torgs, o) {
					adds = append(adds, o)
				}
			}
		} else if len(torgs) == 0 && sdef != nil {
			adds = []int64{*sdef}
		}
		lost := false
		for _, o := range sorgs {
			if !slices.Contains(torgs, o) && !slices.Contains(adds, o) {
				lost = true
			}
		}
		switch {
		case len(adds) > 0:
			orgOutcome = Added
		case lost:
			orgOutcome = Lost
		}
		p.AddOrgIDs = adds
		if tdef == nil && len(adds) > 0 {
			def := adds[0]
			if sdef != nil && slices.Contains(adds, *sdef) {
				def = *sdef
			}
			p.DefaultOrgID = &def
		}
		for _, o := range adds {
			res.Memberships = append(res.Memberships, mergedesk.Membership{UserID: t.ID, OrganizationID: o,
				OrganizationName: orgName(s, o), Default: p.DefaultOrgID != nil && *p.DefaultOrgID == o, ViewTickets: true})
		}
	}
	row("organizations", "M19", orgOutcome, sorgs, torgs)

	row("tags", "M20", pick(len(s.Tags) > 0, true, Lost, Lost), nonNil(s.Tags), nonNil(t.Tags))
	row("details", "M21", pick(nonEmpty(s.Details), true, Lost, Lost), s.Details, t.Details)
	row("notes", "M22", pick(nonEmpty(s.Notes), true, Lost, Lost), s.Notes, t.Notes)
	row("photo", "M23", pick(s.RemotePhotoURL != nil, t.RemotePhotoURL != nil, Kept, Lost), s.RemotePhotoURL, t.RemotePhotoURL)
	row("user_fields", "M24", pick(len(s.UserFields) > 0, true, Lost, Lost), nonNilMap(s.UserFields), nonNilMap(t.UserFields))
	row("external_id", "M25", pick(s.ExternalID != nil, true, Lost, Lost), s.ExternalID, t.ExternalID)
	row("help_center", "M26", pick(!in.Source.HelpCenter.empty(), true, Lost, Lost), in.Source.HelpCenter, in.Target.HelpCenter)

	p.Result = res
	p.Version = Version(in)
	return p
}

func primaryValue(u *mergedesk.User, typ string) *string {
	if id := u.PrimaryIdentity(typ); id != nil {
		v := id.Value
		return &v
	}
	return nil
}

// identityPairs lists a user's identities of the given types as {type, value}.
func identityPairs(u *mergedesk.User, types []string) []map[string]string {
	out := []map[string]string{}
	for _, id := range u.Identities {
		if slices.Contains(types, id.Type) {
			out = append(out, map[string]string{"type": id.Type, "value": id.Value})
		}
	}
	return out
}

func localeName(id int64) string {
	if l := mergedesk.LocaleByID(id); l != nil {
		return l.Locale
	}
	return "en-US"
}

func orgIDs(u *mergedesk.User) []int64 {
	out := []int64{}
	for _, m := range u.Memberships {
		out = append(out, m.OrganizationID)
	}
	return out
}

func orgName(u *mergedesk.User, org int64) string {
	for _, m := range u.Memberships {
		if m.OrganizationID == org {
			return m.OrganizationName
		}
	}
	return ""
}

func nonEmpty(s *string) bool { return s != nil && strings.TrimSpace(*s) != "" }

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func cloneUser(u *mergedesk.User) *mergedesk.User {
	c := *u
	c.Identities = slices.Clone(u.Identities)
	c.Memberships = slices.Clone(u.Memberships)
	return &c
}

// sortIdentities orders identities as the API lists them: type, primary first, id.
func sortIdentities(ids []mergedesk.Identity) {
	rank := map[string]int{}
	for i, t := range mergedesk.IdentityTypes {
		rank[t] = i
	}
	sort.SliceStable(ids, func(i, j int) bool {
		a, b := ids[i], ids[j]
		if a.Type != b.Type {
			return rank[a.Type] < rank[b.Type]
		}
		if a.Primary != b.Primary {
			return a.Primary
		}
		return a.ID < b.ID
	})
}

// Version fingerprints everything the plan depends on: both users' profiles,
// identities and memberships, the ticket counts and the settings M5 and M19 read.
// A merge given a preview's version refuses with 409 when it no longer matches.
func Version(in Input) string {
	h := sha256.New()
	for _, side := range []Side{in.Source, in.Target} {
		u := side.User
		fmt.Fprintf(h, "u%d|%s|%s|%t|%v|%t|%v|%d|%s|%v|%v|%v|%v|%v|%v|%v|%d|%d|%v\n", u.ID, u.Name, u.Role, u.Active,
			deref(u.MergedIntoID), u.Suspended, derefS(u.ExternalID), u.LocaleID, u.TimeZone, derefS(u.SharedPhone), u.Tags,
			derefS(u.Details), derefS(u.Notes), derefS(u.RemotePhotoURL), u.UserFields, u.UpdatedAt.Unix(),
			side.Requested, len(u.Identities), side.HelpCenter)
		for _, id := range u.Identities {
			fmt.Fprintf(h, "i%d|%s|%s|%t|%t\n", id.ID, id.Type, id.Value, id.Verified, id.Primary)
		}
		for _, m := range u.Memberships {
			fmt.Fprintf(h, "m%d|%d|%t\n", m.ID, m.OrganizationID, m.Default)
		}
	}
	fmt.Fprintf(h, "t%d|%d|s%t|%t\n", in.Archived, in.CCsChanged, in.Settings.SSOEnabled(), in.Settings.Users.MultipleOrganizations)
	sum := h.Sum(nil)
	return hex.EncodeToString(sum[:8])
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func derefS(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}
