package retention

import (
	"errors"
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/vault"
)

// TestDisposalRemovesSeatIndexEntries: a disposed case's entries in the
// index of seats by address (package cases: the invitation's and the
// participant's, and one no record backs, as a crash between an entry
// and its invitation leaves) go with its case record, after it, every stored
// version; the open case's stay. With the index complete, asking for a
// link for the disposed party's address then makes none, and the open
// case's party still gets theirs.
func TestDisposalRemovesSeatIndexEntries(t *testing.T) {
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
		if err := e.cases.BackfillSeatIndex(ctx); err != nil {
			t.Fatal(err)
		}
		// An invitation in the case to go whose record is not stored (as
		// a crash between its entry and its record leaves it): every
		// version of the record deleted.
		inv, err := e.cases.CreateInvite(ctx, e.mediator, gone.id, cases.NewInvite{Role: cases.RoleParty, Side: "B", Name: "Sam", Email: "sam@example.org"})
		if err != nil {
			t.Fatal(err)
		}
		vs, err := store.Versions(ctx, "invites/"+e.meta.IndexKey("invite", inv.Token))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			if err := store.Delete(ctx, v.Key, v.VersionID); err != nil {
				t.Fatal(err)
			}
		}
		all := func(string) bool { return true }
		byCase, err := e.ret.groupRecords(ctx, cases.SeatIndexPrefix, all, func(r tokenRecord) string { return r.CaseID })
		if err != nil {
			t.Fatal(err)
		}
		if len(byCase[gone.id]) != 3 || len(byCase[open.id]) != 2 {
			t.Fatalf("seat index entries by case: %v; want three of the case to go, two of the open one", byCase)
		}
		stored := func(keys []string) int {
			n := 0
			for _, k := range keys {
				vs, err := store.Versions(ctx, k)
				if errors.Is(err, objstore.ErrNotFound) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				n += len(vs)
			}
			return n
		}
		e.close(t, gone)
		e.clock = e.clock.Add(month)
		p, err := e.ret.MakePlan(ctx, e.records, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.ret.Approve(ctx, e.records2, p.ID); err != nil {
			t.Fatal(err)
		}
		if pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err != nil || !pr.Done {
			t.Fatalf("apply: %v %+v", err, pr)
		}
		if n := stored(byCase[gone.id]); n != 0 {
			t.Fatalf("%d stored versions of the disposed case's seat index entries are left", n)
		}
		if n := stored(byCase[open.id]); n != 2 {
			t.Fatalf("%d stored versions of the open case's seat index entries; want its two", n)
		}
		if _, ok, err := e.cases.IssueSignInLink(ctx, gone.email); ok != cases.SignInNone || err != nil {
			t.Fatalf("a sign-in link for the disposed party's address: ok %v, %v", ok, err)
		}
		if r, ok, err := e.cases.IssueSignInLink(ctx, open.email); ok != cases.SignInLinkMade || err != nil || r.AccountID != open.party {
			t.Fatalf("the open case's party: %+v ok %v, %v", r, ok, err)
		}
	})
}

// TestSeatIndexOutlivesInvitations: under the default schedule a closed
// case's invitations go 30 days after it closes, but its record and its
// participants' accounts stay six years, and their seats still count for
// the emailed sign-in link. The index entries of those seats must stay as
// long: a closed case's party and an open case's party who share an
// address (spouses, family@x) are told "shared" before the invitations'
// disposal and after it, as the reading of every record says; with the
// entries gone with the invitations the open case's party got a link the
// other could open.
func TestSeatIndexOutlivesInvitations(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		ctx := t.Context()
		tcs := e.newCases(t, map[string]vault.Class{}, map[string]vault.Class{})
		closed, open := tcs[0], tcs[1]
		if err := e.cases.BackfillSeatIndex(ctx); err != nil {
			t.Fatal(err)
		}
		e.close(t, closed)
		// Kim joins the open case with the closed case's party's address,
		// and confirms it.
		inv, err := e.cases.CreateInvite(ctx, e.mediator, open.id, cases.NewInvite{Role: cases.RoleParty, Side: "B", Name: "Kim", Email: closed.email})
		if err != nil {
			t.Fatal(err)
		}
		j, err := e.cases.Join(ctx, inv.Token)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.accounts.ConfirmParticipantEmail(ctx, j.Account.ID, closed.email); err != nil {
			t.Fatal(err)
		}
		ask := func(when string) {
			t.Helper()
			if r, ok, err := e.cases.IssueSignInLink(ctx, closed.email); ok != cases.SignInShared || err != nil {
				t.Fatalf("%s: a sign-in link for the shared address: %+v answer %v, %v; want shared", when, r, ok, err)
			}
		}
		ask("before disposal")
		e.clock = e.clock.Add(month)
		p, err := e.ret.MakePlan(ctx, e.records, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.ret.Approve(ctx, e.records2, p.ID); err != nil {
			t.Fatal(err)
		}
		if pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err != nil || !pr.Done {
			t.Fatalf("apply: %v %+v", err, pr)
		}
		planned := false
		for _, it := range e.planItems(t, p) {
			planned = planned || (it.Case == closed.id && it.Class == policy.ClassInvitesSessions)
		}
		if !planned {
			t.Fatalf("the closed case's invitations were not due: %+v", e.planItems(t, p))
		}
		if _, err := e.cases.Load(ctx, closed.id); err != nil {
			t.Fatalf("the closed case's record: %v; it stays six years", err)
		}
		ask("after the invitations' disposal (index)")
		// The reading of every record says the same.
		if err := e.meta.Delete(ctx, "seat-index.complete"); err != nil {
			t.Fatal(err)
		}
		ask("after the invitations' disposal (every record)")
	})
}
