package merge_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/merge"
)

// user builds an active end user with the given identities ("type:value",
// prefixed with "!" for verified; the first of each type is primary).
func user(id int64, idents ...string) *mergedesk.User {
	u := &mergedesk.User{ID: id, Name: fmt.Sprintf("User %d", id), Role: mergedesk.RoleEndUser, Active: true,
		LocaleID: 1, TimeZone: "UTC", Identities: []mergedesk.Identity{}, Memberships: []mergedesk.Membership{}}
	seen := map[string]bool{}
	for i, s := range idents {
		verified := s[0] == '!'
		if verified {
			s = s[1:]
		}
		var typ, val string
		for j := range s {
			if s[j] == ':' {
				typ, val = s[:j], s[j+1:]
				break
			}
		}
		u.Identities = append(u.Identities, mergedesk.Identity{ID: id*100 + int64(i), UserID: id, Type: typ, Value: val,
			Verified: verified, Primary: !seen[typ]})
		seen[typ] = true
	}
	return u
}

func member(u *mergedesk.User, orgs ...int64) *mergedesk.User {
	for i, o := range orgs {
		u.Memberships = append(u.Memberships, mergedesk.Membership{ID: u.ID*100 + int64(i), UserID: u.ID,
			OrganizationID: o, OrganizationName: fmt.Sprintf("Org %d", o), Default: i == 0, ViewTickets: true})
	}
	return u
}

func in(s, t *mergedesk.User) merge.Input {
	in := merge.Input{Source: merge.Side{User: s}, Target: merge.Side{User: t}, Settings: mergedesk.DefaultSettings()}
	return in
}

// blocker is one expected details.base entry: code and user id (0: null).
type blocker struct {
	code string
	user int64
}

func blockersOf(list []mergedesk.FieldError) []blocker {
	out := []blocker{}
	for _, b := range list {
		var u int64
		if b.UserID != nil {
			u = *b.UserID
		}
		out = append(out, blocker{b.Error, u})
	}
	return out
}

func TestCheck(t *testing.T) {
	sso := func(in merge.Input) merge.Input { in.Settings.SSO.SAML.Enabled = true; return in }
	ext := func(u *mergedesk.User) *mergedesk.User { x := fmt.Sprint("ext-", u.ID); u.ExternalID = &x; return u }
	role := func(u *mergedesk.User, r string) *mergedesk.User { u.Role = r; return u }
	gone := func(u *mergedesk.User, into int64) *mergedesk.User {
		u.Active, u.Identities = false, []mergedesk.Identity{}
		if into != 0 {
			u.MergedIntoID = &into
		}
		return u
	}
	tickets := func(in merge.Input, s, t int) merge.Input { in.Source.Requested, in.Target.Requested = s, t; return in }
	for _, tc := range []struct {
		name string
		in   merge.Input
		want []blocker
	}{
		{"OK", in(user(1, "email:a@x"), user(2, "email:b@x")), nil},
		{"OKUnverifiedWithX", in(user(1, "twitter:ann"), user(2, "phone_number:+14155550101", "email:b@x")), nil},
		{"OKVerifiedPhoneOnly", in(user(1, "!phone_number:+14155550101"), user(2, "!facebook:fb1")), nil},
		{"OKNoIdentitiesButVerified", in(user(1, "!messaging:wa1"), user(2, "email:b@x")), nil},
		{"ErrSameUser", func() merge.Input { u := user(1, "email:a@x"); return in(u, u) }(), []blocker{{"SameUser", 0}}},
		{"ErrSameUserAndAgent", func() merge.Input { u := role(user(1, "email:a@x"), "agent"); return in(u, u) }(),
			[]blocker{{"SameUser", 0}, {"NotEndUser", 1}}},
		{"ErrNotEndUserSource", in(role(user(1, "email:a@x"), "agent"), user(2, "email:b@x")), []blocker{{"NotEndUser", 1}}},
		{"ErrNotEndUserBoth", in(role(user(1, "email:a@x"), "admin"), role(user(2, "email:b@x"), "agent")),
			[]blocker{{"NotEndUser", 1}, {"NotEndUser", 2}}},
		{"ErrUserInactiveDeleted", in(user(1, "email:a@x"), gone(user(2), 0)), []blocker{{"UserInactive", 2}}},
		{"ErrUserInactiveMerged", in(gone(user(1), 9), user(2, "email:b@x")), []blocker{{"UserInactive", 1}}},
		{"ErrUnverifiedPhoneOnly", in(user(1, "phone_number:+14155550101"), user(2, "email:b@x")), []blocker{{"UnverifiedWithoutEmailOrX", 1}}},
		{"ErrUnverifiedNoIdentity", in(user(1, "email:a@x"), user(2)), []blocker{{"UnverifiedWithoutEmailOrX", 2}}},
		{"OKTenThousand", tickets(in(user(1, "email:a@x"), user(2, "email:b@x")), 10_000, 10_000), nil},
		{"ErrTooManyTickets", tickets(in(user(1, "email:a@x"), user(2, "email:b@x")), 10_001, 10_001),
			[]blocker{{"TooManyTickets", 1}, {"TooManyTickets", 2}}},
		{"OKExternalIDWithoutSSO", in(ext(user(1, "email:a@x")), ext(user(2, "email:b@x"))), nil},
		{"ErrExternalIdWithSSO", sso(in(user(1, "email:a@x"), ext(user(2, "email:b@x")))), []blocker{{"ExternalIdWithSSO", 2}}},
		{"ErrEveryRuleInTableOrder", sso(tickets(in(
			ext(role(user(1, "phone_number:+14155550101"), "agent")), ext(user(2, "google:g@x"))), 10_001, 0)),
			[]blocker{{"NotEndUser", 1}, {"UnverifiedWithoutEmailOrX", 1}, {"UnverifiedWithoutEmailOrX", 2},
				{"TooManyTickets", 1}, {"ExternalIdWithSSO", 1}, {"ExternalIdWithSSO", 2}}},
		{"ErrInactiveAndAgent", in(role(user(1, "email:a@x"), "agent"), gone(user(2), 1)),
			[]blocker{{"NotEndUser", 1}, {"UserInactive", 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := blockersOf(merge.Check(tc.in))
			want := tc.want
			if want == nil {
				want = []blocker{}
			}
			if !slices.Equal(got, want) {
				t.Errorf("Check = %v, want %v", got, want)
			}
			p := merge.Decide(tc.in)
			if p.Eligible() != (len(want) == 0) || !slices.Equal(blockersOf(p.Blockers), want) {
				t.Errorf("Decide blockers = %v, eligible %v", blockersOf(p.Blockers), p.Eligible())
			}
			if err := p.Refusal(); (err != nil) != (len(want) > 0) {
				t.Errorf("Refusal = %v", err)
			} else if err != nil && mergedesk.FieldCode(err, "base") != want[0].code {
				t.Errorf("Refusal code = %q, want %q", mergedesk.FieldCode(err, "base"), want[0].code)
			}
		})
	}
}

func TestCheckDescriptions(t *testing.T) {
	s, tg := user(12, "email:a@x"), user(501, "email:b@x")
	s.Role = mergedesk.RoleAgent
	i := in(s, tg)
	i.Target.Requested = 10_001
	got := merge.Check(i)
	want := []string{
		"User 12 is an agent; only end users can be merged (M1).",
		"User 501 is the requester of 10,001 tickets; the limit is 10,000 (M4).",
	}
	if len(got) != len(want) {
		t.Fatalf("Check = %v", got)
	}
	for k := range want {
		if got[k].Description != want[k] {
			t.Errorf("description %d = %q, want %q", k, got[k].Description, want[k])
		}
	}
}

// fieldMap indexes a plan's fields by name and checks they come in §12.3 order.
func fieldMap(t *testing.T, p *merge.Plan) map[string]mergedesk.MergeField {
	t.Helper()
	order := []string{"name", "email", "emails", "phone", "phone_numbers", "shared_phone_number", "identities", "locale",
		"time_zone", "organization_id", "organizations", "tags", "details", "notes", "photo", "user_fields",
		"external_id", "help_center"}
	var names []string
	out := map[string]mergedesk.MergeField{}
	for _, f := range p.Fields {
		names = append(names, f.Field)
		out[f.Field] = f
	}
	if !slices.Equal(names, order) {
		t.Errorf("fields = %v, want %v", names, order)
	}
	return out
}

func primaries(u *mergedesk.User) map[string]string {
	out := map[string]string{}
	for _, id := range u.Identities {
		if id.Primary {
			if _, dup := out[id.Type]; dup {
				out[id.Type] = "DUPLICATE PRIMARY"
				continue
			}
			out[id.Type] = id.Value
		}
	}
	return out
}

func TestDecide(t *testing.T) {
	str := func(s string) *string { return &s }
	type want struct {
		outcomes  map[string]string // field -> outcome; unlisted fields must be "unchanged"
		primaries map[string]string // the result's primary identity per type
		orgs      []int64           // the result's organizations
		def       int64             // the result's default organization (0: none)
	}
	for _, tc := range []struct {
		name  string
		multi bool
		s, t  *mergedesk.User
		hc    merge.HelpCenter
		want  want
	}{
		{name: "Identical", s: user(1), t: user(2),
			want: want{outcomes: map[string]string{"name": "kept"}, primaries: map[string]string{}}},
		{name: "M13M14PhoneAddedAsSecondary", s: user(1, "phone_number:+1", "phone_number:+2"), t: user(2, "phone_number:+3"),
			want: want{outcomes: map[string]string{"name": "kept", "phone": "kept", "phone_numbers": "added"},
				primaries: map[string]string{"phone_number": "+3"}}},
		{name: "M14TargetWithoutPhoneTakesPrimary", s: user(1, "phone_number:+1", "phone_number:+2"), t: user(2, "email:b@x"),
			want: want{outcomes: map[string]string{"name": "kept", "phone": "added", "phone_numbers": "added"},
				primaries: map[string]string{"phone_number": "+1", "email": "b@x"}}},
		{name: "M15M16EmailsAdded", s: user(1, "email:a1@x", "email:a2@x"), t: user(2, "email:b1@x", "email:b2@x"),
			want: want{outcomes: map[string]string{"name": "kept", "email": "kept", "emails": "added"},
				primaries: map[string]string{"email": "b1@x"}}},
		{name: "M15TargetWithoutEmail", s: user(1, "email:a1@x", "email:a2@x"), t: user(2, "twitter:bb"),
			want: want{outcomes: map[string]string{"name": "kept", "email": "added", "emails": "added"},
				primaries: map[string]string{"email": "a1@x", "twitter": "bb"}}},
		{name: "M27OtherIdentitiesMove", s: user(1, "twitter:a", "facebook:f", "messaging:m", "sdk:s", "any_channel:c", "google:g@x"),
			t: user(2, "twitter:b"),
			want: want{outcomes: map[string]string{"name": "kept", "identities": "moved"},
				primaries: map[string]string{"twitter": "b", "facebook": "f", "messaging": "m", "sdk": "s", "any_channel": "c", "google": "g@x"}}},
		{name: "M19SingleTargetWithout", s: member(user(1), 10, 11), t: user(2),
			want: want{outcomes: map[string]string{"name": "kept", "organization_id": "added", "organizations": "added"},
				primaries: map[string]string{}, orgs: []int64{10}, def: 10}},
		{name: "M19SingleTargetWith", s: member(user(1), 10), t: member(user(2), 20),
			want: want{outcomes: map[string]string{"name": "kept", "organization_id": "kept", "organizations": "lost"},
				primaries: map[string]string{}, orgs: []int64{20}, def: 20}},
		{name: "M19SingleSameOrg", s: member(user(1), 20), t: member(user(2), 20),
			want: want{outcomes: map[string]string{"name": "kept", "organization_id": "kept"},
				primaries: map[string]string{}, orgs: []int64{20}, def: 20}},
		{name: "M19MultipleUnion", multi: true, s: member(user(1), 10, 20, 30), t: member(user(2), 20, 40),
			want: want{outcomes: map[string]string{"name": "kept", "organization_id": "kept", "organizations": "added"},
				primaries: map[string]string{}, orgs: []int64{20, 40, 10, 30}, def: 20}},
		{name: "M19MultipleTargetWithout", multi: true, s: member(user(1), 30, 10), t: user(2),
			want: want{outcomes: map[string]string{"name": "kept", "organization_id": "added", "organizations": "added"},
				primaries: map[string]string{}, orgs: []int64{30, 10}, def: 30}},
		{name: "M17M18LocaleTimeZoneKept",
			s: func() *mergedesk.User { u := user(1); u.LocaleID, u.TimeZone = 8, "Berlin"; return u }(), t: user(2),
			want: want{outcomes: map[string]string{"name": "kept", "locale": "kept", "time_zone": "kept"}, primaries: map[string]string{}}},
		{name: "M20ToM25Lost",
			s: func() *mergedesk.User {
				u := user(1)
				u.Tags, u.Details, u.Notes, u.ExternalID = []string{"vip"}, str("d"), str("n"), str("crm-1")
				u.UserFields, u.RemotePhotoURL = map[string]any{"plan": "gold"}, str("http://x/a.png")
				return u
			}(), t: user(2),
			hc: merge.HelpCenter{Posts: 1},
			want: want{outcomes: map[string]string{"name": "kept", "tags": "lost", "details": "lost", "notes": "lost",
				"photo": "lost", "user_fields": "lost", "external_id": "lost", "help_center": "lost"}, primaries: map[string]string{}}},
		{name: "M23PhotoKept",
			s:    func() *mergedesk.User { u := user(1); u.RemotePhotoURL = str("http://x/a.png"); return u }(),
			t:    func() *mergedesk.User { u := user(2); u.RemotePhotoURL = str("http://x/b.png"); return u }(),
			want: want{outcomes: map[string]string{"name": "kept", "photo": "kept"}, primaries: map[string]string{}}},
		{name: "SharedPhoneAdded",
			s: func() *mergedesk.User { u := user(1); u.SharedPhone = str("+19"); return u }(), t: user(2),
			want: want{outcomes: map[string]string{"name": "kept", "shared_phone_number": "added"}, primaries: map[string]string{}}},
		{name: "SharedPhoneLost",
			s: func() *mergedesk.User { u := user(1); u.SharedPhone = str("+19"); return u }(), t: user(2, "phone_number:+3"),
			want: want{outcomes: map[string]string{"name": "kept", "shared_phone_number": "lost"},
				primaries: map[string]string{"phone_number": "+3"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.t.Name = tc.s.Name // "name" is kept only when they differ
			if tc.name != "Identical" {
				tc.t.Name = "Target"
			}
			i := in(tc.s, tc.t)
			i.Settings.Users.MultipleOrganizations = tc.multi
			i.Source.HelpCenter = tc.hc
			p := merge.Decide(i)
			fields := fieldMap(t, p)
			if tc.name == "Identical" {
				tc.want.outcomes = map[string]string{}
			}
			for name, f := range fields {
				w := tc.want.outcomes[name]
				if w == "" {
					w = merge.Unchanged
				}
				if f.Outcome != w {
					t.Errorf("%s: outcome %q, want %q (%+v)", name, f.Outcome, w, f)
				}
			}
			if got := primaries(p.Result); fmt.Sprint(got) != fmt.Sprint(tc.want.primaries) {
				t.Errorf("result primaries = %v, want %v", got, tc.want.primaries)
			}
			// Every identity of both ends up on the target, ids kept.
			if got, w := len(p.Result.Identities), len(tc.s.Identities)+len(tc.t.Identities); got != w {
				t.Errorf("result has %d identities, want %d", got, w)
			}
			for _, id := range p.Result.Identities {
				if id.UserID != tc.t.ID {
					t.Errorf("identity %d belongs to %d", id.ID, id.UserID)
				}
			}
			var orgs []int64
			var def int64
			for _, m := range p.Result.Memberships {
				orgs = append(orgs, m.OrganizationID)
				if m.Default {
					if def != 0 {
						t.Errorf("two default memberships: %+v", p.Result.Memberships)
					}
					def = m.OrganizationID
				}
			}
			if !slices.Equal(orgs, tc.want.orgs) || def != tc.want.def {
				t.Errorf("result orgs %v default %d, want %v default %d", orgs, def, tc.want.orgs, tc.want.def)
			}
			// The target's own profile stays as it was.
			r := p.Result
			if r.Name != tc.t.Name || r.LocaleID != tc.t.LocaleID || r.TimeZone != tc.t.TimeZone || r.ExternalID != tc.t.ExternalID ||
				len(r.Tags) != len(tc.t.Tags) || r.Notes != tc.t.Notes || r.Details != tc.t.Details || r.RemotePhotoURL != tc.t.RemotePhotoURL {
				t.Errorf("result profile changed: %+v", r)
			}
			if tc.s.SharedPhone != nil && tc.want.outcomes["shared_phone_number"] == "added" && (r.SharedPhone == nil || *r.SharedPhone != *tc.s.SharedPhone) {
				t.Errorf("shared phone = %v", r.SharedPhone)
			}
			// The input is not modified.
			if len(tc.t.Identities) > 0 && tc.t.Identities[0].UserID != tc.t.ID {
				t.Errorf("Decide modified the target")
			}
		})
	}
}

func TestPlanVersion(t *testing.T) {
	base := func() merge.Input { return in(user(1, "email:a@x"), user(2, "email:b@x")) }
	v := merge.Version(base())
	if v != merge.Version(base()) {
		t.Fatal("version is not deterministic")
	}
	if v != merge.Decide(base()).Version {
		t.Error("Decide's version differs from Version")
	}
	for name, change := range map[string]func(*merge.Input){
		"tickets":    func(i *merge.Input) { i.Source.Requested++ },
		"ccs":        func(i *merge.Input) { i.CCsChanged++ },
		"identity":   func(i *merge.Input) { i.Target.User.Identities[0].Verified = true },
		"tags":       func(i *merge.Input) { i.Source.User.Tags = []string{"x"} },
		"membership": func(i *merge.Input) { member(i.Target.User, 5) },
		"settings":   func(i *merge.Input) { i.Settings.Users.MultipleOrganizations = true },
		"sso":        func(i *merge.Input) { i.Settings.SSO.JWT.Enabled = true },
		"helpcenter": func(i *merge.Input) { i.Source.HelpCenter.Votes = 1 },
	} {
		i := base()
		change(&i)
		if merge.Version(i) == v {
			t.Errorf("%s: version unchanged", name)
		}
	}
}
