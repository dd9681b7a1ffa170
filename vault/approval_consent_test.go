package vault

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/fault"
)

// A side's answer to a share request counts only signed by the answering
// person's own device over exactly that request and answer, and only from
// someone who was on the side when the mediator asked: an unsigned answer,
// one signed by another person's device or over the other answer, and one
// by a lawyer invited to the side after the request are refused, and the
// share stays refused. The signing device is kept with the answer.
func TestShareAnswerIsSignedByTheSidesOwnDevice(t *testing.T) {
	t.Parallel()
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

// Every refused signed answer to a share request leaves a trace, not only
// an unsigned one: a signature that is not one (not base64, not 64 bytes),
// a device id that is not one, a signature that does not verify (over the
// other answer), a device that is not the answering person's own, and a
// device's clock more than 15 minutes off the server's are each audited
// consent.refused, kind share, with a reason of its own, naming the
// document, the request and (when it is a device id) the device: ids and
// reasons only, never the document's name. None of them answers the
// request, and the share stays refused.
func TestShareAnswerRefusalsAreAudited(t *testing.T) {
	t.Parallel()
	e := newDirEnv(t)
	k := e.newCast(t)
	ctx := t.Context()
	med, pA, cA := k.who["mediator"], k.who["partyA"], k.who["counselA"]
	d := e.upload(t, pA, k.caseID, "Secret receipt.pdf", k.audience(t, "caucus:A"), ClassEvidence, []byte("r"))
	joint := k.audience(t, "joint")
	req, err := e.vault.RequestShare(ctx, med, k.caseID, d.ID, joint)
	if err != nil {
		t.Fatal(err)
	}
	skewed := func(by time.Duration) ShareAnswer {
		dev := e.devices.device(t, pA.ID)
		c := e2ee.Consent{Kind: e2ee.ConsentShare, Case: k.caseID, Item: req.ID,
			TextSHA: textSHA256(e2ee.ShareConsentText(d.ID, req.ID, req.Version, req.To.String(), true)),
			Account: pA.ID, Device: dev.ID, At: time.Now().Add(by).UnixMilli()}
		sig, err := dev.SignConsent(c)
		if err != nil {
			t.Fatal(err)
		}
		return ShareAnswer{Allow: true, Device: dev.ID, SignedAt: c.At, Signature: base64.StdEncoding.EncodeToString(sig)}
	}
	good := e.answer(t, pA, k.caseID, d.ID, req.ID, true)
	notBase64, short, strayDevice, overDecline := good, good, good, e.answer(t, pA, k.caseID, d.ID, req.ID, false)
	notBase64.Signature = "not a signature!"
	short.Signature = base64.StdEncoding.EncodeToString([]byte("too short"))
	strayDevice.Device = "my phone"
	overDecline.Allow = true
	var invalid *fault.InvalidError
	isInvalid := func(err error) bool { return errors.As(err, &invalid) }
	isForbidden := func(err error) bool { return errors.Is(err, fault.ErrForbidden) }
	for _, c := range []struct {
		what, reason string
		ans          ShareAnswer
		refused      func(error) bool
		device       bool // the entry names the device
	}{
		{"a signature that is not base64", "malformed", notBase64, isInvalid, true},
		{"a signature that is not 64 bytes", "malformed", short, isInvalid, true},
		{"a device id that is not one", "malformed", strayDevice, isInvalid, false},
		{"a signature over the other answer", "signature", overDecline, isInvalid, true},
		{"an answer signed by their lawyer's device", "device", e.answer(t, cA, k.caseID, d.ID, req.ID, true), isForbidden, true},
		{"a clock 20 minutes slow", "clock", skewed(-20 * time.Minute), isInvalid, true},
		{"a clock 20 minutes fast", "clock", skewed(20 * time.Minute), isInvalid, true},
	} {
		before := e.log.Size()
		if _, err := e.vault.DecideShareRequest(ctx, pA, k.caseID, d.ID, req.ID, c.ans); !c.refused(err) {
			t.Fatalf("%s: %v", c.what, err)
		}
		got := e.entries(t, before)
		if len(got) != 1 {
			t.Fatalf("%s: %d audit entries, want one consent.refused: %+v", c.what, len(got), got)
		}
		ev := got[0]
		want := []string{d.ID, req.ID}
		if c.device {
			want = append(want, c.ans.Device)
		}
		if ev.Type != "consent.refused" || ev.Actor != pA.ID || ev.Case != k.caseID || ev.Attrs["kind"] != e2ee.ConsentShare ||
			ev.Attrs["reason"] != c.reason || !slices.Equal(ev.Objects, want) {
			t.Fatalf("%s: audit entry %+v, want consent.refused by party A, kind share, reason %q, objects %v", c.what, ev, c.reason, want)
		}
		if b, _ := json.Marshal(ev); strings.Contains(string(b), "Secret receipt") || strings.Contains(string(b), "my phone") {
			t.Fatalf("%s: the audit entry carries what the person typed or named: %s", c.what, b)
		}
	}
	list, err := e.vault.ShareRequests(ctx, pA, k.caseID)
	if err != nil || len(list) != 1 || list[0].Status != SharePending {
		t.Fatalf("the request after refused answers: %+v %v", list, err)
	}
	if _, err := e.vault.Share(ctx, med, k.caseID, d.ID, joint, false); !isRefusal(err) {
		t.Fatalf("share after refused answers: %v", err)
	}
	if _, err := e.vault.DecideShareRequest(ctx, pA, k.caseID, d.ID, req.ID, good); err != nil {
		t.Fatalf("party A's own signed answer after the refusals: %v", err)
	}
}
