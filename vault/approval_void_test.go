package vault

import (
	"errors"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/objstore"
)

// TestApprovalVoidOnceANewerVersionExisted: an approval named the
// document as it stood; once a newer version has existed, it counts no
// more, even after that version is erased and the one it named is the
// latest again. The review's scenario: A allows v1 to the joint room,
// adds v2 and declines its share; retention erases v2; the old approval
// must not let the mediator share v1 (with v2's trace) without asking.
func TestApprovalVoidOnceANewerVersionExisted(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		k := e.newCast(t)
		ctx := t.Context()
		med, pA := k.who["mediator"], k.who["partyA"]
		joint := k.audience(t, "joint")
		d := e.upload(t, pA, k.caseID, "Lease.pdf", k.audience(t, "caucus:A"), ClassEvidence, []byte("the lease"))
		first, err := e.vault.RequestShare(ctx, med, k.caseID, d.ID, joint)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.decide(t, ctx, pA, k.caseID, d.ID, first.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, err := e.vault.AddVersion(ctx, pA, k.caseID, d.ID, NewVersion{Name: "Our real bottom line 50k.pdf"}, strings.NewReader("we accept 50k")); err != nil {
			t.Fatal(err)
		}
		second, err := e.vault.RequestShare(ctx, med, k.caseID, d.ID, joint)
		if err != nil || second.Version != 2 {
			t.Fatalf("request for version 2: %+v %v", second, err)
		}
		if _, err := e.decide(t, ctx, pA, k.caseID, d.ID, second.ID, false); err != nil {
			t.Fatal(err)
		}
		if err := e.vault.DestroyDataKey(ctx, "u-retention", k.caseID, d.ID, 2); err != nil {
			t.Fatal(err)
		}
		res, err := e.vault.Share(ctx, med, k.caseID, d.ID, joint, true)
		if err != nil || !res.NeedsApproval {
			t.Errorf("dry run after version 2 existed: %+v %v, want needsApproval", res, err)
		}
		if _, err := e.vault.Share(ctx, med, k.caseID, d.ID, joint, false); !errors.Is(err, fault.ErrForbidden) {
			t.Fatalf("share on the approval of version 1 given before version 2 existed: %v, want refused", err)
		}
		// The first request is answered no more as an approval...
		if _, err := e.decide(t, ctx, pA, k.caseID, d.ID, first.ID, true); err != nil {
			t.Logf("allowing the first request again: %v", err)
		}
		if _, err := e.vault.Share(ctx, med, k.caseID, d.ID, joint, false); !errors.Is(err, fault.ErrForbidden) {
			t.Fatalf("share after allowing the old request again: %v, want refused", err)
		}
		// ...and asking again asks the side anew, about version 1 as the
		// document stands now; once it allows, the share goes through.
		third, err := e.vault.RequestShare(ctx, med, k.caseID, d.ID, joint)
		if err != nil {
			t.Fatal(err)
		}
		if third.ID == first.ID || third.Status != SharePending || third.Version != 1 {
			t.Fatalf("asking again answers %+v, want a new pending request about version 1 (the first was %s)", third, first.ID)
		}
		if _, err := e.decide(t, ctx, pA, k.caseID, d.ID, third.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, err := e.vault.Share(ctx, med, k.caseID, d.ID, joint, false); err != nil {
			t.Fatalf("share once the side allowed it again: %v", err)
		}
	})
}

// A pending request made before a newer version existed cannot be
// allowed once that version is erased: it was about the document as it
// stood then.
func TestPendingRequestStaleOnceANewerVersionExisted(t *testing.T) {
	t.Parallel()
	e, k, d, first := askedToShareTenantsLease(t)
	ctx := t.Context()
	med, pA := k.who["mediator"], k.who["partyA"]
	joint := k.audience(t, "joint")
	if _, err := e.vault.AddVersion(ctx, pA, k.caseID, d.ID, NewVersion{Name: "Offer.pdf"}, strings.NewReader("offer")); err != nil {
		t.Fatal(err)
	}
	if err := e.vault.DestroyDataKey(ctx, "u-retention", k.caseID, d.ID, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := e.decide(t, ctx, pA, k.caseID, d.ID, first.ID, true); !errors.Is(err, fault.ErrConflict) {
		t.Errorf("allowing a request made before version 2 existed: %v, want conflict (ask again)", err)
	}
	again, err := e.vault.RequestShare(ctx, med, k.caseID, d.ID, joint)
	if err != nil || again.ID == first.ID {
		t.Errorf("asking again answers the stale request: %+v %v", again, err)
	}
}

// TestApprovalVoidWhenAnEarlierVersionLandsLate: a version's number is
// taken before its body is read, so an earlier-numbered version can be
// listed after a later one, and after the side answered about the
// document without it. The approval counts no more: the side never saw
// that version.
func TestApprovalVoidWhenAnEarlierVersionLandsLate(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		k := e.newCast(t)
		ctx := t.Context()
		med, pA, cA := k.who["mediator"], k.who["partyA"], k.who["counselA"]
		joint := k.audience(t, "joint")
		d := e.upload(t, pA, k.caseID, "Lease.pdf", k.audience(t, "caucus:A"), ClassEvidence, []byte("the lease"))
		g := &gatedReader{first: strings.NewReader("our "), rest: strings.NewReader("bottom line"), started: make(chan struct{}), release: make(chan struct{})}
		done := make(chan error, 1)
		go func() {
			_, err := e.vault.AddVersion(ctx, pA, k.caseID, d.ID, NewVersion{Name: "Bottom line.pdf"}, g)
			done <- err
		}()
		select {
		case <-g.started:
		case err := <-done:
			t.Fatalf("the slow version finished before its body was read: %v", err)
		}
		released := false
		defer func() {
			if !released {
				close(g.release)
				<-done
			}
		}()
		if _, err := e.vault.AddVersion(ctx, cA, k.caseID, d.ID, NewVersion{Name: "Summary.pdf"}, strings.NewReader("summary")); err != nil {
			t.Fatal(err)
		}
		req, err := e.vault.RequestShare(ctx, med, k.caseID, d.ID, joint)
		if err != nil || req.Version != 3 {
			t.Fatalf("request: %+v %v, want about version 3", req, err)
		}
		if _, err := e.decide(t, ctx, pA, k.caseID, d.ID, req.ID, true); err != nil {
			t.Fatal(err)
		}
		close(g.release)
		released = true
		if err := <-done; err != nil {
			t.Fatalf("the slow version: %v", err)
		}
		if _, err := e.vault.Share(ctx, med, k.caseID, d.ID, joint, false); !errors.Is(err, fault.ErrForbidden) {
			t.Fatalf("share on an approval given before version 2 was listed: %v, want refused", err)
		}
		again, err := e.vault.RequestShare(ctx, med, k.caseID, d.ID, joint)
		if err != nil || again.ID == req.ID || again.Status != SharePending {
			t.Fatalf("asking again: %+v %v, want a new pending request", again, err)
		}
	})
}

// TestAskingAgainAfterAMoveWithinTheSideAsksAnew: a pending request made
// while the document was in its caucus cannot be allowed once a move
// within the side changed where it is (it was asked from there), so
// asking again makes a new request rather than answering that one.
func TestAskingAgainAfterAMoveWithinTheSideAsksAnew(t *testing.T) {
	t.Parallel()
	e, k, d, first := askedToShareTenantsLease(t)
	ctx := t.Context()
	med, pA := k.who["mediator"], k.who["partyA"]
	joint := k.audience(t, "joint")
	if _, err := e.vault.Share(ctx, med, k.caseID, d.ID, k.audience(t, "mediators"), false); err != nil {
		t.Fatalf("move within the side: %v", err)
	}
	if _, err := e.decide(t, ctx, pA, k.caseID, d.ID, first.ID, true); !errors.Is(err, fault.ErrConflict) {
		t.Fatalf("allowing a request made before the move: %v, want conflict (ask again)", err)
	}
	again, err := e.vault.RequestShare(ctx, med, k.caseID, d.ID, joint)
	if err != nil || again.ID == first.ID || again.Status != SharePending {
		t.Fatalf("asking again: %+v %v, want a new pending request (the first was %s)", again, err, first.ID)
	}
	if _, err := e.decide(t, ctx, pA, k.caseID, d.ID, again.ID, true); err != nil {
		t.Fatalf("allowing the new request: %v", err)
	}
	if _, err := e.vault.Share(ctx, med, k.caseID, d.ID, joint, false); err != nil {
		t.Fatalf("share once allowed: %v", err)
	}
}

// askedToShareTenantsLease sets up a case (directory store) whose tenant
// uploaded "Lease.pdf" to their caucus, and the mediator's pending request
// to share it with the joint room.
func askedToShareTenantsLease(t *testing.T) (*env, *cast, Document, ShareApproval) {
	t.Helper()
	e := newDirEnv(t)
	k := e.newCast(t)
	d := e.upload(t, k.who["partyA"], k.caseID, "Lease.pdf", k.audience(t, "caucus:A"), ClassEvidence, []byte("the lease"))
	first, err := e.vault.RequestShare(t.Context(), k.who["mediator"], k.caseID, d.ID, k.audience(t, "joint"))
	if err != nil {
		t.Fatal(err)
	}
	return e, k, d, first
}
