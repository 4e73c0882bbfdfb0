package mergedesk

import (
	"strings"
	"unicode/utf8"
)

// ValidRole reports whether r is one of the roles.
func ValidRole(r string) bool {
	return r == RoleEndUser || r == RoleAgent || r == RoleAdmin
}

// CheckName trims a user, organization or group name and refuses a blank or
// overlong one. Errors: RecordInvalid (name BlankValue or TooLong).
func CheckName(raw string) (string, error) {
	name := strings.TrimSpace(raw)
	if name == "" {
		return "", Invalid("name", CodeBlank, "Name: cannot be blank")
	}
	if utf8.RuneCountInString(name) > MaxNameLen {
		return "", Invalid("name", CodeTooLong, "Name: is too long (maximum is %d characters)", MaxNameLen)
	}
	return name, nil
}

// Normalize applies the rules every new user follows, however it is created
// (one at a time or by a bulk import): it trims the name and the organization
// name (a blank one is none), fills the defaults (role end-user, locale 1,
// time zone UTC) and checks them. Identity values need the account's phone
// region and are normalised by the store. Errors: RecordInvalid (name
// BlankValue or TooLong; role, locale_id or time_zone InvalidValue).
func (nu *NewUser) Normalize() error {
	name, err := CheckName(nu.Name)
	if err != nil {
		return err
	}
	nu.Name = name
	if nu.Role == "" {
		nu.Role = RoleEndUser
	}
	if !ValidRole(nu.Role) {
		return Invalid("role", CodeInvalid, "Role: %q is not a valid role", nu.Role)
	}
	if nu.LocaleID == 0 {
		nu.LocaleID = 1
	}
	if LocaleByID(nu.LocaleID) == nil {
		return Invalid("locale_id", CodeInvalid, "Locale: %d is not a supported locale", nu.LocaleID)
	}
	if nu.TimeZone == "" {
		nu.TimeZone = "UTC"
	}
	if IANATimeZone(nu.TimeZone) == "" {
		return Invalid("time_zone", CodeInvalid, "Time zone: %q is not a known time zone", nu.TimeZone)
	}
	if nu.OrganizationName != nil {
		if n := strings.TrimSpace(*nu.OrganizationName); n != "" {
			nu.OrganizationName = &n
		} else {
			nu.OrganizationName = nil
		}
	}
	return nil
}

// CheckImport refuses what a bulk import cannot set. Errors: RecordInvalid
// (password InvalidValue: PBKDF2 is slow on purpose; passwords are set one
// user at a time).
func (nu *NewUser) CheckImport() error {
	if nu.Password != "" {
		return Invalid("password", CodeInvalid, "Password: cannot be set by a bulk import")
	}
	return nil
}
