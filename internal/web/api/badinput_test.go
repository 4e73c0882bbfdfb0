package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nukosuke/go-zendesk/zendesk"
)

// snapshot is what bad input must not change: the admin's view of the lists of
// users, deleted users, tickets and organizations (lists not served yet are
// left out).
func snapshot(t testing.TB, e *env) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range []string{"/users?per_page=100", "/deleted_users?per_page=100", "/tickets?per_page=100", "/organizations?per_page=100", "/organization_memberships?per_page=100",
		"/account/settings", "/duplicate_suggestions?status=all&per_page=100"} {
		s, raw := e.DoRaw("GET", p, e.AdminToken, nil)
		if s == http.StatusOK {
			out[p] = string(raw)
		}
	}
	return out
}

// zendeskError checks a Zendesk-shaped error body: JSON, "error" a string and,
// except for 401, "description" a string.
func zendeskError(t testing.TB, status int, h http.Header, raw []byte) map[string]any {
	t.Helper()
	if ct := h.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("error body is not JSON: %v: %s", err, raw)
	}
	if _, ok := m["error"].(string); !ok {
		t.Errorf("error body lacks a string \"error\": %s", raw)
	}
	if _, ok := m["description"].(string); !ok && status != http.StatusUnauthorized {
		t.Errorf("error body lacks a string \"description\": %s", raw)
	}
	return m
}

// send sends body verbatim ([]byte or string) or as JSON, as admin, and returns
// the status, headers and body.
func send(t testing.TB, e *env, method, path string, body any) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, raw
}

// chunked hides the length of r so the server sees no Content-Length.
type chunked struct{ io.Reader }

func TestBadInput(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		uid := mkUser(t, e, map[string]any{"name": "Ann Lee", "email": "ann@example.com"})
		user := fmt.Sprintf("/users/%d", uid)
		big := `{"user":{"name":"` + strings.Repeat("a", 10<<20) + `"}}`

		cases := []struct {
			name         string
			method, path string
			body         any
			status       int
			code         string // "error" of the body
			field        string // a key of details, for 422
			allow        string // a method Allow must list, for 405
		}{
			{"MalformedJSON", "POST", "/users", `{"user":`, 400, "InvalidJSON", "", ""},
			{"MalformedJSONTrailing", "POST", "/users", `{"user":{"name":"x"}} {"x":1}`, 400, "InvalidJSON", "", ""},
			{"NotAnObject", "POST", "/users", `[1,2]`, 400, "InvalidJSON", "", ""},
			{"NameIsNumber", "POST", "/users", `{"user":{"name":5}}`, 400, "InvalidJSON", "", ""},
			{"OrganizationIDIsWord", "POST", "/users", `{"user":{"name":"x","organization_id":"abc"}}`, 400, "InvalidJSON", "", ""},
			{"TagsIsString", "PUT", user, `{"user":{"tags":"vip"}}`, 400, "InvalidJSON", "", ""},
			{"UserIsString", "PUT", user, `{"user":"x"}`, 400, "InvalidJSON", "", ""},
			{"MissingWrapper", "POST", "/users", `{"name":"x"}`, 400, "ParameterMissing", "", ""},
			{"MissingWrapperUpdate", "PUT", user, `{"name":"x"}`, 400, "ParameterMissing", "", ""},
			{"EmptyBodyCreate", "POST", "/users", ``, 400, "ParameterMissing", "", ""},
			{"MissingIdentityWrapper", "POST", user + "/identities", `{"type":"email","value":"x@example.com"}`, 400, "ParameterMissing", "", ""},
			{"UnknownUser", "GET", "/users/987654321", nil, 404, "RecordNotFound", "", ""},
			{"UnknownUserUpdate", "PUT", "/users/987654321", `{"user":{"name":"x"}}`, 404, "RecordNotFound", "", ""},
			{"UnknownUserDelete", "DELETE", "/users/987654321", nil, 404, "RecordNotFound", "", ""},
			{"NonNumericUserID", "GET", "/users/abc", nil, 404, "RecordNotFound", "", ""},
			{"HugeUserID", "GET", "/users/99999999999999999999999", nil, 404, "RecordNotFound", "", ""},
			{"UnknownIdentity", "GET", user + "/identities/987654321", nil, 404, "RecordNotFound", "", ""},
			{"UnknownIdentityOfUnknownUser", "POST", "/users/987654321/identities", `{"identity":{"type":"email","value":"q@example.com"}}`, 404, "RecordNotFound", "", ""},
			{"UnknownJob", "GET", "/job_statuses/nope", nil, 404, "RecordNotFound", "", ""},
			{"TooLarge", "POST", "/users", big, 413, "RequestTooLarge", "", ""},
			{"TooLargeChunked", "POST", "/users", chunked{strings.NewReader(big)}, 413, "RequestTooLarge", "", ""},
			{"InvalidEmail", "POST", "/users", `{"user":{"name":"x","email":"not-an-email"}}`, 422, "RecordInvalid", "email", ""},
			{"InvalidEmailUpdate", "PUT", user, `{"user":{"email":"nope@"}}`, 422, "RecordInvalid", "email", ""},
			{"InvalidPhone", "POST", "/users", `{"user":{"name":"x","phone":"call me maybe"}}`, 422, "RecordInvalid", "phone", ""},
			{"InvalidPhoneUpdate", "PUT", user, `{"user":{"phone":"12"}}`, 422, "RecordInvalid", "phone", ""},
			{"InvalidIdentityEmail", "POST", user + "/identities", `{"identity":{"type":"email","value":"nope"}}`, 422, "RecordInvalid", "value", ""},
			{"InvalidIdentityPhone", "POST", user + "/identities", `{"identity":{"type":"phone_number","value":"abc"}}`, 422, "RecordInvalid", "value", ""},
			{"UnknownIdentityType", "POST", user + "/identities", `{"identity":{"type":"fax","value":"123"}}`, 422, "RecordInvalid", "type", ""},
			{"BadVerificationMethod", "POST", user + "/identities", `{"identity":{"type":"email","value":"v@example.com","verification_method":"full"}}`, 400, "", "", ""},
			{"BlankName", "POST", "/users", `{"user":{"name":"  "}}`, 422, "RecordInvalid", "name", ""},
			{"DuplicateEmail", "POST", "/users", `{"user":{"name":"x","email":"ANN@example.com"}}`, 422, "RecordInvalid", "email", ""},
			{"UnknownLocale", "POST", "/users", `{"user":{"name":"x","locale":"xx-XX"}}`, 422, "RecordInvalid", "locale", ""},
			{"UserFieldsObject", "PUT", user, `{"user":{"user_fields":{"a":{"b":1}}}}`, 422, "RecordInvalid", "user_fields", ""},
			{"CreateMany101", "POST", "/users/create_many", manyUsers(101), 400, "TooManyValues", "", ""},
			{"CreateOrUpdateMany101", "POST", "/users/create_or_update_many", manyUsers(101), 400, "TooManyValues", "", ""},
			{"CreateManyNoWrapper", "POST", "/users/create_many", `{"user":[]}`, 400, "ParameterMissing", "", ""},
			{"CreateManyNotList", "POST", "/users/create_many", `{"users":{"name":"x"}}`, 400, "InvalidJSON", "", ""},
			{"ShowMany101", "GET", "/users/show_many?ids=" + strings.TrimSuffix(strings.Repeat("1,", 101), ","), nil, 400, "TooManyValues", "", ""},
			{"BadCursor", "GET", "/users?page[after]=!!!", nil, 400, "InvalidPaginationParameter", "", ""},
			{"BadCursorBase64", "GET", "/users?page[size]=2&page[after]=Zm9v", nil, 400, "InvalidPaginationParameter", "", ""},
			{"BadCursorBefore", "GET", "/users?page[before]=%00%01", nil, 400, "InvalidPaginationParameter", "", ""},
			{"UnknownPath", "GET", "/nope", nil, 404, "InvalidEndpoint", "", ""},
			{"UnknownSubPath", "GET", user + "/nope.json", nil, 404, "InvalidEndpoint", "", ""},
			{"WrongMethod", "PATCH", user, `{"user":{"name":"x"}}`, 405, "", "", "PUT"},
			{"WrongMethodCollection", "DELETE", "/users.json", nil, 405, "", "", "POST"},
			// Tickets and organizations (§4, §6).
			{"TicketMalformed", "POST", "/tickets", `{"ticket":{`, 400, "InvalidJSON", "", ""},
			{"TicketSubjectNumber", "POST", "/tickets", `{"ticket":{"subject":5,"comment":{"body":"x"}}}`, 400, "InvalidJSON", "", ""},
			{"TicketRequesterIDWord", "POST", "/tickets", `{"ticket":{"requester_id":"abc","comment":{"body":"x"}}}`, 400, "InvalidJSON", "", ""},
			{"TicketNoWrapper", "POST", "/tickets", `{"subject":"x"}`, 400, "ParameterMissing", "", ""},
			{"TicketNoComment", "POST", "/tickets", fmt.Sprintf(`{"ticket":{"subject":"x","requester_id":%d}}`, uid), 422, "RecordInvalid", "", ""},
			{"TicketUnknown", "GET", "/tickets/987654321", nil, 404, "RecordNotFound", "", ""},
			{"TicketUnknownUpdate", "PUT", "/tickets/987654321", `{"ticket":{"status":"open"}}`, 404, "RecordNotFound", "", ""},
			{"TicketBadRequesterEmail", "POST", "/tickets", `{"ticket":{"requester":{"email":"nope"},"comment":{"body":"x"}}}`, 422, "RecordInvalid", "", ""},
			{"TicketsCreateMany101", "POST", "/tickets/create_many", manyTickets(101, uid), 400, "TooManyValues", "", ""},
			{"TicketsBadCursor", "GET", "/tickets?page[after]=***", nil, 400, "InvalidPaginationParameter", "", ""},
			{"OrganizationNameNumber", "POST", "/organizations", `{"organization":{"name":5}}`, 400, "InvalidJSON", "", ""},
			{"OrganizationNoWrapper", "POST", "/organizations", `{"name":"x"}`, 400, "ParameterMissing", "", ""},
			{"OrganizationBlankName", "POST", "/organizations", `{"organization":{"name":""}}`, 422, "RecordInvalid", "name", ""},
			{"OrganizationUnknown", "GET", "/organizations/987654321", nil, 404, "RecordNotFound", "", ""},
			// Duplicates (docs/duplicates.md D12).
			{"DuplicatesUnknownUser", "GET", "/users/987654321/duplicates", nil, 404, "RecordNotFound", "", ""},
			{"DuplicatesMinScoreZero", "GET", user + "/duplicates?min_score=0", nil, 422, "RecordInvalid", "min_score", ""},
			{"DuplicatesMinScoreWord", "GET", user + "/duplicates?min_score=high", nil, 422, "RecordInvalid", "min_score", ""},
			{"DuplicatesIncludeDismissedWord", "GET", user + "/duplicates?include_dismissed=maybe", nil, 422, "RecordInvalid", "include_dismissed", ""},
			{"SuggestionsMinScoreTooHigh", "GET", "/duplicate_suggestions?min_score=1.5", nil, 422, "RecordInvalid", "min_score", ""},
			{"SuggestionsMinScoreNaN", "GET", "/duplicate_suggestions?min_score=NaN", nil, 422, "RecordInvalid", "min_score", ""},
			{"SuggestionsBadStatus", "GET", "/duplicate_suggestions?status=maybe", nil, 422, "RecordInvalid", "status", ""},
			{"SuggestionsBadUserID", "GET", "/duplicate_suggestions?user_id=abc", nil, 422, "RecordInvalid", "user_id", ""},
			{"SuggestionsBadGroupID", "GET", "/duplicate_suggestions?group_id=-1", nil, 422, "RecordInvalid", "group_id", ""},
			{"SuggestionsBadCursor", "GET", "/duplicate_suggestions?page[after]=***", nil, 400, "InvalidPaginationParameter", "", ""},
			{"SuggestionUnknown", "GET", "/duplicate_suggestions/987654321", nil, 404, "RecordNotFound", "", ""},
			{"SuggestionUnknownDismiss", "PUT", "/duplicate_suggestions/987654321/dismiss", nil, 404, "RecordNotFound", "", ""},
			{"SuggestionUnknownRestore", "PUT", "/duplicate_suggestions/987654321/restore", nil, 404, "RecordNotFound", "", ""},
			{"SuggestionNonNumeric", "GET", "/duplicate_suggestions/abc", nil, 404, "RecordNotFound", "", ""},
			{"SettingsMinScoreZero", "PUT", "/account/settings", `{"settings":{"duplicates":{"min_score":0}}}`, 422, "RecordInvalid", "duplicates.min_score", ""},
			{"SettingsMinScoreAboveOne", "PUT", "/account/settings", `{"settings":{"duplicates":{"min_score":1.01}}}`, 422, "RecordInvalid", "duplicates.min_score", ""},
			{"SettingsMinScoreWord", "PUT", "/account/settings", `{"settings":{"duplicates":{"min_score":"high"}}}`, 422, "RecordInvalid", "duplicates.min_score", ""},
			{"SettingsEnabledWord", "PUT", "/account/settings", `{"settings":{"duplicates":{"enabled":"yes"}}}`, 422, "RecordInvalid", "duplicates.enabled", ""},
			{"SettingsUserFieldsBlank", "PUT", "/account/settings", `{"settings":{"duplicates":{"user_fields":["dob",""]}}}`, 422, "RecordInvalid", "duplicates.user_fields", ""},
			{"SettingsUserFieldsString", "PUT", "/account/settings", `{"settings":{"duplicates":{"user_fields":"dob"}}}`, 422, "RecordInvalid", "duplicates.user_fields", ""},
			// The spec does not say whether an unknown id in a body is 404 or 422: either is fine.
			{"MembershipUnknownUser", "POST", "/organization_memberships", `{"organization_membership":{"user_id":987654321,"organization_id":987654321}}`, anyClientError, "", "", ""},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				before := snapshot(t, e)
				var status int
				var h http.Header
				var raw []byte
				if ch, ok := c.body.(chunked); ok {
					req, _ := http.NewRequest(c.method, e.URL+c.path, ch)
					req.Header.Set("Authorization", "Bearer "+e.AdminToken)
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					raw, _ = io.ReadAll(resp.Body)
					resp.Body.Close()
					status, h = resp.StatusCode, resp.Header
				} else {
					status, h, raw = send(t, e, c.method, c.path, c.body)
				}
				if status >= 500 {
					t.Fatalf("%s %s = %d: never a 5xx: %.300s", c.method, c.path, status, raw)
				}
				if c.status == anyClientError && (status < 400 || status > 499) || c.status != anyClientError && status != c.status {
					t.Errorf("%s %s = %d, want %d: %.300s", c.method, c.path, status, c.status, raw)
				}
				m := zendeskError(t, status, h, raw)
				if c.code != "" && m["error"] != c.code {
					t.Errorf("error = %v, want %s (%.300s)", m["error"], c.code, raw)
				}
				if c.field != "" {
					d, _ := m["details"].(map[string]any)
					entries, _ := d[c.field].([]any)
					if len(entries) == 0 {
						t.Errorf("details lack %q: %.300s", c.field, raw)
					}
					for _, en := range entries {
						en, _ := en.(map[string]any)
						if _, ok := en["error"].(string); !ok {
							t.Errorf("details.%s entry without error code: %v", c.field, en)
						}
						if _, ok := en["description"].(string); !ok {
							t.Errorf("details.%s entry without description: %v", c.field, en)
						}
					}
				}
				if c.allow != "" && !strings.Contains(h.Get("Allow"), c.allow) {
					t.Errorf("Allow = %q, want it to list %s", h.Get("Allow"), c.allow)
				}
				if diff := cmp.Diff(before, snapshot(t, e)); diff != "" {
					t.Errorf("the database changed (-before +after):\n%s", diff)
				}
			})
		}
	})
}

// anyClientError accepts any 4xx.
const anyClientError = -1

func manyUsers(n int) map[string]any {
	l := make([]any, n)
	for i := range l {
		l[i] = map[string]any{"name": fmt.Sprintf("Many %d", i)}
	}
	return map[string]any{"users": l}
}

func manyTickets(n int, requester int64) map[string]any {
	l := make([]any, n)
	for i := range l {
		l[i] = map[string]any{"subject": "x", "requester_id": requester, "comment": map[string]any{"body": "x"}}
	}
	return map[string]any{"tickets": l}
}

// TestLenientInput covers what real clients send (docs/api.md §1.3): all of it is
// accepted, and the listed values mean what the table says.
func TestLenientInput(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		uid := mkUser(t, e, map[string]any{"name": "Ann Lee", "email": "ann@example.com", "tags": []string{"vip"},
			"user_fields": map[string]any{"plan": "gold"}, "details": "d"})
		user := fmt.Sprintf("/users/%d", uid)
		gz, _ := json.Marshal(map[string]any{"user": zendesk.User{Notes: "from go-zendesk"}})

		type check func(t *testing.T, resp map[string]any)
		cases := []struct {
			name         string
			method, path string
			body         any
			status       int
			check        check
		}{
			{"StrayQueryParameters", "GET", "/users.json?Access=&Category=0&Id=0&OnlyViewable=false&query=", nil, 200, func(t *testing.T, m map[string]any) {
				if l, _ := m["users"].([]any); len(l) != 4 {
					t.Errorf("users = %d, want 4 (an empty query is ignored)", len(l))
				}
			}},
			{"ReadOnlyFieldsOnCreate", "POST", "/users", `{"user":{"id":77777,"url":"http://evil/x","active":false,"created_at":"2001-01-01T00:00:00Z","role_type":4,"name":"Junk Fields","shared":true,"iana_time_zone":"Asia/Tokyo"}}`, 201, func(t *testing.T, m map[string]any) {
				u := obj(t, m, "user")
				if num(u, "id") == 77777 || u["active"] != true || u["role_type"] != nil || u["shared"] != false || strings.HasPrefix(fmt.Sprint(u["created_at"]), "2001") {
					t.Errorf("read-only fields were used: %v", u)
				}
			}},
			{"ZeroTimestamps", "POST", "/users", `{"user":{"name":"Zero Time","last_login_at":"0001-01-01T00:00:00Z","created_at":"0001-01-01T00:00:00Z","updated_at":"0001-01-01T00:00:00Z"}}`, 201, func(t *testing.T, m map[string]any) {
				if u := obj(t, m, "user"); u["last_login_at"] != nil || strings.HasPrefix(fmt.Sprint(u["created_at"]), "0001") {
					t.Errorf("zero timestamps were used: %v", u)
				}
			}},
			{"EmptyPhoto", "PUT", user, `{"user":{"photo":{}}}`, 200, func(t *testing.T, m map[string]any) {
				if u := obj(t, m, "user"); u["photo"] != nil {
					t.Errorf("photo = %v, want unchanged null", u["photo"])
				}
			}},
			{"NullUserFieldsOnUpdate", "PUT", user, `{"user":{"user_fields":null,"tags":null}}`, 200, func(t *testing.T, m map[string]any) {
				u := obj(t, m, "user")
				if fmt.Sprint(u["user_fields"]) != "map[plan:gold]" || fmt.Sprint(u["tags"]) != "[vip]" {
					t.Errorf("user_fields, tags = %v, %v; want unchanged", u["user_fields"], u["tags"])
				}
			}},
			{"NullUserFieldsOnCreate", "POST", "/users", `{"user":{"name":"Null Fields","user_fields":null,"tags":null}}`, 201, func(t *testing.T, m map[string]any) {
				u := obj(t, m, "user")
				if fmt.Sprint(u["user_fields"]) != "map[]" || fmt.Sprint(u["tags"]) != "[]" {
					t.Errorf("user_fields, tags = %#v, %#v; want {} and []", u["user_fields"], u["tags"])
				}
			}},
			{"EmptyNameOnUpdate", "PUT", user, `{"user":{"name":""}}`, 200, func(t *testing.T, m map[string]any) {
				if u := obj(t, m, "user"); u["name"] != "Ann Lee" {
					t.Errorf("name = %v, want unchanged", u["name"])
				}
			}},
			{"GoZendeskUpdateBody", "PUT", user, gz, 200, func(t *testing.T, m map[string]any) {
				u := obj(t, m, "user")
				if u["name"] != "Ann Lee" || u["notes"] != "from go-zendesk" || u["details"] != "d" || fmt.Sprint(u["tags"]) != "[vip]" {
					t.Errorf("go-zendesk update = %v", u)
				}
			}},
			{"LocaleIDAsString", "PUT", user, `{"user":{"locale_id":"8"}}`, 200, func(t *testing.T, m map[string]any) {
				if u := obj(t, m, "user"); num(u, "locale_id") != 8 || u["locale"] != "de" {
					t.Errorf("locale = %v %v", u["locale_id"], u["locale"])
				}
			}},
			{"OrganizationIDZero", "PUT", user, `{"user":{"organization_id":0}}`, 200, func(t *testing.T, m map[string]any) {
				if u := obj(t, m, "user"); u["organization_id"] != nil {
					t.Errorf("organization_id = %v, want null", u["organization_id"])
				}
			}},
			{"AbsentBooleans", "PUT", user, `{"user":{"notes":"n"}}`, 200, func(t *testing.T, m map[string]any) {
				if u := obj(t, m, "user"); u["verified"] != false || u["suspended"] != false || u["active"] != true {
					t.Errorf("verified, suspended = %v, %v", u["verified"], u["suspended"])
				}
			}},
			{"MakePrimaryNullBody", "PUT", user + "/identities/{email}/make_primary", "null", 200, nil},
			{"MakePrimaryEmptyObject", "PUT", user + "/identities/{email}/make_primary", "{}", 200, nil},
			{"MakePrimaryEmptyBody", "PUT", user + "/identities/{email}/make_primary", "", 200, nil},
			{"VerifyNullBody", "PUT", user + "/identities/{email}/verify", "null", 200, nil},
			{"RequestVerificationEmptyBody", "PUT", user + "/identities/{email}/request_verification", "", 200, nil},
			// Organizations and memberships (§4).
			{"OrganizationGoZendeskCreate", "POST", "/organizations", `{"organization":{"name":"Acme","domain_names":null,"group_id":0,"shared_tickets":false,"shared_comments":false,"tags":null,"organization_fields":null,"created_at":"0001-01-01T00:00:00Z","updated_at":"0001-01-01T00:00:00Z"}}`, 201, func(t *testing.T, m map[string]any) {
				o := obj(t, m, "organization")
				if o["group_id"] != nil || fmt.Sprint(o["domain_names"]) != "[]" || fmt.Sprint(o["tags"]) != "[]" || fmt.Sprint(o["organization_fields"]) != "map[]" || strings.HasPrefix(fmt.Sprint(o["created_at"]), "0001") {
					t.Errorf("organization = %v", o)
				}
			}},
			{"OrganizationNullsOnUpdate", "PUT", "/organizations/{org}", `{"organization":{"name":"","domain_names":null,"tags":null,"organization_fields":null,"group_id":0}}`, 200, func(t *testing.T, m map[string]any) {
				o := obj(t, m, "organization")
				if o["name"] != "Lenient Org" || fmt.Sprint(o["domain_names"]) != "[lenient.example]" || fmt.Sprint(o["tags"]) != "[t1]" {
					t.Errorf("organization after nulls = %v, want unchanged", o)
				}
			}},
			{"FirstMembershipDefaultFalse", "POST", "/organization_memberships", `{"organization_membership":{"user_id":{uid},"organization_id":{org},"default":false}}`, 201, func(t *testing.T, m map[string]any) {
				if ms := obj(t, m, "organization_membership"); ms["default"] != true {
					t.Errorf("first membership default = %v, want true", ms["default"])
				}
			}},
			{"MakeDefaultNullBody", "PUT", "/users/{uid}/organizations/{org}/make_default", "null", 200, nil},
			{"MakeDefaultEmptyBody", "PUT", "/users/{uid}/organizations/{org}/make_default.json", "", 200, nil},
			{"MakeDefaultEmptyObject", "PUT", "/users/{uid}/organizations/{org}/make_default", "{}", 200, nil},
			// Tickets (§6).
			{"TicketGoZendeskCreate", "POST", "/tickets.json", `{"ticket":{"subject":"Lenient","requester":{"name":"Req","email":"req@example.com","locale_id":"8"},"group_id":0,"comment":{"body":"hi","created_at":"0001-01-01T00:00:00Z"},"via":{"channel":"web","source":{"from":{},"to":{},"rel":""}},"created_at":"0001-01-01T00:00:00Z","url":"x","id":5}}`, 201, func(t *testing.T, m map[string]any) {
				tk := obj(t, m, "ticket")
				if tk["group_id"] != nil || tk["subject"] != "Lenient" || obj(t, tk, "via")["channel"] != "api" {
					t.Errorf("ticket = %v", tk)
				}
			}},
		}

		// Fixtures for the placeholders.
		m := e.Must(http.StatusOK, "GET", user+"/identities", nil)
		emailID := fmt.Sprint(idsOf(m["identities"].([]any))[0])
		orgID := "987654321"
		if s, m := e.Do("POST", "/organizations", e.AdminToken, map[string]any{"organization": map[string]any{"name": "Lenient Org",
			"domain_names": []string{"lenient.example"}, "tags": []string{"t1"}}}); s == http.StatusCreated {
			orgID = fmt.Sprint(num(obj(t, m, "organization"), "id"))
		}
		subst := strings.NewReplacer("{email}", emailID, "{org}", orgID, "{uid}", fmt.Sprint(uid))

		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				body := c.body
				if s, ok := body.(string); ok {
					body = subst.Replace(s)
				}
				status, _, raw := send(t, e, c.method, subst.Replace(c.path), body)
				if c.status == anyClientError && (status < 400 || status > 499) || c.status != anyClientError && status != c.status {
					t.Fatalf("%s %s = %d, want %d: %.400s", c.method, c.path, status, c.status, raw)
				}
				if c.check != nil {
					var m map[string]any
					if err := json.Unmarshal(raw, &m); err != nil {
						t.Fatalf("body: %v: %s", err, raw)
					}
					c.check(t, m)
				}
			})
		}
	})
}
