package retention

import (
	"errors"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/vault"
)

// An apply that stopped after its keys step (a crash), a case hold placed
// then, and the plan applied again: the version whose key the first run
// destroyed is crypto-erased whatever the hold keeps. It is certified
// destroyed, never held, and its record is marked erased (it opens as
// erased). Before, the rerun read the hold, certified the version held
// and left its record unmarked: it listed but no longer opened (review
// 406).
func TestCaseHoldAfterKeysStepCrash(t *testing.T) {
	onEachStore(t, func(t *testing.T, inner objstore.Store) {
		e, p, tc, d, docOut := crashAfterKeysThenHold(t, inner, true)
		ctx := t.Context()
		if len(docOut) != 1 || docOut[0].Result != OutcomeDestroyed {
			t.Fatalf("the exhibit's outcome on the rerun: %+v, want destroyed (its key went in the first run)", docOut)
		}
		signed, err := e.ret.SignedCertificate(ctx, e.records, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		cert, _, err := VerifyCertificate(signed, e.signer.VerifierKey())
		if err != nil {
			t.Fatal(err)
		}
		destroyed := false
		for _, r := range cert.Destroyed {
			destroyed = destroyed || (r.Doc == d.ID && r.Version == 1)
		}
		for _, r := range cert.Kept {
			if r.Doc == d.ID {
				t.Fatalf("the certificate keeps the exhibit (held %v), its key destroyed", r.Held)
			}
		}
		if !destroyed {
			t.Fatalf("the certificate does not list the exhibit destroyed: %+v", cert.Destroyed)
		}
		if !e.versionMarkedErased(t, tc.id, d.ID, 1) {
			t.Fatal("the exhibit's record does not mark version 1 erased")
		}
		if _, err := e.vault.Open(ctx, e.mediator, tc.id, d.ID, 1, nil); !errors.Is(err, fault.ErrGone) || !strings.Contains(err.Error(), "was erased") {
			t.Fatalf("opening the exhibit: %v, want it answered erased", err)
		}
		if n := e.entriesOf(t, "doc.key.destroyed", tc.id); n != 1 {
			t.Fatalf("%d doc.key.destroyed entries for the case, want the first run's one", n)
		}
		if held, err := e.vault.CaseHeld(ctx, tc.id); err != nil || !held {
			t.Fatalf("vault case held: %v %v", held, err)
		}
	})
}

// The same with a hold on the document itself: left as it was (held, its
// record not marked), the residual docs/security.md names.
func TestDocHoldAfterKeysStepCrashKeepsItHeld(t *testing.T) {
	onEachStore(t, func(t *testing.T, inner objstore.Store) {
		e, _, tc, d, docOut := crashAfterKeysThenHold(t, inner, false)
		if len(docOut) != 1 || docOut[0].Result != OutcomeHeld {
			t.Fatalf("the exhibit's outcome on the rerun: %+v, want held (its own hold)", docOut)
		}
		if e.versionMarkedErased(t, tc.id, d.ID, 1) {
			t.Fatal("the exhibit under its own hold was marked erased")
		}
	})
}

// crashAfterKeysThenHold plans the disposal of a case's one exhibit,
// applies it until its keys step is done (then an injected crash),
// places a hold on the case (caseHold) or on the exhibit, and applies the
// plan again to the end, returning the plan and the exhibit's outcomes of that rerun.
func crashAfterKeysThenHold(t *testing.T, inner objstore.Store, caseHold bool) (*env, Plan, *testCase, vault.Document, []Outcome) {
	t.Helper()
	e := dueWorld(t, inner)
	ctx := t.Context()
	if _, err := e.setRule(ctx, policy.RetentionRule{Class: "evidence", Trigger: policy.TriggerCaseClosed, Days: 30}); err != nil {
		t.Fatal(err)
	}
	tc := e.newCase(t, map[string]vault.Class{"exhibit": vault.ClassEvidence})
	d := tc.docs["exhibit"]
	p := e.planClosed(t, tc)
	crashed := false
	e.ret.hook = func(step string) error {
		if step == "keys" && !crashed {
			crashed = true
			return errors.New("injected crash")
		}
		return nil
	}
	if _, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err == nil || !crashed {
		t.Fatalf("want the injected crash after the keys step: %v", err)
	}
	e.ret.hook = nil
	if n := e.versionsOf(t, versionObject(tc.id, d.ID, 1)); n != 0 {
		t.Fatalf("%d versions of the exhibit's key record left after the keys step", n)
	}
	nh := NewHold{Case: tc.id, Reason: "Subpoena 2026-12", Authority: "Court order 14"}
	if !caseHold {
		nh.Doc = d.ID
	}
	if _, err := e.ret.PlaceHold(ctx, e.records, nh); err != nil && !errors.Is(err, fault.ErrConflict) {
		t.Fatal(err)
	}
	return e, p, tc, d, e.applyToEnd(t, p, d.ID)
}

// applyToEnd applies plan p to its end and returns the outcomes it gave
// document docID's items.
func (e *env) applyToEnd(t *testing.T, p Plan, docID string) []Outcome {
	t.Helper()
	var docOut []Outcome
	pr, err := e.ret.ApplyAll(t.Context(), e.records, p.ID, func(pr Progress) {
		for i, it := range pr.Items {
			if it.Doc == docID {
				docOut = append(docOut, pr.Outcomes[i])
			}
		}
	})
	if err != nil || !pr.Done {
		t.Fatalf("apply: %v %+v", err, pr)
	}
	return docOut
}

// versionMarkedErased reports whether the record of document docID marks
// its version v erased.
func (e *env) versionMarkedErased(t *testing.T, caseID, docID string, v int) bool {
	t.Helper()
	recs, err := e.vault.Records(t.Context(), caseID)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		for _, rv := range r.Versions {
			if r.Doc == docID && rv.Version == v {
				return rv.Erased
			}
		}
	}
	return false
}

// A case held since planning whose key record a delete without a version
// id hid behind a marker (object lock allows it; so would an operator's
// `mc rm` without --versions): the held key versions remain and would
// open again once the marker goes, so the apply leaves the exhibit held,
// its record unmarked. Before, the rerun's check was a HEAD, which the
// marker answers not found: the exhibit was certified destroyed and
// marked erased (review 410).
func TestCaseHoldKeyHiddenByMarkerStaysHeld(t *testing.T) {
	onEachStore(t, func(t *testing.T, inner objstore.Store) {
		e := dueWorld(t, inner)
		ctx := t.Context()
		if _, err := e.setRule(ctx, policy.RetentionRule{Class: "evidence", Trigger: policy.TriggerCaseClosed, Days: 30}); err != nil {
			t.Fatal(err)
		}
		tc := e.newCase(t, map[string]vault.Class{"exhibit": vault.ClassEvidence})
		d := tc.docs["exhibit"]
		p := e.planClosed(t, tc)
		if _, err := e.ret.PlaceHold(ctx, e.records, NewHold{Case: tc.id, Reason: "Subpoena 2026-12", Authority: "Court order 14"}); err != nil {
			t.Fatal(err)
		}
		key := versionObject(tc.id, d.ID, 1)
		if err := e.store.Delete(ctx, key, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.Stat(ctx, key); !errors.Is(err, objstore.ErrNotFound) {
			t.Fatalf("the key record behind its marker: %v, want not found to a HEAD", err)
		}
		docOut := e.applyToEnd(t, p, d.ID)
		if len(docOut) != 1 || docOut[0].Result != OutcomeHeld {
			t.Fatalf("the exhibit's outcome: %+v, want held (its key's versions are kept behind the marker)", docOut)
		}
		if e.versionMarkedErased(t, tc.id, d.ID, 1) {
			t.Fatal("the exhibit's record marks version 1 erased, its key kept")
		}
		if n := e.versionsOf(t, key); n == 0 {
			t.Fatal("no version of the key record left")
		}
	})
}
