package web_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserStaleResetRequest drives web/client/test/stale-reset.mjs: a
// mediator's account whose first password was asked for more than a
// week ago reads, on a second administrator's People screen, as too old
// to approve, with no Approve; asking again replaces the request with
// theirs.
func TestBrowserStaleResetRequest(t *testing.T) {
	needBrowser(t)
	var skew atomic.Int64
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(), Clock: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	ctx := context.Background()
	skew.Store(int64(-account.ResetRequestLifetime - time.Hour))
	creator, err := n.Accounts.Create(ctx, account.NewAccount{Email: "ines.admin@browser.test", Name: "Ines Admin", Role: policy.RoleAdmin, Password: nodetest.Password})
	if err != nil {
		t.Fatal(err)
	}
	const newEmail = "nia.newcomer@browser.test"
	newcomer, err := n.Accounts.Create(ctx, account.NewAccount{Email: newEmail, Name: "Nia Newcomer", Role: policy.RoleMediator, Creator: &creator})
	if err != nil {
		t.Fatal(err)
	}
	skew.Store(0)
	const admin2Email = "omar.second@browser.test"
	admin2, err := n.Accounts.Create(ctx, account.NewAccount{Email: admin2Email, Name: "Omar Second", Role: policy.RoleAdmin, Password: nodetest.Password})
	if err != nil {
		t.Fatal(err)
	}
	browserScript{
		name: "stale-reset.mjs",
		env:  []string{"PARLEY_ADMIN2_EMAIL=" + admin2Email, "PARLEY_NEW_EMAIL=" + newEmail, "PARLEY_PASSWORD=" + nodetest.Password},
		ask: map[string]func(string) (string, error){
			"requested-by-second-admin": func(string) (string, error) {
				a, err := n.Accounts.Get(ctx, newcomer.ID)
				if err != nil {
					return "", err
				}
				if p := a.PendingReset; p == nil || p.RequestedBy != admin2.ID || time.Since(p.Requested) > time.Hour || a.PasswordHash != "" {
					return "", fmt.Errorf("the newcomer's request after asking again: %+v", p)
				}
				return "", nil
			},
		},
	}.run(t, n.URL)
}
