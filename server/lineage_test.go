package server_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
)

// One person holding administrator A, in a program with an independent
// administrator C who never acts, cannot launder C through a reset: A
// makes administrator B (and knows its password), B resets C's password
// in one step and signs in as C. Whoever resets an account holds it, and
// so does whoever holds the resetter: C is now A's, and "C" approving A's
// reset of a mediator is refused, so A never gets the mediator's
// password nor, through it, the case.
func TestResetLaunderingCannotMakeAnIndependentAdmin(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	p := seedCase(t, n, n.URL)
	secret := "side A caucus secret 7f3a"
	if _, err := p.partyA.UploadDocument(ctx, p.caseID, client.Upload{Name: "bottom-line.txt", Audience: "caucus:A",
		Class: "evidence", Body: strings.NewReader(secret), Size: int64(len(secret))}); err != nil {
		t.Fatal(err)
	}
	aAcct, admin := n.Staff(t, policy.RoleAdmin, "attacker-admin@example.org")
	cAcct, _ := n.Staff(t, policy.RoleAdmin, "honest-admin@example.org")
	bAcct, err := admin.CreateAccount(ctx, "puppet@example.org", "Puppet", "admin", nodetest.Password)
	if err != nil {
		t.Fatal(err)
	}
	b := client.New(n.URL, "")
	if _, err := b.Login(ctx, "puppet@example.org", nodetest.Password); err != nil {
		t.Fatal(err)
	}
	res, err := b.ResetPassword(ctx, cAcct.ID)
	if err != nil || res.TemporaryPassword == "" {
		t.Fatalf("B resets C: %+v %v", res, err)
	}
	// C's lineage names B and everyone who holds B.
	if !slices.Contains(res.Account.Lineage, bAcct.ID) || !slices.Contains(res.Account.Lineage, aAcct.ID) {
		t.Errorf("C's lineage after B's reset: %v (B %s, A %s)", res.Account.Lineage, bAcct.ID, aAcct.ID)
	}
	cc := client.New(n.URL, "")
	if _, err := cc.Login(ctx, "honest-admin@example.org", res.TemporaryPassword); err != nil {
		t.Fatal(err)
	}
	if _, err := cc.ChangePassword(ctx, res.TemporaryPassword, "attacker chose this one"); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ResetPassword(ctx, p.medID); err != nil {
		t.Fatal(err)
	}
	ap, err := cc.ApproveReset(ctx, p.medID)
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.Status != 403 {
		t.Fatalf("the laundered administrator approved A's reset of the mediator: %+v %v", ap, err)
	}
	// B, A's own account, is refused as well.
	if _, err := b.ApproveReset(ctx, p.medID); !errors.As(err, &apiErr) || apiErr.Status != 403 {
		t.Fatalf("A's own administrator approved A's reset: %v", err)
	}
	// An administrator independent of A still can.
	_, honest := n.Staff(t, policy.RoleAdmin, "second-honest-admin@example.org")
	if ap, err := honest.ApproveReset(ctx, p.medID); err != nil || ap.TemporaryPassword == "" {
		t.Fatalf("independent approval: %+v %v", ap, err)
	}
}
