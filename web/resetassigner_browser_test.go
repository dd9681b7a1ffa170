package web_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserResetApproverAssigned drives
// web/client/test/reset-assigner.mjs: an administrator who approved the
// assignment of a mediator to a case tries to approve another
// administrator's request to reset that mediator's password. The server
// refuses (policy: assigner-cannot-approve-reset-of-assignee), and the
// People screen says why and who approves instead, not a generic failure
// (UX review 379 leftovers).
func TestBrowserResetApproverAssigned(t *testing.T) {
	needBrowser(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	ctx := context.Background()
	const inesEmail, omarEmail = "ines.assigner@browser.test", "omar.requester@browser.test"
	ines, err := n.Accounts.Create(ctx, account.NewAccount{Email: inesEmail, Name: "Ines Admin", Role: policy.RoleAdmin, Password: nodetest.Password})
	if err != nil {
		t.Fatal(err)
	}
	omar, err := n.Accounts.Create(ctx, account.NewAccount{Email: omarEmail, Name: "Omar Second", Role: policy.RoleAdmin, Password: nodetest.Password})
	if err != nil {
		t.Fatal(err)
	}
	maya, err := n.Accounts.Create(ctx, account.NewAccount{Email: "maya.mediator@browser.test", Name: "Maya Mediator", Role: policy.RoleMediator, Password: nodetest.Password})
	if err != nil {
		t.Fatal(err)
	}
	// Ines approved a program assignment of Maya to a case (as
	// cases.Service records it when the assignment takes effect).
	if err := n.Accounts.RecordAssigners(ctx, maya.ID, ines.ID); err != nil {
		t.Fatal(err)
	}
	oc := client.New(n.URL, "")
	if _, err := oc.Login(ctx, omarEmail, nodetest.Password); err != nil {
		t.Fatal(err)
	}
	if _, err := oc.ResetPassword(ctx, maya.ID); err != nil {
		t.Fatalf("Omar asking for a reset of Maya's password: %v", err)
	}
	browserScript{
		name:  "reset-assigner.mjs",
		env:   []string{"PARLEY_ASSIGNER_EMAIL=" + inesEmail, "PARLEY_MEDIATOR_EMAIL=maya.mediator@browser.test", "PARLEY_PASSWORD=" + nodetest.Password},
		shots: []string{"reset-assigner-refused.png", "reset-assigner-refused-phone.png"},
		ask: map[string]func(string) (string, error){
			"still-waiting": func(string) (string, error) {
				a, err := n.Accounts.Get(ctx, maya.ID)
				if err != nil {
					return "", err
				}
				if a.PendingReset == nil || a.PendingReset.RequestedBy != omar.ID {
					return "", fmt.Errorf("after the refusal Maya's reset request is %+v, not Omar's still waiting", a.PendingReset)
				}
				return "", nil
			},
		},
	}.run(t, n.URL)
}
