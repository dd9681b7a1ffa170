package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
)

func init() {
	register("case terms show", "case terms show <case> [--json]", caseTermsShow)
	register("case terms set", "case terms set <case> --file PATH|- [--json]", caseTermsSet)
	register("case terms accept", "case terms accept <case> --yes [--json]", caseTermsAccept)
}

// personWords names a case's participant for people, as the server's
// refusals and the browser do (api.PersonWords): "Avery Tran (Tenant)",
// "Jordan Blake (Tenant's lawyer)", "Sam Lee (observer)" — the side's
// label (from k), never "counsel" or a side's id.
func personWords(k api.Case, name string, role api.ParticipantRole, side string) string {
	label := ""
	for _, s := range k.Sides {
		if s.ID == side {
			label = s.Label
		}
	}
	return labelledWords(name, role, label)
}

// labelledWords is personWords for a side already named by its label
// ("" for none), as an agreement's signers are.
func labelledWords(name string, role api.ParticipantRole, label string) string {
	return api.PersonWords(name, role, label)
}

// termsCase is the case whose terms v shows, for its sides' labels, when v
// names people (a mediator's view); nothing is fetched otherwise.
func termsCase(ctx context.Context, c *client.Client, id string, v api.TermsView) (api.Case, error) {
	if v.People == nil {
		return api.Case{}, nil
	}
	return c.Case(ctx, id)
}

// showTerms prints a case's terms for people: the text, the caller's
// acceptance, and (mediators) who has and has not accepted, named with
// their case k's side labels.
func showTerms(v api.TermsView, withText bool, k api.Case) {
	who := "the program's default"
	if v.Terms.By != "" {
		who = "set " + v.Terms.Updated.Local().Format("2 Jan 2006 15:04")
	}
	fmt.Printf("Terms, version %d (%s)\n", v.Terms.Version, who)
	if withText {
		for _, line := range strings.Split(v.Terms.Text, "\n") {
			fmt.Printf("  %s\n", line)
		}
	}
	switch {
	case v.Mine != nil:
		fmt.Printf("You accepted this version on %s (device %s).\n", v.Mine.Recorded.Local().Format("2 Jan 2006 15:04"), v.Mine.Device)
	case v.MustAcc:
		fmt.Println("You have not accepted this version yet: `parley case terms accept <case> --yes`.")
	}
	if v.People != nil {
		fmt.Println("Who has accepted this version:")
		if len(v.People) == 0 {
			fmt.Println("  nobody has joined yet")
		}
		for _, p := range v.People {
			state := "NOT YET"
			if p.Accepted != nil {
				state = "accepted " + p.Accepted.Recorded.Local().Format("2 Jan 2006 15:04")
			}
			fmt.Printf("  %s: %s\n", personWords(k, p.Name, p.Role, p.Side), state)
		}
	}
}

func caseTermsShow(ctx context.Context, args []string) error {
	fs := newFlags("case terms show")
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
	v, err := c.Terms(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(v)
	}
	k, err := termsCase(ctx, c, fs.Arg(0), v)
	if err != nil {
		return err
	}
	showTerms(v, true, k)
	return nil
}

func caseTermsSet(ctx context.Context, args []string) error {
	fs := newFlags("case terms set")
	file := fs.String("file", "", "a text file with the case's terms (- for standard input); the parties read them in full")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 1, "a case id"); err != nil {
		return err
	}
	if *file == "" {
		return usagef("--file is required (- for standard input)")
	}
	b, err := readInput(*file, maxTermsFile, "the terms")
	if err != nil {
		return err
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	v, err := c.SetTerms(ctx, fs.Arg(0), string(b))
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(v)
	}
	k, err := termsCase(ctx, c, fs.Arg(0), v)
	if err != nil {
		return err
	}
	showTerms(v, false, k)
	if len(v.Missing) > 0 {
		fmt.Printf("Everyone above marked NOT YET is asked to accept version %d.\n", v.Terms.Version)
	}
	return nil
}

func caseTermsAccept(ctx context.Context, args []string) error {
	fs := newFlags("case terms accept")
	yes := fs.Bool("yes", false, "I have read the terms and accept them (without it, the terms are printed and nothing is recorded)")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 1, "a case id"); err != nil {
		return err
	}
	c, x, err := e2eeClient()
	if errors.Is(err, client.ErrNoDevice) {
		return fmt.Errorf("your acceptance is signed with this device's key, and it has none yet: run `parley keys init` first")
	}
	if err != nil {
		return err
	}
	v, err := c.Terms(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	if !*yes {
		k, err := termsCase(ctx, c, fs.Arg(0), v)
		if err != nil {
			return err
		}
		showTerms(v, true, k)
		fmt.Println("Nothing recorded. Read the terms above; to accept them, run this again with --yes.")
		fmt.Println("Your acceptance is signed by this device and seen by the mediators and the program's records.")
		return nil
	}
	out, err := x.AcceptTerms(ctx, fs.Arg(0), v.Terms)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(out)
	}
	fmt.Printf("Accepted version %d of the terms, signed by device %s. The mediators and the program's records see your acceptance.\n", out.Terms.Version, x.Me.ID)
	return nil
}
