package retention

import (
	"errors"
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/mail"
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
		if _, err := e.approve(ctx, e.records2, p.ID); err != nil {
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
		if _, ok, err := e.cases.IssueSignInLink(ctx, gone.email); ok != cases.SignInNone || err != nil {
			t.Fatalf("a sign-in link for the disposed party's address: ok %v, %v", ok, err)
		}
		if left := e.emailIndexOf(t, gone.email, gone.party); len(left) != 0 {
			t.Fatalf("asking for a link left %v", left)
		}
		if len(e.emailIndexOf(t, open.email, open.party)) == 0 {
			t.Fatal("the open case's party lost their index entry")
		}
		if r, ok, err := e.cases.IssueSignInLink(ctx, open.email); ok != cases.SignInLinkMade || err != nil || r.AccountID != open.party {
			t.Fatalf("the open case's party: %+v ok %v, %v", r, ok, err)
		}
	})
}

// TestSweepStaleEmailIndex: an entry of the participant-email index that
// points at no account with its address — its account gone (a crash
// between the entry and the account, or an older node's disposal), its
// account of another address, a staff account's — is residue once
// AbandonedAfter old (a confirmation writes the entry just before it
// marks the account),
// and a deleted one (whose older version the bucket keeps) from its
// deletion; the approved plan deletes every stored version of each, and
// one gone meanwhile does not stop the apply. A live participant's entry
// stays, and still finds them.
func TestSweepStaleEmailIndex(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		ctx := t.Context()
		if _, err := e.setRule(ctx, policy.RetentionRule{Class: policy.ClassResidue, Trigger: policy.TriggerCreated, Days: 0}); err != nil {
			t.Fatal(err)
		}
		tc := e.newCase(t, map[string]vault.Class{})
		entry := func(address, id string) string {
			t.Helper()
			key := e.accounts.ParticipantEmailPrefix(address) + id
			if _, err := e.meta.Create(ctx, key, struct{}{}); err != nil {
				t.Fatal(err)
			}
			return key
		}
		goneAccount := entry("gone@example.org", ids.New("u"))
		otherAddress := entry("before@example.org", tc.party)
		staffAccount := entry(e.mediator.Email, e.mediator.ID)
		vanishes := entry("vanishes@example.org", ids.New("u"))
		deleted := entry("deleted@example.org", ids.New("u"))
		if err := e.meta.Delete(ctx, deleted); err != nil {
			t.Fatal(err)
		}
		stale := []string{goneAccount, otherAddress, staffAccount, vanishes, deleted}
		live := e.accounts.ParticipantEmailPrefix(tc.email) + tc.party
		if e.versionsOf(t, live) == 0 {
			t.Fatal("the party's address was never indexed")
		}

		// Now: the entries are younger than AbandonedAfter, and the
		// deletion is later than the test's clock.
		p, err := e.ret.MakePlan(ctx, e.records, time.Time{})
		if err == nil {
			if p.Residue[ResidueEmailIndex] != 0 {
				t.Fatalf("residue now: %v", p.Residue)
			}
			if _, err := e.ret.Discard(ctx, e.records, p.ID); err != nil {
				t.Fatal(err)
			}
		}
		e.clock = e.clock.Add(AbandonedAfter + time.Hour)
		p, err = e.ret.MakePlan(ctx, e.records, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Residue[ResidueEmailIndex] != len(stale) {
			t.Fatalf("residue a day later: %v, want %d %s", p.Residue, len(stale), ResidueEmailIndex)
		}
		if _, err := e.approve(ctx, e.records2, p.ID); err != nil {
			t.Fatal(err)
		}
		// Gone between the plan and its apply.
		vs, err := store.Versions(ctx, vanishes)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			if err := store.Delete(ctx, v.Key, v.VersionID); err != nil {
				t.Fatal(err)
			}
		}
		if pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err != nil || !pr.Done {
			t.Fatalf("apply: %v %+v", err, pr)
		}
		for _, k := range stale {
			if n := e.versionsOf(t, k); n != 0 {
				t.Errorf("%s: %d stored versions remain", k, n)
			}
		}
		if e.versionsOf(t, live) == 0 {
			t.Fatal("the live party's entry was taken")
		}
		if r, ok, err := e.cases.IssueSignInLink(ctx, tc.email); ok != cases.SignInLinkMade || err != nil || r.AccountID != tc.party {
			t.Fatalf("the live party: %+v ok %v, %v", r, ok, err)
		}
	})
}

// TestDisposalRemovesEmailConfirmations: a disposed case's email
// confirmations (used and unused: account and case ids, keyed hashes of
// the token and the address) go with its invitations and links back in,
// every stored version; the open case's stay. So do the mails in its
// sign-in outbox (mail.SignInOutbox: the word to a shared address, which
// holds the address).
func TestDisposalRemovesEmailConfirmations(t *testing.T) {
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
		for _, tc := range tcs {
			party, err := e.accounts.Get(ctx, tc.party)
			if err != nil {
				t.Fatal(err)
			}
			used, err := e.cases.RequestEmailConfirmation(ctx, party, tc.id)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.cases.ConfirmEmail(ctx, used.Token, party); err != nil {
				t.Fatal(err)
			}
			if _, err := e.cases.RequestEmailConfirmation(ctx, party, tc.id); err != nil { // left unused
				t.Fatal(err)
			}
		}
		signIn := map[string][]string{}
		for _, tc := range tcs {
			for _, key := range []string{"outbox/cases/" + mail.SignInOutbox(tc.id) + "/m_1", "outbox/due/" + mail.SignInOutbox(tc.id) + "/m_1"} {
				if _, err := e.meta.Create(ctx, key, map[string]string{"caseId": mail.SignInOutbox(tc.id), "to": "family@example.test"}); err != nil {
					t.Fatal(err)
				}
				signIn[tc.id] = append(signIn[tc.id], key)
			}
		}
		// Every key with a stored version, by case (a used one's newest
		// version is a delete marker; its older versions hold the ids).
		byCase, err := e.ret.groupTokenRecords(ctx, "email-confirmations/", func(r tokenRecord) string { return r.CaseID })
		if err != nil {
			t.Fatal(err)
		}
		if len(byCase[gone.id]) != 2 || len(byCase[open.id]) != 2 {
			t.Fatalf("confirmation records by case: %v, want two for each", byCase)
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
		if _, err := e.approve(ctx, e.records2, p.ID); err != nil {
			t.Fatal(err)
		}
		if pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err != nil || !pr.Done {
			t.Fatalf("apply: %v %+v", err, pr)
		}
		if n := stored(byCase[gone.id]); n != 0 {
			t.Fatalf("%d stored versions of the disposed case's email confirmations are left", n)
		}
		if stored(byCase[open.id]) == 0 {
			t.Fatal("the open case's confirmations went too")
		}
		if n := stored(signIn[gone.id]); n != 0 {
			t.Fatalf("%d stored versions of the disposed case's sign-in mail are left", n)
		}
		if stored(signIn[open.id]) != 2 {
			t.Fatal("the open case's sign-in mail went too")
		}
	})
}
