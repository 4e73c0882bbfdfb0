package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
)

// message posts a channel message as the agent and fails unless the status is want.
func (e *env) message(want int, m map[string]any) map[string]any {
	e.t.Helper()
	status, body := e.Do("POST", "/channels/messages", e.AgentToken, map[string]any{"message": m})
	if status != want {
		e.t.Fatalf("POST /channels/messages = %d, want %d: %v", status, want, body)
	}
	return body
}

func TestChannelMessages(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		t.Run("UnknownCallerCaptured", func(t *testing.T) {
			m := e.message(http.StatusCreated, map[string]any{"channel": "voice",
				"from":    map[string]any{"type": "phone_number", "value": "(415) 555-0101", "name": "Ann"},
				"subject": "Call from +14155550101", "body": "Voicemail: please call me back.",
				"cc": []any{map[string]any{"type": "email", "value": "bo@example.com"}}})
			if m["user_created"] != true || m["ticket_created"] != true {
				t.Fatalf("user_created %v ticket_created %v, want both true", m["user_created"], m["ticket_created"])
			}
			user, ticket := obj(t, m, "user"), obj(t, m, "ticket")
			if user["name"] != "Ann" || user["phone"] != "+14155550101" || user["verified"] != false {
				t.Errorf("user %v", user)
			}
			via := obj(t, ticket, "via")
			from := obj(t, obj(t, via, "source"), "from")
			if via["channel"] != "voice" || from["phone"] != "+14155550101" || from["name"] != "Ann" {
				t.Errorf("via %v", via)
			}
			if ticket["requester_id"] != user["id"] || ticket["subject"] != "Call from +14155550101" || len(ids(t, ticket["email_cc_ids"])) != 1 {
				t.Errorf("ticket %v", ticket)
			}
			// Point 3: the profile shows it, and the audit names channel and identity.
			uid, tid := id(t, user), id(t, ticket)
			list := e.Must(http.StatusOK, "GET", fmt.Sprintf("/users/%d/tickets/requested", uid), nil)
			if got := list["tickets"].([]any); len(got) != 1 || id(t, got[0].(map[string]any)) != tid {
				t.Errorf("requested tickets %v, want [%d]", got, tid)
			}
			audits := e.Must(http.StatusOK, "GET", fmt.Sprintf("/tickets/%d/audits", tid), nil)["audits"].([]any)
			a := audits[0].(map[string]any)
			af := obj(t, obj(t, obj(t, a, "via"), "source"), "from")
			if obj(t, a, "via")["channel"] != "voice" || af["phone"] != "+14155550101" || id(t, map[string]any{"id": a["author_id"]}) != uid {
				t.Errorf("first audit %v", a)
			}
			// The same number in another format threads onto the ticket.
			m = e.message(http.StatusCreated, map[string]any{"channel": "sms",
				"from": map[string]any{"type": "phone_number", "value": "+1 415 555 0101"}, "body": "Any news?", "ticket_id": tid})
			if m["user_created"] != false || m["ticket_created"] != false || id(t, obj(t, m, "ticket")) != tid || id(t, obj(t, m, "user")) != uid {
				t.Errorf("reply %v", m)
			}
		})
		t.Run("ViaPerChannel", func(t *testing.T) {
			tests := []struct {
				channel, typ, value, wantChannel, key string
				messaging                             bool
			}{
				{"sms", "phone_number", "+44 20 7946 0958", "sms", "phone", false},
				{"whatsapp", "phone_number", "+44 20 7946 0958", "whatsapp", "phone", true},
				{"messaging", "messaging", "line-123", "native_messaging", "value", true},
				{"x", "twitter", "@somebody", "twitter", "value", false},
				{"facebook", "facebook", "fb-42", "facebook", "value", false},
				{"chat", "email", "chat@example.com", "chat", "value", false},
				{"web", "email", "web@example.com", "web", "value", false},
			}
			for _, tt := range tests {
				t.Run(tt.channel, func(t *testing.T) {
					m := e.message(http.StatusCreated, map[string]any{"channel": tt.channel,
						"from": map[string]any{"type": tt.typ, "value": tt.value}, "body": "hello"})
					tk := obj(t, m, "ticket")
					via := obj(t, tk, "via")
					if via["channel"] != tt.wantChannel || obj(t, obj(t, via, "source"), "from")[tt.key] == nil {
						t.Errorf("via %v, want channel %s with from.%s", via, tt.wantChannel, tt.key)
					}
					if tk["from_messaging_channel"] != tt.messaging {
						t.Errorf("from_messaging_channel = %v, want %v", tk["from_messaging_channel"], tt.messaging)
					}
				})
			}
		})
		t.Run("Concurrent", func(t *testing.T) {
			const n = 20
			users := make([]int64, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					status, m := e.Do("POST", "/channels/messages", e.AgentToken, map[string]any{"message": map[string]any{
						"channel": "whatsapp", "from": map[string]any{"type": "phone_number", "value": "+1 212 555 0142"}, "body": "race"}})
					if status == http.StatusCreated {
						users[i] = int64(obj(t, m, "user")["id"].(float64))
					}
				})
			}
			wg.Wait()
			slices.Sort(users)
			if u := slices.Compact(users); len(u) != 1 || u[0] == 0 {
				t.Fatalf("users %v, want one", u)
			}
		})
	})
}

func TestChannelMessagesRefused(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		susp := e.Must(http.StatusCreated, "POST", "/users", map[string]any{"user": map[string]any{"name": "Sus", "phone": "+1 415 555 0150", "suspended": true}})
		_ = susp
		tests := []struct {
			name     string
			body     any
			status   int
			errKey   string
			wantCode string
		}{
			{"NoWrapper", map[string]any{"channel": "sms"}, 400, "", "ParameterMissing"},
			{"MalformedJSON", `{"message":`, 400, "", "InvalidJSON"},
			{"UnknownChannel", map[string]any{"message": map[string]any{"channel": "pigeon",
				"from": map[string]any{"type": "phone_number", "value": "+14155550100"}, "body": "x"}}, 422, "channel", "InvalidValue"},
			{"EmailIsNotAnAPIChannel", map[string]any{"message": map[string]any{"channel": "email",
				"from": map[string]any{"type": "email", "value": "a@example.com"}, "body": "x"}}, 422, "channel", "InvalidValue"},
			{"UnknownFromType", map[string]any{"message": map[string]any{"channel": "sms",
				"from": map[string]any{"type": "carrier_pigeon", "value": "x"}, "body": "x"}}, 422, "from", "InvalidValue"},
			{"MissingFrom", map[string]any{"message": map[string]any{"channel": "sms", "body": "x"}}, 422, "from", "BlankValue"},
			{"InvalidPhone", map[string]any{"message": map[string]any{"channel": "sms",
				"from": map[string]any{"type": "phone_number", "value": "not a number"}, "body": "x"}}, 422, "from", "InvalidValue"},
			{"InvalidEmail", map[string]any{"message": map[string]any{"channel": "chat",
				"from": map[string]any{"type": "email", "value": "a@@b"}, "body": "x"}}, 422, "from", "InvalidValue"},
			{"BlankBody", map[string]any{"message": map[string]any{"channel": "sms",
				"from": map[string]any{"type": "phone_number", "value": "+14155550100"}, "body": ""}}, 422, "body", "BlankValue"},
			{"UnknownTicket", map[string]any{"message": map[string]any{"channel": "sms",
				"from": map[string]any{"type": "phone_number", "value": "+14155550100"}, "body": "x", "ticket_id": 424242}}, 422, "ticket_id", "InvalidValue"},
			{"Suspended", map[string]any{"message": map[string]any{"channel": "sms",
				"from": map[string]any{"type": "phone_number", "value": "415-555-0150"}, "body": "x"}}, 422, "requester", "UserSuspended"},
		}
		before := e.Must(http.StatusOK, "GET", "/users", nil)["count"]
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				status, m := e.Do("POST", "/channels/messages", e.AgentToken, tt.body)
				if status != tt.status {
					t.Fatalf("status %d, want %d: %v", status, tt.status, m)
				}
				if tt.errKey == "" {
					if m["error"] != tt.wantCode {
						t.Errorf("error %v, want %s", m["error"], tt.wantCode)
					}
					return
				}
				d, _ := obj(t, m, "details")[tt.errKey].([]any)
				if len(d) == 0 || d[0].(map[string]any)["error"] != tt.wantCode {
					t.Errorf("details %v, want %s on %s", m["details"], tt.wantCode, tt.errKey)
				}
			})
		}
		if after := e.Must(http.StatusOK, "GET", "/users", nil)["count"]; after != before {
			t.Errorf("refused messages created users: %v → %v", before, after)
		}
		t.Run("EndUserForbidden", func(t *testing.T) {
			status, _ := e.Do("POST", "/channels/messages", e.EndUserToken, map[string]any{"message": map[string]any{"channel": "sms",
				"from": map[string]any{"type": "phone_number", "value": "+14155550100"}, "body": "x"}})
			if status != http.StatusForbidden {
				t.Fatalf("status %d, want 403", status)
			}
		})
	})
}
