package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
)

const (
	demoMediatorEmail = "mediator@demo.parley.test"
	demoMarkerKey     = "demo/case"
)

// demoMarker remembers the demo between starts. It keeps the demo
// mediator's password (in the sealed records store, like every record), so
// that a restart does not change it: a demo convenience no real account
// has.
type demoMarker struct {
	CaseID   string `json:"caseId"`
	Password string `json:"password,omitempty"`
}

// seedDemo makes (once) a demo mediator and a two-sided case and prints how
// to sign in. Restarts keep them: the same password, and for each demo
// person either a fresh invite link (not joined yet; a link printed before
// also still works, and the first one used wins, since a second person of
// the same name and side cannot join) or, once they joined, how to bring
// them back to their own account (a re-entry link), never a new invite.
func seedDemo(ctx context.Context, node *server.Node, out io.Writer) error {
	var marker demoMarker
	_, err := node.Meta.Get(ctx, demoMarkerKey, &marker)
	if err != nil && !errors.Is(err, metastore.ErrNotFound) {
		return err
	}
	fresh := errors.Is(err, metastore.ErrNotFound)
	password := marker.Password
	if password == "" {
		password = ids.Token()[:20]
	}
	med, err := node.Accounts.ByEmail(ctx, demoMediatorEmail)
	switch {
	case errors.Is(err, fault.ErrNotFound):
		med, err = node.Accounts.Create(ctx, account.NewAccount{Email: demoMediatorEmail, Name: "Morgan Reyes", Role: policy.RoleMediator, Password: password})
		if err != nil {
			return err
		}
	case err != nil:
		return err
	case marker.Password == "":
		// A demo from before the password was kept: set one, once, and say so.
		if err := node.Accounts.SetPassword(ctx, med.ID, password); err != nil {
			return err
		}
		fmt.Fprintln(out, "\nThe demo mediator's password was reset (once): from now on it stays the same across restarts.")
	}
	if fresh {
		c, err := node.Cases.Create(ctx, med, cases.NewCase{
			Title: "Demo: Rivera v. Chen — residential lease dispute", Type: "landlord-tenant",
			ReferralSource: "court", SideLabels: []string{"Tenant", "Landlord"}})
		if err != nil {
			return err
		}
		if _, err := node.Cases.Disclose(ctx, med, c.ID, "I mediated an unrelated matter for the landlord's property manager in 2023."); err != nil {
			return err
		}
		marker.CaseID, marker.Password = c.ID, password
		if _, err := node.Meta.Create(ctx, demoMarkerKey, marker); err != nil {
			return err
		}
	} else if marker.Password == "" {
		if _, err := metastore.Update(ctx, node.Meta, demoMarkerKey, func(m *demoMarker) error {
			m.Password = password
			return nil
		}); err != nil {
			return err
		}
	}
	c, err := node.Cases.Load(ctx, marker.CaseID)
	if err != nil {
		return err
	}
	state := "kept from an earlier start: same case, same password"
	if fresh {
		state = "new"
	}
	fmt.Fprintf(out, "\nDemo case %s (%s)\n", marker.CaseID, state)
	fmt.Fprintf(out, "  mediator sign-in: %s/app  email %s  password %s\n", node.Config.PublicURL, demoMediatorEmail, password)
	fmt.Fprintf(out, "    (CLI: echo %s | parley login --server %s --email %s --password-file -)\n", password, node.Config.PublicURL, demoMediatorEmail)
	people := []struct {
		role cases.ParticipantRole
		side string
		name string
	}{
		{cases.RoleParty, "A", "Alex Rivera"},
		{cases.RoleCounsel, "A", "Jordan Blake"},
		{cases.RoleParty, "B", "Sam Chen"},
		{cases.RoleCounsel, "B", "Casey Patel"},
	}
	label := map[string]string{}
	for _, sd := range c.Sides {
		label[sd.ID] = sd.Label
	}
	for _, p := range people {
		who := api.PersonWords(p.name, p.role, label[p.side])
		if name, ok := joined(c, p.role, p.side, p.name); ok {
			fmt.Fprintf(out, "  %-32s joined; to bring them back to their own account: parley case reentry %s %q\n",
				api.PersonWords(name, p.role, label[p.side]), marker.CaseID, name)
			continue
		}
		inv, err := node.Cases.CreateInvite(ctx, med, marker.CaseID, cases.NewInvite{Role: p.role, Side: p.side, Name: p.name})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  %-32s %s\n", who, node.API.InviteLink(inv.Token))
	}
	fmt.Fprintln(out)
	return nil
}

// joined reports whether the demo person is already in the case, and
// the name they joined under: a demo from before lawyers were named
// plainly has "Jordan Blake (counsel for Alex Rivera)".
func joined(c *cases.Case, role cases.ParticipantRole, side, name string) (string, bool) {
	for _, p := range c.Participants {
		if p.Role == role && p.Side == side && (p.Name == name || strings.HasPrefix(p.Name, name+" (")) {
			return p.Name, true
		}
	}
	return "", false
}
