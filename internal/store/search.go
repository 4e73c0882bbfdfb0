package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/identity"
	"github.com/mergedesk/mergedesk/internal/search"
)

// searchCond is one SQL condition and its arguments. Search compiles each term
// of a search.Query (docs/api.md §9) into one; terms are ANDed and a negated term is
// wrapped in NOT. No value is ever written into the SQL text. Values are
// lower-cased here and compared with lower-cased columns (or the *_norm
// columns), so matching is case-insensitive. A '*' in a value is a wildcard. A
// field with an empty value matches nothing. type: terms are skipped:
// search.Query.Types picks the kinds to search.
type searchCond struct {
	sql  string
	args []any
}

// searchNothing is the condition of an unknown field or an unusable value.
var searchNothing = searchCond{sql: "1 = 0"}

// Orders of the ticket enums for <, >, <= and >= (docs/api.md §6.1).
var (
	searchStatuses   = []string{"new", "open", "pending", "hold", "solved", "closed"}
	searchPriorities = []string{"low", "normal", "high", "urgent"}
)

// searchOrderedFields are the fields that take <, >, <= and >=; any other field
// with one of those matches nothing.
var searchOrderedFields = map[string]bool{"created": true, "updated": true, "status": true, "priority": true}

// searchRank is a CASE expression giving col's rank in values (0 for NULL or an
// unknown value), for sorting by an enum in its own order.
func searchRank(col string, values []string) string {
	var b strings.Builder
	b.WriteString("CASE " + col)
	for i, v := range values {
		fmt.Fprintf(&b, " WHEN '%s' THEN %d", v, i+1)
	}
	b.WriteString(" ELSE 0 END")
	return b.String()
}

// searchKind describes how one kind of record is searched.
type searchKind struct {
	name  string // for errors
	from  string // table and alias
	base  string // condition every result meets
	id    string // id column
	sorts map[string]string
	term  func(t search.Term, v string) searchCond
}

// SearchUsers returns the ids of active users matching q (user grammar of
// docs/api.md §9), one page of them, and how many match in all. region is the
// account's default phone region. sortBy is "created_at" or "updated_at"
// (default), sortOrder "asc" or "desc" (default); ties are broken by id in the
// same direction. limit <= 0 returns no ids, only the total.
func (db *DB) SearchUsers(ctx context.Context, q search.Query, region string, sortBy, sortOrder string, limit, offset int) (ids []int64, total int, err error) {
	return db.search(ctx, userSearch(region), q, sortBy, sortOrder, limit, offset)
}

func userSearch(region string) searchKind {
	return searchKind{
		name: "users",
		from: "users u",
		base: "u.active = TRUE",
		id:   "u.id",
		sorts: map[string]string{
			"created_at": "u.created_at",
			"updated_at": "u.updated_at",
		},
		term: func(t search.Term, v string) searchCond { return searchUserTerm(t, v, region) },
	}
}

// SearchTickets returns the ids of non-deleted tickets (archived ones included)
// matching q, one page of them, and how many match in all. sortBy is
// "created_at", "updated_at" (default), "priority", "status" (both in their
// own order, docs/api.md §6.1) or "ticket_type"; otherwise as SearchUsers.
func (db *DB) SearchTickets(ctx context.Context, q search.Query, sortBy, sortOrder string, limit, offset int) ([]int64, int, error) {
	return db.search(ctx, ticketSearch(), q, sortBy, sortOrder, limit, offset)
}

func ticketSearch() searchKind {
	return searchKind{
		name: "tickets",
		from: "tickets t",
		base: "t.deleted = FALSE",
		id:   "t.id",
		sorts: map[string]string{
			"created_at":  "t.created_at",
			"updated_at":  "t.updated_at",
			"priority":    searchRank("t.priority", searchPriorities),
			"status":      searchRank("t.status", searchStatuses),
			"ticket_type": "COALESCE(t.type, '')",
		},
		term: searchTicketTerm,
	}
}

// SearchOrganizations returns the ids of organizations matching q, one page of
// them, and how many match in all; otherwise as SearchUsers.
func (db *DB) SearchOrganizations(ctx context.Context, q search.Query, sortBy, sortOrder string, limit, offset int) ([]int64, int, error) {
	return db.search(ctx, organizationSearch(), q, sortBy, sortOrder, limit, offset)
}

func organizationSearch() searchKind {
	return searchKind{
		name: "organizations",
		from: "organizations o",
		base: "1 = 1",
		id:   "o.id",
		sorts: map[string]string{
			"created_at": "o.created_at",
			"updated_at": "o.updated_at",
		},
		term: searchOrganizationTerm,
	}
}

// SearchGroups returns the ids of non-deleted groups matching q, one page of
// them, and how many match in all; otherwise as SearchUsers.
func (db *DB) SearchGroups(ctx context.Context, q search.Query, sortBy, sortOrder string, limit, offset int) ([]int64, int, error) {
	return db.search(ctx, groupSearch(), q, sortBy, sortOrder, limit, offset)
}

func groupSearch() searchKind {
	return searchKind{
		name: "groups",
		from: "agent_groups g",
		base: "g.deleted = FALSE",
		id:   "g.id",
		sorts: map[string]string{
			"created_at": "g.created_at",
			"updated_at": "g.updated_at",
		},
		term: searchGroupTerm,
	}
}

func (db *DB) search(ctx context.Context, k searchKind, q search.Query, sortBy, sortOrder string, limit, offset int) (ids []int64, total int, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("search %s: %w", k.name, err)
		}
	}()
	cond, args := k.where(q)
	from := " FROM " + k.from + " WHERE " + cond
	if limit <= 0 {
		err := db.r().queryRow(ctx, "SELECT COUNT(*)"+from, args...).Scan(&total)
		return nil, total, err
	}
	order, ok := k.sorts[sortBy]
	if !ok {
		order = k.sorts["updated_at"]
	}
	dir := "DESC"
	if strings.EqualFold(sortOrder, "asc") {
		dir = "ASC"
	}
	offset = max(offset, 0)
	ids, err = scanIDs(db.r().query(ctx, "SELECT "+k.id+from+" ORDER BY "+order+" "+dir+", "+k.id+" "+dir+" LIMIT ? OFFSET ?",
		append(args, limit, offset)...))
	if err != nil {
		return nil, 0, err
	}
	if n, ok := pageTotal(len(ids), limit, offset); ok {
		return ids, n, nil
	}
	if err := db.r().queryRow(ctx, "SELECT COUNT(*)"+from, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	return ids, total, nil
}

// pageTotal returns how many records match when one page of n records, read
// with limit and offset, tells: a page that is neither full nor empty ends the
// results, and so does an empty first page. Otherwise the caller counts.
func pageTotal(n, limit, offset int) (int, bool) {
	if n < limit && (n > 0 || offset == 0) {
		return offset + n, true
	}
	return 0, false
}

func searchUserTerm(t search.Term, v, region string) searchCond {
	switch t.Field {
	case "":
		cs := []searchCond{
			searchContains("u.name_norm", v),
			searchContains("lower(COALESCE(u.notes, ''))", v),
			searchExists("identities i", "i.user_id = u.id AND i.type = 'email'", searchContains("i.value_norm", v)),
		}
		if e, ok := searchPhone(v, region); ok {
			cs = append(cs, searchIdentity(mergedesk.IdentityPhone, searchCond{"i.value_norm = ?", []any{e}}))
		}
		return searchOr(cs...)
	case "name":
		return searchContains("u.name_norm", v)
	case "email":
		return searchIdentity(mergedesk.IdentityEmail, searchEquals("i.value_norm", v))
	case "phone":
		e, err := identity.Phone(t.Value, region)
		if err != nil {
			return searchNothing
		}
		return searchIdentity(mergedesk.IdentityPhone, searchCond{"i.value_norm = ?", []any{e}})
	case "role":
		return searchEquals("u.role", v)
	case "organization":
		if v == "none" {
			return searchCond{sql: "NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id)"}
		}
		return searchExists("memberships m", "m.user_id = u.id", searchNamed("m.organization_id", "organizations", v))
	case "tags", "tag":
		return searchTags("u.tags", v)
	case "external_id":
		return searchEquals("lower(u.external_id)", v)
	case "notes":
		return searchContains("lower(COALESCE(u.notes, ''))", v)
	case "details":
		return searchContains("lower(COALESCE(u.details, ''))", v)
	case "created":
		return searchDate("u.created_at", t.Op, v)
	case "updated":
		return searchDate("u.updated_at", t.Op, v)
	}
	return searchNothing
}

func searchTicketTerm(t search.Term, v string) searchCond {
	switch t.Field {
	case "":
		return searchOr(
			searchContains("lower(t.subject)", v),
			searchExists("events e", "e.ticket_id = t.id AND e.type = 'Comment'", searchContains("lower(COALESCE(e.body, ''))", v)),
		)
	case "status":
		return searchOrdered("t.status", searchStatuses, t.Op, v)
	case "priority":
		if v == "none" && t.Op == ":" {
			return searchCond{sql: "t.priority IS NULL"}
		}
		return searchOrdered("t.priority", searchPriorities, t.Op, v)
	case "ticket_type":
		if v == "none" {
			return searchCond{sql: "t.type IS NULL"}
		}
		return searchEquals("t.type", v)
	case "requester":
		return searchUserRef("t.requester_id", v)
	case "assignee":
		if v == "none" {
			return searchCond{sql: "t.assignee_id IS NULL"}
		}
		return searchUserRef("t.assignee_id", v)
	case "cc":
		// Like collaborator_ids: email CCs and followers.
		return searchExists("ticket_ccs c", "c.ticket_id = t.id", searchUserRef("c.user_id", v))
	case "group":
		if v == "none" {
			return searchCond{sql: "t.group_id IS NULL"}
		}
		return searchNamed("t.group_id", "agent_groups", v)
	case "organization":
		if v == "none" {
			return searchCond{sql: "t.organization_id IS NULL"}
		}
		return searchNamed("t.organization_id", "organizations", v)
	case "tags", "tag":
		return searchTags("t.tags", v)
	case "via":
		return searchEquals("t.via_channel", v)
	case "archived":
		switch v {
		case "true":
			return searchCond{sql: "t.archived = TRUE"}
		case "false":
			return searchCond{sql: "t.archived = FALSE"}
		}
		return searchNothing
	case "created":
		return searchDate("t.created_at", t.Op, v)
	case "updated":
		return searchDate("t.updated_at", t.Op, v)
	}
	return searchNothing
}

func searchOrganizationTerm(t search.Term, v string) searchCond {
	switch t.Field {
	case "":
		return searchOr(
			searchContains("o.name_norm", v),
			searchContains("lower(COALESCE(o.details, ''))", v),
			searchContains("lower(COALESCE(o.notes, ''))", v),
			searchContains("lower(o.domain_names)", v),
		)
	case "name":
		return searchContains("o.name_norm", v)
	case "external_id":
		return searchEquals("lower(o.external_id)", v)
	case "tags", "tag":
		return searchTags("o.tags", v)
	case "created":
		return searchDate("o.created_at", t.Op, v)
	}
	return searchNothing
}

func searchGroupTerm(t search.Term, v string) searchCond {
	switch t.Field {
	case "", "name":
		return searchContains("g.name_norm", v)
	}
	return searchNothing
}

// searchPattern turns v into a LIKE pattern (for ESCAPE '\') in which only '*'
// is a wildcard.
func searchPattern(v string) string {
	return strings.ReplaceAll(likeEscape(v), "*", "%")
}

// searchContains matches expr containing v.
func searchContains(expr, v string) searchCond {
	return searchCond{expr + ` LIKE ? ESCAPE '\'`, []any{"%" + searchPattern(v) + "%"}}
}

// searchEquals matches expr equal to v, or like v if v has a '*'.
func searchEquals(expr, v string) searchCond {
	if strings.Contains(v, "*") {
		return searchCond{expr + ` LIKE ? ESCAPE '\'`, []any{searchPattern(v)}}
	}
	return searchCond{expr + " = ?", []any{v}}
}

// searchTags matches a tags column (" a b ") holding every tag in v.
func searchTags(col, v string) searchCond {
	tags := strings.Fields(v)
	if len(tags) == 0 {
		return searchNothing
	}
	var c searchCond
	for i, tag := range tags {
		if i > 0 {
			c.sql += " AND "
		}
		c.sql += col + ` LIKE ? ESCAPE '\'`
		c.args = append(c.args, "% "+likeEscape(tag)+" %")
	}
	return c
}

func searchOr(cs ...searchCond) searchCond {
	var out searchCond
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.sql
		out.args = append(out.args, c.args...)
	}
	out.sql = strings.Join(parts, " OR ")
	return out
}

// searchExists is EXISTS (SELECT 1 FROM from WHERE join AND c).
func searchExists(from, join string, c searchCond) searchCond {
	return searchCond{"EXISTS (SELECT 1 FROM " + from + " WHERE " + join + " AND (" + c.sql + "))", c.args}
}

// searchIdentity matches users owning an identity of typ that meets c. It is an
// IN over the (type, value_norm) index rather than a per-user EXISTS, so an exact
// email or phone lookup reads one index entry, not every user.
func searchIdentity(typ string, c searchCond) searchCond {
	return searchCond{"u.id IN (SELECT i.user_id FROM identities i WHERE i.type = '" + typ + "' AND (" + c.sql + "))", c.args}
}

// searchID parses v as a record id.
func searchID(v string) (int64, bool) {
	id, err := strconv.ParseInt(v, 10, 64)
	return id, err == nil && id > 0
}

// searchUserRef matches a user id column against an id or an email address.
func searchUserRef(col, v string) searchCond {
	if id, ok := searchID(v); ok {
		return searchCond{col + " = ?", []any{id}}
	}
	if !strings.Contains(v, "@") {
		return searchNothing
	}
	c := searchEquals("i.value_norm", v)
	return searchCond{col + " IN (SELECT i.user_id FROM identities i WHERE i.type = 'email' AND " + c.sql + ")", c.args}
}

// searchNamed matches an id column of table (organizations or agent_groups)
// against an id or a name.
func searchNamed(col, table, v string) searchCond {
	if v == "" {
		return searchNothing
	}
	c := searchEquals("x.name_norm", v)
	c.sql = col + " IN (SELECT x.id FROM " + table + " x WHERE " + c.sql + ")"
	if id, ok := searchID(v); ok {
		c.sql = col + " = ? OR " + c.sql
		c.args = append([]any{id}, c.args...)
	}
	return c
}

// searchPhone reads a bare word made only of digits and phone punctuation as a
// phone number in E.164.
func searchPhone(v, region string) (string, bool) {
	if strings.Trim(v, "0123456789+-()./") != "" || strings.Trim(v, "+-()./") == "" {
		return "", false
	}
	e, err := identity.Phone(v, region)
	return e, err == nil
}

// searchOrdered compares an enum column by the order of values.
func searchOrdered(col string, values []string, op, v string) searchCond {
	rank := -1
	for i, s := range values {
		if s == v {
			rank = i
		}
	}
	if rank < 0 {
		return searchNothing
	}
	var in []string
	var args []any
	for i, s := range values {
		if op == ":" && i == rank || op == "<" && i < rank || op == "<=" && i <= rank ||
			op == ">" && i > rank || op == ">=" && i >= rank {
			in = append(in, "?")
			args = append(args, s)
		}
	}
	if len(in) == 0 {
		return searchNothing
	}
	return searchCond{col + " IN (" + strings.Join(in, ", ") + ")", args}
}

// searchDate compares a unix-seconds column with a date (YYYY-MM-DD, the whole
// UTC day) or an RFC 3339 instant (that second).
func searchDate(col, op, v string) searchCond {
	var start, end int64
	if d, err := time.Parse(time.DateOnly, v); err == nil {
		start, end = d.Unix(), d.AddDate(0, 0, 1).Unix()
	} else if ts, err := time.Parse(time.RFC3339, strings.ToUpper(v)); err == nil {
		start, end = ts.Unix(), ts.Unix()+1
	} else {
		return searchNothing
	}
	switch op {
	case ":":
		return searchCond{col + " >= ? AND " + col + " < ?", []any{start, end}}
	case "<":
		return searchCond{col + " < ?", []any{start}}
	case "<=":
		return searchCond{col + " < ?", []any{end}}
	case ">":
		return searchCond{col + " >= ?", []any{end}}
	case ">=":
		return searchCond{col + " >= ?", []any{start}}
	}
	return searchNothing
}

// where compiles q into k's WHERE condition.
func (k searchKind) where(q search.Query) (string, []any) {
	where := []string{k.base}
	var args []any
	for _, t := range q.Terms {
		if t.Field == "type" {
			continue
		}
		c := searchNothing
		if t.Field == "" || t.Value != "" && (t.Op == ":" || searchOrderedFields[t.Field]) {
			c = k.term(t, strings.ToLower(t.Value))
		}
		if t.Negate {
			// COALESCE so that a NULL column counts as "does not match" and
			// -notes:x finds users without notes.
			c.sql = "NOT COALESCE((" + c.sql + "), FALSE)"
		}
		where = append(where, "("+c.sql+")")
		args = append(args, c.args...)
	}
	return strings.Join(where, " AND "), args
}

// SearchAll searches the given kinds (search.Kind* names) at once and returns one
// page of hits ordered by sortBy ("created_at" or "updated_at", the default),
// then kind and id, plus the total over all kinds.
func (db *DB) SearchAll(ctx context.Context, q search.Query, region string, kinds []string, sortBy, sortOrder string, limit, offset int) (hits []mergedesk.SearchHit, total int, err error) {
	col := "updated_at"
	if sortBy == "created_at" {
		col = "created_at"
	}
	dir := "DESC"
	if strings.EqualFold(sortOrder, "asc") {
		dir = "ASC"
	}
	var parts []string
	var args []any
	for _, kind := range kinds {
		var k searchKind
		switch kind {
		case search.KindUser:
			k = userSearch(region)
		case search.KindTicket:
			k = ticketSearch()
		case search.KindOrganization:
			k = organizationSearch()
		case search.KindGroup:
			k = groupSearch()
		default:
			continue
		}
		cond, a := k.where(q)
		alias := strings.Fields(k.from)[1]
		parts = append(parts, "SELECT '"+kind+"' AS kind, "+k.id+" AS id, "+alias+"."+col+" AS sortkey FROM "+k.from+" WHERE "+cond)
		args = append(args, a...)
	}
	if len(parts) == 0 {
		return nil, 0, nil
	}
	union := strings.Join(parts, " UNION ALL ")
	count := func() error {
		if err := db.r().queryRow(ctx, "SELECT COUNT(*) FROM ("+union+") hits", args...).Scan(&total); err != nil {
			return fmt.Errorf("search: %w", err)
		}
		return nil
	}
	if limit <= 0 {
		if err := count(); err != nil {
			return nil, 0, err
		}
		return nil, total, nil
	}
	offset = max(offset, 0)
	rows, err := db.r().query(ctx, "SELECT kind, id FROM ("+union+") hits ORDER BY sortkey "+dir+", kind, id "+dir+" LIMIT ? OFFSET ?",
		append(args, limit, offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("search: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var h mergedesk.SearchHit
		if err := rows.Scan(&h.Kind, &h.ID); err != nil {
			return nil, 0, err
		}
		hits = append(hits, h)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	rows.Close()
	if n, ok := pageTotal(len(hits), limit, offset); ok {
		return hits, n, nil
	}
	if err := count(); err != nil {
		return nil, 0, err
	}
	return hits, total, nil
}

// SearchUserPage is SearchUsers returning the page's users, loaded as
// UsersByIDs loads them (identities and memberships included), instead of their
// ids. A query that is one exact e-mail or phone term (email:X, phone:X, no
// wildcard, not negated) names at most one user through the unique identity
// index: it is answered by one indexed lookup that reads the user row too,
// without the COUNT, the sort and the LIMIT the general path needs, and with
// the same statements as a show by id for the identities and memberships.
func (db *DB) SearchUserPage(ctx context.Context, q search.Query, region string, sortBy, sortOrder string, limit, offset int) ([]*mergedesk.User, int, error) {
	if typ, norm, ok := exactIdentityTerm(q, region); ok {
		var users []*mergedesk.User
		if norm != "" {
			var err error
			if users, err = db.activeUserByIdentity(ctx, typ, norm); err != nil {
				return nil, 0, fmt.Errorf("search users: %w", err)
			}
		}
		total := len(users)
		if limit <= 0 || offset > 0 {
			// At most one match: any later page is empty.
			users = nil
		}
		if users == nil {
			users = []*mergedesk.User{}
		}
		return users, total, nil
	}
	ids, total, err := db.SearchUsers(ctx, q, region, sortBy, sortOrder, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	users, err := loadUsers(ctx, db.r(), ids)
	return users, total, err
}

// exactIdentityTerm reports whether q (type: terms aside) is a single exact
// email:X or phone:X term, and returns the identity type and normalised value
// it matches exactly as searchUserTerm does. norm is "" for a phone number that
// does not parse, which matches nothing.
func exactIdentityTerm(q search.Query, region string) (typ, norm string, ok bool) {
	var t *search.Term
	for i := range q.Terms {
		if q.Terms[i].Field == "type" {
			continue
		}
		if t != nil {
			return "", "", false
		}
		t = &q.Terms[i]
	}
	if t == nil || t.Negate || t.Op != ":" || t.Value == "" {
		return "", "", false
	}
	switch t.Field {
	case "email":
		v := strings.ToLower(t.Value)
		if strings.Contains(v, "*") {
			return "", "", false
		}
		return mergedesk.IdentityEmail, v, true
	case "phone":
		e, err := identity.Phone(t.Value, region)
		if err != nil {
			return mergedesk.IdentityPhone, "", true
		}
		return mergedesk.IdentityPhone, e, true
	}
	return "", "", false
}

// searchUserColumns is userColumns qualified by the alias u.
var searchUserColumns = func() string {
	cols := strings.Split(userColumns, ",")
	for i, c := range cols {
		cols[i] = "u." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}()

// activeUserByIdentity returns the active user owning the identity of type typ
// with value_norm norm (none, or one: the identity index is unique), with its
// identities and memberships loaded as loadUsers loads them.
func (db *DB) activeUserByIdentity(ctx context.Context, typ, norm string) ([]*mergedesk.User, error) {
	rows, err := db.r().query(ctx, "SELECT "+searchUserColumns+", "+hasMembership("u.id")+
		" FROM identities i JOIN users u ON u.id = i.user_id WHERE i.type = ? AND i.value_norm = ? AND u.active = TRUE", typ, norm)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var users []*mergedesk.User
	var member bool
	for rows.Next() {
		u, err := scanUser(scanWith{rows, &member})
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	if len(users) != 1 {
		return users, nil
	}
	u := users[0]
	err = loadRelations(ctx, db.r(), map[int64]*mergedesk.User{u.ID: u}, "?", []any{u.ID}, member)
	return users, err
}

// scanWith scans a row into the destinations its caller names followed by
// extra ones, for a query selecting more columns than a scan function reads.
type scanWith struct {
	rows  interface{ Scan(...any) error }
	extra any
}

func (s scanWith) Scan(dest ...any) error { return s.rows.Scan(append(dest, s.extra)...) }
