package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/merge"
	"github.com/mergedesk/mergedesk/internal/store"
)

const mergeUsage = `usage: mergedesk merge SOURCE TARGET [--dry-run] [--yes] [--db DSN] [--actor EMAIL]

Merges the end user SOURCE into the end user TARGET (an id or an email address
each), by the rules of docs/merge.md. It first prints the preview: every profile
field's outcome, the tickets that move and anything that blocks the merge. Then,
unless --dry-run, it asks for confirmation on a terminal; without one, --yes is
required. A merge cannot be undone.

Exit status: 0 merged (or --dry-run of an eligible merge), 1 refused or failed,
2 usage.

flags:`

// mergeCmd is `mergedesk merge`. Stdin and whether it is a terminal are fields so
// tests can play the person at the keyboard.
type mergeCmd struct {
	DB, Actor      string
	DryRun, Yes    bool
	Source, Target string

	Stdin    io.Reader
	Terminal bool
}

func runMerge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseMerge(args, stderr)
	if err != nil {
		return err
	}
	c.Stdin, c.Terminal = os.Stdin, term.IsTerminal(int(os.Stdin.Fd()))
	return c.run(ctx, stdout, stderr)
}

// parseMerge reads the flags, which may come before, between or after the two
// positional arguments.
func parseMerge(args []string, stderr io.Writer) (*mergeCmd, error) {
	c := &mergeCmd{}
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), mergeUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.DB, "db", env("MERGEDESK_DB", "sqlite:mergedesk.db"), "database: sqlite:PATH or postgres://... (MERGEDESK_DB)")
	fs.StringVar(&c.Actor, "actor", env("MERGEDESK_ADMIN_EMAIL", ""), "email of the agent or admin the merge is recorded for; default: the first admin (MERGEDESK_ADMIN_EMAIL)")
	fs.BoolVar(&c.DryRun, "dry-run", false, "print the preview only; change nothing")
	fs.BoolVar(&c.Yes, "yes", false, "merge without asking (required when stdin is not a terminal)")
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, usageError{"mergedesk merge: see the usage above"}
			}
			return nil, usageError{err.Error()}
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != 2 {
		return nil, usageError{fmt.Sprintf("mergedesk merge: want SOURCE and TARGET, got %d arguments\n\n%s", len(pos), strings.TrimSuffix(mergeUsage, "\n\nflags:"))}
	}
	c.Source, c.Target = pos[0], pos[1]
	if c.DryRun && c.Yes {
		return nil, usageError{"mergedesk merge: --dry-run and --yes contradict each other"}
	}
	return c, nil
}

func (c *mergeCmd) run(ctx context.Context, stdout, stderr io.Writer) error {
	if path, ok := strings.CutPrefix(c.DB, "sqlite:"); ok {
		// store.Open would create an empty database: a typo in the path would then
		// read as "user not found".
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("database %s: %w", c.DB, err)
		}
	}
	db, err := store.Open(ctx, c.DB)
	if err != nil {
		return err
	}
	defer db.Close()

	actor, err := mergeActor(ctx, db, c.Actor)
	if err != nil {
		return err
	}
	source, err := resolveUser(ctx, db, "SOURCE", c.Source)
	if err != nil {
		return err
	}
	target, err := resolveUser(ctx, db, "TARGET", c.Target)
	if err != nil {
		return err
	}
	plan, err := db.PreviewMerge(ctx, source.ID, target.ID)
	if err != nil {
		return fmt.Errorf("preview merge %d into %d: %w", source.ID, target.ID, err)
	}
	printPreview(stdout, source, target, plan)
	if !plan.Eligible() {
		return refusedError(plan.Blockers)
	}
	if c.DryRun {
		fmt.Fprintln(stdout, "\nDry run: nothing was changed.")
		return nil
	}
	if !c.Yes {
		if !c.Terminal {
			return errors.New("not merged: stdin is not a terminal, so nobody can confirm; pass --yes to merge without asking (or --dry-run to only preview)")
		}
		fmt.Fprintf(stderr, "\nMerge user %d into %d? This cannot be undone [y/N] ", source.ID, target.ID)
		line, err := bufio.NewReader(c.Stdin).ReadString('\n')
		if err != nil && line == "" {
			fmt.Fprintln(stderr)
		}
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			return errors.New("not merged: cancelled; nothing was changed")
		}
	}

	_, rec, err := db.MergeUsers(ctx, source.ID, target.ID, actor.ID, plan.Version)
	switch {
	case mergedesk.ErrorCode(err) == mergedesk.EMergeStale:
		return fmt.Errorf("not merged: user %d or %d changed since the preview, so the preview above is no longer what would happen; nothing was changed; run the command again to see the new preview", source.ID, target.ID)
	case mergedesk.FieldCode(err, "base") != "":
		var e *mergedesk.Error
		errors.As(err, &e)
		fmt.Fprintln(stdout, "\nSomething changed since the preview, and now:")
		printBlockers(stdout, e.Details["base"])
		return refusedError(e.Details["base"])
	case err != nil:
		return fmt.Errorf("merge %d into %d: %w", source.ID, target.ID, err)
	}
	fmt.Fprintf(stdout, "\nMerged user %d into user %d: %d tickets now requested by %d, %d CC lists changed, %d identities moved (merge record %d, by %s).\n",
		source.ID, target.ID, rec.TicketsMoved, target.ID, rec.CCsMoved, len(rec.IdentitiesMoved), rec.ID, userLabel(actor))
	return nil
}

// mergeActor returns the agent or admin the merge is recorded for: the user with
// email, or else the admin with the lowest id.
func mergeActor(ctx context.Context, db *store.DB, email string) (*mergedesk.User, error) {
	var u *mergedesk.User
	if email != "" {
		var err error
		u, err = db.UserByEmail(ctx, email)
		if mergedesk.ErrorCode(err) == mergedesk.ENotFound {
			return nil, fmt.Errorf("actor %s: no active user has this email", email)
		}
		if err != nil {
			return nil, fmt.Errorf("actor %s: %w", email, err)
		}
	} else {
		admins, _, err := db.Users(ctx, mergedesk.UserFilter{Roles: []string{mergedesk.RoleAdmin}}, mergedesk.Page{Size: 1})
		if err != nil {
			return nil, fmt.Errorf("find an admin: %w", err)
		}
		if len(admins) == 0 {
			return nil, errors.New("no admin exists to record the merge for; pass --actor EMAIL (or set MERGEDESK_ADMIN_EMAIL)")
		}
		u = admins[0]
	}
	// The command has an actor like any other path, and asks the same rule.
	if err := mergedesk.CanMerge(u.Principal()); err != nil {
		return nil, fmt.Errorf("actor %s is an %s; only agents and admins may merge users (M6)", userLabel(u), u.Role)
	}
	if !u.Active || u.Suspended {
		return nil, fmt.Errorf("actor %s is inactive or suspended and may not merge users", userLabel(u))
	}
	return u, nil
}

// resolveUser finds a user by id or by the email address of an active user.
// Merged and deleted users are found by id: the preview names them as blockers.
func resolveUser(ctx context.Context, db *store.DB, what, arg string) (*mergedesk.User, error) {
	if strings.Contains(arg, "@") {
		u, err := db.UserByEmail(ctx, arg)
		if mergedesk.ErrorCode(err) == mergedesk.ENotFound {
			return nil, fmt.Errorf("%s %s: no active user has this email", what, arg)
		}
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", what, arg, err)
		}
		return u, nil
	}
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id <= 0 {
		return nil, usageError{fmt.Sprintf("mergedesk merge: %s %q is neither a user id nor an email address", what, arg)}
	}
	u, err := db.User(ctx, id)
	if mergedesk.ErrorCode(err) == mergedesk.ENotFound {
		return nil, fmt.Errorf("%s: user %d does not exist", what, id)
	}
	return u, err
}

// refusal is the exit-1 error of a blocked merge; the blockers are already printed.
type refusal struct{ codes []string }

func (r refusal) Error() string {
	return fmt.Sprintf("not merged: refused (%s); nothing was changed", strings.Join(r.codes, ", "))
}

func refusedError(blockers []mergedesk.FieldError) error {
	var codes []string
	for _, b := range blockers {
		codes = append(codes, b.Error)
	}
	return refusal{codes}
}

func userLabel(u *mergedesk.User) string {
	s := fmt.Sprintf("%d %q", u.ID, u.Name)
	if e := u.Email(); e != nil {
		s += " <" + *e + ">"
	}
	return s
}

// printPreview writes the §12.3 rows, the ticket counts and the blockers.
func printPreview(w io.Writer, source, target *mergedesk.User, p *merge.Plan) {
	fmt.Fprintf(w, "Merge preview (version %s)\n", p.Version)
	fmt.Fprintf(w, "  source: user %s (disappears)\n", userLabel(source))
	fmt.Fprintf(w, "  target: user %s (stays)\n\n", userLabel(target))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FIELD\tRULE\tOUTCOME\tSOURCE VALUE → TARGET VALUE")
	for _, f := range p.Fields {
		rule := f.Rule
		if rule == "" {
			rule = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s → %s\n", f.Field, rule, f.Outcome, previewValue(f.SourceValue), previewValue(f.TargetValue))
	}
	tw.Flush()
	t := p.Tickets
	fmt.Fprintf(w, "\nTickets: %d requested by the source move to the target (%d of them archived); %d CC lists change (M9, M10).\n",
		t.Requested, t.Archived, t.CCd)
	if p.Eligible() {
		fmt.Fprintln(w, "Blockers: none; the merge is allowed.")
		return
	}
	fmt.Fprintln(w)
	printBlockers(w, p.Blockers)
}

func printBlockers(w io.Writer, blockers []mergedesk.FieldError) {
	fmt.Fprintf(w, "The merge is refused; %d rule(s) block it:\n", len(blockers))
	for _, b := range blockers {
		fmt.Fprintf(w, "  - %s [%s]\n", b.Description, b.Error)
	}
}

// previewValue renders a field value for the table: "-" for none, lists joined
// with commas, anything else as compact JSON.
func previewValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "-"
	case string:
		if v == "" {
			return `""`
		}
		return v
	case *string:
		if v == nil {
			return "-"
		}
		return previewValue(*v)
	case *int64:
		if v == nil {
			return "-"
		}
		return strconv.FormatInt(*v, 10)
	case []string:
		if len(v) == 0 {
			return "-"
		}
		return strings.Join(v, ", ")
	case []int64:
		if len(v) == 0 {
			return "-"
		}
		s := make([]string, len(v))
		for i, n := range v {
			s[i] = strconv.FormatInt(n, 10)
		}
		return strings.Join(s, ", ")
	case []map[string]string:
		if len(v) == 0 {
			return "-"
		}
		s := make([]string, len(v))
		for i, m := range v {
			s[i] = m["type"] + ":" + m["value"]
		}
		return strings.Join(s, ", ")
	case map[string]any:
		if len(v) == 0 {
			return "-"
		}
	case merge.HelpCenter:
		return fmt.Sprintf("%d posts, %d comments, %d votes, %d subscriptions", v.Posts, v.Comments, v.Votes, v.Subscriptions)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
