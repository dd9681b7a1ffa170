package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/retention"
)

func init() {
	register("hold place", "hold place --case C [--doc D] --reason TEXT --authority TEXT [--json]", holdPlace)
	register("hold release", "hold release <hold> --case C --reason TEXT [--json]", holdRelease)
	register("hold ls", "hold ls [--case C] [--all] [--json]", holdList)
	register("retention schedule show", "retention schedule show [--json]", scheduleShow)
	register("retention schedule set", "retention schedule set <class> --trigger case-closed|superseded|created --period 30d|6y [--json]", scheduleSet)
	register("retention plan", "retention plan [--as-of YYYY-MM-DD] [--summary] [--json]", retentionPlan)
	register("retention approve", "retention approve <plan> [--actions DIGEST] [--json]", retentionApprove)
	register("retention discard", "retention discard <plan> [--json]", retentionDiscard)
	register("retention due", "retention due [--days 30|90] [--json]", retentionDue)
	register("retention apply", "retention apply <plan> [--json]", retentionApply)
	register("retention certificate", "retention certificate <plan> [--key FILE] [-o FILE] [--json]", retentionCertificate)
}

func holdPlace(ctx context.Context, args []string) error {
	fs := newFlags("hold place")
	caseID := fs.String("case", "", "case id or reference (docket or file number)")
	doc := fs.String("doc", "", "hold only this document (default: the whole case, its message history included)")
	reason := fs.String("reason", "", "why (kept sealed, shown to records staff; never in the audit log)")
	authority := fs.String("authority", "", "the court order, complaint or rule the hold rests on")
	asJSON := clientFlags(fs)
	c, err := docClient(fs, args, caseID, 0, "no positional arguments")
	if err != nil {
		return err
	}
	if *reason == "" || *authority == "" {
		return usagef("--reason and --authority are required")
	}
	if *caseID, err = caseByReference(ctx, c, *caseID); err != nil {
		return err
	}
	h, err := c.PlaceHold(ctx, api.NewHold{Case: *caseID, Doc: *doc, Reason: *reason, Authority: *authority})
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(h)
	}
	fmt.Printf("Placed hold %s on %s %s: nothing it covers can be disposed of, by Parley or in the bucket.\n", h.ID, h.Scope(), holdTarget(h))
	return nil
}

func holdTarget(h api.Hold) string {
	if h.Doc != "" {
		return h.Doc + " of " + h.Case
	}
	return h.Case
}

func holdRelease(ctx context.Context, args []string) error {
	fs := newFlags("hold release")
	caseID := fs.String("case", "", "case id or reference (docket or file number)")
	reason := fs.String("reason", "", "why the hold is released")
	asJSON := clientFlags(fs)
	c, err := docClient(fs, args, caseID, 1, "a hold id")
	if err != nil {
		return err
	}
	if *reason == "" {
		return usagef("--reason is required")
	}
	if *caseID, err = caseByReference(ctx, c, *caseID); err != nil {
		return err
	}
	h, err := c.ReleaseHold(ctx, *caseID, fs.Arg(0), *reason)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(h)
	}
	fmt.Printf("Released hold %s on %s %s.\n", h.ID, h.Scope(), holdTarget(h))
	return nil
}

func holdList(ctx context.Context, args []string) error {
	fs := newFlags("hold ls")
	caseID := fs.String("case", "", "only this case")
	all := fs.Bool("all", false, "include released holds")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 0, "no positional arguments"); err != nil {
		return err
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	if *caseID != "" {
		if *caseID, err = caseByReference(ctx, c, *caseID); err != nil {
			return err
		}
	}
	hs, err := c.Holds(ctx, *caseID, *all)
	if err != nil {
		return err
	}
	refs := map[string]string{}
	if list, err := c.Cases(ctx); err == nil {
		for _, l := range list {
			refs[l.ID] = l.Reference
		}
	}
	if *asJSON {
		return printJSON(hs)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "HOLD\tCASE\tREFERENCE\tDOCUMENT\tPLACED\tBY\tSTATE\tAUTHORITY\tREASON")
	for _, h := range hs {
		state := "active"
		if !h.Active() {
			state = "released " + h.Released.Format(time.DateOnly)
		}
		doc := h.Doc
		if doc == "" {
			doc = "(whole case)"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.ID, h.Case, cmp.Or(refs[h.Case], "-"), doc, h.Placed.Format(time.DateOnly), h.PlacedBy, state, h.Authority, h.Reason)
	}
	return w.Flush()
}

func scheduleShow(ctx context.Context, args []string) error {
	fs := newFlags("retention schedule show")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 0, "no positional arguments"); err != nil {
		return err
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	s, err := c.Schedule(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(s)
	}
	printSchedule(s)
	return nil
}

func printSchedule(s api.StoredSchedule) {
	if s.Version == 0 {
		fmt.Println("Retention schedule version 0 (the default; nobody has changed it)")
	} else {
		fmt.Printf("Retention schedule version %d, set by %s on %s\n", s.Version, s.By, s.At.Format(time.DateOnly))
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "CLASS\tKEPT\tAFTER")
	for _, r := range s.Rules {
		fmt.Fprintf(w, "%s\t%s\t%s\n", r.Class, r.Period(), r.Trigger)
	}
	w.Flush()
}

func scheduleSet(ctx context.Context, args []string) error {
	fs := newFlags("retention schedule set")
	trigger := fs.String("trigger", "case-closed", "what starts the clock: case-closed, superseded or created")
	period := fs.String("period", "", "how long records are kept after it: days or years, like 30d or 6y")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 1, "a record class"); err != nil {
		return err
	}
	if *period == "" {
		return usagef("--period is required")
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	s, err := c.SetScheduleRule(ctx, fs.Arg(0), *trigger, *period)
	if err != nil {
		return err
	}
	for _, w := range s.Warnings {
		fmt.Fprintf(os.Stderr, "Warning: %s.\n", w)
	}
	if *asJSON {
		return printJSON(s)
	}
	if s.Pending != nil {
		printPendingChange(*s.Pending)
		return nil
	}
	printSchedule(s.StoredSchedule)
	return nil
}

// caseByReference turns a case's reference (its docket or file number,
// "2026-CV-0142", any letter case) into its id; an id is returned as is.
func caseByReference(ctx context.Context, c *client.Client, s string) (string, error) {
	if strings.HasPrefix(s, "c_") {
		return s, nil
	}
	list, err := c.Cases(ctx)
	if err != nil {
		return "", err
	}
	for _, l := range list {
		if l.Reference != "" && strings.EqualFold(l.Reference, strings.TrimSpace(s)) {
			return l.ID, nil
		}
	}
	return "", fmt.Errorf("no case you may see has the reference %q (give its reference or its id)", s)
}

func retentionPlan(ctx context.Context, args []string) error {
	fs := newFlags("retention plan")
	asOf := fs.String("as-of", "", "plan as of this date (YYYY-MM-DD or RFC 3339; default now; a future date is refused, not made as of today)")
	summary := fs.Bool("summary", false, "print the totals only, not every record")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 0, "no positional arguments"); err != nil {
		return err
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	p, err := c.MakePlan(ctx, *asOf)
	if err != nil {
		return err
	}
	var items []api.Item
	if !*summary || *asJSON {
		for n := range p.Pages {
			page, err := c.PlanRecords(ctx, p.ID, n)
			if err != nil {
				return err
			}
			items = append(items, page...)
		}
	}
	if *asJSON {
		return printJSON(map[string]any{"plan": p, "records": items})
	}
	fmt.Printf("Plan %s as of %s under schedule version %d: %d records due (%s) in %d cases; %d held and kept.\n",
		p.ID, p.AsOf.Format(time.RFC3339), p.Schedule.Version, p.Records, humanBytes(p.Bytes), p.Cases, p.Held)
	printResidue(p.Residue)
	if len(items) > 0 {
		w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "CASE\tRECORD\tCLASS\tTRIGGER\tON\tSIZE\tEXCLUDED")
		for _, it := range items {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", it.Case, recordName(it), it.Class, it.Trigger,
				it.TriggerAt.Format(time.DateOnly), humanBytes(it.Size), strings.Join(it.Held, ", "))
		}
		w.Flush()
	}
	printPaused(items)
	fmt.Printf("Next: someone independent of you (not an account that made yours, nor one made by you or by whoever made yours) approves it with `parley retention approve %s`.\n", p.ID)
	return nil
}

func recordName(it api.Item) string {
	if it.Doc == "" {
		return "(message history)"
	}
	return fmt.Sprintf("%s v%d", it.Doc, it.Version)
}

// retentionApprove approves a plan as its actions were shown: with
// --actions, the digest `retention actions` printed (refused if they have
// changed since); without, it lists the actions first (on stderr with
// --json) and approves those.
func retentionApprove(ctx context.Context, args []string) error {
	fs := newFlags("retention approve")
	seen := fs.String("actions", "", "the actions digest `parley retention actions PLAN` showed you: approve only if the choices are still those (without it, they are listed here and approved as listed)")
	asJSON := clientFlags(fs)
	c, err := planClient(fs, args)
	if err != nil {
		return err
	}
	digest := strings.TrimSpace(*seen)
	if digest == "" {
		pa, err := c.PlanActions(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		w := os.Stdout
		if *asJSON {
			w = os.Stderr
		}
		fmt.Fprintln(w, "Approving the plan with these choices:")
		printActions(w, pa)
		digest = pa.ActionsDigest
	}
	p, err := c.ApprovePlan(ctx, fs.Arg(0), digest)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(p)
	}
	fmt.Printf("Approved plan %s (%d records, planned by %s). Apply it with `parley retention apply %s`.\n", p.ID, p.Records, p.Planner, p.ID)
	return nil
}

// retentionDue prints what falls due in the next days, by case reference
// and class, with holds.
func retentionDue(ctx context.Context, args []string) error {
	fs := newFlags("retention due")
	days := fs.Int("days", 30, "how many days ahead to look (1 to 366; 30 and 90 are usual)")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	r, err := c.Due(ctx, *days)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(r)
	}
	if len(r.Items) == 0 {
		fmt.Printf("Nothing falls due by %s (the next %d days).\n", r.Until.Format(time.DateOnly), *days)
		return nil
	}
	type key struct{ ref, class string }
	type group struct {
		n, held int
		first   time.Time
		size    int64
		holds   []string
	}
	groups := map[key]*group{}
	var order []key
	for _, it := range r.Items {
		k := key{cmp.Or(it.Reference, it.Case+" (no reference)"), it.Class}
		g := groups[k]
		if g == nil {
			g = &group{first: it.DueAt}
			groups[k] = g
			order = append(order, k)
		}
		g.n++
		g.size += it.Size
		if len(it.Held) > 0 {
			g.held++
			for _, h := range it.Held {
				if !slices.Contains(g.holds, h) {
					g.holds = append(g.holds, h)
				}
			}
		}
	}
	fmt.Printf("Falling due by %s (the next %d days): %d records.\n", r.Until.Format(time.DateOnly), *days, len(r.Items))
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tCLASS\tRECORDS\tFIRST DUE\tSIZE\tHELD")
	for _, k := range order {
		g := groups[k]
		due := g.first.Format(time.DateOnly)
		if g.first.Before(r.Now) {
			due += " (due now)"
		}
		held := "-"
		if g.held > 0 {
			held = fmt.Sprintf("%d kept: %s", g.held, strings.Join(g.holds, ", "))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", k.ref, k.class, g.n, due, humanBytes(g.size), held)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	printPaused(r.Items)
	return nil
}

// printPaused names the cases whose disposal an earlier plan paused at a
// storage hold: a plan resumes them.
func printPaused(items []api.Item) {
	for _, it := range items {
		if it.Paused != nil {
			fmt.Printf("Case %s: its disposal stopped on %s at a storage (legal) hold and is paused; what remained is kept. A plan carried out once the hold is released finishes it.\n",
				cmp.Or(it.Reference, it.Case), it.Paused.Format(time.DateOnly))
		}
	}
}

func retentionDiscard(ctx context.Context, args []string) error {
	fs := newFlags("retention discard")
	asJSON := clientFlags(fs)
	c, err := planClient(fs, args)
	if err != nil {
		return err
	}
	p, err := c.DiscardPlan(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(p)
	}
	fmt.Printf("Discarded plan %s: nothing was destroyed, and it is no longer listed (the audit log keeps the discard).\n", p.ID)
	return nil
}

// planClient parses a plan verb's flags, checks its one argument (the
// plan) and returns the API client of the saved session.
func planClient(fs *flag.FlagSet, args []string) (*client.Client, error) {
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if err := needArgs(fs, 1, "a plan id"); err != nil {
		return nil, err
	}
	return apiClient()
}

// retentionApply asks the server for one step after another — a page of
// records, the case keys, the certificate — showing progress and each
// record's outcome. It stops at the first error; running it again
// resumes where the plan stands.
func retentionApply(ctx context.Context, args []string) error {
	fs := newFlags("retention apply")
	asJSON := clientFlags(fs)
	c, err := planClient(fs, args)
	if err != nil {
		return err
	}
	p, err := c.Plan(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	bar := progressbar.NewOptions(p.Pages+2,
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetVisibility(stderrIsTerminal()),
		progressbar.OptionSetDescription(fmt.Sprintf("disposing of %d records", p.Records)),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(os.Stderr) }),
	)
	defer bar.Exit()
	var outcomes []map[string]any
	counts := map[string]int{}
	for range p.Pages + 3 { // every step makes progress; a done plan answers at once
		pr, err := c.ApplyStep(ctx, p.ID)
		if err != nil {
			return err
		}
		for i, it := range pr.Items {
			o := pr.Outcomes[i]
			counts[o.Result]++
			if *asJSON {
				outcomes = append(outcomes, map[string]any{"record": it, "outcome": o})
				continue
			}
			line := fmt.Sprintf("%-9s %s %s %s %s", o.Result, it.Case, recordName(it), it.Class, humanBytes(it.Size))
			if len(o.Held) > 0 {
				line += " (" + strings.Join(o.Held, ", ") + ")"
			}
			if o.Missing != "" {
				line += " (" + o.Missing + ")"
			}
			bar.Clear()
			fmt.Println(line)
		}
		bar.Set(stepsDone(pr))
		if pr.Done {
			bar.Finish()
			if *asJSON {
				return printJSON(map[string]any{"plan": pr.Plan, "outcomes": outcomes})
			}
			missing := ""
			if n := counts[retention.OutcomeMissing]; n > 0 {
				missing = fmt.Sprintf(", %d case record(s) missing and not destroyed by Parley", n)
			}
			fmt.Printf("Plan %s done: %d destroyed, %d held and kept in this run%s. Certificate: `parley retention certificate %s`.\n",
				p.ID, counts[retention.OutcomeDestroyed], counts[retention.OutcomeHeld], missing, p.ID)
			return nil
		}
	}
	return fmt.Errorf("plan %s: the server did not finish applying it in %d steps; run the command again", p.ID, p.Pages+3)
}

// stepsDone counts the apply steps behind pr: one per page, one for the
// case keys, one for the certificate.
func stepsDone(pr api.Progress) int {
	n := pr.PagesDone
	if pr.Plan.CaseKeysDone {
		n++
	}
	if pr.Done {
		n++
	}
	return n
}

// retentionCertificate prints a plan's certificate of destruction and
// checks its signature, against --key (a verifier key saved earlier, the
// stronger check) or the server's published key.
func retentionCertificate(ctx context.Context, args []string) error {
	fs := newFlags("retention certificate")
	keyFile := fs.String("key", "", "file holding the server's verifier key (`parley audit key`); default: ask the server")
	out := fs.String("o", "", "also save the signed certificate to this file")
	asJSON := clientFlags(fs)
	c, err := planClient(fs, args)
	if err != nil {
		return err
	}
	signed, err := c.Certificate(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	var vkey string
	if *keyFile != "" {
		b, err := readInput(*keyFile, maxKeyFile, "the key")
		if err != nil {
			return err
		}
		vkey = strings.TrimSpace(string(b))
	} else if vkey, err = c.AuditKey(ctx); err != nil {
		return err
	}
	cert, hash, err := retention.VerifyCertificate(signed, vkey)
	if err != nil {
		return err
	}
	if *out != "" {
		if err := writeOutput(*out, signed); err != nil {
			return err
		}
	}
	if *asJSON {
		return printJSON(map[string]any{"certificate": cert, "sha256": hash, "verified": true})
	}
	os.Stdout.Write(signed)
	fmt.Printf("\nSignature verified with %s. %s (the audit log's retention.certificate entry carries it).\n",
		strings.SplitN(vkey, "+", 2)[0], hash)
	return nil
}
