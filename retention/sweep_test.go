package retention

import (
	"bytes"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/vault"
)

// TestSweepResidue: what no class covers — ciphertext and a version
// record of no known document version, expired and signed-out sign-in
// sessions, an invite that expired unused — is found by the sweep once
// its residue period has run, listed in the plan by counts only, and
// destroyed in every stored version by the approved plan, with the
// certificate counting it. Never taken: an upload younger than
// AbandonedAfter (in progress), a live session, a claimed invite, and
// anything of a case held — including a hold placed after planning.
func TestSweepResidue(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		ctx := t.Context()
		if _, err := e.setRule(ctx, policy.RetentionRule{Class: policy.ClassResidue, Trigger: policy.TriggerCreated, Days: 0}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.ret.SetRule(ctx, e.records, policy.RetentionRule{Class: policy.ClassResidue, Trigger: policy.TriggerCaseClosed, Days: 0}); err == nil {
			t.Fatal("residue accepted a case-closed trigger")
		}
		open := e.newCase(t, map[string]vault.Class{"notes": vault.ClassMediatorNotes})
		held := e.newCase(t, map[string]vault.Class{"notes": vault.ClassMediatorNotes})
		late := e.newCase(t, map[string]vault.Class{"notes": vault.ClassMediatorNotes}) // held after planning
		put := func(key string) {
			t.Helper()
			b := []byte("ciphertext of an upload that never finished")
			if _, err := store.Put(ctx, key, bytes.NewReader(b), int64(len(b)), objstore.PutOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		orphan := docObject(open.id, open.docs["notes"].ID, 7)
		gone := docObject("c_nosuchcasenosuchcasenosuchc", "d_nosuchdocnosuchdocnosuchdoc", 1)
		heldOrphan := docObject(held.id, held.docs["notes"].ID, 7)
		lateOrphan := docObject(late.id, late.docs["notes"].ID, 7)
		stray := versionObject(open.id, open.docs["notes"].ID, 7)
		for _, k := range []string{orphan, gone, heldOrphan, lateOrphan, stray} {
			put(k)
		}
		if _, err := e.ret.PlaceHold(ctx, e.records, NewHold{Case: held.id, Reason: "Subpoena", Authority: "Order 2026-114"}); err != nil {
			t.Fatal(err)
		}
		now := e.clock
		mk := func(key string, v any) {
			t.Helper()
			if _, err := e.meta.Create(ctx, key, v); err != nil {
				t.Fatal(err)
			}
		}
		mk("sessions/expired", account.Session{AccountID: e.party.ID, Created: now.Add(-48 * time.Hour), Expires: now.Add(-time.Hour)})
		mk("sessions/live", account.Session{AccountID: e.party.ID, Created: now, Expires: now.Add(30 * 24 * time.Hour)})
		mk("sessions/signedout", account.Session{AccountID: e.party.ID, Created: now, Expires: now.Add(30 * 24 * time.Hour)})
		if err := e.meta.Delete(ctx, "sessions/signedout"); err != nil {
			t.Fatal(err)
		}
		claimed := now.Add(-2 * time.Hour)
		mk("invites/expired", cases.Invite{CaseID: open.id, Name: "Lee Unused", Email: "lee@example.org", Expires: now.Add(-time.Hour)})
		mk("invites/claimed", cases.Invite{CaseID: open.id, Name: "Kim Claimed", Expires: now.Add(-time.Hour), ClaimedBy: e.party.ID, Claimed: &claimed})
		mk("invites/lateheld", cases.Invite{CaseID: late.id, Name: "Pat Late", Expires: now.Add(-time.Hour)})

		// Now: the uploads are in progress (younger than AbandonedAfter),
		// and the sign-out is later than the test's clock.
		p, err := e.ret.MakePlan(ctx, e.records, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{ResidueSession: 1, ResidueInvite: 2}
		if !maps.Equal(p.Residue, want) {
			t.Fatalf("residue now: %v, want %v", p.Residue, want)
		}
		if _, err := e.ret.Discard(ctx, e.records, p.ID); err != nil {
			t.Fatal(err)
		}
		// A day later they are abandoned: the held case's is still not taken.
		e.clock = e.clock.Add(AbandonedAfter + time.Hour)
		p, err = e.ret.MakePlan(ctx, e.records, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		want = map[string]int{ResidueCiphertext: 3, ResidueUpload: 1, ResidueSession: 2, ResidueInvite: 2}
		if !maps.Equal(p.Residue, want) || p.Records != 0 {
			t.Fatalf("residue a day later: %v (%d records), want %v", p.Residue, p.Records, want)
		}
		// A hold placed after planning keeps what it covers.
		if _, err := e.ret.PlaceHold(ctx, e.records, NewHold{Case: late.id, Reason: "Complaint", Authority: "Program rule 12"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.ret.Apply(ctx, e.records, p.ID); !errors.Is(err, fault.ErrConflict) {
			t.Fatalf("applied before approval: %v", err)
		}
		if _, err := e.approve(ctx, e.records2, p.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{orphan, gone, stray, "sessions/expired", "sessions/signedout", "invites/expired"} {
			if n := e.versionsOf(t, k); n != 0 {
				t.Errorf("%s: %d stored versions remain", k, n)
			}
		}
		for _, k := range []string{heldOrphan, lateOrphan, "sessions/live", "invites/claimed", "invites/lateheld",
			docObject(open.id, open.docs["notes"].ID, open.docs["notes"].Versions[0].Version)} {
			if n := e.versionsOf(t, k); n == 0 {
				t.Errorf("%s: taken, though live or held", k)
			}
		}
		c, err := e.ret.buildCertificate(ctx, mustPlan(t, e, p.ID))
		if err != nil {
			t.Fatal(err)
		}
		want = map[string]int{ResidueCiphertext: 2, ResidueUpload: 1, ResidueSession: 2, ResidueInvite: 1}
		if !maps.Equal(c.Residue, want) {
			t.Fatalf("certificate residue: %v, want %v", c.Residue, want)
		}
		// Nothing is left to sweep, and nothing is due: no second plan.
		e.clock = e.clock.Add(time.Hour)
		if _, err := e.ret.MakePlan(ctx, e.records, time.Time{}); err == nil {
			t.Fatal("a second plan with nothing left")
		}
	})
}

func mustPlan(t *testing.T, e *env, id string) Plan {
	t.Helper()
	p, _, err := e.ret.loadPlan(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSweepSpentJournal: a whole case's disposal journals it under the
// plan; once the plan is certified the journal (which names the
// participants' account ids) is residue, and the next plan's sweep
// destroys it, while the certificate stays readable. A plan not yet done
// keeps its journals.
func TestSweepSpentJournal(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		ctx := t.Context()
		for _, class := range policy.RecordClasses() {
			r := policy.RetentionRule{Class: class, Trigger: policy.TriggerCaseClosed, Days: 0}
			switch class {
			case policy.ClassStatisticalStub:
				continue
			case policy.ClassResidue:
				r.Trigger = policy.TriggerCreated
			}
			if _, err := e.setRule(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		tc := e.newCase(t, map[string]vault.Class{"notes": vault.ClassMediatorNotes})
		e.close(t, tc)
		e.clock = time.Now().UTC().Add(time.Minute) // after the closing
		p, err := e.ret.MakePlan(ctx, e.records, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.approve(ctx, e.records2, p.ID); err != nil {
			t.Fatal(err)
		}
		journal := caseJournalKey(p.ID, tc.id)
		// Applying its pages journals the case: not residue while the
		// plan is not done.
		for range p.Pages {
			if _, err := e.ret.Apply(ctx, e.records, p.ID); err != nil {
				t.Fatal(err)
			}
		}
		if e.versionsOf(t, journal) == 0 {
			t.Fatal("no journal after the pages")
		}
		e.clock = e.clock.Add(time.Minute)
		if q, err := e.ret.MakePlan(ctx, e.records, time.Time{}); err == nil && q.Residue[ResidueJournal] != 0 {
			t.Fatalf("journal of an unfinished plan swept: %v", q.Residue)
		} else if err == nil {
			if _, err := e.ret.Discard(ctx, e.records, q.ID); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err != nil {
			t.Fatal(err)
		}
		e.clock = e.clock.Add(time.Hour)
		q, err := e.ret.MakePlan(ctx, e.records, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		// The case's journal and the plan's late seat-index journal
		// (lateseats.go), stored even though it found nothing.
		if q.Residue[ResidueJournal] != 2 {
			t.Fatalf("residue after the certificate: %v", q.Residue)
		}
		if _, err := e.approve(ctx, e.records2, q.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.ret.ApplyAll(ctx, e.records, q.ID, nil); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{journal, lateSeatsKey(p.ID)} {
			if n := e.versionsOf(t, k); n != 0 {
				t.Fatalf("journal %s: %d stored versions remain", k, n)
			}
		}
		if _, err := e.ret.SignedCertificate(ctx, e.records, p.ID); err != nil {
			t.Fatalf("first certificate after its journal went: %v", err)
		}
	})
}
