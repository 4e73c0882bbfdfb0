package api

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"

	"github.com/mergedesk/mergedesk"
)

// pageParams reads offset (page, per_page) or cursor (page[size], page[after],
// page[before]) parameters (docs/api.md §1.5).
func pageParams(r *http.Request) (mergedesk.Page, error) {
	q := r.URL.Query()
	var p mergedesk.Page
	if q.Has("page[size]") || q.Has("page[after]") || q.Has("page[before]") {
		p.Cursor = true
		p.Size = clampSize(q.Get("page[size]"))
		var err error
		if p.After, err = decodeCursor(q.Get("page[after]")); err != nil {
			return p, err
		}
		if p.Before, err = decodeCursor(q.Get("page[before]")); err != nil {
			return p, err
		}
		return p, nil
	}
	p.Size = clampSize(q.Get("per_page"))
	page, _ := strconv.Atoi(q.Get("page"))
	if page < 1 {
		page = 1
	}
	if page > 1_000_000 {
		page = 1_000_000
	}
	p.Offset = (page - 1) * p.Size
	return p, nil
}

func clampSize(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || n > 100 {
		return 100
	}
	return n
}

// Cursors are opaque: base64url of "i:<id>".
func encodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("i:" + strconv.FormatInt(id, 10)))
}

func decodeCursor(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil && len(b) > 2 && string(b[:2]) == "i:" {
		if id, err := strconv.ParseInt(string(b[2:]), 10, 64); err == nil && id > 0 {
			return id, nil
		}
	}
	return 0, mergedesk.Errorf(mergedesk.EBadCursor, "page cursor %q is invalid", truncate(s, 40))
}

// pageKeys returns the paging keys of a list response: next_page/previous_page/
// count for offset paging, meta/links for cursor paging. first and last are the
// ids at the ends of the page.
func (s *Server) pageKeys(r *http.Request, p mergedesk.Page, info mergedesk.PageInfo, first, last int64) map[string]any {
	u := s.requestURL(r)
	if !p.Cursor {
		out := map[string]any{"next_page": nil, "previous_page": nil, "count": info.Total}
		page := p.Offset/max(p.Size, 1) + 1
		if info.HasMore {
			out["next_page"] = withQuery(u, map[string]string{"page": strconv.Itoa(page + 1)}, "page[size]", "page[after]", "page[before]")
		}
		if info.HasPrev {
			out["previous_page"] = withQuery(u, map[string]string{"page": strconv.Itoa(page - 1)}, "page[size]", "page[after]", "page[before]")
		}
		return out
	}
	meta := map[string]any{"has_more": info.HasMore, "after_cursor": nil, "before_cursor": nil}
	links := map[string]any{"next": nil, "prev": nil}
	if last != 0 {
		meta["after_cursor"] = encodeCursor(last)
		meta["before_cursor"] = encodeCursor(first)
	}
	size := strconv.Itoa(p.Size)
	if info.HasMore && last != 0 {
		links["next"] = withQuery(u, map[string]string{"page[size]": size, "page[after]": encodeCursor(last)}, "page[before]", "page", "per_page")
	}
	if info.HasPrev && first != 0 {
		links["prev"] = withQuery(u, map[string]string{"page[size]": size, "page[before]": encodeCursor(first)}, "page[after]", "page", "per_page")
	}
	return map[string]any{"meta": meta, "links": links}
}

// withQuery returns u with set applied and drop removed from its query.
func withQuery(u url.URL, set map[string]string, drop ...string) string {
	q := u.Query()
	for _, k := range drop {
		q.Del(k)
	}
	for k, v := range set {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// requestURL is the absolute .json URL of the request, built from the base URL.
func (s *Server) requestURL(r *http.Request) url.URL {
	base, _ := url.Parse(s.base(r))
	u := *base
	u.Path = r.URL.Path + ".json"
	u.RawQuery = r.URL.RawQuery
	return u
}

// base returns the public base URL: --base-url, else the request's scheme and Host.
func (s *Server) base(r *http.Request) string {
	if s.BaseURL != "" {
		return s.BaseURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// url returns the absolute .json URL of a resource path such as "/users/5".
func (s *Server) url(r *http.Request, path string) string {
	return s.base(r) + "/api/v2" + path + ".json"
}

// list writes a list response: {key: items, <paging keys>}.
func (s *Server) list(w http.ResponseWriter, r *http.Request, key string, items any, p mergedesk.Page, info mergedesk.PageInfo, first, last int64) error {
	out := s.pageKeys(r, p, info, first, last)
	out[key] = items
	return writeJSON(w, http.StatusOK, out)
}

// ends returns the first and last ids of a page.
func ends[T any](items []T, id func(T) int64) (int64, int64) {
	if len(items) == 0 {
		return 0, 0
	}
	return id(items[0]), id(items[len(items)-1])
}
