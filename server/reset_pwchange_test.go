package server_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
)

// TestPasswordChangeDoesNotWithdrawAWaitingReset: a reset is asked for when
// someone else may know the account's password. That someone signs in
// with it (a sign-in withdraws nothing) and changes the password to one
// of their own choosing: the waiting request stays, a second,
// independent administrator's approval makes the temporary password, and
// the password they chose opens nothing any more (nor does their
// session). Before, the change cleared the request: the approval was
// refused (409 no-pending-reset) and they kept the account, as often as
// the reset was asked for.
func TestPasswordChangeDoesNotWithdrawAWaitingReset(t *testing.T) {
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	ctx := t.Context()
	requesterAcct, requester := n.Staff(t, policy.RoleAdmin, "requester@example.org")
	_, approver := n.Staff(t, policy.RoleAdmin, "approver@example.org")
	const medEmail = "holder@example.org"
	med, _ := n.Staff(t, policy.RoleMediator, medEmail)

	if res, err := requester.ResetPassword(ctx, med.ID); err != nil || !res.AwaitingApproval {
		t.Fatalf("asking for the reset: %+v %v", res, err)
	}
	outsider := client.New(n.URL, "")
	if _, err := outsider.Login(ctx, medEmail, nodetest.Password); err != nil {
		t.Fatalf("signing in with the known password: %v", err)
	}
	const theirs = "the outsider's own choice 1"
	if _, err := outsider.ChangePassword(ctx, nodetest.Password, theirs); err != nil {
		t.Fatalf("changing the password: %v", err)
	}
	if got, err := n.Accounts.Get(ctx, med.ID); err != nil || got.PendingReset == nil || got.PendingReset.RequestedBy != requesterAcct.ID {
		t.Fatalf("a password change withdrew the waiting reset (%v)", err)
	}

	res, err := approver.ApproveReset(ctx, med.ID)
	if err != nil || res.TemporaryPassword == "" || !res.Account.PasswordChangeRequired || res.Account.PendingReset != nil {
		t.Fatalf("the independent administrator's approval after the change: %+v %v", res.Account, err)
	}
	if _, err := client.New(n.URL, "").Login(ctx, medEmail, theirs); err == nil {
		t.Fatal("the password chosen while the reset waited still signs in after the approval")
	}
	var ce *client.Error
	if _, err := outsider.Me(ctx); !errors.As(err, &ce) || ce.Status != http.StatusUnauthorized {
		t.Fatalf("the session the change opened, after the approval: %v; want 401", err)
	}
	if _, err := client.New(n.URL, "").Login(ctx, medEmail, res.TemporaryPassword); err != nil {
		t.Fatalf("the temporary password: %v", err)
	}
}
