package vault

import (
	"errors"
	"testing"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
)

// A side's answer to a share request counts only signed by the answering
// person's own device over exactly that request and answer, and only from
// someone who was on the side when the mediator asked: an unsigned answer,
// one signed by another person's device or over the other answer, and one
// by a lawyer invited to the side after the request are refused, and the
// share stays refused. The signing device is kept with the answer.
func TestShareAnswerIsSignedByTheSidesOwnDevice(t *testing.T) {
	e := newDirEnv(t)
	k := e.newCast(t)
	ctx := t.Context()
	med, pA, cA := k.who["mediator"], k.who["partyA"], k.who["counselA"]
	d := e.upload(t, pA, k.caseID, "Receipt.pdf", k.audience(t, "caucus:A"), ClassEvidence, []byte("r"))
	joint := k.audience(t, "joint")
	req, err := e.vault.RequestShare(ctx, med, k.caseID, d.ID, joint)
	if err != nil {
		t.Fatal(err)
	}
	var invalid *fault.InvalidError
	before := int64(len(e.entries(t, 0)))
	if _, err := e.vault.DecideShareRequest(ctx, pA, k.caseID, d.ID, req.ID, ShareAnswer{Allow: true}); !errors.As(err, &invalid) {
		t.Fatalf("unsigned answer: %v", err)
	}
	// The refused attempt is in the audit log (an older app, or a script
	// answering without a signature, leaves a trace).
	if got := e.entries(t, before); len(got) != 1 || got[0].Type != "consent.refused" || got[0].Attrs["reason"] != "unsigned" || got[0].Actor != pA.ID {
		t.Fatalf("audit entries after an unsigned answer: %+v", got)
	}
	byCounsel := e.answer(t, cA, k.caseID, d.ID, req.ID, true)
	if _, err := e.vault.DecideShareRequest(ctx, pA, k.caseID, d.ID, req.ID, byCounsel); !errors.Is(err, fault.ErrForbidden) {
		t.Fatalf("party A's answer signed by their lawyer's device: %v", err)
	}
	declineSig := e.answer(t, pA, k.caseID, d.ID, req.ID, false)
	declineSig.Allow = true
	if _, err := e.vault.DecideShareRequest(ctx, pA, k.caseID, d.ID, req.ID, declineSig); !errors.As(err, &invalid) {
		t.Fatalf("allow carrying a signature over decline: %v", err)
	}

	// A lawyer the mediator invites to side A after asking answers nothing.
	inv, err := e.cases.CreateInvite(ctx, med, k.caseID, cases.NewInvite{Role: cases.RoleCounsel, Side: "A", Name: "Late Lawyer"})
	if err != nil {
		t.Fatal(err)
	}
	late, err := e.cases.Join(ctx, inv.Token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.decide(t, ctx, late.Account, k.caseID, d.ID, req.ID, true); !errors.Is(err, fault.ErrForbidden) {
		t.Fatalf("a lawyer who joined after the request: %v", err)
	}
	if _, err := e.vault.Share(ctx, med, k.caseID, d.ID, joint, false); !isRefusal(err) {
		t.Fatalf("share after refused answers: %v", err)
	}

	ok, err := e.decide(t, ctx, pA, k.caseID, d.ID, req.ID, true)
	if err != nil || ok.Status != ShareApproved || ok.DecidedBy != pA.ID || ok.DecidedDevice != e.devices.device(t, pA.ID).ID || ok.DeviceTrust != "first" || ok.Signature == "" {
		t.Fatalf("party A's signed answer: %+v %v", ok, err)
	}
	if _, err := e.vault.Share(ctx, med, k.caseID, d.ID, joint, false); err != nil {
		t.Fatalf("share after party A's signed answer: %v", err)
	}
}
