package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"text/tabwriter"

	"github.com/parley-mediation/parley/api"
)

// The program's proposals about a case's mediators: an administrator or
// records person proposes, a second, independent person approves.

func init() {
	register("case recusal propose", "case recusal propose <case> --mediator ACCOUNT --reason TEXT [--json]", caseRecusalPropose)
	register("case recusal approve", "case recusal approve <case> <proposal> [--json]", decideVerb("case recusal approve", "approve", "recusal"))
	register("case recusal decline", "case recusal decline <case> <proposal> [--json]", decideVerb("case recusal decline", "decline", "recusal"))
	register("case assign propose", "case assign propose <case> <mediator-account> [--reason TEXT] [--json]", caseAssignPropose)
	register("case assign approve", "case assign approve <case> <proposal> [--json]", decideVerb("case assign approve", "approve", "assignment"))
	register("case assign decline", "case assign decline <case> <proposal> [--json]", decideVerb("case assign decline", "decline", "assignment"))
	register("case proposals", "case proposals [<case>] [--json]", caseProposals)
}

func casePath(caseID string) string { return "/api/v1/cases/" + url.PathEscape(caseID) }

func caseRecusalPropose(ctx context.Context, args []string) error {
	fs := newFlags("case recusal propose")
	med := fs.String("mediator", "", "the mediator account to recuse")
	reason := fs.String("reason", "", "why; every participant of the case reads it if the recusal is approved")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 1, "a case id"); err != nil {
		return err
	}
	if *med == "" || *reason == "" {
		return usagef("--mediator and --reason are required")
	}
	return propose(ctx, fs.Arg(0), "recusal-proposals", api.RecusalProposalRequest{MediatorID: *med, Reason: *reason}, *asJSON)
}

func caseAssignPropose(ctx context.Context, args []string) error {
	fs := newFlags("case assign propose")
	reason := fs.String("reason", "", "why this mediator (optional; staff see it)")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 2, "a case id and a mediator account id"); err != nil {
		return err
	}
	return propose(ctx, fs.Arg(0), "assignment-proposals", api.AssignmentProposalRequest{AccountID: fs.Arg(1), Reason: *reason}, *asJSON)
}

func propose(ctx context.Context, caseID, route string, body any, asJSON bool) error {
	c, err := apiClient()
	if err != nil {
		return err
	}
	var p api.Proposal
	if err := c.Do(ctx, http.MethodPost, casePath(caseID)+"/"+route, body, &p); err != nil {
		return err
	}
	if asJSON {
		return printJSON(p)
	}
	fmt.Printf("Proposed: %s of %s on case %s (proposal %s).\n", p.Kind, p.Subject, p.CaseID, p.ID)
	fmt.Println("Nothing changes until a second person approves it: another administrator or records person,")
	fmt.Println("not one whose account you created or who created yours. Every participant is then told in the case.")
	return nil
}

func decideVerb(name, decision, kind string) func(ctx context.Context, args []string) error {
	return func(ctx context.Context, args []string) error {
		fs := newFlags(name)
		asJSON := clientFlags(fs)
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if err := needArgs(fs, 2, "a case id and a proposal id"); err != nil {
			return err
		}
		c, err := apiClient()
		if err != nil {
			return err
		}
		var p api.Proposal
		path := casePath(fs.Arg(0)) + "/proposals/" + url.PathEscape(fs.Arg(1)) + "/" + decision
		if err := c.Do(ctx, http.MethodPost, path, api.ProposalDecisionRequest{Kind: kind}, &p); err != nil {
			return err
		}
		if *asJSON {
			return printJSON(p)
		}
		switch {
		case p.Status == "approved" && p.Kind == "recusal":
			fmt.Printf("Approved: %s is recused from case %s. Every participant sees a notice in the case.\n", p.Subject, p.CaseID)
		case p.Status == "approved":
			fmt.Printf("Approved: %s is assigned to case %s and reads nothing until the notice period ends; every participant sees a notice now.\n", p.Subject, p.CaseID)
		default:
			fmt.Printf("Proposal %s is %s. Nothing changed in case %s.\n", p.ID, p.Status, p.CaseID)
		}
		return nil
	}
}

func caseProposals(ctx context.Context, args []string) error {
	fs := newFlags("case proposals")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	path := "/api/v1/proposals"
	if fs.NArg() > 0 {
		path = casePath(fs.Arg(0)) + "/proposals"
	}
	var list []api.Proposal
	if err := c.Do(ctx, http.MethodGet, path, nil, &list); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(list)
	}
	if len(list) == 0 {
		fmt.Println("No proposals.")
		return nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROPOSAL\tCASE\tKIND\tMEDIATOR\tSTATUS\tPROPOSED BY\tON\tREASON")
	for _, p := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, p.CaseID, p.Kind, p.Subject, p.Status, p.Proposer,
			p.Proposed.Local().Format("2006-01-02"), oneLine(p.Reason))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// A lapsed assignment says why, in the server's words.
	for _, p := range list {
		if p.Note != "" {
			fmt.Printf("\nProposal %s (%s) %s: %s\n", p.ID, p.Subject, p.Status, oneLine(p.Note))
		}
	}
	return nil
}
