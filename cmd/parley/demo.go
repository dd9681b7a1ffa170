package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/parley-mediation/parley/account"
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

type demoMarker struct {
	CaseID string `json:"caseId"`
}

// seedDemo makes (once) a demo mediator and a two-sided case, then on every
// run gives the mediator a fresh password and prints fresh invite links for
// a party and counsel on each side. Links already printed stay valid until
// they expire or are used.
func seedDemo(ctx context.Context, node *server.Node, out io.Writer) error {
	password := ids.Token()[:20]
	med, err := node.Accounts.ByEmail(ctx, demoMediatorEmail)
	switch {
	case errors.Is(err, fault.ErrNotFound):
		med, err = node.Accounts.Create(ctx, account.NewAccount{Email: demoMediatorEmail, Name: "Morgan Reyes", Role: policy.RoleMediator, Password: password})
		if err != nil {
			return err
		}
	case err != nil:
		return err
	default:
		if err := node.Accounts.SetPassword(ctx, med.ID, password); err != nil {
			return err
		}
	}
	var marker demoMarker
	if _, err := node.Meta.Get(ctx, demoMarkerKey, &marker); errors.Is(err, metastore.ErrNotFound) {
		c, err := node.Cases.Create(ctx, med, cases.NewCase{
			Title: "Demo: Rivera v. Chen — residential lease dispute", Type: "landlord-tenant",
			ReferralSource: "court", SideLabels: []string{"Tenant", "Landlord"}})
		if err != nil {
			return err
		}
		if _, err := node.Cases.Disclose(ctx, med, c.ID, "I mediated an unrelated matter for the landlord's property manager in 2023."); err != nil {
			return err
		}
		marker.CaseID = c.ID
		if _, err := node.Meta.Create(ctx, demoMarkerKey, marker); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nDemo case %s\n", marker.CaseID)
	fmt.Fprintf(out, "  mediator sign-in: %s/app  email %s  password %s\n", node.Config.PublicURL, demoMediatorEmail, password)
	fmt.Fprintf(out, "    (CLI: echo %s | parley login --server %s --email %s --password-file -)\n", password, node.Config.PublicURL, demoMediatorEmail)
	people := []struct {
		role cases.ParticipantRole
		side string
		name string
	}{
		{cases.RoleParty, "A", "Alex Rivera"},
		{cases.RoleCounsel, "A", "Jordan Blake (counsel for Alex Rivera)"},
		{cases.RoleParty, "B", "Sam Chen"},
		{cases.RoleCounsel, "B", "Casey Patel (counsel for Sam Chen)"},
	}
	for _, p := range people {
		inv, err := node.Cases.CreateInvite(ctx, med, marker.CaseID, cases.NewInvite{Role: p.role, Side: p.side, Name: p.name})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  %-8s side %s  %-40s %s\n", p.role, p.side, p.name, node.API.InviteLink(inv.Token))
	}
	fmt.Fprintln(out)
	return nil
}
