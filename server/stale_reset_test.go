package server_test

import (
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
)

// TestWaitingResetEndsWithAge: a password reset request left waiting
// cannot be approved weeks later: one older than a week is refused at
// approval (409 no-pending-reset, in plain words) with the password
// unchanged; asked for again, it is approved. A sign-in with the account's
// password meanwhile does not withdraw it: a reset is asked for when
// someone else may know that password, and they must not be able to
// cancel it by signing in.
func TestWaitingResetEndsWithAge(t *testing.T) {
	var skew atomic.Int64
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(), Clock: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	ctx := t.Context()
	requesterAcct, requester := n.Staff(t, policy.RoleAdmin, "requester@example.org")
	_, approver := n.Staff(t, policy.RoleAdmin, "approver@example.org")
	const medEmail = "holder@example.org"
	med, _ := n.Staff(t, policy.RoleMediator, medEmail)

	if res, err := requester.ResetPassword(ctx, med.ID); err != nil || !res.AwaitingApproval {
		t.Fatalf("asking for the reset: %+v %v", res, err)
	}
	if _, err := client.New(n.URL, "").Login(ctx, medEmail, nodetest.Password); err != nil {
		t.Fatal(err)
	}
	if got, err := n.Accounts.Get(ctx, med.ID); err != nil || got.PendingReset == nil || got.PendingReset.RequestedBy != requesterAcct.ID {
		t.Fatalf("a sign-in with the account's password withdrew the waiting reset (%v)", err)
	}

	// Left for more than a week.
	skew.Store(int64(account.ResetRequestLifetime + time.Hour))
	for _, c := range []struct {
		c     *client.Client
		email string
	}{{requester, "requester@example.org"}, {approver, "approver@example.org"}} {
		if _, err := c.c.Login(ctx, c.email, nodetest.Password); err != nil { // their sessions went idle meanwhile
			t.Fatal(err)
		}
	}
	_, err := approver.ApproveReset(ctx, med.ID)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != http.StatusConflict || problemType(err) != "no-pending-reset" || ce.Problem.Detail != api.ResetRequestTooOld {
		t.Fatalf("approving a request more than a week old: %v; want 409 no-pending-reset saying %q", err, api.ResetRequestTooOld)
	}
	if got, err := n.Accounts.Get(ctx, med.ID); err != nil || got.PasswordChangeRequired || got.PasswordHash != med.PasswordHash {
		t.Fatalf("the refused approval changed the password (%v)", err)
	}
	// Asked for again, the new request replaces the old one and is approved.
	res, err := approver.ResetPassword(ctx, med.ID)
	if err != nil || res.Account.PendingReset == nil || res.Account.PendingReset.RequestedBy == requesterAcct.ID {
		t.Fatalf("asking again: %+v %v; want the new request, the approver's", res.Account.PendingReset, err)
	}
	if res, err := requester.ApproveReset(ctx, med.ID); err != nil || res.TemporaryPassword == "" {
		t.Fatalf("approving the request made again: %v", err)
	}
}
