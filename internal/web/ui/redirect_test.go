package ui

import (
	"net/url"
	"strings"
	"testing"
)

// TestSafeNext checks the post-sign-in redirect against forms that browsers
// resolve to another origin: a browser drops tabs and newlines from a URL and
// treats a backslash like a slash, so "/\t/evil.example" becomes
// "//evil.example".
func TestSafeNext(t *testing.T) {
	const def = "/customers"
	for _, tc := range []struct{ next, want string }{
		{"", def},
		{"/tickets", "/tickets"},
		{"/customers?q=ann%20smith&page=2", "/customers?q=ann%20smith&page=2"},
		{"/users/12/merge/preview?target=13", "/users/12/merge/preview?target=13"},
		{"/tickets#top", "/tickets#top"},
		{"/", "/"},
		// Another origin, spelled every way we know.
		{"//evil.example", def},
		{"///evil.example", def},
		{"/\t/evil.example", def},
		{"/\n/evil.example", def},
		{"/\r\n/evil.example", def},
		{"\t//evil.example", def},
		{" //evil.example", def},
		{"/ /evil.example", def},
		{"/\\evil.example", def},
		{"\\\\evil.example", def},
		{"/\\/evil.example", def},
		{"\\/evil.example", def},
		{"/\x00/evil.example", def},
		{"/\x7f/evil.example", def},
		{"/\u00a0/evil.example", def},
		{"/%09/evil.example", def},
		{"/%2f/evil.example", def},
		{"/%2F%2Fevil.example", def},
		{"/%5c/evil.example", def},
		{"/%5C%5Cevil.example", def},
		{"/%0a/evil.example", def},
		{"https://evil.example", def},
		{"http://evil.example/", def},
		{"HTTPS://evil.example", def},
		{"https:evil.example", def},
		{"https:/evil.example", def},
		{"javascript:alert(1)", def},
		{"JavaScript:alert(1)", def},
		{"data:text/html,<script>alert(1)</script>", def},
		{"//user@evil.example", def},
		{"/@evil.example", "/@evil.example"}, // a path on this site, harmless
		{"evil.example", def},
		{"tickets", def},
		{"./tickets", def},
		{"?next=//evil.example", def},
		{"#frag", def},
		{"/%zz", def},
	} {
		if got := safeNext(tc.next); got != tc.want {
			t.Errorf("safeNext(%q) = %q, want %q", tc.next, got, tc.want)
		}
	}
}

// FuzzSafeNext: whatever a sign-in link carries, the redirect stays on this
// origin. The answer is a path that starts with one slash and holds only
// printable ASCII without backslashes (browsers drop tabs and newlines and
// read a backslash as a slash, which would turn "/\t/x" or "/\x" into "//x"),
// and resolving it against the site keeps the site's host.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"", "/", "/tickets?x=1#f", "/\t/evil.example", "//evil.example", "/\\evil.example",
		"https://evil.example", "/%2F/evil.example", "/a/../..//evil", "javascript:alert(1)", "/\u00a0/x"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://desk.example/login")
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || !plainURLText(got) {
			t.Fatalf("safeNext(%q) = %q: not a plain same-origin path", next, got)
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("safeNext(%q) = %q does not parse: %v", next, got, err)
		}
		if r := base.ResolveReference(u); r.Host != base.Host || r.Scheme != base.Scheme {
			t.Fatalf("safeNext(%q) = %q leaves the site: %s", next, got, r)
		}
	})
}
