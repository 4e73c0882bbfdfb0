package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestTicketAuditsLegacyCursor(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		var tids []int64
		for i := 0; i < 3; i++ {
			tk, _ := e.mustTicket(map[string]any{"requester_id": e.EndUser.ID, "subject": fmt.Sprint(i)})
			tids = append(tids, id(t, tk))
		}
		e.Must(http.StatusNoContent, "DELETE", fmt.Sprintf("/tickets/%d", tids[2]), nil)
		if s, _ := e.Do("GET", "/ticket_audits", e.AgentToken, nil); s != http.StatusForbidden {
			t.Errorf("agent /ticket_audits = %d", s)
		}
		m := e.Must(http.StatusOK, "GET", "/ticket_audits.json?limit=1", nil)
		if len(m["audits"].([]any)) != 1 || m["after_cursor"] == nil || m["before_cursor"] != nil || m["before_url"] != nil {
			t.Fatalf("page 1 = %v", m)
		}
		url := m["after_url"].(string)
		if !strings.HasPrefix(url, e.URL+"/ticket_audits.json?") {
			t.Errorf("after_url = %s", url)
		}
		m = e.Must(http.StatusOK, "GET", "/ticket_audits?limit=1&cursor="+m["after_cursor"].(string), nil)
		a := m["audits"].([]any)
		if len(a) != 1 || a[0].(map[string]any)["ticket_id"] != float64(tids[1]) || m["before_cursor"] == nil {
			t.Errorf("page 2 = %v", m)
		}
		if m["after_cursor"] != nil || m["after_url"] != nil {
			t.Errorf("deleted ticket's audit listed, or has_more wrong: %v", m)
		}
		back := e.Must(http.StatusOK, "GET", "/ticket_audits?limit=1&cursor="+m["before_cursor"].(string), nil)
		if a := back["audits"].([]any); len(a) != 1 || a[0].(map[string]any)["ticket_id"] != float64(tids[0]) {
			t.Errorf("before page = %v", back)
		}
		cur := e.Must(http.StatusOK, "GET", "/ticket_audits?page[size]=5&sort_order=desc", nil)
		a = cur["audits"].([]any)
		if len(a) != 2 || a[0].(map[string]any)["ticket_id"] != float64(tids[1]) || obj(t, cur, "meta")["has_more"] != false {
			t.Errorf("cursor desc = %v", cur)
		}
		if _, ok := cur["count"]; ok {
			t.Errorf("cursor page has count")
		}
		if s, m := e.Do("GET", "/ticket_audits?cursor=garbage", e.AdminToken, nil); s != 400 || m["error"] != "InvalidPaginationParameter" {
			t.Errorf("bad cursor = %d %v", s, m)
		}
	})
}
