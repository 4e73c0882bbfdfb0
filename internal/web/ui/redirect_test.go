package ui

import "testing"

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
