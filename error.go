// Package mergedesk holds the domain of the Mergedesk help desk: users and their
// identities, organizations, groups, tickets and their audits, and the error model
// shared by every adapter. It depends on the standard library only.
package mergedesk

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Error codes. Each code maps to one HTTP status and one Zendesk error body in the
// web adapter; the store and services return them wrapped in *Error.
const (
	EInvalid         = "RecordInvalid"              // 422, with Details
	ENotFound        = "RecordNotFound"             // 404
	EForbidden       = "Forbidden"                  // 403
	EUnauthorized    = "Unauthorized"               // 401
	EInvalidJSON     = "InvalidJSON"                // 400
	EParamMissing    = "ParameterMissing"           // 400
	EBadCursor       = "InvalidPaginationParameter" // 400
	ETooManyValues   = "TooManyValues"              // 400
	EUpdateConflict  = "UpdateConflict"             // 409
	EMergeStale      = "MergePreviewStale"          // 409
	ETooLarge        = "RequestTooLarge"            // 413
	ETooManyRequests = "TooManyRequests"            // 429, with Retry-After
	EUnavailable     = "ServiceUnavailable"         // 503, with Retry-After
	EInternal        = "InternalError"              // 500
	EInvalidEndpoint = "InvalidEndpoint"            // 404 for unknown paths
)

// Field error codes used inside Details.
const (
	CodeBlank          = "BlankValue"
	CodeInvalid        = "InvalidValue"
	CodeDuplicate      = "DuplicateValue"
	CodeTooLong        = "TooLong"
	CodeClosedTicket   = "ClosedTicket"
	CodeUserInactive   = "UserInactive"
	CodeUserSuspended  = "UserSuspended"
	CodeMultipleOrgs   = "MultipleOrganizationsDisabled"
	CodeNotMember      = "NotMember"
	CodeSelfDelete     = "CannotDeleteSelf"
	CodePasswordLength = "PasswordTooShort"
)

// FieldError is one entry of a RecordInvalid body.
type FieldError struct {
	Error       string `json:"error"`
	Description string `json:"description"`
	// UserID names the user a merge refusal is about (an extension).
	UserID *int64 `json:"user_id,omitempty"`
	// AboutUser marks a merge refusal: its user_id key is always written, null
	// when the rule is about the pair (SameUser).
	AboutUser bool `json:"-"`
}

// MarshalJSON writes user_id for merge refusals even when it is null.
func (e FieldError) MarshalJSON() ([]byte, error) {
	type plain FieldError
	if !e.AboutUser || e.UserID != nil {
		return json.Marshal(plain(e))
	}
	return json.Marshal(struct {
		plain
		UserID *int64 `json:"user_id"`
	}{plain: plain(e)})
}

// Error is the one error type that crosses package boundaries with meaning. Anything
// else is internal: logged with its cause, shown to callers as "Internal error".
type Error struct {
	Code        string
	Description string
	Details     map[string][]FieldError
}

func (e *Error) Error() string {
	if len(e.Details) == 0 {
		return fmt.Sprintf("%s: %s", e.Code, e.Description)
	}
	for field, list := range e.Details {
		if len(list) > 0 {
			return fmt.Sprintf("%s: %s: %s", e.Code, field, list[0].Description)
		}
	}
	return e.Code
}

// Errorf returns an *Error with the code and a formatted description.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Description: fmt.Sprintf(format, args...)}
}

// Invalid returns a RecordInvalid error about one field.
func Invalid(field, code, format string, args ...any) *Error {
	return &Error{Code: EInvalid, Description: "Record validation errors",
		Details: map[string][]FieldError{field: {{Error: code, Description: fmt.Sprintf(format, args...)}}}}
}

// NotFound returns the standard 404 error.
func NotFound() *Error { return &Error{Code: ENotFound, Description: "Not found"} }

// Forbidden returns the standard 403 error.
func Forbidden() *Error {
	return &Error{Code: EForbidden, Description: "You do not have access to this page."}
}

// ErrorCode returns the code of err if it is (or wraps) an *Error, else EInternal.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err == nil {
		return ""
	}
	return EInternal
}

// FieldCode returns the first field error code of err for field, or "".
func FieldCode(err error, field string) string {
	var e *Error
	if errors.As(err, &e) && len(e.Details[field]) > 0 {
		return e.Details[field][0].Error
	}
	return ""
}
