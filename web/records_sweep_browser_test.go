package web_test

import (
	"context"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserRecordsSweep drives web/client/test/records-sweep.mjs: Rita
// proposed shortening the residue period to 0 days; Rob sees it waiting,
// approves it behind a deliberate confirmation; Rita's plan then lists
// the residue (an expired sign-in, an invitation expired unused) by kind
// and count, and Rob's approval names it.
func TestBrowserRecordsSweep(t *testing.T) {
	needBrowser(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	ctx := context.Background()
	login := func(email, name string, role policy.Role) *client.Client {
		if _, err := n.Accounts.Create(ctx, account.NewAccount{Email: email, Name: name, Role: role, Password: nodetest.Password}); err != nil {
			t.Fatal(err)
		}
		c := client.New(n.URL, "")
		if _, err := c.Login(ctx, email, nodetest.Password); err != nil {
			t.Fatal(err)
		}
		return c
	}
	med := login("mediator@sweep.test", "Morgan Reyes", policy.RoleMediator)
	rec := login("rita@sweep.test", "Rita Archer", policy.RoleRecords)
	login("rob@sweep.test", "Rob Keeper", policy.RoleRecords)
	k, err := med.CreateCase(ctx, "Rivera v. Chen", "family", "court", []string{"A", "B"})
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().UTC().Add(-time.Hour)
	if _, err := n.Meta.Create(ctx, "sessions/sweep-expired", account.Session{AccountID: "u_gone", Created: past.Add(-time.Hour), Expires: past}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Meta.Create(ctx, "invites/sweep-expired", cases.Invite{CaseID: k.ID, Name: "Lee Unused", Email: "lee@example.org", Expires: past}); err != nil {
		t.Fatal(err)
	}
	res, err := rec.SetScheduleRule(ctx, policy.ClassResidue, "created", "0d")
	if err != nil || res.Pending == nil {
		t.Fatalf("proposal: %v %+v", err, res)
	}
	browserScript{
		name:  "records-sweep.mjs",
		env:   []string{"PARLEY_PASSWORD=" + nodetest.Password},
		shots: []string{"records-sweep-approve.png", "records-sweep-approve-phone.png", "records-sweep-plan.png", "records-sweep-plan-phone.png"},
	}.run(t, n.URL)
	// What the browser did is what the server holds.
	s, err := rec.Schedule(ctx)
	if err != nil || s.Version != 1 {
		t.Fatalf("schedule after the approval: %v %+v", err, s)
	}
	var ps []api.Plan
	err = rec.Do(ctx, "GET", "/api/v1/retention/plans", nil, &ps)
	if err != nil || len(ps) != 1 || ps[0].State != "approved" || ps[0].Residue["expired-session"] < 1 || ps[0].Residue["expired-invite"] != 1 {
		t.Fatalf("plans after the run: %v %+v", err, ps)
	}
}
