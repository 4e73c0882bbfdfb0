package api_test

import (
	"fmt"
	"net/http"
	"testing"
)

func mkUserID(t *testing.T, e *env, user map[string]any) int64 {
	t.Helper()
	return id(t, obj(t, e.Must(http.StatusCreated, "POST", "/users", map[string]any{"user": user}), "user"))
}

func mkTicket(t *testing.T, e *env, ticket map[string]any) int64 {
	t.Helper()
	if _, ok := ticket["comment"]; !ok {
		ticket["comment"] = map[string]any{"body": "help"}
	}
	return id(t, obj(t, e.Must(http.StatusCreated, "POST", "/tickets", map[string]any{"ticket": ticket}), "ticket"))
}

func TestMergeMovesTicketsCCsAndIdentities(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		src := mkUserID(t, e, map[string]any{"name": "Ann (phone)", "phone": "+1 415 555 0101", "verified": true,
			"identities": []any{map[string]any{"type": "email", "value": "ann@home.example"}, map[string]any{"type": "twitter", "value": "@annlee"}},
			"tags":       []string{"vip"}, "notes": "called twice"})
		dst := mkUserID(t, e, map[string]any{"name": "Ann Lee", "email": "ann@corp.example"})
		other := mkUserID(t, e, map[string]any{"name": "Bo", "email": "bo@example.com"})
		t1 := mkTicket(t, e, map[string]any{"subject": "open", "requester_id": src, "collaborators": []any{other, dst}})
		t2 := mkTicket(t, e, map[string]any{"subject": "cc only", "requester_id": other, "collaborators": []any{src}})
		t3 := mkTicket(t, e, map[string]any{"subject": "target's", "requester_id": dst, "collaborators": []any{src}})
		imp := obj(t, e.Must(http.StatusCreated, "POST", "/imports/tickets?archive_immediately=true", map[string]any{"ticket": map[string]any{
			"subject": "old", "requester_id": src, "status": "closed", "collaborators": []any{src, other},
			"comments": []any{map[string]any{"author_id": src, "value": "history"}}}}), "ticket")
		t4 := id(t, imp)
		t5 := id(t, obj(t, e.Must(http.StatusCreated, "POST", "/imports/tickets?archive_immediately=true", map[string]any{"ticket": map[string]any{
			"subject": "old cc", "requester_id": other, "status": "closed", "collaborators": []any{src},
			"comments": []any{map[string]any{"author_id": other, "value": "history"}}}}), "ticket"))

		prev := obj(t, e.Must(http.StatusOK, "POST", fmt.Sprintf("/users/%d/merge_preview", src), map[string]any{"user": map[string]any{"id": dst}}), "merge_preview")
		if prev["eligible"] != true {
			t.Fatalf("preview = %v", prev)
		}
		tk := prev["tickets"].(map[string]any)
		if tk["requested"] != 2.0 || tk["archived"] != 1.0 || tk["ccd"] != 3.0 {
			t.Errorf("preview tickets = %v, want requested 2, archived 1, ccd 3", tk)
		}
		got := obj(t, e.Must(http.StatusOK, "PUT", fmt.Sprintf("/users/%d/merge.json", src), map[string]any{
			"user": map[string]any{"id": dst}, "merge_preview_version": prev["version"]}), "user")
		if id(t, got) != dst || got["email"] != "ann@corp.example" || got["phone"] != "+14155550101" {
			t.Errorf("target after merge = %v", got)
		}
		s := obj(t, e.Must(http.StatusOK, "GET", fmt.Sprintf("/users/%d", src), nil), "user")
		if s["active"] != false || s["merged_into_id"] != float64(dst) || s["email"] != nil {
			t.Errorf("source after merge = %v", s)
		}
		ids := e.Must(http.StatusOK, "GET", fmt.Sprintf("/users/%d/identities", dst), nil)["identities"].([]any)
		if len(ids) != 4 {
			t.Errorf("target identities = %v", ids)
		}
		want := map[int64]struct {
			requester int64
			ccs       []float64
		}{
			t1: {dst, []float64{float64(other)}},
			t2: {other, []float64{float64(dst)}},
			t3: {dst, []float64{}},
			t4: {dst, []float64{float64(other)}},
			t5: {other, []float64{float64(src)}}, // archived: CCs kept (M10)
		}
		for tid, w := range want {
			tick := obj(t, e.Must(http.StatusOK, "GET", fmt.Sprintf("/tickets/%d", tid), nil), "ticket")
			if tick["requester_id"] != float64(w.requester) || fmt.Sprint(tick["email_cc_ids"]) != fmt.Sprint(w.ccs) {
				t.Errorf("ticket %d requester %v ccs %v, want %d %v", tid, tick["requester_id"], tick["email_cc_ids"], w.requester, w.ccs)
			}
			audits := e.Must(http.StatusOK, "GET", fmt.Sprintf("/tickets/%d/audits", tid), nil)["audits"].([]any)
			last := audits[len(audits)-1].(map[string]any)
			merged := last["via"].(map[string]any)["channel"] == "user_merge"
			if tid == t5 {
				if merged {
					t.Errorf("archived cc-only ticket got a merge audit: %v", last)
				}
				continue
			}
			if !merged || last["author_id"] != float64(e.Admin.ID) {
				t.Errorf("ticket %d last audit = %v", tid, last)
			}
		}
		// A refused merge: the source is gone now.
		st, m := e.Do("PUT", fmt.Sprintf("/users/%d/merge", src), e.AgentToken, map[string]any{"user": map[string]any{"id": dst}})
		if st != 422 || fmt.Sprint(m["details"]) == "" {
			t.Errorf("second merge = %d %v", st, m)
		}
		recs := e.Must(http.StatusOK, "GET", "/user_merges", nil)["user_merges"].([]any)
		if len(recs) != 1 {
			t.Fatalf("merge records = %v", recs)
		}
	})
}
