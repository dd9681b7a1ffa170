package web_test

import (
	"context"
	"testing"
	"time"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/nodetest"
)

// TestBrowserMailedLinkRefusedShared drives web/client/test/shared-link.mjs
// in Chromium: a link back in for Ada Okafor (Tenant) and an invitation
// for her lawyer Jordan Blake, each made while its address was nobody
// else's in the case (so it may have been emailed), stop working once the
// Landlord side is invited at those addresses (cases.ErrLinkShared). Each
// person opens their link, on a computer and on a phone, and reads in
// plain words what happened and what to do (ask the mediator for a new
// link, given in person or by phone): no id, no raw error, no "Try
// again" and no link by email, which no shared address gets.
func TestBrowserMailedLinkRefusedShared(t *testing.T) {
	needBrowser(t)
	n := nodetest.Embedded(t)
	ctx := context.Background()
	_, _, medC, k := tenancyCase(t, n)
	tag := ids.New("x")[2:10]
	family, firm := "okafor-"+tag+"@family.test", "blake-"+tag+"@firm.test"
	inv, err := medC.Invite(ctx, k.ID, "party", "A", "Ada Okafor", family, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ada, err := client.New(n.URL, "").Join(ctx, inv.Link)
	if err != nil {
		t.Fatal(err)
	}
	back, err := medC.Reentry(ctx, k.ID, ada.Account.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	lawyer, err := medC.Invite(ctx, k.ID, "counsel", "A", "Jordan Blake", firm, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	browserScript{
		name: "shared-link.mjs",
		env:  []string{"PARLEY_REENTRY=" + back.Link, "PARLEY_INVITE=" + lawyer.Link, "PARLEY_CASE=" + k.ID, "PARLEY_ACCOUNT=" + ada.Account.ID},
		ask: map[string]func(string) (string, error){
			// The Landlord side is invited at both addresses (a family
			// mailbox, a firm's): those invitations are held back, given
			// by hand, and the links above stop working.
			"share": func(string) (string, error) {
				if _, err := medC.Invite(ctx, k.ID, "party", "B", "Lars Lindqvist", family, time.Hour); err != nil {
					return "", err
				}
				_, err := medC.Invite(ctx, k.ID, "counsel", "B", "Priya Shah", firm, time.Hour)
				return "", err
			},
		},
		shots: []string{"link-shared-refused.png", "link-shared-refused-phone.png"},
	}.run(t, n.URL)
}
