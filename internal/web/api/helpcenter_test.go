package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
)

func TestHelpCenterPosts(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		ann := e.createEndUser("Ann", nil)
		p := obj(t, e.Must(http.StatusCreated, "POST", "/community/posts.json", map[string]any{"post": map[string]any{
			"title": "Dark mode?", "details": "Please add it.", "author_id": ann, "topic_id": 77}}), "post")
		pid := id(t, p)
		wantKeys := []string{"author_id", "closed", "comment_count", "created_at", "details", "featured", "follower_count", "id",
			"pinned", "status", "title", "topic_id", "updated_at", "url", "vote_count", "vote_sum"}
		if got := keys(p); !slices.Equal(got, wantKeys) {
			t.Errorf("keys = %v, want %v", got, wantKeys)
		}
		if p["author_id"] != float64(ann) || p["topic_id"] != float64(77) || p["status"] != "none" ||
			p["url"] != fmt.Sprintf("%s/community/posts/%d.json", e.URL, pid) {
			t.Errorf("post = %v", p)
		}
		mine := obj(t, e.mustStatus(http.StatusCreated, e.AgentToken, "POST", "/community/posts", map[string]any{"post": map[string]any{"title": "Mine"}}), "post")
		if mine["author_id"] != float64(e.Agent.ID) {
			t.Errorf("author defaults to the caller: %v", mine)
		}

		// Comments, votes and subscriptions, on behalf of users or the caller.
		path := fmt.Sprintf("/community/posts/%d", pid)
		c := obj(t, e.Must(http.StatusCreated, "POST", path+"/comments.json", map[string]any{"comment": map[string]any{"body": "+1", "author_id": ann}}), "comment")
		if c["post_id"] != float64(pid) || c["author_id"] != float64(ann) || c["official"] != false || c["body"] != "+1" {
			t.Errorf("comment = %v", c)
		}
		e.Must(http.StatusOK, "GET", fmt.Sprintf("%s/comments/%d", path, id(t, c)), nil)
		e.Must(http.StatusCreated, "POST", path+"/comments", map[string]any{"comment": map[string]any{"body": "me too"}})

		up := obj(t, e.Must(http.StatusCreated, "POST", path+"/up.json", map[string]any{"vote": map[string]any{"user_id": ann}}), "vote")
		if up["value"] != float64(1) || up["item_id"] != float64(pid) || up["item_type"] != "Post" || up["user_id"] != float64(ann) {
			t.Errorf("vote = %v", up)
		}
		// A new vote by the same user replaces the old one.
		down := obj(t, e.Must(http.StatusCreated, "POST", path+"/down", map[string]any{"vote": map[string]any{"user_id": ann}}), "vote")
		if down["value"] != float64(-1) || id(t, down) != id(t, up) {
			t.Errorf("down vote = %v, want the same vote with value -1", down)
		}
		e.Must(http.StatusOK, "GET", fmt.Sprintf("/help_center/votes/%d", id(t, down)), nil)
		e.Must(http.StatusCreated, "POST", path+"/up", nil) // the caller
		e.Must(http.StatusCreated, "POST", path+"/votes", map[string]any{"vote": map[string]any{"user_id": e.Agent.ID, "value": "1"}})
		if s, m := e.Do("POST", path+"/votes", e.AdminToken, map[string]any{"vote": map[string]any{"value": 2}}); s != 422 || fieldCode(m, "value") != "InvalidValue" {
			t.Errorf("value 2 = %d %v", s, m)
		}

		sub := obj(t, e.Must(http.StatusCreated, "POST", path+"/subscriptions", map[string]any{"subscription": map[string]any{"user_id": ann}}), "subscription")
		if sub["content_id"] != float64(pid) || sub["content_type"] != "Post" || sub["include_comments"] != false {
			t.Errorf("subscription = %v", sub)
		}
		e.Must(http.StatusOK, "GET", fmt.Sprintf("%s/subscriptions/%d", path, id(t, sub)), nil)
		if s, m := e.Do("POST", path+"/subscriptions", e.AdminToken, map[string]any{"subscription": map[string]any{"user_id": ann}}); s != 422 || fieldCode(m, "user_id") != "DuplicateValue" {
			t.Errorf("second subscription = %d %v", s, m)
		}

		got := obj(t, e.Must(http.StatusOK, "GET", path, nil), "post")
		if got["vote_sum"] != float64(1) || got["vote_count"] != float64(3) || got["comment_count"] != float64(2) || got["follower_count"] != float64(1) {
			t.Errorf("counters = %v/%v/%v/%v, want 1/3/2/1", got["vote_sum"], got["vote_count"], got["comment_count"], got["follower_count"])
		}
		for list, n := range map[string]int{"/community/posts": 2, path + "/comments": 2, path + "/votes": 3, path + "/subscriptions": 1} {
			m := e.Must(http.StatusOK, "GET", list, nil)
			var items []any
			for _, k := range []string{"posts", "comments", "votes", "subscriptions"} {
				if v, ok := m[k].([]any); ok {
					items = v
				}
			}
			if len(items) != n || m["count"] != float64(n) {
				t.Errorf("GET %s = %v, want %d items", list, m, n)
			}
		}

		e.Must(http.StatusNoContent, "DELETE", path+".json", nil)
		for _, p := range []string{path, path + "/comments", path + "/votes", path + "/subscriptions"} {
			e.Must(http.StatusNotFound, "GET", p, nil)
		}
		e.Must(http.StatusNotFound, "DELETE", path, nil)
		e.Must(http.StatusNotFound, "POST", path+"/comments", map[string]any{"comment": map[string]any{"body": "late"}})
		e.Must(http.StatusNotFound, "POST", path+"/up", nil)
		if s, _ := e.Do("GET", "/community/posts", e.EndUserToken, nil); s != http.StatusForbidden {
			t.Errorf("end user = %d, want 403", s)
		}
	})
}

func TestHelpCenterInactiveUsers(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		ann := e.createEndUser("Ann", nil)
		post := id(t, obj(t, e.Must(http.StatusCreated, "POST", "/community/posts", map[string]any{"post": map[string]any{"title": "Q", "author_id": ann}}), "post"))
		path := fmt.Sprintf("/community/posts/%d", post)
		e.Must(http.StatusCreated, "POST", path+"/comments", map[string]any{"comment": map[string]any{"body": "A", "author_id": ann}})
		e.Must(http.StatusOK, "DELETE", fmt.Sprintf("/users/%d", ann), nil)

		// Contributions stay listed under the inactive user.
		if n := len(e.Must(http.StatusOK, "GET", fmt.Sprintf("/community/users/%d/posts.json", ann), nil)["posts"].([]any)); n != 1 {
			t.Errorf("inactive user's posts = %d, want 1", n)
		}
		if n := len(e.Must(http.StatusOK, "GET", fmt.Sprintf("/community/users/%d/comments", ann), nil)["comments"].([]any)); n != 1 {
			t.Errorf("inactive user's comments = %d, want 1", n)
		}
		if n := len(e.Must(http.StatusOK, "GET", fmt.Sprintf("/community/users/%d/posts", e.Admin.ID), nil)["posts"].([]any)); n != 0 {
			t.Errorf("admin's posts = %d, want 0", n)
		}
		e.Must(http.StatusNotFound, "GET", "/community/users/424242/posts", nil)

		// But they cannot contribute any more.
		for _, tt := range []struct {
			path  string
			body  map[string]any
			field string
		}{
			{"/community/posts", map[string]any{"post": map[string]any{"title": "New", "author_id": ann}}, "author_id"},
			{path + "/comments", map[string]any{"comment": map[string]any{"body": "B", "author_id": ann}}, "author_id"},
			{path + "/up", map[string]any{"vote": map[string]any{"user_id": ann}}, "user_id"},
			{path + "/subscriptions", map[string]any{"subscription": map[string]any{"user_id": ann}}, "user_id"},
		} {
			if s, m := e.Do("POST", tt.path, e.AdminToken, tt.body); s != 422 || fieldCode(m, tt.field) != "UserInactive" {
				t.Errorf("POST %s for an inactive user = %d %v, want 422 %s UserInactive", tt.path, s, m, tt.field)
			}
		}
		if s, m := e.Do("POST", "/community/posts", e.AdminToken, map[string]any{"post": map[string]any{"title": "x", "author_id": 424242}}); s != 422 || fieldCode(m, "author_id") != "InvalidValue" {
			t.Errorf("unknown author = %d %v", s, m)
		}
		if s, m := e.Do("POST", "/community/posts", e.AdminToken, map[string]any{"post": map[string]any{"details": "no title"}}); s != 422 || fieldCode(m, "title") != "BlankValue" {
			t.Errorf("blank title = %d %v", s, m)
		}
		if s, m := e.Do("POST", path+"/comments", e.AdminToken, map[string]any{"comment": map[string]any{"body": " "}}); s != 422 || fieldCode(m, "body") != "BlankValue" {
			t.Errorf("blank comment = %d %v", s, m)
		}
	})
}
