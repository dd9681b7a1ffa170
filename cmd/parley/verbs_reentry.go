package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/parley-mediation/parley/api"
)

func init() {
	register("case reentry", "case reentry <case> <participant> [--ttl 72h] [--json]", caseReentry)
	register("case remove", "case remove <case> <participant> --yes [--json]", caseRemove)
}

// findParticipant resolves a participant by account id or by name (any
// case, when only one participant has it).
func findParticipant(c api.Case, who string) (api.Participant, error) {
	var found []api.Participant
	for _, p := range c.Participants {
		if p.AccountID == who {
			return p, nil
		}
		if strings.EqualFold(p.Name, strings.TrimSpace(who)) {
			found = append(found, p)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return api.Participant{}, usagef("%q is not a participant of this case (see `parley case show %s`)", who, c.ID)
	}
	return api.Participant{}, usagef("several participants are named %q: give the account id (see `parley case show %s --json`)", who, c.ID)
}

func caseReentry(ctx context.Context, args []string) error {
	fs := newFlags("case reentry")
	ttl := fs.Duration("ttl", 72*time.Hour, "how long the link stays valid (at most 720h)")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 2, "a case id and a participant (name or account id)"); err != nil {
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
	p, err := findParticipant(k, fs.Arg(1))
	if err != nil {
		return err
	}
	re, err := c.Reentry(ctx, k.ID, p.AccountID, *ttl)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(re)
	}
	mailed := ""
	if re.Mailed {
		mailed = " (also mailed to them)"
	}
	fmt.Printf("Re-entry link for %s, valid until %s%s — it signs them in as their own account, works once; send it privately:\n%s\n",
		re.Name, re.Expires.Local().Format("2 Jan 2006 15:04"), mailed, re.Link)
	if re.MailWarning != "" {
		fmt.Println(re.MailWarning)
	}
	return nil
}

func caseRemove(ctx context.Context, args []string) error {
	fs := newFlags("case remove")
	yes := fs.Bool("yes", false, "confirm: they lose access at once and their sign-in sessions end")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 2, "a case id and a participant (name or account id)"); err != nil {
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
	p, err := findParticipant(k, fs.Arg(1))
	if err != nil {
		return err
	}
	if !*yes {
		return usagef("removing %s ends their access to this case at once and signs them out everywhere; add --yes to do it", p.Name)
	}
	out, err := c.RemoveParticipant(ctx, k.ID, p.AccountID)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(out)
	}
	fmt.Printf("Removed %s from %s: they can no longer read or post in it, and new room keys leave them out.\n", p.Name, out.Title)
	return nil
}
