package web_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/nodetest"
)

// A mediator's share of a document side A's party added to A's caucus is
// refused over HTTP, with a problem that says why in plain words, until a
// party or lawyer of side A allows exactly that share; an approval for the
// joint room does not reach caucus B, and side B's party cannot approve.
func TestSideApprovesShareOverHTTP(t *testing.T) {
	n := nodetest.Embedded(t)
	k := newVaultCast(t, n)
	ctx := t.Context()
	med := k.as["mediator"]
	d := k.upload(t, "partyA", "Deposit receipt.pdf", "caucus:A", "evidence", []byte("receipt"))
	problem := func(err error) *client.Error {
		t.Helper()
		var ce *client.Error
		if !errors.As(err, &ce) {
			t.Fatalf("want a problem, got %v", err)
		}
		return ce
	}

	// Before: refused, in words.
	_, err := med.ShareDocument(ctx, k.caseID, d.ID, "joint", false)
	if ce := problem(err); ce.Status != 403 || !strings.Contains(ce.Problem.Detail, "the Buyer side added this document to its caucus") ||
		!strings.Contains(ce.Problem.Detail, "allows exactly this share") {
		t.Fatalf("share without approval: %d %+v", ce.Status, ce.Problem)
	}
	if _, err := k.as["partyB"].Document(ctx, k.caseID, d.ID); status(err) != 404 {
		t.Fatalf("party B sees A's document: %v", err)
	}
	preview, err := med.ShareDocument(ctx, k.caseID, d.ID, "joint", true)
	if err != nil || !preview.NeedsApproval || preview.ApprovalSide != "A" {
		t.Fatalf("preview: %+v %v", preview, err)
	}

	// The mediator asks; side A's party sees the request, side B's does not.
	req, err := med.AskToShare(ctx, k.caseID, d.ID, "joint")
	if err != nil || req.Status != "pending" || req.To != "joint" || req.Version != 1 || len(req.Gaining) != 2 {
		t.Fatalf("ask: %+v %v", req, err)
	}
	if list, err := k.as["partyB"].ShareRequests(ctx, k.caseID); err != nil || len(list) != 0 {
		t.Fatalf("party B's requests: %+v %v", list, err)
	}
	if list, err := k.as["partyA"].ShareRequests(ctx, k.caseID); err != nil || len(list) != 1 || list[0].ID != req.ID {
		t.Fatalf("party A's requests: %+v %v", list, err)
	}
	// Side B's party cannot approve it (A's document is not B's to know of).
	if _, err := k.device(t, "partyB").AnswerShareRequest(ctx, k.caseID, req, true); status(err) != 404 {
		t.Fatalf("party B approving: %v", err)
	}
	if _, err := med.ShareDocument(ctx, k.caseID, d.ID, "joint", false); status(err) != 403 {
		t.Fatalf("share after party B's attempt: %v", err)
	}
	// The mediator cannot approve their own request.
	if _, err := k.device(t, "mediator").AnswerShareRequest(ctx, k.caseID, req, true); status(err) != 403 {
		t.Fatalf("mediator approving: %v", err)
	}
	// An answer must say which, and be signed by the person's device.
	if err := k.as["partyA"].Do(ctx, "POST", "/api/v1/cases/"+k.caseID+"/documents/"+d.ID+"/share-requests/"+req.ID, map[string]any{}, nil); status(err) != 400 {
		t.Fatalf("answer without allow: %v", err)
	}
	allow := true
	_, err = k.as["counselA"].PostShareAnswer(ctx, k.caseID, d.ID, req.ID, api.DocShareAnswer{Allow: &allow})
	if ce := problem(err); ce.Status != 400 || !strings.Contains(ce.Problem.Detail, "a phone or computer you have used for this mediation before") {
		t.Fatalf("unsigned allow: %d %+v", ce.Status, ce.Problem)
	}
	if _, err := med.ShareDocument(ctx, k.caseID, d.ID, "joint", false); status(err) != 403 {
		t.Fatalf("share after an unsigned allow: %v", err)
	}

	// Side A's lawyer allows it, signed by their own device.
	ok, err := k.device(t, "counselA").AnswerShareRequest(ctx, k.caseID, req, true)
	if err != nil || ok.Status != "approved" || ok.DecidedBy != k.id["counselA"] || ok.DecidedDevice != k.device(t, "counselA").Me.ID {
		t.Fatalf("allow: %+v %v", ok, err)
	}
	// Still refused for another target than the one allowed.
	if _, err := med.ShareDocument(ctx, k.caseID, d.ID, "caucus:B", false); status(err) != 403 {
		t.Fatalf("share to caucus B with an approval for joint: %v", err)
	}
	if _, err := med.ShareDocument(ctx, k.caseID, d.ID, "user:"+k.id["partyB"], false); status(err) != 403 {
		t.Fatalf("share to party B by name with an approval for joint: %v", err)
	}
	// Allowed for the joint room.
	res, err := med.ShareDocument(ctx, k.caseID, d.ID, "joint", false)
	if err != nil || res.To != "joint" {
		t.Fatalf("share after approval: %+v %v", res, err)
	}
	if _, err := k.as["partyB"].Document(ctx, k.caseID, d.ID); err != nil {
		t.Fatalf("party B after the approved share: %v", err)
	}
	// Each step is in the audit log, by ids.
	var types []string
	for i := int64(0); i < n.Audit.Size(); i++ {
		ev, err := n.Audit.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if len(ev.Objects) > 0 && ev.Objects[0] == d.ID && strings.HasPrefix(ev.Type, "doc.share") {
			types = append(types, ev.Type)
			for _, v := range ev.Attrs {
				if strings.Contains(v, "Deposit") {
					t.Fatalf("audit entry %s holds the document's name", ev.Type)
				}
			}
		}
	}
	if strings.Join(types, " ") != "doc.share.requested doc.share.approved doc.share" {
		t.Fatalf("audited: %v", types)
	}

	// Two steps are one: a move within side A (to the mediators only, or
	// to A's party by name) needs no approval, and the next step beyond
	// the side needs A's approval all the same; its preview says so.
	for _, via := range []string{"mediators", "user:" + k.id["partyA"]} {
		d := k.upload(t, "partyA", "Bottom line.pdf", "caucus:A", "evidence", []byte("side A only"))
		if res, err := med.ShareDocument(ctx, k.caseID, d.ID, via, false); err != nil || res.NeedsApproval {
			t.Fatalf("via %s: narrower share: %+v %v", via, res, err)
		}
		for _, to := range []string{"joint", "caucus:B", "user:" + k.id["partyB"]} {
			preview, err := med.ShareDocument(ctx, k.caseID, d.ID, to, true)
			if err != nil || !preview.NeedsApproval || preview.ApprovalSide != "A" {
				t.Fatalf("via %s: preview of the share to %s: %+v %v", via, to, preview, err)
			}
			_, err = med.ShareDocument(ctx, k.caseID, d.ID, to, false)
			if ce := problem(err); ce.Status != 403 || !strings.Contains(ce.Problem.Detail, "the Buyer side added this document to its caucus") {
				t.Fatalf("via %s: second step to %s without approval: %d %+v", via, to, ce.Status, ce.Problem)
			}
		}
		if _, err := k.as["partyB"].Document(ctx, k.caseID, d.ID); status(err) != 404 {
			t.Fatalf("via %s: party B sees A's document: %v", via, err)
		}
		// Side A is asked, sees the request and allows it; then it goes.
		req, err := med.AskToShare(ctx, k.caseID, d.ID, "joint")
		if err != nil || req.Side != "A" || req.From != via {
			t.Fatalf("via %s: ask: %+v %v", via, req, err)
		}
		if list, err := k.as["partyB"].ShareRequests(ctx, k.caseID); err != nil || len(list) != 0 {
			t.Fatalf("via %s: party B's requests: %+v %v", via, list, err)
		}
		list, err := k.as["counselA"].ShareRequests(ctx, k.caseID)
		if err != nil || !slices.ContainsFunc(list, func(r api.DocShareRequest) bool { return r.ID == req.ID }) {
			t.Fatalf("via %s: side A's lawyer's requests: %+v %v", via, list, err)
		}
		if _, err := k.device(t, "counselA").AnswerShareRequest(ctx, k.caseID, req, true); err != nil {
			t.Fatalf("via %s: allow: %v", via, err)
		}
		if _, err := med.ShareDocument(ctx, k.caseID, d.ID, "joint", false); err != nil {
			t.Fatalf("via %s: share after approval: %v", via, err)
		}
		if _, err := k.as["partyB"].Document(ctx, k.caseID, d.ID); err != nil {
			t.Fatalf("via %s: party B after the approved share: %v", via, err)
		}
	}
}

// A request about a version that retention erased is deleted with it: the
// side no longer sees it, and an answer from a page still showing it is a
// plain 404, not an approval of content that is gone.
func TestShareRequestOfErasedVersionOverHTTP(t *testing.T) {
	n := nodetest.Embedded(t)
	k := newVaultCast(t, n)
	ctx := t.Context()
	d := k.upload(t, "partyA", "Deposit receipt.pdf", "caucus:A", "evidence", []byte("receipt"))
	req, err := k.as["mediator"].AskToShare(ctx, k.caseID, d.ID, "joint")
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Vault.DestroyDataKey(ctx, "u-retention", k.caseID, d.ID, 1); err != nil {
		t.Fatal(err)
	}
	if list, err := k.as["partyA"].ShareRequests(ctx, k.caseID); err != nil || len(list) != 0 {
		t.Fatalf("party A's requests after the erasure: %+v %v", list, err)
	}
	_, err = k.device(t, "partyA").AnswerShareRequest(ctx, k.caseID, req, true)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 404 || ce.Problem.Title == "" {
		t.Fatalf("answering a request about an erased version: %v", err)
	}
	if _, err := k.as["mediator"].ShareDocument(ctx, k.caseID, d.ID, "joint", false); status(err) != 403 {
		t.Fatalf("share after the erasure: %v", err)
	}
}

// A mediator who signs in as party A through a re-entry link they made
// cannot allow a share of A's caucus document in A's name: an answer
// signed by the device the mediator registered for A's account is
// refused, and so is one from that device once the mediator admitted it
// to the case (it counts for reading, not for consent). The share stays
// refused and side B never sees the document. Party A's own device still
// answers.
func TestShareApprovalByReentryDeviceIsRefused(t *testing.T) {
	n := nodetest.Embedded(t)
	k := newVaultCast(t, n)
	ctx := t.Context()
	med := k.as["mediator"]
	own := k.device(t, "partyA") // party A's own first device
	d := k.upload(t, "partyA", "Bottom line.pdf", "caucus:A", "evidence", []byte("side A only"))
	req, err := med.AskToShare(ctx, k.caseID, d.ID, "joint")
	if err != nil {
		t.Fatal(err)
	}

	link, err := med.Reentry(ctx, k.caseID, k.id["partyA"], time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	asA := client.New(n.URL, "")
	s, err := asA.Join(ctx, link.Link)
	if err != nil || s.Account.ID != k.id["partyA"] {
		t.Fatalf("re-entry as party A: %+v %v", s.Account, err)
	}
	fake := newRegisteredDevice(t, asA, k.id["partyA"])
	refused := func(when string) {
		t.Helper()
		_, err := fake.AnswerShareRequest(ctx, k.caseID, req, true)
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != 403 || !strings.Contains(ce.Problem.Detail, "admitted by a mediator rather than linked from your own device") {
			t.Fatalf("%s: the mediator's device allowing in party A's name: %v", when, err)
		}
		if _, err := med.ShareDocument(ctx, k.caseID, d.ID, "joint", false); status(err) != 403 {
			t.Fatalf("%s: share to the joint room: %v", when, err)
		}
		if _, err := k.as["partyB"].Document(ctx, k.caseID, d.ID); status(err) != 404 {
			t.Fatalf("%s: party B sees A's document: %v", when, err)
		}
		list, err := own.C.ShareRequests(ctx, k.caseID)
		if err != nil || len(list) != 1 || list[0].Status != "pending" {
			t.Fatalf("%s: the request is no longer pending: %+v %v", when, list, err)
		}
	}
	refused("registered, not admitted")

	// The mediator admits that device to the case from their own.
	mx := k.device(t, "mediator")
	if err := mx.AdmitDevice(ctx, k.caseID, k.id["partyA"], fake.Me.ID); err != nil {
		t.Fatal(err)
	}
	refused("admitted by the mediator")

	// Party A's own device answers; the answer names it, and so does the audit entry.
	ok, err := own.AnswerShareRequest(ctx, k.caseID, req, true)
	if err != nil || ok.Status != "approved" || ok.DecidedBy != k.id["partyA"] || ok.DecidedDevice != own.Me.ID {
		t.Fatalf("party A's own answer: %+v %v", ok, err)
	}
	found := false
	for i := int64(0); i < n.Audit.Size(); i++ {
		ev, err := n.Audit.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == "doc.share.approved" && slices.Contains(ev.Objects, req.ID) {
			found = ev.Actor == k.id["partyA"] && slices.Contains(ev.Objects, own.Me.ID) && ev.Attrs["device"] == "first"
		}
	}
	if !found {
		t.Fatal("the approval's audit entry does not name party A's own device")
	}
	if _, err := med.ShareDocument(ctx, k.caseID, d.ID, "joint", false); err != nil {
		t.Fatalf("share after party A's own answer: %v", err)
	}
}

// A party who has no device yet (a CLI or API user who never set up
// keys): the mediator makes a re-entry link for them, opens it, and tries
// to register the account's first device there — the root of what counts
// as the party's own consent (and, in every client, of who authored a
// carry or signed an agreement). Refused in words; so the mediator can
// neither allow a share in the party's name nor accept terms, the share
// stays refused and side B sees nothing. The party's own session (their
// invitation's) then registers the first device, which answers.
func TestShareApprovalByReentryFirstDeviceIsRefused(t *testing.T) {
	n := nodetest.Embedded(t)
	k := newVaultCast(t, n)
	ctx := t.Context()
	med := k.as["mediator"]
	d := k.upload(t, "partyA", "Bottom line.pdf", "caucus:A", "evidence", []byte("side A only"))
	req, err := med.AskToShare(ctx, k.caseID, d.ID, "joint")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := k.devs["partyA"]; ok {
		t.Fatal("party A has a device before the test begins")
	}

	link, err := med.Reentry(ctx, k.caseID, k.id["partyA"], time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	asA := client.New(n.URL, "")
	s, err := asA.Join(ctx, link.Link)
	if err != nil || s.Account.ID != k.id["partyA"] {
		t.Fatalf("re-entry as party A: %+v %v", s.Account, err)
	}
	dir := t.TempDir()
	if _, err := client.InitDevice(dir, k.id["partyA"], e2ee.KEMX25519); err != nil {
		t.Fatal(err)
	}
	fake, err := asA.E2EE(dir)
	if err != nil {
		t.Fatal(err)
	}
	err = fake.Register(ctx)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 403 || !strings.Contains(ce.Problem.Detail, "a link your mediator made") {
		t.Fatalf("the mediator registering party A's first device: %v", err)
	}
	if _, err := fake.AnswerShareRequest(ctx, k.caseID, req, true); status(err) != 403 {
		t.Fatalf("the mediator's device allowing in party A's name: %v", err)
	}
	if v, err := asA.Terms(ctx, k.caseID); err == nil {
		if _, err := fake.AcceptTerms(ctx, k.caseID, v.Terms); status(err) != 403 {
			t.Fatalf("the mediator's device accepting terms in party A's name: %v", err)
		}
	}
	if _, err := med.ShareDocument(ctx, k.caseID, d.ID, "joint", false); status(err) != 403 {
		t.Fatalf("share to the joint room: %v", err)
	}
	if _, err := k.as["partyB"].Document(ctx, k.caseID, d.ID); status(err) != 404 {
		t.Fatalf("party B sees A's document: %v", err)
	}

	// Party A's own session (the invitation's) registers the first device.
	own := k.device(t, "partyA")
	ok, err := own.AnswerShareRequest(ctx, k.caseID, req, true)
	if err != nil || ok.Status != "approved" || ok.DecidedDevice != own.Me.ID {
		t.Fatalf("party A's own answer: %+v %v", ok, err)
	}
	// Once the account has its first device, the re-entry session may
	// register another (it counts only if linked or admitted, as before).
	if err := fake.Register(ctx); err != nil {
		t.Fatalf("a later device in the re-entry session: %v", err)
	}
}

// A lawyer the mediator invites to side A after asking side A cannot
// answer that request (their account's first device would count as their
// own): refused in words, and the share stays refused.
func TestShareApprovalByLaterJoinerIsRefused(t *testing.T) {
	n := nodetest.Embedded(t)
	k := newVaultCast(t, n)
	ctx := t.Context()
	med := k.as["mediator"]
	d := k.upload(t, "partyA", "Bottom line.pdf", "caucus:A", "evidence", []byte("side A only"))
	req, err := med.AskToShare(ctx, k.caseID, d.ID, "joint")
	if err != nil {
		t.Fatal(err)
	}
	inv, err := med.Invite(ctx, k.caseID, "counsel", "A", "Late Lawyer", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	lc := client.New(n.URL, "")
	s, err := lc.Join(ctx, inv.Link)
	if err != nil {
		t.Fatal(err)
	}
	lx := newRegisteredDevice(t, lc, s.Account.ID)
	list, err := lc.ShareRequests(ctx, k.caseID)
	if err != nil || len(list) != 1 || list[0].ID != req.ID {
		t.Fatalf("the late lawyer's requests: %+v %v", list, err)
	}
	_, err = lx.AnswerShareRequest(ctx, k.caseID, list[0], true)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 403 || !strings.Contains(ce.Problem.Detail, "you joined this mediation after the mediator asked") {
		t.Fatalf("the late lawyer allowing: %v", err)
	}
	if _, err := med.ShareDocument(ctx, k.caseID, d.ID, "joint", false); status(err) != 403 {
		t.Fatalf("share after the late lawyer's answer: %v", err)
	}
	if _, err := k.as["partyB"].Document(ctx, k.caseID, d.ID); status(err) != 404 {
		t.Fatalf("party B sees A's document: %v", err)
	}
}
