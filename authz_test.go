package mergedesk_test

import (
	"testing"

	"github.com/mergedesk/mergedesk"
)

// Principals and users of the tables below. The ids of a principal and the
// user of the same name match, so "self" cases read naturally.
var (
	admin    = &mergedesk.Principal{ID: 1, Role: mergedesk.RoleAdmin}
	agent    = &mergedesk.Principal{ID: 2, Role: mergedesk.RoleAgent}
	endUser  = &mergedesk.Principal{ID: 3, Role: mergedesk.RoleEndUser}
	unknown  = &mergedesk.Principal{ID: 9, Role: "owner"} // a role that does not exist
	nobody   *mergedesk.Principal
	adminU   = &mergedesk.User{ID: 1, Role: mergedesk.RoleAdmin, Active: true}
	agentU   = &mergedesk.User{ID: 2, Role: mergedesk.RoleAgent, Active: true}
	endUserU = &mergedesk.User{ID: 3, Role: mergedesk.RoleEndUser, Active: true}
	otherAg  = &mergedesk.User{ID: 4, Role: mergedesk.RoleAgent, Active: true}
	otherEU  = &mergedesk.User{ID: 5, Role: mergedesk.RoleEndUser, Active: true}
	goneAdm  = &mergedesk.User{ID: 6, Role: mergedesk.RoleAdmin, Active: false}
)

// allowed turns an error of the authz functions into a verdict, failing on
// any error that is not the expected refusal.
func allowed(t *testing.T, err error, refusal string) bool {
	t.Helper()
	if err == nil {
		return true
	}
	if got := mergedesk.ErrorCode(err); got != refusal {
		t.Fatalf("refused with %s (%v), want %s", got, err, refusal)
	}
	return false
}

func TestRolePredicates(t *testing.T) {
	cases := []struct {
		name           string
		p              *mergedesk.Principal
		staff, isAdmin bool
	}{
		{"Admin", admin, true, true},
		{"Agent", agent, true, false},
		{"EndUser", endUser, false, false},
		{"UnknownRole", unknown, false, false},
		{"Nil", nobody, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := mergedesk.IsStaff(c.p); got != c.staff {
				t.Errorf("IsStaff = %v, want %v", got, c.staff)
			}
			if got := mergedesk.IsAdmin(c.p); got != c.isAdmin {
				t.Errorf("IsAdmin = %v, want %v", got, c.isAdmin)
			}
			if got := allowed(t, mergedesk.RequireStaff(c.p), mergedesk.EForbidden); got != c.staff {
				t.Errorf("RequireStaff allows = %v, want %v", got, c.staff)
			}
			if got := allowed(t, mergedesk.RequireAdmin(c.p), mergedesk.EForbidden); got != c.isAdmin {
				t.Errorf("RequireAdmin allows = %v, want %v", got, c.isAdmin)
			}
			if got := allowed(t, mergedesk.CanMerge(c.p), mergedesk.EForbidden); got != c.staff {
				t.Errorf("CanMerge allows = %v, want %v (M6)", got, c.staff)
			}
		})
	}
}

func TestCanReadUser(t *testing.T) {
	cases := []struct {
		name  string
		actor *mergedesk.Principal
		id    int64
		want  bool
	}{
		{"AdminAnyone", admin, otherEU.ID, true},
		{"AgentAdmin", agent, adminU.ID, true},
		{"AgentEndUser", agent, otherEU.ID, true},
		{"EndUserSelf", endUser, endUser.ID, true},
		{"EndUserOther", endUser, otherEU.ID, false},
		{"EndUserAgent", endUser, agent.ID, false},
		{"Nil", nobody, 1, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := allowed(t, mergedesk.CanReadUser(c.actor, c.id), mergedesk.EForbidden); got != c.want {
				t.Errorf("CanReadUser = %v, want %v", got, c.want)
			}
		})
	}
}

func TestCanWriteUser(t *testing.T) {
	cases := []struct {
		name   string
		actor  *mergedesk.Principal
		target *mergedesk.User // nil: create
		role   string
		want   bool
	}{
		// Admins may do everything.
		{"AdminEditsAdmin", admin, adminU, "", true},
		{"AdminEditsAgent", admin, otherAg, "", true},
		{"AdminPromotes", admin, otherEU, mergedesk.RoleAdmin, true},
		{"AdminDemotes", admin, otherAg, mergedesk.RoleEndUser, true},
		{"AdminCreatesAgent", admin, nil, mergedesk.RoleAgent, true},
		// Agents write end users, and only as end users.
		{"AgentEditsEndUser", agent, otherEU, "", true},
		{"AgentKeepsEndUserRole", agent, otherEU, mergedesk.RoleEndUser, true},
		{"AgentCreatesEndUser", agent, nil, "", true},
		{"AgentCreatesExplicitEndUser", agent, nil, mergedesk.RoleEndUser, true},
		{"ErrAgentEditsAdmin", agent, adminU, "", false},
		{"ErrAgentEditsInactiveAdmin", agent, goneAdm, "", false},
		{"ErrAgentEditsOtherAgent", agent, otherAg, "", false},
		{"ErrAgentEditsSelf", agent, agentU, "", false},
		{"ErrAgentPromotesEndUser", agent, otherEU, mergedesk.RoleAgent, false},
		{"ErrAgentCreatesAgent", agent, nil, mergedesk.RoleAgent, false},
		{"ErrAgentCreatesAdmin", agent, nil, mergedesk.RoleAdmin, false},
		{"ErrAgentDemotesAdmin", agent, adminU, mergedesk.RoleEndUser, false},
		// End users write no one here, not even themselves.
		{"ErrEndUserEditsSelf", endUser, endUserU, "", false},
		{"ErrEndUserEditsOther", endUser, otherEU, "", false},
		{"ErrEndUserCreates", endUser, nil, "", false},
		{"ErrUnknownRole", unknown, otherEU, "", false},
		{"ErrNil", nobody, otherEU, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			change := mergedesk.UserChange{Role: c.role}
			if got := allowed(t, mergedesk.CanWriteUser(c.actor, c.target, change), mergedesk.EForbidden); got != c.want {
				t.Errorf("CanWriteUser = %v, want %v", got, c.want)
			}
			// The store callback form decides the same.
			if got := allowed(t, mergedesk.UserWriteCheck(c.actor, change)(c.target), mergedesk.EForbidden); got != c.want {
				t.Errorf("UserWriteCheck = %v, want %v", got, c.want)
			}
		})
	}
}

func TestCanManageCredentials(t *testing.T) {
	cases := []struct {
		name  string
		actor *mergedesk.Principal
		id    int64
		want  bool
	}{
		{"AdminForAdmin", admin, goneAdm.ID, true},
		{"AdminForEndUser", admin, otherEU.ID, true},
		{"AgentSelf", agent, agent.ID, true},
		{"EndUserSelf", endUser, endUser.ID, true},
		{"ErrAgentForEndUser", agent, otherEU.ID, false},
		{"ErrAgentForAdmin", agent, admin.ID, false},
		{"ErrAgentForAgent", agent, otherAg.ID, false},
		{"ErrEndUserForOther", endUser, otherEU.ID, false},
		{"ErrNil", nobody, 1, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := allowed(t, mergedesk.CanManageCredentials(c.actor, c.id), mergedesk.EForbidden); got != c.want {
				t.Errorf("CanManageCredentials = %v, want %v", got, c.want)
			}
		})
	}
}

func TestCanSeeJob(t *testing.T) {
	own := &mergedesk.Job{ID: "a", OwnerID: agent.ID}
	foreign := &mergedesk.Job{ID: "b", OwnerID: otherAg.ID}
	foreignScan := &mergedesk.Job{ID: "c", Type: mergedesk.JobDuplicateScan, OwnerID: otherAg.ID}
	cases := []struct {
		name  string
		actor *mergedesk.Principal
		job   *mergedesk.Job
		want  bool
	}{
		{"AgentOwn", agent, own, true},
		{"AdminOthers", admin, foreign, true},
		{"ErrAgentForeign", agent, foreign, false},
		{"ErrEndUserOwnID", &mergedesk.Principal{ID: agent.ID, Role: mergedesk.RoleEndUser}, own, false},
		{"ErrNil", nobody, own, false},
		// A duplicate scan is everyone's who may read duplicates (rule D11).
		{"AgentForeignScan", agent, foreignScan, true},
		{"AdminForeignScan", admin, foreignScan, true},
		{"ErrEndUserScan", &mergedesk.Principal{ID: 99, Role: mergedesk.RoleEndUser}, foreignScan, false},
		{"ErrNilScan", nobody, foreignScan, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// A refusal is RecordNotFound: the job is not revealed.
			if got := allowed(t, mergedesk.CanSeeJob(c.actor, c.job), mergedesk.ENotFound); got != c.want {
				t.Errorf("CanSeeJob = %v, want %v", got, c.want)
			}
		})
	}
}

func TestPrincipalOf(t *testing.T) {
	if p := agentU.Principal(); *p != *agent {
		t.Errorf("User.Principal = %+v, want %+v", *p, *agent)
	}
	s := &mergedesk.Session{UserID: 1, Role: mergedesk.RoleAdmin}
	if p := s.Principal(); *p != *admin {
		t.Errorf("Session.Principal = %+v, want %+v", *p, *admin)
	}
}
