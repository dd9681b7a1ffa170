package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
)

func init() {
	register("case create", "case create --title T --type TYPE --sides 'Tenant,Landlord' [--referral SOURCE] [--reference DOCKET-NO] [--json]", caseCreate)
	register("case list", "case list [--json]", caseList)
	register("case show", "case show <case> [--json]", caseShow)
	register("case stage", "case stage <case> preparation|opening|issues|negotiation|closure [--note TEXT] [--json]", caseStage)
	register("case objective", "case objective <case> TEXT [--criterion] [--json]", caseObjective)
	register("case disclose", "case disclose <case> TEXT [--json]", caseDisclose)
	register("case ack", "case ack <case> <disclosure-id> [--json]", caseAck)
	register("case recuse", "case recuse <case> --reason TEXT [--mediator ACCOUNT] [--json]", caseRecuse)
	register("case add-mediator", "case add-mediator <case> <account> [--json]", caseAddMediator)
	register("case invite", "case invite <case> --role party|counsel|observer [--side A] --name NAME [--email E] [--ttl 72h] [--json]", caseInvite)
	register("case invite list", "case invite list <case> [--json]   (unused invitations: who, when made, to which address)", caseInviteList)
	register("case invite withdraw", "case invite withdraw <case> --name NAME [--side A] [--made HH:MM:SS] [--json]", caseInviteWithdraw)
}

// showCase prints a case for people, or JSON for scripts.
func showCase(c api.Case, asJSON bool) error {
	if asJSON {
		return printJSON(c)
	}
	fmt.Printf("%s\n  id %s · %s · stage: %s\n", c.Title, c.ID, c.Type, c.Stage.Title())
	if c.Reference != "" {
		fmt.Printf("  reference %s\n", c.Reference)
	}
	if c.Closed != nil {
		fmt.Printf("  closed %s\n", c.Closed.Local().Format("2 Jan 2006 15:04"))
	}
	// People are named in words (api.PersonWords), as everywhere else;
	// their account ids are in --json, for the commands that take one.
	fmt.Println("Sides:")
	for _, s := range c.Sides {
		fmt.Printf("  %s (--side %s)\n", s.Label, s.ID)
	}
	label := map[string]string{}
	for _, s := range c.Sides {
		label[s.ID] = s.Label
	}
	name := map[string]string{}
	fmt.Println("Mediators:")
	for _, m := range c.Mediators {
		name[m.AccountID] = m.Name
		state := ""
		if m.Recused != nil {
			state = ", recused " + m.Recused.Local().Format("2 Jan 2006")
		}
		fmt.Printf("  %s%s\n", api.PersonWords(m.Name, "mediator", ""), state)
	}
	for _, p := range c.PendingMediators {
		how := "assigned by the program"
		if p.Held {
			how = "added as a co-mediator, let in by no mediator before the program's recusal"
		}
		fmt.Printf("  %s, %s; reads the case from %s\n", api.PersonWords(p.Name, "mediator", ""), how, p.ReadsFrom.Local().Format("2 Jan 2006 15:04"))
	}
	if len(c.Notices) > 0 {
		fmt.Println("Notices from the program:")
		for _, n := range c.Notices {
			fmt.Printf("  %s\n", n.Text)
		}
	}
	fmt.Println("Participants:")
	if len(c.Participants) == 0 {
		fmt.Println("  none yet — invite with `parley case invite`")
	}
	for _, p := range c.Participants {
		fmt.Printf("  %s\n", api.PersonWords(p.Name, p.Role, label[p.Side]))
	}
	if len(c.Participants)+len(c.Mediators) > 0 {
		fmt.Println("  (each person's account id, for the commands that take one: `parley case show " + c.ID + " --json`)")
	}
	fmt.Println("Objectives and success criteria:")
	for _, o := range c.Objectives {
		fmt.Printf("  [%s] %s\n", strings.ReplaceAll(string(o.Kind), "-", " "), o.Text)
	}
	if len(c.Disclosures) > 0 {
		fmt.Println("Disclosures:")
		for _, d := range c.Disclosures {
			fmt.Printf("  %s by %s: %s (%d acknowledged)\n", d.ID, cmp.Or(name[d.Mediator], "a former mediator"), d.Text, len(d.Acks))
		}
	}
	fmt.Println("Stage history:")
	for _, h := range c.StageHistory {
		note := ""
		if h.Note != "" {
			note = " — " + h.Note
		}
		fmt.Printf("  %s  %s%s\n", h.At.Local().Format("2006-01-02 15:04"), h.To, note)
	}
	return nil
}

func caseCreate(ctx context.Context, args []string) error {
	fs := newFlags("case create")
	title := fs.String("title", "", "case title")
	typ := fs.String("type", "", "case type, e.g. landlord-tenant, family, workplace")
	sides := fs.String("sides", "", "comma-separated side labels, at least two")
	referral := fs.String("referral", "", "referral source, e.g. court, self, agency")
	reference := fs.String("reference", "", "the program's docket or file number, e.g. 2026-CV-0142 (unique; records staff see it)")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *title == "" || *typ == "" || *sides == "" {
		return usagef("--title, --type and --sides are required")
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	var labels []string
	for _, s := range strings.Split(*sides, ",") {
		labels = append(labels, strings.TrimSpace(s))
	}
	k, err := c.CreateCaseWith(ctx, api.CreateCaseRequest{Title: *title, Type: *typ, ReferralSource: *referral, Sides: labels, Reference: *reference})
	if err != nil {
		return err
	}
	return showCase(k, *asJSON)
}

func caseList(ctx context.Context, args []string) error {
	fs := newFlags("case list")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	list, err := c.Cases(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(list)
	}
	if len(list) == 0 {
		fmt.Println("No cases.")
		return nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tSTAGE\tYOU ARE\tOPENED\tREFERENCE\tTITLE")
	for _, l := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", l.ID, l.Stage, l.Relation, l.Created.Local().Format("2006-01-02"), cmp.Or(l.Reference, "-"), l.Title)
	}
	return tw.Flush()
}

func caseShow(ctx context.Context, args []string) error {
	fs := newFlags("case show")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 1, "a case id"); err != nil {
		return err
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	k, err := c.Case(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	return showCase(k, *asJSON)
}

// caseActionVerb runs one of the small case-changing verbs: parse, build the
// body from the positional arguments, post, show the updated case.
func caseActionVerb(ctx context.Context, name string, args []string, nargs int, what string,
	extra func(fs flagAdder) func(pos []string) (action string, body any, err error)) error {
	fs := newFlags(name)
	asJSON := clientFlags(fs)
	build := extra(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, nargs, what); err != nil {
		return err
	}
	action, body, err := build(fs.Args())
	if err != nil {
		return err
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	k, err := c.CaseAction(ctx, fs.Arg(0), action, body)
	if err != nil {
		return err
	}
	if k.Title == "" && len(k.Mediators) == 0 && !*asJSON {
		// The server answered with the case's summary: the change was
		// made, but this account no longer reads the case (a mediator who
		// just recused).
		fmt.Printf("Done: %s on case %s (stage: %s). You no longer read this case.\n", name, k.ID, k.Stage.Title())
		return nil
	}
	return showCase(k, *asJSON)
}

type flagAdder interface {
	String(name, value, usage string) *string
	Bool(name string, value bool, usage string) *bool
}

func caseStage(ctx context.Context, args []string) error {
	return caseActionVerb(ctx, "case stage", args, 2, "a case id and a stage", func(fs flagAdder) func([]string) (string, any, error) {
		note := fs.String("note", "", "why (required when going back to an earlier stage); seen by the case's mediators only — parties and counsel see the stage change, never the note")
		return func(pos []string) (string, any, error) {
			return "stage", map[string]string{"stage": pos[1], "note": *note}, nil
		}
	})
}

func caseObjective(ctx context.Context, args []string) error {
	return caseActionVerb(ctx, "case objective", args, 2, "a case id and the text", func(fs flagAdder) func([]string) (string, any, error) {
		crit := fs.Bool("criterion", false, "record a success criterion instead of an objective")
		return func(pos []string) (string, any, error) {
			kind := api.KindObjective
			if *crit {
				kind = api.KindCriterion
			}
			return "objectives", map[string]any{"kind": kind, "text": pos[1]}, nil
		}
	})
}

func caseDisclose(ctx context.Context, args []string) error {
	return caseActionVerb(ctx, "case disclose", args, 2, "a case id and the disclosure text", func(fs flagAdder) func([]string) (string, any, error) {
		return func(pos []string) (string, any, error) {
			return "disclosures", map[string]string{"text": pos[1]}, nil
		}
	})
}

func caseAck(ctx context.Context, args []string) error {
	fs := newFlags("case ack")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 2, "a case id and a disclosure id"); err != nil {
		return err
	}
	// Signed by this device when it has keys (verbs_consent.go); without
	// keys the acknowledgement is recorded unsigned, and says so.
	c, err := apiClient()
	if err != nil {
		return err
	}
	_, x, err := e2eeClient()
	var k api.Case
	switch {
	case errors.Is(err, client.ErrNoDevice):
		if k, err = c.CaseAction(ctx, fs.Arg(0), "disclosures/"+fs.Arg(1)+"/ack", nil); err == nil && !*asJSON {
			fmt.Println("Acknowledged, unsigned: this device has no keys (`parley keys init` makes them, and later acknowledgements are signed).")
		}
	case err != nil:
		return err
	default:
		k, err = x.Acknowledge(ctx, fs.Arg(0), fs.Arg(1))
	}
	if err != nil {
		return err
	}
	return showCase(k, *asJSON)
}

func caseRecuse(ctx context.Context, args []string) error {
	return caseActionVerb(ctx, "case recuse", args, 1, "a case id", func(fs flagAdder) func([]string) (string, any, error) {
		reason := fs.String("reason", "", "why (recorded in the case; the audit log keeps only a keyed hash)")
		med := fs.String("mediator", "", "mediator account to recuse (default: yourself)")
		return func(pos []string) (string, any, error) {
			if *reason == "" {
				return "", nil, usagef("--reason is required")
			}
			return "recusals", map[string]string{"mediatorId": *med, "reason": *reason}, nil
		}
	})
}

func caseAddMediator(ctx context.Context, args []string) error {
	if err := caseActionVerb(ctx, "case add-mediator", args, 2, "a case id and a mediator account id", func(fs flagAdder) func([]string) (string, any, error) {
		return func(pos []string) (string, any, error) {
			return "mediators", map[string]string{"accountId": pos[1]}, nil
		}
	}); err != nil {
		return err
	}
	// The record now lists them; the encrypted rooms and documents wait
	// for a mediator's device to admit them (chat admit).
	var pos []string
	for _, a := range args {
		if a == "--json" || a == "-json" {
			return nil
		}
		if !strings.HasPrefix(a, "-") {
			pos = append(pos, a)
		}
	}
	if len(pos) == 2 {
		fmt.Printf("They read no encrypted room or document until a mediator of the case admits them: parley chat admit %s %s --safety-number N, with N the number `parley chat admit %s` shows, checked with them by phone\n", pos[0], pos[1], pos[0])
	}
	return nil
}

func caseInvite(ctx context.Context, args []string) error {
	fs := newFlags("case invite")
	role := fs.String("role", "", "party, counsel or observer")
	side := fs.String("side", "", "side id (A, B, …) for a party or counsel")
	name := fs.String("name", "", "the invitee's name")
	email := fs.String("email", "", "the invitee's email: where a server that sends mail sends the link (then not shown here), and later session mail")
	ttl := fs.Duration("ttl", 72*time.Hour, "how long the link stays valid (at most 720h)")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 1, "a case id"); err != nil {
		return err
	}
	if *role == "" || *name == "" {
		return usagef("--role and --name are required")
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	inv, err := c.Invite(ctx, fs.Arg(0), *role, *side, *name, *email, *ttl)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(inv)
	}
	// Named as everywhere else: "Jordan Blake (Tenant's lawyer)".
	who := api.PersonWords(*name, inv.Role, caseSideLabels(ctx, c, fs.Arg(0))[inv.Side])
	until := inv.Expires.Local().Format("2 Jan 2006 15:04")
	if inv.Link == "" {
		// Mailed: the link is in the email alone.
		fmt.Printf("Invitation for %s emailed to %s, valid until %s. The link is only in that email, so that only whoever reads it can join as %s; it works once.\n", who, *email, until, *name)
		fmt.Println("If it has not arrived within a few minutes, ask them to look in their spam folder; the case's mail list in the browser shows whether it was sent. To send it to another address, withdraw it (`parley case invite withdraw`) and invite them again.")
		return nil
	}
	fmt.Printf("Invitation for %s, valid until %s. Send it to them privately (not in a group message); it works once:\n%s\n", who, until, inv.Link)
	if inv.MailWarning != "" {
		fmt.Println(inv.MailWarning)
	}
	return nil
}

// madeHandle is how the CLI tells two invitations of one name apart:
// when each was made, to the second, in this computer's time
// (`case invite list` shows it; `case invite withdraw --made` takes it).
func madeHandle(p api.PendingInvite) string { return p.Created.Local().Format("15:04:05") }

// madeMatches reports whether --made's value names when p was made: the
// time of day as `case invite list` shows it (HH:MM:SS), or to the minute
// (HH:MM), or with its day ("6 Dec 2026 11:40:12").
func madeMatches(p api.PendingInvite, made string) bool {
	made = strings.Join(strings.Fields(made), " ")
	at := p.Created.Local()
	for _, layout := range []string{"15:04:05", "15:04", "2 Jan 2006 15:04:05", "2 Jan 2006 15:04"} {
		if strings.EqualFold(at.Format(layout), made) {
			return true
		}
	}
	return false
}

// describeInvite is one unused invitation on one line: who, as what, when
// made (the handle --made takes), until when, and to which address
// (masked).
func describeInvite(p api.PendingInvite) string {
	as := string(p.Role)
	if p.Side != "" {
		as += ", side " + p.Side
	}
	mailed := "not emailed"
	if p.EmailHint != "" {
		mailed = "emailed to " + p.EmailHint
	} else if p.Emailed {
		mailed = "emailed"
	}
	return fmt.Sprintf("%s (%s) · made %s %s · until %s · %s", p.Name, as, p.Created.Local().Format("2 Jan 2006"), madeHandle(p),
		p.Expires.Local().Format("2 Jan 2006 15:04"), mailed)
}

// caseInviteList lists the case's invitations not yet used, oldest first.
func caseInviteList(ctx context.Context, args []string) error {
	fs := newFlags("case invite list")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 1, "a case id"); err != nil {
		return err
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	pending, err := c.PendingInvites(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(pending)
	}
	if len(pending) == 0 {
		fmt.Println("No invitation of this case waits unused.")
		return nil
	}
	for _, p := range pending {
		fmt.Println(describeInvite(p))
	}
	return nil
}

// caseInviteWithdraw withdraws an invitation not yet used, found among the
// case's pending ones by the invitee's name (and side, when two sides
// have one of that name, and when it was made, --made, when one side has
// two of that name): its link stops working at once.
func caseInviteWithdraw(ctx context.Context, args []string) error {
	fs := newFlags("case invite withdraw")
	name := fs.String("name", "", "the invitee's name, as invited")
	side := fs.String("side", "", "their side (A, B, …), if invitations for that name wait on more than one")
	made := fs.String("made", "", "when it was made, as `case invite list` shows it (HH:MM:SS), if two for that name wait")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 1, "a case id"); err != nil {
		return err
	}
	if strings.TrimSpace(*name) == "" {
		return usagef("--name is required")
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	pending, err := c.PendingInvites(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	var match []api.PendingInvite
	for _, p := range pending {
		if strings.EqualFold(strings.TrimSpace(p.Name), strings.TrimSpace(*name)) && (*side == "" || p.Side == *side) && (*made == "" || madeMatches(p, *made)) {
			match = append(match, p)
		}
	}
	switch {
	case len(match) == 0 && *made != "":
		return fmt.Errorf("no unused invitation for %q made at %s waits in this case (see `parley case invite list %s`)", *name, *made, fs.Arg(0))
	case len(match) == 0:
		return fmt.Errorf("no unused invitation for %q waits in this case (see the desk's \"Invited, not joined yet\")", *name)
	case len(match) > 1 && *side == "" && *made == "" && !oneSide(match):
		return usagef("%d unused invitations for %q wait in this case; say which with --side", len(match), *name)
	case len(match) > 1:
		var which []string
		for _, p := range match {
			which = append(which, madeHandle(p)+maskedOr(p))
		}
		if !distinctHandles(match) {
			return fmt.Errorf("%d unused invitations for %q were made at %s; withdraw the one you mean from the desk", len(match), *name, strings.Join(which, " and "))
		}
		return fmt.Errorf("%d unused invitations for %q wait in this case, made at %s; say which with --made (e.g. --made %s)", len(match), *name, strings.Join(which, ", "), madeHandle(match[0]))
	}
	out, err := c.WithdrawInvite(ctx, fs.Arg(0), match[0].ID)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(out)
	}
	fmt.Printf("Withdrawn: the link sent to %s no longer works. You can invite them again.\n", match[0].Name)
	if out.MailWarning != "" {
		fmt.Println(out.MailWarning)
	}
	return nil
}

// oneSide reports whether the invitations are all for one side.
func oneSide(ps []api.PendingInvite) bool {
	for _, p := range ps {
		if p.Side != ps[0].Side {
			return false
		}
	}
	return true
}

// distinctHandles reports whether no two of the invitations were made in
// the same second (so --made can pick each).
func distinctHandles(ps []api.PendingInvite) bool {
	seen := map[string]bool{}
	for _, p := range ps {
		if seen[madeHandle(p)] {
			return false
		}
		seen[madeHandle(p)] = true
	}
	return true
}

// maskedOr is " (to l***@example.org)" for an invitation mailed to an address, else "".
func maskedOr(p api.PendingInvite) string {
	if p.EmailHint == "" {
		return ""
	}
	return " (to " + p.EmailHint + ")"
}
