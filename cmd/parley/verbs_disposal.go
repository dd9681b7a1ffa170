package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
)

// Actions besides destroy, chosen per record of a plan before a second
// person approves it (package retention, actions.go and transfer.go).
func init() {
	register("retention review", "retention review <plan> --case C (--doc D [--version N] | --class K) --until YYYY-MM-DD --reason TEXT [--json]", retentionReview)
	register("retention keep", "retention keep <plan> --case C (--doc D [--version N] | --class K) --authority TEXT [--json]", retentionKeep)
	register("retention transfer", "retention transfer <plan> --case C --recipient age1… --to NAME [--json]", retentionTransfer)
	register("retention destroy", "retention destroy <plan> --case C [--doc D [--version N] | --class K] [--json]", retentionDestroy)
	register("retention actions", "retention actions <plan> [--json]", retentionActions)
	register("retention bundle", "retention bundle <plan> --case C -o FILE", retentionBundle)
}

// recordFlags are the flags naming one record of a plan.
type recordFlags struct {
	caseID, doc, class *string
	version            *int
}

func newRecordFlags(fs *flag.FlagSet) recordFlags {
	return recordFlags{caseID: fs.String("case", "", "case id or reference (docket or file number)"),
		doc: fs.String("doc", "", "a document of the case"), version: fs.Int("version", 1, "the document's version"),
		class: fs.String("class", "", "a record class of the case other than its documents (message-history, case-record, …)")}
}

func (r recordFlags) request(ctx context.Context, c *client.Client, kind string, needRecord bool) (api.ChooseAction, error) {
	if *r.caseID == "" {
		return api.ChooseAction{}, usagef("--case is required")
	}
	if needRecord && (*r.doc == "") == (*r.class == "") {
		return api.ChooseAction{}, usagef("name the record: --doc D [--version N] or --class K")
	}
	id, err := caseByReference(ctx, c, *r.caseID)
	if err != nil {
		return api.ChooseAction{}, err
	}
	req := api.ChooseAction{Case: id, Kind: kind, Doc: *r.doc, Class: *r.class}
	if *r.doc != "" {
		req.Version = *r.version
	}
	return req, nil
}

func chooseVerb(ctx context.Context, name string, args []string, setup func(*flag.FlagSet) func(*api.ChooseAction) error, kind string, needRecord bool, said func(api.ChooseAction) string) error {
	fs := newFlags(name)
	rf := newRecordFlags(fs)
	fill := setup(fs)
	asJSON := clientFlags(fs)
	c, err := planClient(fs, args)
	if err != nil {
		return err
	}
	req, err := rf.request(ctx, c, kind, needRecord)
	if err != nil {
		return err
	}
	if err := fill(&req); err != nil {
		return err
	}
	out, err := c.ChooseAction(ctx, fs.Arg(0), req)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(out)
	}
	fmt.Println(said(req) + " Someone independent of you and the planner (not an account that made yours or theirs, nor one made by either of you or by whoever made yours) approves the plan before anything happens.")
	return nil
}

func recordWords(req api.ChooseAction) string {
	switch {
	case req.Doc != "":
		return fmt.Sprintf("document %s version %d of case %s", req.Doc, req.Version, req.Case)
	case req.Class != "":
		return req.Class + " of case " + req.Case
	}
	return "case " + req.Case
}

func retentionReview(ctx context.Context, args []string) error {
	var until, reason *string
	return chooseVerb(ctx, "retention review", args, func(fs *flag.FlagSet) func(*api.ChooseAction) error {
		until = fs.String("until", "", "keep the record until this date (YYYY-MM-DD), then plan it again")
		reason = fs.String("reason", "", "why it is kept longer (on the plan; the certificate carries only its keyed hash)")
		return func(req *api.ChooseAction) error {
			t, err := time.Parse(time.DateOnly, *until)
			if err != nil {
				return usagef("--until: a date YYYY-MM-DD")
			}
			if *reason == "" {
				return usagef("--reason is required")
			}
			req.Until, req.Reason = &t, *reason
			return nil
		}
	}, api.ActionReview, true, func(req api.ChooseAction) string {
		return fmt.Sprintf("Chose review for %s: it is kept until %s, not destroyed.", recordWords(req), req.Until.Format(time.DateOnly))
	})
}

func retentionKeep(ctx context.Context, args []string) error {
	var authority *string
	return chooseVerb(ctx, "retention keep", args, func(fs *flag.FlagSet) func(*api.ChooseAction) error {
		authority = fs.String("authority", "", "the court order, statute or program rule that keeps it")
		return func(req *api.ChooseAction) error {
			if *authority == "" {
				return usagef("--authority is required")
			}
			req.Authority = *authority
			return nil
		}
	}, api.ActionKeep, true, func(req api.ChooseAction) string {
		return fmt.Sprintf("Chose to keep %s permanently, on %q.", recordWords(req), req.Authority)
	})
}

func retentionTransfer(ctx context.Context, args []string) error {
	var recipient, to *string
	return chooseVerb(ctx, "retention transfer", args, func(fs *flag.FlagSet) func(*api.ChooseAction) error {
		recipient = fs.String("recipient", "", "the recipient's age public key (age1…)")
		to = fs.String("to", "", "who receives it: the archive or court")
		return func(req *api.ChooseAction) error {
			if *recipient == "" || *to == "" {
				return usagef("--recipient and --to are required")
			}
			req.Recipient, req.RecipientName = *recipient, *to
			return nil
		}
	}, api.ActionTransfer, false, func(req api.ChooseAction) string {
		return fmt.Sprintf("Chose to transfer case %s to %s: its joint documents (never a caucus document or mediator notes), outcome and audit excerpt go in a bundle only they can open, then the case's planned records are destroyed.", req.Case, req.RecipientName)
	})
}

func retentionDestroy(ctx context.Context, args []string) error {
	return chooseVerb(ctx, "retention destroy", args, func(*flag.FlagSet) func(*api.ChooseAction) error {
		return func(*api.ChooseAction) error { return nil }
	}, api.ActionDestroy, false, func(req api.ChooseAction) string {
		return fmt.Sprintf("Dropped the choice for %s: it is destroyed as planned.", recordWords(req))
	})
}

func retentionActions(ctx context.Context, args []string) error {
	fs := newFlags("retention actions")
	asJSON := clientFlags(fs)
	c, err := planClient(fs, args)
	if err != nil {
		return err
	}
	pa, err := c.PlanActions(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(pa)
	}
	printActions(os.Stdout, pa)
	if pa.State == "planned" {
		fmt.Printf("To approve the plan with exactly these choices: parley retention approve %s --actions %s\n", pa.Plan, pa.ActionsDigest)
	}
	return nil
}

// printActions lists a plan's chosen actions and the bundles made.
func printActions(w io.Writer, pa api.PlanActions) {
	if len(pa.Actions) == 0 {
		fmt.Fprintf(w, "Plan %s (%s): every record is destroyed as planned; no other action chosen.\n", pa.Plan, pa.State)
	}
	keys := make([]string, 0, len(pa.Actions))
	for k := range pa.Actions {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		a := pa.Actions[k]
		switch a.Kind {
		case api.ActionReview:
			fmt.Fprintf(w, "%s\treview until %s: %s (chosen by %s)\n", k, a.Until.Format(time.DateOnly), a.Reason, a.By)
		case api.ActionKeep:
			fmt.Fprintf(w, "%s\tkeep permanently: %s (chosen by %s)\n", k, a.Authority, a.By)
		case api.ActionTransfer:
			fmt.Fprintf(w, "%s\ttransfer to %s (%s) (chosen by %s)\n", k, a.RecipientName, a.Recipient, a.By)
		}
	}
	for _, t := range pa.Transfers {
		fmt.Fprintf(w, "bundle of %s: %d documents, %d withheld, %d audit entries, %s\n", t.Case, len(t.Documents), t.Withheld, t.AuditEntries, t.SHA256)
	}
}

// retentionBundle saves a case's transfer bundle and checks it against
// the hash the plan (and its certificate) records.
func retentionBundle(ctx context.Context, args []string) error {
	fs := newFlags("retention bundle")
	caseID := fs.String("case", "", "case id or reference")
	out := fs.String("o", "", "file to save the bundle to")
	c, err := planClient(fs, args)
	if err != nil {
		return err
	}
	if *caseID == "" || *out == "" {
		return usagef("--case and -o are required")
	}
	id, err := caseByReference(ctx, c, *caseID)
	if err != nil {
		return err
	}
	pa, err := c.PlanActions(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	i := slices.IndexFunc(pa.Transfers, func(t api.Transfer) bool { return t.Case == id && t.SHA256 != "" })
	if i < 0 {
		return fmt.Errorf("plan %s has made no bundle of case %s (it is made when the plan is carried out)", pa.Plan, id)
	}
	rc, err := c.TransferBundle(ctx, pa.Plan, id)
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.OpenFile(*out, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), rc); err != nil {
		f.Close()
		os.Remove(*out)
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != pa.Transfers[i].SHA256 {
		os.Remove(*out)
		return fmt.Errorf("the bundle downloaded does not match the recorded hash %s (got %s); nothing was saved", pa.Transfers[i].SHA256, got)
	}
	fmt.Printf("Saved the bundle of case %s to %s (%s, as on the certificate). Only %s's age key opens it: `age -d -i KEY %s | tar x`.\n",
		id, *out, pa.Transfers[i].SHA256, pa.Transfers[i].RecipientName, *out)
	return nil
}
