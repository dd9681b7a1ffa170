package retention

import (
	"errors"
	"testing"
	"time"

	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/vault"
)

// TestDisposalRemovesEmailIndexEntry: a disposed case's party leaves no
// entry in the participant-email index (the keyed hash of their address
// and their account id, read from the store directly, every stored
// version), though the apply crashed before the accounts step and the
// account's record was then gone before its index entry (as a crash in
// between, or an older node's disposal, leaves it): the rerun still
// removes the entry. Asking for a sign-in link for the address then
// makes none; the open case's party, under their own address, keeps
// their entry and gets a link.
func TestDisposalRemovesEmailIndexEntry(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		ctx := t.Context()
		for _, class := range policy.CaseClasses() {
			if _, err := e.setRule(ctx, policy.RetentionRule{Class: class, Trigger: policy.TriggerCaseClosed, Days: 30}); err != nil {
				t.Fatal(err)
			}
		}
		tcs := e.newCases(t, map[string]vault.Class{}, map[string]vault.Class{})
		gone, open := tcs[0], tcs[1]
		e.close(t, gone)
		e.clock = e.clock.Add(month)
		if len(e.emailIndexOf(t, gone.email, gone.party)) == 0 || len(e.emailIndexOf(t, open.email, open.party)) == 0 {
			t.Fatal("the parties' addresses were never indexed")
		}
		p, err := e.ret.MakePlan(ctx, e.records, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.ret.Approve(ctx, e.records2, p.ID); err != nil {
			t.Fatal(err)
		}
		e.ret.hook = func(name string) error {
			if name == "case-audit" {
				return errCrash
			}
			return nil
		}
		if _, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); !errors.Is(err, errCrash) {
			t.Fatalf("apply ran through the crash: %v", err)
		}
		e.ret.hook = nil
		// The account's every version gone, its index entry not yet.
		vs, err := store.Versions(ctx, "accounts/"+gone.party)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			if err := store.Delete(ctx, v.Key, v.VersionID); err != nil {
				t.Fatal(err)
			}
		}
		if pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err != nil || !pr.Done {
			t.Fatalf("rerun: %v %+v", err, pr)
		}
		if left := e.emailIndexOf(t, gone.email, gone.party); len(left) != 0 {
			t.Fatalf("the disposed party's email index entry stays: %v", left)
		}
		if _, ok, err := e.cases.IssueSignInLink(ctx, gone.email); ok || err != nil {
			t.Fatalf("a sign-in link for the disposed party's address: ok %v, %v", ok, err)
		}
		if left := e.emailIndexOf(t, gone.email, gone.party); len(left) != 0 {
			t.Fatalf("asking for a link left %v", left)
		}
		if len(e.emailIndexOf(t, open.email, open.party)) == 0 {
			t.Fatal("the open case's party lost their index entry")
		}
		if r, ok, err := e.cases.IssueSignInLink(ctx, open.email); !ok || err != nil || r.AccountID != open.party {
			t.Fatalf("the open case's party: %+v ok %v, %v", r, ok, err)
		}
	})
}
