package store

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/identity"
)

// bulkChunk is how many rows one multi-row INSERT carries (identities: twice
// as many). On SQLite each statement keeps an in-memory statement journal of
// the pages it changes, so that it can be undone alone, and the driver's
// allocator hands that memory back to the OS (madvise) when the statement
// ends: at 500 rows that was a sixth of an import's CPU. At 250 rows an
// imported user cost about a fifth less CPU (BenchmarkImportUsers); 100 or 150
// gained nothing more. Far below SQLite's 32,766 and PostgreSQL's 65,535
// parameters.
const bulkChunk = 250

// ImportUsers creates users set-based, in one transaction: a few multi-row
// INSERTs instead of a dozen statements per user. It follows CreateUser's
// rules (validation, identity normalisation with the account's phone region,
// first identity of a type is primary, organization by id or name, domain
// mapping), but a row that would fail — an identity value or external id
// already owned by another user or by an earlier row of the batch, an invalid
// value — is skipped whole and reported in Errors; the others are imported.
// Callers choose the batch size; 1,000 to 5,000 rows is a good range.
// Passwords are not accepted here (PBKDF2 is slow on purpose; set them later).
func (db *DB) ImportUsers(ctx context.Context, users []mergedesk.NewUser) (mergedesk.ImportResult, error) {
	s, err := db.Settings(ctx)
	if err != nil {
		return mergedesk.ImportResult{}, err
	}
	rows := prepareRows(users, s)
	var res mergedesk.ImportResult
	for attempt := 0; ; attempt++ {
		res = mergedesk.ImportResult{IDs: make([]int64, len(rows)), Errors: make([]error, len(rows))}
		for i := range rows {
			res.Errors[i] = rows[i].err
		}
		err = db.Update(ctx, func(tx *Tx) error { return importRows(ctx, tx, rows, &res) })
		// On PostgreSQL another writer may commit a conflicting value between our
		// check and our insert: the batch rolls back whole and is checked again.
		if err == nil || !isUniqueViolation(err) || attempt == 3 {
			break
		}
	}
	if err != nil {
		return mergedesk.ImportResult{}, fmt.Errorf("import users: %w", err)
	}
	for i := range res.IDs {
		if res.IDs[i] != 0 {
			res.Created++
		} else {
			res.Skipped++
		}
	}
	return res, nil
}

// bulkRow is one validated, normalised input row.
type bulkRow struct {
	name, role, tz  string
	locale          int64
	ext, extNorm    any
	shared          any
	tags, fields    string
	details, notes  any
	alias, sig      any
	photo           any
	suspended       bool
	idents          []bulkIdent
	orgID           int64
	orgName         string
	err             error
	mapDomainsLater bool
}

type bulkIdent struct {
	typ, value, norm, method string
	verified, primary        bool
	field                    string // the error key: email, phone or value
}

// prepareRows validates and normalises rows on every core: phone parsing is
// the costly part of an import and needs no database.
func prepareRows(users []mergedesk.NewUser, s mergedesk.Settings) []bulkRow {
	rows := make([]bulkRow, len(users))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(users)/256))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(users); i += workers {
				rows[i] = prepareRow(&users[i], s)
			}
		})
	}
	wg.Wait()
	return rows
}

func prepareRow(in *mergedesk.NewUser, s mergedesk.Settings) bulkRow {
	var r bulkRow
	fail := func(err error) bulkRow { return bulkRow{err: err} }
	nu := *in // Normalize writes; the caller's rows stay as given
	if err := nu.Normalize(); err != nil {
		return fail(err)
	}
	if err := nu.CheckImport(); err != nil {
		return fail(err)
	}
	r.name, r.role, r.locale, r.tz = nu.Name, nu.Role, nu.LocaleID, nu.TimeZone
	region := s.Phone.DefaultRegion
	if nu.SharedPhone && nu.Phone != "" {
		p, err := identity.Phone(nu.Phone, region)
		if err != nil {
			return fail(renameField(err, "value", "phone"))
		}
		r.shared = p
	}
	r.ext, r.extNorm = externalID(nu.ExternalID)
	if s.Users.Tagging {
		r.tags = encodeTags(nu.Tags)
	}
	fields := nu.UserFields
	if fields == nil {
		fields = map[string]any{}
	}
	r.fields = encodeJSON(fields)
	r.details, r.notes, r.alias, r.sig = nullable(nu.Details), nullable(nu.Notes), nullable(nu.Alias), nullable(nu.Signature)
	r.photo = nullable(nu.RemotePhotoURL)
	r.suspended = nu.Suspended
	if nu.OrganizationID != nil {
		r.orgID = *nu.OrganizationID
	} else if nu.OrganizationName != nil {
		r.orgName = *nu.OrganizationName
	}

	// Identities in CreateUser's order; the last one asking to be primary wins,
	// otherwise the first of its type. A value given twice is one identity.
	type want struct {
		ni    mergedesk.NewIdentity
		field string
	}
	var ws []want
	if nu.Email != "" {
		ws = append(ws, want{mergedesk.NewIdentity{Type: mergedesk.IdentityEmail, Value: nu.Email, Primary: true}, "email"})
	}
	if nu.Phone != "" && !nu.SharedPhone {
		ws = append(ws, want{mergedesk.NewIdentity{Type: mergedesk.IdentityPhone, Value: nu.Phone, Primary: true}, "phone"})
	}
	for _, ni := range nu.Identities {
		ws = append(ws, want{ni, "value"})
	}
	primaryAt := map[string]int{}
	for _, w := range ws {
		if !identity.Valid(w.ni.Type) {
			return fail(mergedesk.Invalid("type", mergedesk.CodeInvalid, "Type: %q is not a valid identity type", w.ni.Type))
		}
		stored, norm, err := identity.Normalize(w.ni.Type, w.ni.Value, region)
		if err != nil {
			return fail(renameField(err, "value", w.field))
		}
		dup := false
		for _, have := range r.idents {
			if have.typ == w.ni.Type && have.norm == norm {
				dup = true
			}
		}
		if dup {
			continue
		}
		verified := w.ni.Verified || nu.Verified
		method := "none"
		if verified {
			method = "full"
		} else if w.ni.VerificationMethod == "low" {
			method = "low"
		}
		if _, seen := primaryAt[w.ni.Type]; !seen || w.ni.Primary {
			primaryAt[w.ni.Type] = len(r.idents)
		}
		r.idents = append(r.idents, bulkIdent{typ: w.ni.Type, value: stored, norm: norm, method: method,
			verified: verified, field: w.field})
	}
	for _, i := range primaryAt {
		r.idents[i].primary = true
	}
	r.mapDomainsLater = r.role == mergedesk.RoleEndUser && r.orgID == 0 && r.orgName == ""
	return r
}

// importRows writes the rows that survive the duplicate checks. res.Errors
// already holds the validation errors; the steps below add theirs.
func importRows(ctx context.Context, tx *Tx, rows []bulkRow, res *mergedesk.ImportResult) error {
	if err := refuseTaken(ctx, tx, rows, res); err != nil {
		return err
	}
	refuseClaimed(rows, res)
	orgs, err := resolveOrganizations(ctx, tx, rows, res)
	if err != nil {
		return err
	}
	return insertRows(ctx, tx, rows, res, orgs)
}

// refuseTaken refuses the live rows with an identity value or external id
// another user already owns.
func refuseTaken(ctx context.Context, tx *Tx, rows []bulkRow, res *mergedesk.ImportResult) error {
	byType := map[string][]string{}
	var exts []string
	for i := range rows {
		if res.Errors[i] != nil {
			continue
		}
		for _, id := range rows[i].idents {
			byType[id.typ] = append(byType[id.typ], id.norm)
		}
		if rows[i].extNorm != nil {
			exts = append(exts, rows[i].extNorm.(string))
		}
	}
	taken := map[string]bool{}
	for typ, norms := range byType {
		for c := range chunks(len(norms), bulkChunk) {
			found, err := tx.queryIn(ctx, "SELECT value_norm FROM identities WHERE type = "+tx.db.dialect.ph(1)+" AND value_norm",
				[]any{typ}, norms[c.lo:c.hi])
			if err != nil {
				return fmt.Errorf("check identities: %w", err)
			}
			for _, f := range found {
				taken[typ+"\x00"+f] = true
			}
		}
	}
	for c := range chunks(len(exts), bulkChunk) {
		found, err := tx.queryIn(ctx, "SELECT external_id_norm FROM users WHERE external_id_norm", nil, exts[c.lo:c.hi])
		if err != nil {
			return fmt.Errorf("check external ids: %w", err)
		}
		for _, f := range found {
			taken["\x00ext\x00"+f] = true
		}
	}
	for i := range rows {
		if res.Errors[i] == nil {
			res.Errors[i] = conflict(&rows[i], taken)
		}
	}
	return nil
}

// refuseClaimed refuses the live rows with a value an earlier row of the batch
// claims: the first row wins.
func refuseClaimed(rows []bulkRow, res *mergedesk.ImportResult) {
	claimed := map[string]bool{}
	for i := range rows {
		if res.Errors[i] != nil {
			continue
		}
		if res.Errors[i] = conflict(&rows[i], claimed); res.Errors[i] != nil {
			continue
		}
		for _, id := range rows[i].idents {
			claimed[id.typ+"\x00"+id.norm] = true
		}
		if rows[i].extNorm != nil {
			claimed["\x00ext\x00"+rows[i].extNorm.(string)] = true
		}
	}
}

// bulkOrgs are the organizations the rows of a batch join.
type bulkOrgs struct {
	byName  map[string]int64 // NameNorm(name) -> id, found or created
	domains map[string]int64 // email domain -> id (domainOrganizations)
}

// of returns the organization row r joins: by id, by name, or else by the
// domain of its email identities; 0 for none.
func (o bulkOrgs) of(r *bulkRow) int64 {
	if r.orgID != 0 {
		return r.orgID
	}
	if r.orgName != "" {
		return o.byName[NameNorm(r.orgName)]
	}
	if !r.mapDomainsLater {
		return 0
	}
	for _, ident := range r.idents {
		if ident.typ == mergedesk.IdentityEmail {
			if org := o.domains[strings.ToLower(ident.value[strings.LastIndexByte(ident.value, '@')+1:])]; org != 0 {
				return org
			}
		}
	}
	return 0
}

// resolveOrganizations finds the organizations the live rows name: by id (a
// row naming one that does not exist is refused), by name (found or created),
// and the domain map for the rest.
func resolveOrganizations(ctx context.Context, tx *Tx, rows []bulkRow, res *mergedesk.ImportResult) (bulkOrgs, error) {
	orgs := bulkOrgs{byName: map[string]int64{}}
	orgIDs := map[int64]bool{}
	for i := range rows {
		if res.Errors[i] != nil {
			continue
		}
		if rows[i].orgID != 0 {
			orgIDs[rows[i].orgID] = false
		} else if n := rows[i].orgName; n != "" {
			if _, ok := orgs.byName[NameNorm(n)]; !ok {
				id, err := findOrCreateOrganization(ctx, tx, n)
				if err != nil {
					return orgs, err
				}
				orgs.byName[NameNorm(n)] = id
			}
		}
	}
	if len(orgIDs) > 0 {
		ids := make([]int64, 0, len(orgIDs))
		for id := range orgIDs {
			ids = append(ids, id)
		}
		in, args := inArgs(ids)
		found, err := scanIDs(tx.query(ctx, "SELECT id FROM organizations WHERE id IN ("+in+")", args...))
		if err != nil {
			return orgs, err
		}
		for _, id := range found {
			orgIDs[id] = true
		}
	}
	for i := range rows {
		if res.Errors[i] == nil {
			if id := rows[i].orgID; id != 0 && !orgIDs[id] {
				res.Errors[i] = mergedesk.Invalid("organization_id", mergedesk.CodeInvalid, "Organization %d does not exist", id)
			}
		}
	}
	var err error
	orgs.domains, err = domainOrganizations(ctx, tx)
	return orgs, err
}

// insertRows inserts the live rows, their identities and their memberships
// with multi-row INSERTs, and records each row's new id in res.IDs.
func insertRows(ctx context.Context, tx *Tx, rows []bulkRow, res *mergedesk.ImportResult, orgs bulkOrgs) error {
	var n int
	for i := range rows {
		if res.Errors[i] == nil {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	ids, err := tx.reserveUserIDs(ctx, n)
	if err != nil {
		return err
	}
	now := unix(tx.now)

	const userCols, identCols, membershipCols = 19, 9, 6
	users := &bulkInsert{tx: tx, cols: userCols, full: bulkChunk, what: "users", prefix: `INSERT INTO users (id, name, name_norm,
		role, suspended, external_id, external_id_norm, locale_id, time_zone, shared_phone, tags, details, notes, alias,
		signature, user_fields, remote_photo_url, created_at, updated_at) VALUES `}
	defer users.close()
	idents := &bulkInsert{tx: tx, cols: identCols, full: 2 * bulkChunk, what: "identities", parent: users, prefix: `INSERT INTO identities (user_id, type,
		value, value_norm, verified, is_primary, verification_method, created_at, updated_at) VALUES `}
	defer idents.close()
	members := &bulkInsert{tx: tx, cols: membershipCols, full: bulkChunk, what: "memberships", parent: idents, prefix: `INSERT INTO memberships (user_id,
		organization_id, is_default, view_tickets, created_at, updated_at) VALUES `}
	defer members.close()
	next := 0
	for i := range rows {
		if res.Errors[i] != nil {
			continue
		}
		r := &rows[i]
		id := ids[next]
		next++
		res.IDs[i] = id
		if err := users.add(ctx, id, r.name, NameNorm(r.name), r.role, r.suspended, r.ext, r.extNorm, r.locale, r.tz,
			r.shared, r.tags, r.details, r.notes, r.alias, r.sig, r.fields, r.photo, now, now); err != nil {
			return err
		}
		for _, ident := range r.idents {
			if err := idents.add(ctx, id, ident.typ, ident.value, ident.norm, ident.verified, ident.primary, ident.method, now, now); err != nil {
				return err
			}
		}
		if org := orgs.of(r); org != 0 {
			members.later(id, org, true, true, now, now)
		}
	}
	// Flushing the memberships flushes the identities and users first.
	if err := members.flush(ctx); err != nil {
		return err
	}
	// Rule D8: imported end users are evaluated like any new user.
	var endUsers []int64
	for i := range rows {
		if res.Errors[i] == nil && rows[i].role == mergedesk.RoleEndUser {
			endUsers = append(endUsers, res.IDs[i])
		}
	}
	return enqueueDuplicates(ctx, tx, endUsers...)
}

// bulkInsert collects rows for a multi-row INSERT and runs it every full rows.
// The full-size statement is prepared once per transaction: parsing a
// statement of thousands of placeholders costs more than executing it on a
// driver that does not cache statements.
type bulkInsert struct {
	tx     *Tx
	cols   int
	full   int    // rows per statement
	what   string // the table, for errors
	prefix string // "INSERT INTO ... VALUES "
	// parent holds the rows this table's rows refer to: it is flushed first.
	parent *bulkInsert
	stmt   *sql.Stmt
	args   []any
	rows   int
}

// add appends one row of b.cols values and runs the statement when it is full.
func (b *bulkInsert) add(ctx context.Context, row ...any) error {
	b.later(row...)
	if b.rows == b.full {
		return b.flush(ctx)
	}
	return nil
}

// later appends one row without ever running the statement: flush runs every
// full-size chunk, then the rest.
func (b *bulkInsert) later(row ...any) {
	if b.args == nil {
		b.args = make([]any, 0, b.full*b.cols)
	}
	b.args = append(b.args, row...)
	b.rows++
}

// flush inserts the rows collected so far, after those of b.parent.
func (b *bulkInsert) flush(ctx context.Context) error {
	if b.parent != nil {
		if err := b.parent.flush(ctx); err != nil {
			return err
		}
	}
	for c := range chunks(b.rows, b.full) {
		if _, err := b.exec(ctx, c.hi-c.lo, b.args[c.lo*b.cols:c.hi*b.cols]); err != nil {
			return fmt.Errorf("insert %s: %w", b.what, err)
		}
	}
	b.args, b.rows = b.args[:0], 0
	return nil
}

func (b *bulkInsert) exec(ctx context.Context, rows int, args []any) (sql.Result, error) {
	if rows != b.full {
		return b.tx.tx.ExecContext(ctx, b.prefix+b.tx.db.dialect.values(rows, b.cols), args...)
	}
	if b.stmt == nil {
		var err error
		if b.stmt, err = b.tx.tx.PrepareContext(ctx, b.prefix+b.tx.db.dialect.values(rows, b.cols)); err != nil {
			return nil, err
		}
	}
	return b.stmt.ExecContext(ctx, args...)
}

func (b *bulkInsert) close() {
	if b.stmt != nil {
		b.stmt.Close()
	}
}

// conflict returns the DuplicateValue error of the first of r's values in set.
func conflict(r *bulkRow, set map[string]bool) error {
	for _, id := range r.idents {
		if set[id.typ+"\x00"+id.norm] {
			return duplicateValue(id.field, id.value)
		}
	}
	if r.extNorm != nil && set["\x00ext\x00"+r.extNorm.(string)] {
		return mergedesk.Invalid("external_id", mergedesk.CodeDuplicate, "External: %s is already being used by another user", r.ext)
	}
	return nil
}

// domainOrganizations maps each email domain listed by exactly one organization
// to it (docs/api.md §2.4 domain mapping).
func domainOrganizations(ctx context.Context, tx *Tx) (map[string]int64, error) {
	rows, err := tx.query(ctx, "SELECT id, domain_names FROM organizations WHERE domain_names <> ''")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var id int64
		var d string
		if err := rows.Scan(&id, &d); err != nil {
			return nil, err
		}
		for _, dom := range decodeTags(d) {
			if _, dup := out[dom]; dup {
				out[dom] = 0 // listed twice: no mapping
			} else {
				out[dom] = id
			}
		}
	}
	return out, rows.Err()
}

type span struct{ lo, hi int }

// chunks yields [lo, hi) ranges of at most size covering n items.
func chunks(n, size int) func(func(span) bool) {
	return func(yield func(span) bool) {
		for lo := 0; lo < n; lo += size {
			if !yield(span{lo, min(n, lo+size)}) {
				return
			}
		}
	}
}

// queryIn runs q+" IN (values)" (in the dialect's form) and returns the first
// column.
func (tx *Tx) queryIn(ctx context.Context, q string, args []any, values []string) ([]string, error) {
	q, args = tx.db.dialect.in(q, args, values)
	return tx.queryStrings(ctx, q, args...)
}

func (tx *Tx) queryStrings(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := tx.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// reserveUserIDs returns n unused user ids (dialect.reserveIDs).
func (tx *Tx) reserveUserIDs(ctx context.Context, n int) ([]int64, error) {
	ids, err := tx.db.dialect.reserveIDs(ctx, tx.tx, "users", n)
	if err != nil {
		return nil, fmt.Errorf("reserve user ids: %w", err)
	}
	return ids, nil
}

// BeginBulk prepares SQLite's writer for a bulk load: a page cache of mib MiB,
// and no background checkpoints, so index pages rewritten by batch after batch
// are copied back to the database once, by EndBulk. It does nothing on
// PostgreSQL.
func (db *DB) BeginBulk(ctx context.Context, mib int) error {
	if !db.dialect.oneWriter() {
		return nil
	}
	db.bulk.Store(true)
	if q := db.dialect.cacheSizeSQL(mib); q != "" {
		_, err := db.write.ExecContext(ctx, q)
		return err
	}
	return nil
}

// EndBulk checkpoints the whole WAL a bulk load wrote into the database, so the
// load's cost is all paid (and measured) before it returns.
func (db *DB) EndBulk(ctx context.Context) error {
	if !db.dialect.oneWriter() {
		return nil
	}
	defer db.bulk.Store(false)
	if _, err := db.write.ExecContext(ctx, db.dialect.checkpointSQL(true)); err != nil {
		return fmt.Errorf("checkpoint after bulk load: %w", err)
	}
	return nil
}
