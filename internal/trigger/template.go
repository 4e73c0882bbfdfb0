package trigger

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"

	"github.com/mergedesk/mergedesk"
)

// Data is what placeholders refer to, keyed by placeholder name
// ("ticket.id", "ticket.requester.email", ...).
type Data map[string]string

// placeholder matches {{name}} with optional spaces inside the braces.
var placeholder = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_.]+)\s*\}\}`)

// Render replaces the placeholders of tmpl with their values; unknown ones
// become empty. In a JSON body (jsonBody) values are escaped as the inside of
// a JSON string, so a template such as {"subject":"{{ticket.title}}"} stays
// valid JSON whatever the subject holds.
func Render(tmpl string, d Data, jsonBody bool) string {
	return placeholder.ReplaceAllStringFunc(tmpl, func(m string) string {
		name := placeholder.FindStringSubmatch(m)[1]
		v := d[name]
		if jsonBody {
			return jsonEscape(v)
		}
		return v
	})
}

func jsonEscape(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	out := bytes.TrimSpace(b.Bytes())
	return string(out[1 : len(out)-1])
}

// TemplateData returns the placeholder values of a ticket (docs/api.md §10.1).
// requester may be nil; url is the ticket's link.
func TemplateData(t *mergedesk.Ticket, requester *mergedesk.User, url string, currentUserID int64) Data {
	d := Data{
		"ticket.id":              strconv.FormatInt(t.ID, 10),
		"ticket.title":           t.Subject,
		"ticket.status":          t.Status,
		"ticket.priority":        deref(t.Priority),
		"ticket.url":             url,
		"ticket.requester.id":    idString(nonZero(t.RequesterID)),
		"ticket.organization.id": idString(t.OrganizationID),
		"ticket.group.id":        idString(t.GroupID),
		"current_user.id":        idString(nonZero(currentUserID)),
	}
	if requester != nil {
		d["ticket.requester.name"] = requester.Name
		if e := requester.Email(); e != nil {
			d["ticket.requester.email"] = *e
		}
	}
	return d
}
