// Package bench generates synthetic users and drives HTTP load against a
// running Mergedesk, for `mergedesk bench` and the README's figures.
package bench

import (
	"fmt"

	"github.com/mergedesk/mergedesk"
)

// person is a name as shown and its ASCII form for e-mail addresses.
type person struct{ name, ascii string }

var firstNames = []person{
	{"Maria", "maria"}, {"Jürgen", "juergen"}, {"Søren", "soeren"}, {"Łukasz", "lukasz"}, {"Ana", "ana"},
	{"José", "jose"}, {"Amélie", "amelie"}, {"Chiara", "chiara"}, {"Mehmet", "mehmet"}, {"Aoife", "aoife"},
	{"Wei", "wei"}, {"Yuki", "yuki"}, {"Priya", "priya"}, {"Olusegun", "olusegun"}, {"Fatima", "fatima"},
	{"Dmitri", "dmitri"}, {"Ingrid", "ingrid"}, {"Noah", "noah"}, {"Emma", "emma"}, {"Liam", "liam"},
	{"Zoë", "zoe"}, {"Björn", "bjorn"}, {"Agnieszka", "agnieszka"}, {"Hiroshi", "hiroshi"}, {"Lucía", "lucia"},
	{"Thabo", "thabo"}, {"Siobhán", "siobhan"}, {"Mateus", "mateus"}, {"Elif", "elif"}, {"Kwame", "kwame"},
	{"Olga", "olga"}, {"Ravi", "ravi"},
}

var lastNames = []person{
	{"Schmidt", "schmidt"}, {"Müller", "mueller"}, {"García", "garcia"}, {"Nowak", "nowak"}, {"Rossi", "rossi"},
	{"Dubois", "dubois"}, {"Yılmaz", "yilmaz"}, {"O'Brien", "obrien"}, {"Chen", "chen"}, {"Tanaka", "tanaka"},
	{"Sharma", "sharma"}, {"Adeyemi", "adeyemi"}, {"Haddad", "haddad"}, {"Ivanova", "ivanova"}, {"Larsen", "larsen"},
	{"Smith", "smith"}, {"Johnson", "johnson"}, {"Kowalczyk", "kowalczyk"}, {"Fernández", "fernandez"},
	{"Nguyễn", "nguyen"}, {"Kim", "kim"}, {"Silva", "silva"}, {"Öztürk", "ozturk"}, {"Andersson", "andersson"},
	{"Mbeki", "mbeki"}, {"Novák", "novak"}, {"de Vries", "devries"}, {"Petrović", "petrovic"}, {"Khan", "khan"},
	{"Costa", "costa"}, {"Murphy", "murphy"}, {"Lindqvist", "lindqvist"},
}

var domains = []string{"example.com", "example.org", "example.net", "mail.example", "post.example"}

// User returns the i-th synthetic end user: a name from many languages, a
// unique e-mail address and a unique Berlin phone number written in one of
// several formats (so every import also exercises phone normalisation).
func User(i int) mergedesk.NewUser {
	f := firstNames[i%len(firstNames)]
	l := lastNames[(i/len(firstNames))%len(lastNames)]
	var phone string
	switch i % 3 {
	case 0:
		phone = fmt.Sprintf("+49 30 %08d", i)
	case 1:
		phone = fmt.Sprintf("0049 (30) %04d-%04d", i/10000%10000, i%10000)
	default:
		phone = fmt.Sprintf("+493%09d", i) // +49 30 and eight digits, unformatted
	}
	return mergedesk.NewUser{Name: f.name + " " + l.name, Email: Email(i), Phone: phone}
}

// Email returns the e-mail address of User(i).
func Email(i int) string {
	f := firstNames[i%len(firstNames)]
	l := lastNames[(i/len(firstNames))%len(lastNames)]
	return fmt.Sprintf("%s.%s.%d@%s", f.ascii, l.ascii, i, domains[i%len(domains)])
}
