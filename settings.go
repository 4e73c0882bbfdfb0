package mergedesk

// Settings are the account settings (docs/api.md §14).
type Settings struct {
	Users struct {
		MultipleOrganizations bool `json:"multiple_organizations"`
		Tagging               bool `json:"tagging"`
	} `json:"users"`
	SSO struct {
		JWT struct {
			Enabled      bool   `json:"enabled"`
			SharedSecret string `json:"shared_secret,omitempty"`
		} `json:"jwt"`
		SAML struct {
			Enabled bool `json:"enabled"`
		} `json:"saml"`
	} `json:"sso"`
	Phone struct {
		DefaultRegion string `json:"default_region"`
	} `json:"phone"`
	Duplicates DuplicateSettings `json:"duplicates"`
}

// DefaultSettings returns the settings of a new account.
func DefaultSettings() Settings {
	var s Settings
	s.Users.Tagging = true
	s.Phone.DefaultRegion = "US"
	s.Duplicates = DuplicateSettings{Enabled: true, MinScore: DefaultMinScore, UserFields: []string{}}
	return s
}

// SSOEnabled reports whether JWT or SAML single sign-on is on (rule M5).
func (s Settings) SSOEnabled() bool { return s.SSO.JWT.Enabled || s.SSO.SAML.Enabled }
