// Package channel receives inbound interactions: mail over SMTP (parsed with
// enmime) turned into store.InboundMessage, which the store resolves to the
// right profile and records as a ticket or a comment (docs/api.md §13).
package channel

import (
	"bytes"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jhillyerd/enmime/v2"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/identity"
)

// MaxMailBytes is the largest mail accepted (docs/api.md §13.2); larger mail is
// refused at DATA with 552.
const MaxMailBytes = 10 << 20

// emptyBody stands in for a mail without any text, so that the interaction
// (and its attachments) is still recorded.
const emptyBody = "(This message has no text.)"

// ParseError is a mail that cannot be turned into a ticket: it is refused with
// a permanent SMTP error and nothing is stored.
type ParseError struct {
	// Sender is true when the problem is the sender's address.
	Sender bool
	Msg    string
}

func (e *ParseError) Error() string { return e.Msg }

func parseErrorf(sender bool, format string, args ...any) *ParseError {
	return &ParseError{Sender: sender, Msg: fmt.Sprintf(format, args...)}
}

// Mail is a parsed inbound mail.
type Mail struct {
	Message mergedesk.InboundMessage
	// Automatic says why the mail is automatic (an auto-reply, bulk mail, a
	// bounce or a loop), or is "". Automatic mail is accepted and dropped.
	Automatic string
}

// ticketRef finds "[#123]" in a subject.
var ticketRef = regexp.MustCompile(`\[#(\d{1,15})\]`)

// msgIDRef finds "<id>" tokens in In-Reply-To and References.
var msgIDRef = regexp.MustCompile(`<[^<>\s]{1,500}>`)

// ParseMail parses a raw RFC 5322 message received from envelope sender envFrom
// for the envelope recipients rcpts (the receiving addresses). Errors are
// *ParseError.
func ParseMail(raw []byte, envFrom string, rcpts []string) (m *Mail, err error) {
	defer func() {
		// The MIME parser faces arbitrary input; a bug there must refuse the
		// mail, not take the listener down.
		if r := recover(); r != nil {
			m, err = nil, parseErrorf(false, "message could not be parsed")
		}
	}()
	if len(raw) > MaxMailBytes {
		return nil, parseErrorf(false, "message larger than %d bytes", MaxMailBytes)
	}
	if !hasHeader(raw) {
		return nil, parseErrorf(false, "message has no header")
	}
	env, err := enmime.ReadEnvelope(bytes.NewReader(raw))
	if err != nil {
		return nil, parseErrorf(false, "message could not be parsed: %v", firstLine(err.Error()))
	}
	for _, e := range env.Errors {
		if e.Severe || e.Name == enmime.ErrorMissingBoundary {
			return nil, parseErrorf(false, "broken MIME structure: %s", firstLine(e.Error()))
		}
	}

	from, err := fromAddress(env)
	if err != nil {
		return nil, err
	}
	receiving := map[string]bool{}
	for _, r := range rcpts {
		receiving[strings.ToLower(strings.TrimSpace(r))] = true
	}
	out := &Mail{}
	msg := &out.Message
	msg.Channel = mergedesk.ChannelEmail
	msg.From = mergedesk.Contact{Type: mergedesk.IdentityEmail, Value: from.Address, Name: clean(from.Name)}

	// CCs: every Cc, and every To other than a receiving address.
	seen := map[string]bool{strings.ToLower(from.Address): true}
	var toName string
	for _, h := range []string{"To", "Cc"} {
		for _, a := range addressList(env, h) {
			addr := strings.ToLower(a.Address)
			if receiving[addr] {
				if toName == "" && len(rcpts) > 0 && strings.EqualFold(addr, rcpts[0]) {
					toName = clean(a.Name)
				}
				continue
			}
			if seen[addr] || !identity.ValidEmail(a.Address) || len(msg.CC) >= mergedesk.MaxMessageCCs {
				continue
			}
			seen[addr] = true
			msg.CC = append(msg.CC, mergedesk.Contact{Type: mergedesk.IdentityEmail, Value: a.Address, Name: clean(a.Name)})
		}
	}
	if len(rcpts) > 0 {
		msg.To = &mergedesk.Contact{Type: mergedesk.IdentityEmail, Value: strings.TrimSpace(rcpts[0]), Name: toName}
	}

	msg.Subject = clean(env.GetHeader("Subject"))
	if sm := ticketRef.FindStringSubmatch(msg.Subject); sm != nil {
		msg.TicketID, _ = strconv.ParseInt(sm[1], 10, 64)
	}
	msg.Body = strings.TrimSpace(cleanBody(env.Text))
	if msg.Body == "" {
		msg.Body = emptyBody
	}
	msg.MessageID = clean(env.GetHeader("Message-ID"))
	if normID(msg.MessageID) == "" {
		msg.MessageID = ""
	}
	msg.References = references(env.GetHeader("In-Reply-To"), env.GetHeader("References"))
	for _, p := range append(env.Attachments, env.Inlines...) {
		if p == nil {
			continue
		}
		msg.Attachments = append(msg.Attachments, mergedesk.Attachment{FileName: clean(p.FileName),
			ContentType: p.ContentType, Content: p.Content})
	}
	out.Automatic = automatic(env, envFrom, from.Address, receiving)
	return out, nil
}

// hasHeader reports whether raw starts with something shaped like a header
// field; a message that does not is not mail.
func hasHeader(raw []byte) bool {
	line, _, _ := bytes.Cut(raw, []byte("\n"))
	name, _, ok := bytes.Cut(line, []byte(":"))
	if !ok || len(name) == 0 {
		return false
	}
	for _, c := range name {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// fromAddress is the one valid address of the From header.
func fromAddress(env *enmime.Envelope) (*mail.Address, error) {
	if strings.TrimSpace(env.GetHeader("From")) == "" {
		return nil, parseErrorf(true, "message has no From address")
	}
	list, err := env.AddressList("From")
	if err != nil || len(list) == 0 {
		return nil, parseErrorf(true, "From is not a valid address")
	}
	a := list[0]
	a.Address = strings.TrimSpace(a.Address)
	if !identity.ValidEmail(a.Address) {
		return nil, parseErrorf(true, "From %q is not a valid address", truncate(a.Address, 80))
	}
	return a, nil
}

// addressList returns the addresses of header h; a header that does not parse
// contributes nothing (a bad Cc must not lose the customer's mail).
func addressList(env *enmime.Envelope, h string) []*mail.Address {
	if env.GetHeader(h) == "" {
		return nil
	}
	list, err := env.AddressList(h)
	if err == nil {
		return list
	}
	// One bad entry fails the whole list: take the entries that parse alone.
	list = nil
	for _, part := range strings.Split(env.GetHeader(h), ",") {
		if a, err := mail.ParseAddress(strings.TrimSpace(part)); err == nil {
			list = append(list, a)
		}
	}
	return list
}

// automatic says why a mail is automatic, or "" (docs/api.md §13.2).
func automatic(env *enmime.Envelope, envFrom, from string, receiving map[string]bool) string {
	if v := strings.ToLower(strings.TrimSpace(env.GetHeader("Auto-Submitted"))); v != "" && v != "no" {
		return "Auto-Submitted: " + v
	}
	switch v := strings.ToLower(strings.TrimSpace(env.GetHeader("Precedence"))); v {
	case "bulk", "junk", "list", "auto_reply":
		return "Precedence: " + v
	}
	for _, h := range []string{"X-Autoreply", "X-Autorespond", "X-Auto-Response"} {
		if env.GetHeader(h) != "" {
			return h
		}
	}
	local, _, _ := strings.Cut(strings.ToLower(from), "@")
	if local == "mailer-daemon" || local == "postmaster" {
		return "bounce from " + local
	}
	if strings.HasPrefix(strings.ToLower(env.GetHeader("Content-Type")), "multipart/report") {
		return "delivery report"
	}
	if strings.Contains(strings.ToLower(env.GetHeader("X-Loop")), "mergedesk") || receiving[strings.ToLower(from)] {
		return "mail loop"
	}
	if envFrom == "" {
		return "null sender (bounce)"
	}
	return ""
}

// references returns the Message-IDs a reply refers to, most relevant first:
// In-Reply-To, then References from the newest.
func references(inReplyTo, refs string) []string {
	var out []string
	out = append(out, msgIDRef.FindAllString(inReplyTo, 10)...)
	rs := msgIDRef.FindAllString(refs, 100)
	for i := len(rs) - 1; i >= 0 && len(out) < 50; i-- {
		out = append(out, rs[i])
	}
	return out
}

// normID mirrors the store's comparable form of a Message-ID, to drop ids the
// store would not record.
func normID(s string) string {
	s = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "<"), ">")
	if s == "" || len(s) > 500 || strings.ContainsAny(s, " \t\r\n<>") {
		return ""
	}
	return s
}

// clean makes a header value storable: valid UTF-8, no control characters,
// single-line.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\r' || r == '\n':
			return ' '
		case unicode.IsControl(r):
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// cleanBody makes a body storable: valid UTF-8, no NUL or other control
// characters except tab and newlines, CRLF as LF.
func cleanBody(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || !unicode.IsControl(r) {
			return r
		}
		return -1
	}, s)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return truncate(s, 200)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// IsParseError reports whether err is a mail that cannot be parsed.
func IsParseError(err error) bool {
	var pe *ParseError
	return errors.As(err, &pe)
}
