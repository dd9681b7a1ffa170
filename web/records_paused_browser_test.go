package web_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserRecordsPaused drives web/client/test/records-paused.mjs: a
// records clerk carries out a plan destroying the closed case 2026-CV-0142
// while the storage holds one of its records (a legal hold on a party's
// account record, as an operator sets it), sees the case record kept
// because of the storage hold, and — the hold released — makes the next
// plan, whose screen says in plain words that an earlier plan began
// destroying the case and stopped, and that carrying this one out
// finishes it; a second clerk carries it out and the case is gone.
func TestBrowserRecordsPaused(t *testing.T) {
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
	med := login("mediator@paused.test", "Morgan Reyes", policy.RoleMediator)
	rec := login("rita@paused.test", "Rita Archer", policy.RoleRecords)
	rec2 := login("rob@paused.test", "Rob Keeper", policy.RoleRecords)
	k, err := med.CreateCaseWith(ctx, api.CreateCaseRequest{Title: "Rivera v. Chen", Type: "family", ReferralSource: "court", Sides: []string{"A", "B"}, Reference: "2026-CV-0142"})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := med.Invite(ctx, k.ID, "party", "A", "Avery Rivera", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	joined, err := client.New(n.URL, "").Join(ctx, inv.Link)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := med.CaseAction(ctx, k.ID, "stage", map[string]string{"stage": "closure"}); err != nil {
		t.Fatal(err)
	}
	setRuleApproved(t, rec, rec2, policy.ClassMessageHistory, "case-closed", "0d")
	setRuleApproved(t, rec, rec2, policy.ClassCaseRecord, "case-closed", "0d")
	// The operator's legal hold on every version of the party's account
	// record: the store refuses to delete it.
	store := n.Meta.Objects()
	heldKey := "accounts/" + joined.Account.ID
	setHold := func(on bool) error {
		vs, err := store.Versions(ctx, heldKey)
		if err != nil {
			return err
		}
		if len(vs) == 0 {
			return fmt.Errorf("no version of %s to hold", heldKey)
		}
		for _, v := range vs {
			if v.DeleteMarker {
				continue
			}
			if err := store.SetLegalHold(ctx, heldKey, v.VersionID, on); err != nil {
				return err
			}
		}
		return nil
	}
	if err := setHold(true); err != nil {
		t.Fatal(err)
	}
	browserScript{
		name: "records-paused.mjs",
		env:  []string{"PARLEY_PASSWORD=" + nodetest.Password},
		ask: map[string]func(string) (string, error){
			// The operator releases the storage hold.
			"release-storage-hold": func(string) (string, error) { return "", setHold(false) },
		},
		shots: []string{"records-paused-kept.png", "records-paused-plan.png", "records-paused-plan-phone.png", "records-paused-done.png"},
	}.run(t, n.URL)
	// What the browser did is what the server holds: the case is gone.
	if _, err := n.Cases.Load(ctx, k.ID); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("the case after the second plan: %v, want gone", err)
	}
}
