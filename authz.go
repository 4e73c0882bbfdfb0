// Authorization: who may do what is decided here, once, and every path that
// reads or writes on someone's behalf (the REST API, the agent UI, background
// jobs, the merge command) asks these functions rather than comparing roles
// itself. The rules are docs/api.md §1.7; docs/authorization.md states
// them as implemented, says which function decides what and lists the callers.

package mergedesk

// StaffRole reports whether role is a role of the support team (agent or admin).
func StaffRole(role string) bool { return role == RoleAgent || role == RoleAdmin }

// IsStaff reports whether p is an agent or an admin. A nil principal is nobody.
func IsStaff(p *Principal) bool { return p != nil && StaffRole(p.Role) }

// IsAdmin reports whether p is an admin.
func IsAdmin(p *Principal) bool { return p != nil && p.Role == RoleAdmin }

// Principal returns u as a caller, for paths that act as a stored user (the
// merge command's --actor).
func (u *User) Principal() *Principal { return &Principal{ID: u.ID, Role: u.Role} }

// Principal returns the user signed in with s.
func (s *Session) Principal() *Principal { return &Principal{ID: s.UserID, Role: s.Role} }

// RequireStaff returns Forbidden unless actor is an agent or an admin: the
// access of every route not reserved to admins or open to end users.
func RequireStaff(actor *Principal) error {
	if IsStaff(actor) {
		return nil
	}
	return Forbidden()
}

// RequireAdmin returns Forbidden unless actor is an admin: writing groups,
// triggers and webhooks, imports, the audit and merge logs, account settings.
func RequireAdmin(actor *Principal) error {
	if IsAdmin(actor) {
		return nil
	}
	return Forbidden()
}

// CanReadUser returns Forbidden unless actor may read the user userID and its
// identities: the team reads everyone, an end user only themselves.
func CanReadUser(actor *Principal, userID int64) error {
	if IsStaff(actor) || actor != nil && actor.ID == userID {
		return nil
	}
	return Forbidden()
}

// UserChange is what a write does to a user, as far as authorization cares.
type UserChange struct {
	// Role is the role the write gives the user. "" leaves an existing user's
	// role alone and makes a new user an end user.
	Role string
}

// CanWriteUser returns Forbidden unless actor may make change to target, or
// create a user (target nil). Writing a user covers its profile fields, tags,
// suspension, identities, organization memberships and deleting it. Admins may do everything. Agents may write end users only, and may
// not give anyone a role other than end-user; that includes themselves, whose
// profile is an admin's to change. End users write no one through these paths
// (their own password and API tokens are CanManageCredentials).
func CanWriteUser(actor *Principal, target *User, change UserChange) error {
	switch {
	case IsAdmin(actor):
		return nil
	case !IsStaff(actor):
		return Forbidden()
	case target != nil && target.IsStaff():
		return Forbidden()
	case change.Role != "" && change.Role != RoleEndUser:
		return Forbidden()
	}
	return nil
}

// UserWriteCheck is CanWriteUser for actor and change in the shape of the
// store's check callbacks, which run on the user inside the write's transaction
// (memberships, create-or-update). A nil user means a user is being created.
func UserWriteCheck(actor *Principal, change UserChange) func(*User) error {
	return func(target *User) error { return CanWriteUser(actor, target, change) }
}

// CanManageCredentials returns Forbidden unless actor may set the password of,
// or list, create and revoke the API tokens of, the user userID: admins for
// anyone, every user for themselves (docs/api.md §1.7). Agents may not set an end
// user's password: a credential is a way to sign in as that person.
func CanManageCredentials(actor *Principal, userID int64) error {
	if IsAdmin(actor) || actor != nil && actor.ID == userID {
		return nil
	}
	return Forbidden()
}

// CanMerge returns Forbidden unless actor may merge users (rule M6: agents and
// admins). Which users may be merged is the merge rules' business (M1 refuses
// agents and admins as source or target with 422 NotEndUser), not a question of
// who asks.
func CanMerge(actor *Principal) error { return RequireStaff(actor) }

// CanReadDuplicates returns Forbidden unless actor may read duplicate
// suggestions, dismiss and restore them and start scans: agents and admins
// (rule D11).
func CanReadDuplicates(actor *Principal) error { return RequireStaff(actor) }

// CanChangeDuplicateSettings returns Forbidden unless actor may change the
// duplicates.* settings: admins (rule D11).
func CanChangeDuplicateSettings(actor *Principal) error { return RequireAdmin(actor) }

// CanSeeJob returns RecordNotFound unless actor may see j: its owner and
// admins, and for a duplicate scan everyone who may read duplicates (rule
// D11): a scan is account-wide work that any agent may have started, so any
// agent may watch it. Others are told the job does not exist, as for an
// unknown id, so a job id is never confirmed to someone who may not read it.
func CanSeeJob(actor *Principal, j *Job) error {
	switch {
	case IsAdmin(actor):
		return nil
	case j == nil:
	case j.Type == JobDuplicateScan && CanReadDuplicates(actor) == nil:
		return nil
	case IsStaff(actor) && j.OwnerID == actor.ID:
		return nil
	}
	return NotFound()
}
