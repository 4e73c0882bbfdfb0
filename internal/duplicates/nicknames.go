package duplicates

import (
	_ "embed"
	"strings"
	"sync"
)

// nicknamesCSV lists English given names and their nicknames (Bob ~ Robert). It
// comes from the carltonnorthern/nicknames project under the Apache License 2.0;
// data/nicknames.LICENSE.txt travels with it.
//
//go:embed data/nicknames.csv
var nicknamesCSV string

var (
	nicknameOnce sync.Once
	// formal maps a folded name to the formal names it stands for, itself included.
	formal map[string][]string
)

func loadNicknames() {
	formal = map[string][]string{}
	add := func(name, f string) {
		for _, x := range formal[name] {
			if x == f {
				return
			}
		}
		formal[name] = append(formal[name], f)
	}
	for _, line := range strings.Split(nicknamesCSV, "\n") {
		parts := strings.Split(strings.TrimSpace(line), ",")
		if len(parts) != 3 || parts[1] != "has_nickname" {
			continue
		}
		name, nick := fold(parts[0]), fold(parts[2])
		add(name, name)
		add(nick, name)
	}
}

// nicknames reports whether given names a and b (folded) can name the same
// person: one is a nickname of the other, or both of one formal name (Rob, Bob).
func nicknames(a, b string) bool {
	nicknameOnce.Do(loadNicknames)
	fa, fb := formal[a], formal[b]
	for _, x := range fa {
		if x == b {
			return true
		}
		for _, y := range fb {
			if x == y {
				return true
			}
		}
	}
	for _, y := range fb {
		if y == a {
			return true
		}
	}
	return false
}
