package vault

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
)

// A document a side's party added to its caucus is shared wider only after
// a party or lawyer of that side approved exactly that share; the other
// side's approval does not count, nor does an approval for another target
// or another version. A mediator's own caucus document needs none.
func TestShareOfSideDocumentNeedsSideApproval(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		k := e.newCast(t)
		ctx := t.Context()
		med, pA, cA, pB := k.who["mediator"], k.who["partyA"], k.who["counselA"], k.who["partyB"]
		d := e.upload(t, pA, k.caseID, "Deposit receipt.pdf", k.audience(t, "caucus:A"), ClassEvidence, []byte("receipt"))
		joint, caucusB := k.audience(t, "joint"), k.audience(t, "caucus:B")

		// The one-click share is refused, in words, and audited.
		n := e.log.Size()
		_, err := e.vault.Share(ctx, med, k.caseID, d.ID, joint, false)
		if !errors.Is(err, fault.ErrForbidden) || !strings.Contains(err.Error(), "Employee side added this document") {
			t.Fatalf("share without approval: %v", err)
		}
		if ev := e.lastEntry(t); ev.Type != "access.denied" || e.log.Size() != n+1 {
			t.Fatalf("refusal audited as %+v", ev)
		}
		if _, err := e.download(t, pB, k.caseID, d.ID, 0); err == nil {
			t.Fatal("party B reads side A's document")
		}
		// The preview says an approval is needed, and by whom.
		res, err := e.vault.Share(ctx, med, k.caseID, d.ID, joint, true)
		if err != nil || !res.NeedsApproval || res.ApprovalSide != "A" {
			t.Fatalf("preview: %+v %v", res, err)
		}
		// Narrower shares need none (the mediators only).
		if res, err := e.vault.Share(ctx, med, k.caseID, d.ID, k.audience(t, "mediators"), true); err != nil || res.NeedsApproval {
			t.Fatalf("preview to the mediators: %+v %v", res, err)
		}

		// Only a mediator asks; the request is audited.
		if _, err := e.vault.RequestShare(ctx, pA, k.caseID, d.ID, joint); err == nil {
			t.Fatal("a party asked for a share")
		}
		req, err := e.vault.RequestShare(ctx, med, k.caseID, d.ID, joint)
		if err != nil || req.Status != SharePending || req.Version != 1 || len(req.Gaining) != 3 {
			t.Fatalf("request: %+v %v", req, err)
		}
		if ev := e.lastEntry(t); ev.Type != "doc.share.requested" || ev.Objects[0] != d.ID || ev.Objects[1] != req.ID || ev.Attrs["to"] != "joint" {
			t.Fatalf("request audited as %+v", ev)
		}
		// Asking again answers the same request.
		if again, err := e.vault.RequestShare(ctx, med, k.caseID, d.ID, joint); err != nil || again.ID != req.ID {
			t.Fatalf("second request: %+v %v", again, err)
		}
		// Party B sees no request about side A's document; party A does.
		if list, err := e.vault.ShareRequests(ctx, pB, k.caseID); err != nil || len(list) != 0 {
			t.Fatalf("party B's requests: %+v %v", list, err)
		}
		if list, err := e.vault.ShareRequests(ctx, pA, k.caseID); err != nil || len(list) != 1 || list[0].ID != req.ID {
			t.Fatalf("party A's requests: %+v %v", list, err)
		}

		// The other side's party cannot approve it.
		if _, err := e.decide(t, ctx, pB, k.caseID, d.ID, req.ID, true); !isRefusal(err) {
			t.Fatalf("party B approved side A's request: %v", err)
		}
		if _, err := e.decide(t, ctx, k.who["observer"], k.caseID, d.ID, req.ID, true); !isRefusal(err) {
			t.Fatalf("the observer approved: %v", err)
		}
		if _, err := e.vault.Share(ctx, med, k.caseID, d.ID, joint, false); !errors.Is(err, fault.ErrForbidden) {
			t.Fatalf("share after the other side's attempt: %v", err)
		}

		// Side A's lawyer allows it: audited, then the share goes through.
		ok, err := e.decide(t, ctx, cA, k.caseID, d.ID, req.ID, true)
		if err != nil || ok.Status != ShareApproved || ok.DecidedBy != cA.ID {
			t.Fatalf("approve: %+v %v", ok, err)
		}
		if ev := e.lastEntry(t); ev.Type != "doc.share.approved" || ev.Actor != cA.ID || ev.Objects[1] != req.ID {
			t.Fatalf("approval audited as %+v", ev)
		}
		// Declining after allowing is a conflict.
		if _, err := e.decide(t, ctx, pA, k.caseID, d.ID, req.ID, false); !errors.Is(err, fault.ErrConflict) {
			t.Fatalf("decline after approval: %v", err)
		}
		// Approved for the joint room, not for the other caucus.
		if _, err := e.vault.Share(ctx, med, k.caseID, d.ID, caucusB, false); !errors.Is(err, fault.ErrForbidden) {
			t.Fatalf("share to caucus B with an approval for joint: %v", err)
		}
		if _, err := e.vault.Share(ctx, med, k.caseID, d.ID, joint, false); err != nil {
			t.Fatalf("share after approval: %v", err)
		}
		if ev := e.lastEntry(t); ev.Type != "doc.share" || ev.Attrs["to"] != "joint" {
			t.Fatalf("share audited as %+v", ev)
		}
		if got, err := e.download(t, pB, k.caseID, d.ID, 0); err != nil || string(got) != "receipt" {
			t.Fatalf("party B after the approved share: %q %v", got, err)
		}

		// A mediator's own caucus document is theirs to share.
		own := e.upload(t, med, k.caseID, "Agenda.pdf", k.audience(t, "caucus:A"), ClassCorrespondence, []byte("agenda"))
		if _, err := e.vault.RequestShare(ctx, med, k.caseID, own.ID, joint); err == nil {
			t.Fatal("a request for a mediator's own document")
		}
		if _, err := e.vault.Share(ctx, med, k.caseID, own.ID, joint, false); err != nil {
			t.Fatalf("mediator's own document: %v", err)
		}

		// Two steps are one: a narrower move needs no approval, but the
		// document stays side A's, so the next step out of the side needs
		// A's approval as a share straight out of the caucus does, and its
		// preview says so.
		for _, via := range []string{"mediators", "user:partyA"} {
			d := e.upload(t, pA, k.caseID, "Bottom line.pdf", k.audience(t, "caucus:A"), ClassEvidence, []byte("side A only"))
			if res, err := e.vault.Share(ctx, med, k.caseID, d.ID, k.audience(t, via), false); err != nil || res.NeedsApproval {
				t.Fatalf("via %s: narrower share: %+v %v", via, res, err)
			}
			for _, to := range []Audience{joint, caucusB, k.audience(t, "user:"+pB.ID), k.audience(t, "user:"+k.who["observer"].ID)} {
				res, err := e.vault.Share(ctx, med, k.caseID, d.ID, to, true)
				if err != nil || !res.NeedsApproval || res.ApprovalSide != "A" {
					t.Fatalf("via %s: preview of the share to %s: %+v %v", via, to, res, err)
				}
				_, err = e.vault.Share(ctx, med, k.caseID, d.ID, to, false)
				if !errors.Is(err, fault.ErrForbidden) || !strings.Contains(err.Error(), "Employee side added this document") {
					t.Fatalf("via %s: second step to %s without approval: %v", via, to, err)
				}
			}
			if got, err := e.download(t, pB, k.caseID, d.ID, 0); err == nil {
				t.Fatalf("via %s: party B reads side A's document: %q", via, got)
			}
			// Back within the side needs nothing.
			if res, err := e.vault.Share(ctx, med, k.caseID, d.ID, k.audience(t, "caucus:A"), true); err != nil || res.NeedsApproval {
				t.Fatalf("via %s: preview of the share back to caucus A: %+v %v", via, res, err)
			}
			// The side is asked, and answers, as for a share out of its
			// caucus; the other side cannot answer.
			req, err := e.vault.RequestShare(ctx, med, k.caseID, d.ID, joint)
			if err != nil || req.Side != "A" || req.From.String() != k.audience(t, via).String() {
				t.Fatalf("via %s: request: %+v %v", via, req, err)
			}
			if list, err := e.vault.ShareRequests(ctx, pB, k.caseID); err != nil || len(list) != 0 {
				t.Fatalf("via %s: party B's requests: %+v %v", via, list, err)
			}
			if list, err := e.vault.ShareRequests(ctx, cA, k.caseID); err != nil || !slices.ContainsFunc(list, func(a ShareApproval) bool { return a.ID == req.ID }) {
				t.Fatalf("via %s: side A's lawyer does not see the request: %+v %v", via, list, err)
			}
			if _, err := e.decide(t, ctx, pB, k.caseID, d.ID, req.ID, true); !isRefusal(err) {
				t.Fatalf("via %s: party B approved side A's request: %v", via, err)
			}
			if _, err := e.decide(t, ctx, pA, k.caseID, d.ID, req.ID, true); err != nil {
				t.Fatalf("via %s: approve: %v", via, err)
			}
			if _, err := e.vault.Share(ctx, med, k.caseID, d.ID, caucusB, false); !errors.Is(err, fault.ErrForbidden) {
				t.Fatalf("via %s: share to caucus B with an approval for joint: %v", via, err)
			}
			if _, err := e.vault.Share(ctx, med, k.caseID, d.ID, joint, false); err != nil {
				t.Fatalf("via %s: share after approval: %v", via, err)
			}
			if got, err := e.download(t, pB, k.caseID, d.ID, 0); err != nil || string(got) != "side A only" {
				t.Fatalf("via %s: party B after the approved share: %q %v", via, got, err)
			}
		}
	})
}

// An approval names a version: a version added after it needs a new one.
// A declined request shares nothing; an expired one is answered no more.
func TestShareApprovalVersionDeclineExpiry(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		k := e.newCast(t)
		ctx := t.Context()
		med, pA := k.who["mediator"], k.who["partyA"]
		joint := k.audience(t, "joint")
		d := e.upload(t, pA, k.caseID, "Lease.pdf", k.audience(t, "caucus:A"), ClassEvidence, []byte("v1"))
		req, err := e.vault.RequestShare(ctx, med, k.caseID, d.ID, joint)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.decide(t, ctx, pA, k.caseID, d.ID, req.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, err := e.vault.AddVersion(ctx, pA, k.caseID, d.ID, NewVersion{}, strings.NewReader("v2")); err != nil {
			t.Fatal(err)
		}
		if _, err := e.vault.Share(ctx, med, k.caseID, d.ID, joint, false); !errors.Is(err, fault.ErrForbidden) {
			t.Fatalf("share of version 2 with an approval of version 1: %v", err)
		}

		// Declined.
		req2, err := e.vault.RequestShare(ctx, med, k.caseID, d.ID, joint)
		if err != nil || req2.ID == req.ID || req2.Version != 2 {
			t.Fatalf("request for version 2: %+v %v", req2, err)
		}
		no, err := e.decide(t, ctx, pA, k.caseID, d.ID, req2.ID, false)
		if err != nil || no.Status != ShareDeclined {
			t.Fatalf("decline: %+v %v", no, err)
		}
		if ev := e.lastEntry(t); ev.Type != "doc.share.declined" || ev.Actor != pA.ID {
			t.Fatalf("decline audited as %+v", ev)
		}
		if _, err := e.decide(t, ctx, pA, k.caseID, d.ID, req2.ID, true); !errors.Is(err, fault.ErrConflict) {
			t.Fatalf("allow after decline: %v", err)
		}
		if _, err := e.vault.Share(ctx, med, k.caseID, d.ID, joint, false); !errors.Is(err, fault.ErrForbidden) {
			t.Fatalf("share after decline: %v", err)
		}
		list, err := e.vault.ShareRequests(ctx, med, k.caseID)
		if err != nil || len(list) != 2 || list[0].Status != ShareDeclined {
			t.Fatalf("mediator's list: %+v %v", list, err)
		}

		// Expired: asked again, then a week and a day pass.
		req3, err := e.vault.RequestShare(ctx, med, k.caseID, d.ID, k.audience(t, "caucus:B"))
		if err != nil {
			t.Fatal(err)
		}
		e.vault.now = func() time.Time { return time.Now().Add(ShareRequestTTL + time.Hour) }
		if _, err := e.decide(t, ctx, pA, k.caseID, d.ID, req3.ID, true); !errors.Is(err, fault.ErrGone) {
			t.Fatalf("allow after expiry: %v", err)
		}
		list, err = e.vault.ShareRequests(ctx, med, k.caseID)
		if err != nil || len(list) != 3 || list[0].ID != req3.ID || list[0].Status != ShareExpired {
			t.Fatalf("mediator's list after expiry: %+v %v", list, err)
		}
	})
}

// sideApproves has the mediator ask, and side A's party allow, sharing
// side A's document docID with to (what a share of a party's caucus
// document needs first).
func (e *env) sideApproves(t *testing.T, k *cast, docID string, to Audience) {
	t.Helper()
	req, err := e.vault.RequestShare(t.Context(), k.who["mediator"], k.caseID, docID, to)
	if err != nil {
		t.Fatalf("request share: %v", err)
	}
	if _, err := e.decide(t, t.Context(), k.who["partyA"], k.caseID, docID, req.ID, true); err != nil {
		t.Fatalf("approve share: %v", err)
	}
}

// TestShareRequestsGoWithTheirVersions: erasing a version deletes the
// share requests about it, and a request about an erased version is
// answered no more (allowed or declined); disposing of a whole document
// deletes all of its requests.
func TestShareRequestsGoWithTheirVersions(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		k := e.newCast(t)
		ctx := t.Context()
		med, pA := k.who["mediator"], k.who["partyA"]
		joint, caucusA := k.audience(t, "joint"), k.audience(t, "caucus:A")
		stored := func(docID string) (n int) {
			t.Helper()
			err := store.VersionsUnder(ctx, approvalPrefix(k.caseID)+docID+"/", func(objstore.Version) error { n++; return nil })
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		gone := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, fault.ErrGone) || !strings.Contains(err.Error(), "erased") {
				t.Fatalf("%s: %v", what, err)
			}
		}

		// The latest of two versions is erased: the request about it goes.
		d := e.upload(t, pA, k.caseID, "Lease.pdf", caucusA, ClassEvidence, []byte("v1"))
		if _, err := e.vault.AddVersion(ctx, pA, k.caseID, d.ID, NewVersion{}, strings.NewReader("v2")); err != nil {
			t.Fatal(err)
		}
		req, err := e.vault.RequestShare(ctx, med, k.caseID, d.ID, joint)
		if err != nil || req.Version != 2 {
			t.Fatalf("request: %+v %v", req, err)
		}
		if err := e.vault.DestroyDataKey(ctx, "u-retention", k.caseID, d.ID, 2); err != nil {
			t.Fatal(err)
		}
		if _, err = e.decide(t, ctx, pA, k.caseID, d.ID, req.ID, false); !errors.Is(err, fault.ErrNotFound) {
			t.Fatalf("decline a request about an erased version: %v", err)
		}
		if n := stored(d.ID); n != 0 {
			t.Errorf("%d stored versions of requests about an erased version", n)
		}
		if list, err := e.vault.ShareRequests(ctx, med, k.caseID); err != nil || len(list) != 0 {
			t.Fatalf("requests listed: %+v %v", list, err)
		}

		// A request still pending when its record outlived the erasure
		// (a disposal that stopped before deleting it) is not answerable.
		only := e.upload(t, pA, k.caseID, "Note.pdf", caucusA, ClassEvidence, []byte("n"))
		req, err = e.vault.RequestShare(ctx, med, k.caseID, only.ID, joint)
		if err != nil {
			t.Fatal(err)
		}
		var saved ShareApproval
		if _, err := e.meta.Get(ctx, approvalKey(k.caseID, only.ID, req.ID), &saved); err != nil {
			t.Fatal(err)
		}
		if err := e.vault.DestroyDataKey(ctx, "u-retention", k.caseID, only.ID, 1); err != nil {
			t.Fatal(err)
		}
		if n := stored(only.ID); n != 0 {
			t.Errorf("%d stored versions of requests about an erased version", n)
		}
		if _, err := e.meta.Create(ctx, approvalKey(k.caseID, only.ID, req.ID), &saved); err != nil {
			t.Fatal(err)
		}
		_, err = e.decide(t, ctx, pA, k.caseID, only.ID, req.ID, true)
		gone("allow a request about the erased only version", err)
		_, err = e.vault.RequestShare(ctx, med, k.caseID, only.ID, joint)
		gone("ask about a document whose every version is erased", err)

		// A document disposed of whole takes its requests along, answered
		// or not.
		whole := e.upload(t, pA, k.caseID, "Photo.jpg", caucusA, ClassEvidence, []byte("p"))
		e.sideApproves(t, k, whole.ID, joint)
		if _, err := e.vault.RequestShare(ctx, med, k.caseID, whole.ID, k.audience(t, "caucus:B")); err != nil {
			t.Fatal(err)
		}
		errs, err := e.vault.Dispose(ctx, "u-retention", []VersionRef{{Case: k.caseID, Doc: whole.ID, Version: 1}}, nil, 2, nil)
		if err != nil || errs[0] != nil {
			t.Fatalf("dispose: %v %v", errs, err)
		}
		if n := stored(whole.ID); n != 0 {
			t.Errorf("%d stored versions of a disposed document's requests", n)
		}
	})
}

// TestApprovalNamesEveryVersionItShows: a share moves the whole document,
// so a side asked to allow it is told every version it would show — the
// latest and each earlier one not erased, by name, newest first — in the
// request, in the list of requests and in the answer; and the other side
// then reads exactly those (an erased one stays unreadable).
func TestApprovalNamesEveryVersionItShows(t *testing.T) {
	t.Parallel()
	e := newDirEnv(t)
	k := e.newCast(t)
	ctx := t.Context()
	med, pA, pB := k.who["mediator"], k.who["partyA"], k.who["partyB"]
	joint := k.audience(t, "joint")
	d := e.upload(t, pA, k.caseID, "Our bottom line - internal.pdf", k.audience(t, "caucus:A"), ClassEvidence, []byte("we accept 50k"))
	for _, name := range []string{"Draft.pdf", "Offer.pdf"} {
		if _, err := e.vault.AddVersion(ctx, pA, k.caseID, d.ID, NewVersion{Name: name}, strings.NewReader("text of "+name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.vault.DestroyDataKey(ctx, "u-retention", k.caseID, d.ID, 2); err != nil {
		t.Fatal(err)
	}
	shows := func(what string, got []VersionInfo) {
		t.Helper()
		var names []string
		for _, v := range got {
			names = append(names, fmt.Sprintf("%d %s", v.Version, v.Name))
		}
		if want := []string{"3 Offer.pdf", "1 Our bottom line - internal.pdf"}; !slices.Equal(names, want) {
			t.Errorf("%s shows %q, want %q", what, names, want)
		}
	}
	req, err := e.vault.RequestShare(ctx, med, k.caseID, d.ID, joint)
	if err != nil || req.Version != 3 {
		t.Fatalf("request: %+v %v", req, err)
	}
	shows("the request", req.Shows)
	list, err := e.vault.ShareRequests(ctx, pA, k.caseID)
	if err != nil || len(list) != 1 {
		t.Fatalf("side's list: %+v %v", list, err)
	}
	shows("the side's list", list[0].Shows)
	var stored ShareApproval
	if _, err := e.meta.Get(ctx, approvalKey(k.caseID, d.ID, req.ID), &stored); err != nil || stored.Shows != nil {
		t.Errorf("the stored request keeps names (%+v) or is unreadable (%v): it holds ids only", stored.Shows, err)
	}
	ans, err := e.decide(t, ctx, pA, k.caseID, d.ID, req.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	shows("the answer", ans.Shows)
	if _, err := e.vault.Share(ctx, med, k.caseID, d.ID, joint, false); err != nil {
		t.Fatal(err)
	}
	for v, want := range map[int]string{1: "we accept 50k", 3: "text of Offer.pdf"} {
		if got, err := e.download(t, pB, k.caseID, d.ID, v); err != nil || string(got) != want {
			t.Errorf("party B reads version %d: %q %v, want %q (the side was told it would)", v, got, err, want)
		}
	}
	if got, err := e.download(t, pB, k.caseID, d.ID, 2); err == nil {
		t.Errorf("party B reads the erased version 2: %q", got)
	}
}

// A document's sides stick to it: recorded as a party or lawyer adds a
// version in their caucus, kept through shares, holds and erasures. A
// document with both sides' material is shared beyond them only once each
// side allowed it, each asked by a request of its own. A record from
// before sides were recorded is treated as its uploaders' sides' (and as
// its caucus's side's, if it is in one).
func TestSideOwnershipSticksToTheDocument(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		k := e.newCast(t)
		ctx := t.Context()
		med, pA, pB, cB := k.who["mediator"], k.who["partyA"], k.who["partyB"], k.who["counselB"]
		joint, caucusB := k.audience(t, "joint"), k.audience(t, "caucus:B")
		sides := func(docID string) string {
			t.Helper()
			var r docRecord
			if _, err := e.meta.Get(ctx, docKey(k.caseID, docID), &r); err != nil {
				t.Fatal(err)
			}
			if !r.SidesRecorded {
				t.Fatalf("document %s: sides not recorded", docID)
			}
			return strings.Join(r.Sides, " ")
		}

		// Side A's document, allowed into caucus B through the mediators;
		// side B's lawyer adds a version there: both sides' now.
		d := e.upload(t, pA, k.caseID, "Draft terms.pdf", k.audience(t, "caucus:A"), ClassEvidence, []byte("A's draft"))
		if got := sides(d.ID); got != "A" {
			t.Fatalf("sides after side A's upload: %q", got)
		}
		if _, err := e.vault.Share(ctx, med, k.caseID, d.ID, k.audience(t, "mediators"), false); err != nil {
			t.Fatal(err)
		}
		if got := sides(d.ID); got != "A" {
			t.Fatalf("sides after a share to the mediators: %q", got)
		}
		e.sideApproves(t, k, d.ID, caucusB)
		if _, err := e.vault.Share(ctx, med, k.caseID, d.ID, caucusB, false); err != nil {
			t.Fatalf("share to caucus B after side A allowed it: %v", err)
		}
		if _, err := e.vault.AddVersion(ctx, cB, k.caseID, d.ID, NewVersion{}, strings.NewReader("B's markup")); err != nil {
			t.Fatal(err)
		}
		if got := sides(d.ID); got != "A B" {
			t.Fatalf("sides after side B's version: %q", got)
		}

		// Each side is asked in turn; each answers only its own request.
		res, err := e.vault.Share(ctx, med, k.caseID, d.ID, joint, true)
		if err != nil || !res.NeedsApproval || res.ApprovalSide != "A" {
			t.Fatalf("preview to joint: %+v %v", res, err)
		}
		reqA, err := e.vault.RequestShare(ctx, med, k.caseID, d.ID, joint)
		if err != nil || reqA.Side != "A" || reqA.Version != 2 {
			t.Fatalf("first request: %+v %v", reqA, err)
		}
		if ev := e.lastEntry(t); ev.Type != "doc.share.requested" || ev.Attrs["side"] != "A" {
			t.Fatalf("request audited as %+v", ev)
		}
		reqB, err := e.vault.RequestShare(ctx, med, k.caseID, d.ID, joint)
		if err != nil || reqB.Side != "B" || reqB.ID == reqA.ID {
			t.Fatalf("second request: %+v %v", reqB, err)
		}
		if again, err := e.vault.RequestShare(ctx, med, k.caseID, d.ID, joint); err != nil || again.ID != reqA.ID {
			t.Fatalf("third request: %+v %v", again, err)
		}
		for who, want := range map[string]ShareApproval{"partyA": reqA, "partyB": reqB} {
			list, err := e.vault.ShareRequests(ctx, k.who[who], k.caseID)
			if err != nil || !slices.ContainsFunc(list, func(a ShareApproval) bool { return a.ID == want.ID }) ||
				slices.ContainsFunc(list, func(a ShareApproval) bool { return a.Side != want.Side }) {
				t.Fatalf("%s's requests: %+v %v", who, list, err)
			}
		}
		if _, err := e.decide(t, ctx, pA, k.caseID, d.ID, reqB.ID, true); !isRefusal(err) {
			t.Fatalf("party A answered side B's request: %v", err)
		}
		if _, err := e.decide(t, ctx, pB, k.caseID, d.ID, reqA.ID, true); !isRefusal(err) {
			t.Fatalf("party B answered side A's request: %v", err)
		}
		if _, err := e.decide(t, ctx, pA, k.caseID, d.ID, reqA.ID, true); err != nil {
			t.Fatal(err)
		}
		_, err = e.vault.Share(ctx, med, k.caseID, d.ID, joint, false)
		if !errors.Is(err, fault.ErrForbidden) || !strings.Contains(err.Error(), "Employer side added this document") {
			t.Fatalf("share to joint with side A's approval only: %v", err)
		}
		if res, err := e.vault.Share(ctx, med, k.caseID, d.ID, joint, true); err != nil || !res.NeedsApproval || res.ApprovalSide != "B" {
			t.Fatalf("preview to joint with side A's approval only: %+v %v", res, err)
		}
		// Back to side A's caucus carries side B's version beyond side B.
		if res, err := e.vault.Share(ctx, med, k.caseID, d.ID, k.audience(t, "caucus:A"), true); err != nil || res.ApprovalSide != "B" {
			t.Fatalf("preview to caucus A: %+v %v", res, err)
		}
		if _, err := e.decide(t, ctx, pB, k.caseID, d.ID, reqB.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, err := e.vault.Share(ctx, med, k.caseID, d.ID, joint, false); err != nil {
			t.Fatalf("share to joint with both sides' approval: %v", err)
		}
		if got := sides(d.ID); got != "A B" {
			t.Fatalf("sides after the share to joint: %q", got)
		}

		// A hold and an erasure leave the sides alone.
		if _, err := e.vault.SetHold(ctx, k.who["records"], k.caseID, d.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, err := e.vault.SetHold(ctx, k.who["records"], k.caseID, d.ID, false); err != nil {
			t.Fatal(err)
		}
		if err := e.vault.DestroyDataKey(ctx, "u-retention", k.caseID, d.ID, 2); err != nil {
			t.Fatal(err)
		}
		if got := sides(d.ID); got != "A B" {
			t.Fatalf("sides after a hold and an erasure: %q", got)
		}

		// A mediator's version adds no side.
		own := e.upload(t, med, k.caseID, "Agenda.pdf", k.audience(t, "caucus:B"), ClassCorrespondence, []byte("agenda"))
		if _, err := e.vault.AddVersion(ctx, med, k.caseID, own.ID, NewVersion{}, strings.NewReader("agenda 2")); err != nil {
			t.Fatal(err)
		}
		if got := sides(own.ID); got != "" {
			t.Fatalf("sides of a mediator's document: %q", got)
		}

		// Records from before sides were recorded: one still in side A's
		// caucus, one already moved to the mediators only.
		legacy := func(aud string) string {
			t.Helper()
			d := e.upload(t, pA, k.caseID, "Old.pdf", k.audience(t, "caucus:A"), ClassEvidence, []byte("old"))
			if _, err := metastore.Update(ctx, e.meta, docKey(k.caseID, d.ID), func(r *docRecord) error {
				r.Audience, r.Sides, r.SidesRecorded = k.audience(t, aud), nil, false
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			return d.ID
		}
		inCaucus := legacy("caucus:A")
		if _, err := e.vault.Share(ctx, med, k.caseID, inCaucus, k.audience(t, "mediators"), false); err != nil {
			t.Fatal(err)
		}
		if got := sides(inCaucus); got != "A" {
			t.Fatalf("sides written down for an older record: %q", got)
		}
		moved := legacy("mediators")
		for _, id := range []string{inCaucus, moved} {
			if res, err := e.vault.Share(ctx, med, k.caseID, id, joint, true); err != nil || !res.NeedsApproval || res.ApprovalSide != "A" {
				t.Fatalf("older record: preview to joint: %+v %v", res, err)
			}
			if _, err := e.vault.Share(ctx, med, k.caseID, id, caucusB, false); !errors.Is(err, fault.ErrForbidden) {
				t.Fatalf("older record: share to caucus B: %v", err)
			}
		}
		if req, err := e.vault.RequestShare(ctx, med, k.caseID, moved, joint); err != nil || req.Side != "A" {
			t.Fatalf("older record: request: %+v %v", req, err)
		}
	})
}

// TestShowsNamesOnlyWhatTheViewerMayRead: a party asked about their side's
// material after it moved (here to the mediators only, where a mediator
// added a version) is told every version the share would show, but named
// only the ones their side added; the mediator's version is listed by
// number and date alone. The mediator, who may open it, sees every name.
func TestShowsNamesOnlyWhatTheViewerMayRead(t *testing.T) {
	t.Parallel()
	e := newDirEnv(t)
	k := e.newCast(t)
	ctx := t.Context()
	med, pA := k.who["mediator"], k.who["partyA"]
	d := e.upload(t, pA, k.caseID, "Bottom line.pdf", k.audience(t, "caucus:A"), ClassEvidence, []byte("we accept 50k"))
	if _, err := e.vault.Share(ctx, med, k.caseID, d.ID, k.audience(t, "mediators"), false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.vault.AddVersion(ctx, med, k.caseID, d.ID, NewVersion{Name: "Mediator's assessment.pdf"}, strings.NewReader("private")); err != nil {
		t.Fatal(err)
	}
	req, err := e.vault.RequestShare(ctx, med, k.caseID, d.ID, k.audience(t, "joint"))
	if err != nil || req.Side != "A" {
		t.Fatalf("request: %+v %v", req, err)
	}
	names := func(who string) []string {
		t.Helper()
		list, err := e.vault.ShareRequests(ctx, k.who[who], k.caseID)
		if err != nil || len(list) != 1 {
			t.Fatalf("%s's requests: %+v %v", who, list, err)
		}
		var out []string
		for _, v := range list[0].Shows {
			out = append(out, fmt.Sprintf("%d %q %q", v.Version, v.Name, v.Uploader))
			if v.Name == "" && (v.Size != 0 || !v.Created.IsZero() || v.SHA256 != "") {
				t.Errorf("%s is told the size, date or hash of version %d: %+v", who, v.Version, v)
			}
		}
		return out
	}
	if got, want := names("partyA"), []string{`2 "" ""`, fmt.Sprintf(`1 "Bottom line.pdf" %q`, pA.ID)}; !slices.Equal(got, want) {
		t.Errorf("party A is shown %q, want %q", got, want)
	}
	if got, want := names("mediator"), []string{fmt.Sprintf(`2 "Mediator's assessment.pdf" %q`, med.ID), fmt.Sprintf(`1 "Bottom line.pdf" %q`, pA.ID)}; !slices.Equal(got, want) {
		t.Errorf("the mediator is shown %q, want %q", got, want)
	}
}

// TestApprovalBySomeoneWhoLeftIsAskedAgain: an approval counts only while
// its approver is of the side; once they have left the case the share is
// refused, and the mediator's next request asks the side again (a new
// request) instead of answering with the approval that no longer counts.
func TestApprovalBySomeoneWhoLeftIsAskedAgain(t *testing.T) {
	t.Parallel()
	e := newDirEnv(t)
	k := e.newCast(t)
	ctx := t.Context()
	med, pA, cA := k.who["mediator"], k.who["partyA"], k.who["counselA"]
	joint := k.audience(t, "joint")
	d := e.upload(t, pA, k.caseID, "Receipt.pdf", k.audience(t, "caucus:A"), ClassEvidence, []byte("r"))
	req, err := e.vault.RequestShare(ctx, med, k.caseID, d.ID, joint)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.decide(t, ctx, cA, k.caseID, d.ID, req.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cases.RemoveParticipant(ctx, med, k.caseID, cA.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.vault.Share(ctx, med, k.caseID, d.ID, joint, false); !errors.Is(err, fault.ErrForbidden) {
		t.Fatalf("share on the approval of someone who left: %v", err)
	}
	again, err := e.vault.RequestShare(ctx, med, k.caseID, d.ID, joint)
	if err != nil || again.ID == req.ID || again.Status != SharePending || again.Side != "A" {
		t.Fatalf("asking again: %+v %v (first request %s)", again, err, req.ID)
	}
	if _, err := e.decide(t, ctx, pA, k.caseID, d.ID, again.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.vault.Share(ctx, med, k.caseID, d.ID, joint, false); err != nil {
		t.Fatalf("share once party A allowed it: %v", err)
	}
}
