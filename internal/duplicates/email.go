package duplicates

import "strings"

// freeMail lists mail providers anyone can sign up with: sharing one of these
// domains is no evidence at all (rule D4).
var freeMail = map[string]bool{}

func init() {
	for _, d := range strings.Fields(`gmail.com googlemail.com yahoo.com yahoo.co.uk yahoo.fr yahoo.de
		yahoo.es yahoo.it yahoo.co.jp ymail.com hotmail.com hotmail.co.uk hotmail.fr hotmail.de hotmail.it
		hotmail.es outlook.com outlook.de outlook.fr live.com live.co.uk live.de live.fr msn.com aol.com
		icloud.com me.com mac.com gmx.de gmx.net gmx.com gmx.at gmx.ch web.de t-online.de freenet.de
		mail.ru list.ru bk.ru inbox.ru yandex.ru yandex.com proton.me protonmail.com pm.me qq.com 163.com
		126.com sina.com naver.com daum.net orange.fr free.fr laposte.net sfr.fr wanadoo.fr libero.it
		virgilio.it tiscali.it btinternet.com sky.com comcast.net verizon.net att.net sbcglobal.net
		zoho.com mail.com email.com fastmail.com fastmail.fm tutanota.com tuta.io hey.com seznam.cz
		wp.pl o2.pl interia.pl onet.pl bluewin.ch rediffmail.com uol.com.br bol.com.br terra.com.br`) {
		freeMail[d] = true
	}
}

// mailbox is an email address taken apart for comparison.
type mailbox struct {
	addr   string // as stored
	canon  string // canonical mailbox: provider rules applied
	local  string // canonical local part
	domain string // canonical domain
	// letters is the local part without digits and separators ("maria.souza+x" →
	// "mariasouza"), the form that is compared with names and handles.
	letters string
	// alnum is the local part's letters and digits, without separators.
	alnum string
}

// parseMailbox applies provider rules: case, +tags, Gmail's dots and googlemail.com.
func parseMailbox(addr string) (mailbox, bool) {
	addr = strings.ToLower(strings.TrimSpace(addr))
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return mailbox{}, false
	}
	local, domain := addr[:at], addr[at+1:]
	if domain == "googlemail.com" {
		domain = "gmail.com"
	}
	if i := strings.IndexByte(local, '+'); i > 0 {
		local = local[:i]
	}
	if domain == "gmail.com" {
		local = strings.ReplaceAll(local, ".", "")
	}
	return mailbox{addr: addr, canon: local + "@" + domain, local: local, domain: domain, letters: lettersOf(local), alnum: alnumOf(local)}, true
}

// lettersOf keeps the letters of s (folded).
func lettersOf(s string) string {
	var b strings.Builder
	for _, r := range fold(s) {
		if r >= 'a' && r <= 'z' || r > 0x80 {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// spellings are the ways people write their name into an email local part or a
// handle: mariasouza, souzamaria, msouza, souzam, mariasouza… (given, family
// folded). The first two spell the full name; the rest an initial and a name.
func spellings(given, family string) (full, initial []string) {
	if given == "" || family == "" {
		return nil, nil
	}
	full = []string{given + family, family + given}
	initial = []string{given[:1] + family, family + given[:1], given + family[:1]}
	return full, initial
}

// alnumOf keeps the letters and digits of s (folded).
func alnumOf(s string) string {
	var b strings.Builder
	for _, r := range fold(s) {
		if r != ' ' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
