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
		if _, err := e.ret.PlaceHold(ctx, e.records, NewHold{Case: tc.id, Reason: "Subpoena 2026-12", Authority: "Court order 14"}); err != nil && !errors.Is(err, fault.ErrConflict) {
			t.Fatal(err)
		}
		var docOut []Outcome
		pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, func(pr Progress) {
			for i, it := range pr.Items {
				if it.Doc == d.ID {
					docOut = append(docOut, pr.Outcomes[i])
				}
			}
		})
		if err != nil || !pr.Done {
			t.Fatalf("apply again: %v %+v", err, pr)
		}
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
		recs, err := e.vault.Records(ctx, tc.id)
		if err != nil {
			t.Fatal(err)
		}
		marked := false
		for _, r := range recs {
			if r.Doc == d.ID {
				for _, v := range r.Versions {
					marked = marked || (v.Version == 1 && v.Erased)
				}
			}
		}
		if !marked {
			t.Fatalf("the exhibit's record does not mark version 1 erased: %+v", recs)
		}
		if _, err := e.vault.Open(ctx, e.mediator, tc.id, d.ID, 1, nil); !errors.Is(err, fault.ErrGone) || !strings.Contains(err.Error(), "was erased") {
			t.Fatalf("opening the exhibit: %v, want it answered erased", err)
		}
		if held, err := e.vault.CaseHeld(ctx, tc.id); err != nil || !held {
			t.Fatalf("vault case held: %v %v", held, err)
		}
	})
}
