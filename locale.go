package mergedesk

import (
	"strings"
	"time"
)

// Locale is a supported language (GET /api/v2/locales).
type Locale struct {
	ID     int64  `json:"id"`
	Locale string `json:"locale"`
	Name   string `json:"name"`
}

// Locales is the supported set; 1 (en-US) is the default.
var Locales = []Locale{
	{1, "en-US", "English"}, {2, "es", "Español"}, {8, "de", "Deutsch"}, {16, "fr", "Français"},
	{19, "pt-BR", "Português (Brasil)"}, {22, "it", "Italiano"}, {27, "ru", "Русский"},
	{30, "nl", "Nederlands"}, {34, "sv", "Svenska"}, {38, "ja", "日本語"}, {66, "zh-cn", "简体中文"},
	{1000, "en-GB", "English (United Kingdom)"}, {1001, "pl", "Polski"}, {1002, "da", "Dansk"},
	{1003, "fi", "Suomi"}, {1004, "no", "Norsk"}, {1005, "tr", "Türkçe"}, {1006, "ko", "한국어"},
}

// LocaleByID returns the locale with this id, or nil.
func LocaleByID(id int64) *Locale {
	for i := range Locales {
		if Locales[i].ID == id {
			return &Locales[i]
		}
	}
	return nil
}

// LocaleByName returns the locale with this code (case-insensitive), or nil.
func LocaleByName(name string) *Locale {
	for i := range Locales {
		if strings.EqualFold(Locales[i].Locale, name) {
			return &Locales[i]
		}
	}
	return nil
}

// railsZones maps the Rails time zone names Zendesk uses to IANA names (the most
// common ones; any IANA name is accepted as well).
var railsZones = map[string]string{
	"UTC": "Etc/UTC", "London": "Europe/London", "Berlin": "Europe/Berlin", "Paris": "Europe/Paris",
	"Amsterdam": "Europe/Amsterdam", "Madrid": "Europe/Madrid", "Rome": "Europe/Rome", "Vienna": "Europe/Vienna",
	"Zurich": "Europe/Zurich", "Stockholm": "Europe/Stockholm", "Warsaw": "Europe/Warsaw", "Moscow": "Europe/Moscow",
	"Dublin": "Europe/Dublin", "Lisbon": "Europe/Lisbon", "Athens": "Europe/Athens", "Helsinki": "Europe/Helsinki",
	"Istanbul": "Europe/Istanbul", "Copenhagen": "Europe/Copenhagen", "Brussels": "Europe/Brussels", "Prague": "Europe/Prague",
	"Eastern Time (US & Canada)": "America/New_York", "Central Time (US & Canada)": "America/Chicago",
	"Mountain Time (US & Canada)": "America/Denver", "Pacific Time (US & Canada)": "America/Los_Angeles",
	"Alaska": "America/Juneau", "Hawaii": "Pacific/Honolulu", "Arizona": "America/Phoenix",
	"Brasilia": "America/Sao_Paulo", "Buenos Aires": "America/Argentina/Buenos_Aires", "Mexico City": "America/Mexico_City",
	"Tokyo": "Asia/Tokyo", "Beijing": "Asia/Shanghai", "Hong Kong": "Asia/Hong_Kong", "Singapore": "Asia/Singapore",
	"Mumbai": "Asia/Kolkata", "New Delhi": "Asia/Kolkata", "Dubai": "Asia/Dubai", "Seoul": "Asia/Seoul",
	"Sydney": "Australia/Sydney", "Melbourne": "Australia/Melbourne", "Auckland": "Pacific/Auckland",
	"Cape Town": "Africa/Johannesburg", "Cairo": "Africa/Cairo", "Nairobi": "Africa/Nairobi",
}

// IANATimeZone returns the IANA name of a Rails or IANA time zone name, or "" if
// it is unknown.
func IANATimeZone(tz string) string {
	if v, ok := railsZones[tz]; ok {
		return v
	}
	if tz == "" || strings.ContainsAny(tz, " .") && !strings.Contains(tz, "/") {
		return ""
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return ""
	}
	return tz
}
