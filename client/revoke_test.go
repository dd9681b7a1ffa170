package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/keydir"
	"github.com/parley-mediation/parley/objstore"
)

// TestUncountedDeviceCannotRevoke: a device registered on A's account that
// nobody counts (not linked from A's device, not admitted by a mediator) —
// what a stolen session, a re-entry link or the server's operator can make
// — cannot retire A's real device. The server refuses the revocation (403);
// and one written into the log anyway (as the operator could) is ignored
// by clients, which keep sealing to A's real device, while A's real device
// still works on the server. A device may still retire itself.
func TestUncountedDeviceCannotRevoke(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	ctx := context.Background()
	tc := seedE2EE(t, n)
	_, rogue := newDevice(t, tc.a.c, tc.a.id, e2ee.KEMX25519)
	devs, _, err := tc.med.x.CaseDevices(ctx, tc.caseID)
	if err != nil {
		t.Fatal(err)
	}
	if devs.Trusted(tc.a.id, rogue.Me.ID) {
		t.Fatal("rogue device counted: test proves nothing")
	}

	err = rogue.Revoke(ctx, tc.a.x.Me.ID)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != http.StatusForbidden || !strings.Contains(ce.Problem.Detail, "can only revoke itself") {
		t.Fatalf("an uncounted device revoking A's real device: %v, want 403", err)
	}

	// The operator writes the revocation into the store; the key directory
	// logs it when it next lists A's revocations.
	raw := rogue.Me.Revoke(tc.a.x.Me.ID, time.Now())
	b, _ := json.Marshal(map[string]any{"kind": keydir.EventRevoke, "record": raw, "index": -1})
	key := "keydir/revocations/" + tc.a.id + "/" + tc.a.x.Me.ID
	if _, err := n.Store.Put(ctx, key, bytes.NewReader(b), int64(len(b)), objstore.PutOptions{IfNoneMatch: true}); err != nil {
		t.Fatal(err)
	}
	devs, v, err := tc.med.x.CaseDevices(ctx, tc.caseID)
	if err != nil {
		t.Fatalf("a logged revocation that does not count made the directory fail: %v", err)
	}
	if len(v.Revocations) != 1 {
		t.Fatalf("the forged revocation is not in the answer (%d): test proves nothing", len(v.Revocations))
	}
	if active := devs.Active(tc.a.id); len(active) != 1 || active[0].ID != tc.a.x.Me.ID || devs.Revoked(tc.a.id, tc.a.x.Me.ID) {
		t.Fatalf("ATTACK WORKS: the mediator's directory takes the uncounted device's revocation (active %v)", active)
	}
	if _, _, err := tc.a.x.MyDevices(ctx); err != nil {
		t.Fatalf("A's own device list: %v", err)
	}
	// A forged revocation of the rogue device (by another uncounted one)
	// does not count either; A's real device's revocation of it, logged
	// beside the forged one, does — and A's real device still acts on the
	// server.
	_, rogue2 := newDevice(t, tc.a.c, tc.a.id, e2ee.KEMX25519)
	b, _ = json.Marshal(map[string]any{"kind": keydir.EventRevoke, "record": rogue2.Me.Revoke(rogue.Me.ID, time.Now()), "index": -1})
	key = "keydir/revocations/" + tc.a.id + "/" + rogue.Me.ID
	if _, err := n.Store.Put(ctx, key, bytes.NewReader(b), int64(len(b)), objstore.PutOptions{IfNoneMatch: true}); err != nil {
		t.Fatal(err)
	}
	if devs, _, err = tc.med.x.CaseDevices(ctx, tc.caseID); err != nil || devs.Revoked(tc.a.id, rogue.Me.ID) {
		t.Fatalf("an uncounted device's forged revocation of another: %v", err)
	}
	if err := tc.a.x.Revoke(ctx, rogue.Me.ID); err != nil {
		t.Fatalf("A's real device revoking the rogue one: %v", err)
	}
	devs, _, err = tc.med.x.CaseDevices(ctx, tc.caseID)
	if err != nil || !devs.Revoked(tc.a.id, rogue.Me.ID) {
		t.Fatalf("after A revoked the rogue device: %v", err)
	}

	// An uncounted device may retire itself.
	_, spare := newDevice(t, tc.a.c, tc.a.id, e2ee.KEMX25519)
	if err := spare.Revoke(ctx, spare.Me.ID); err != nil {
		t.Fatalf("an uncounted device revoking itself: %v", err)
	}
	devs, _, err = tc.med.x.CaseDevices(ctx, tc.caseID)
	if err != nil || !devs.Revoked(tc.a.id, spare.Me.ID) {
		t.Fatalf("after the spare device revoked itself: %v", err)
	}
}

// TestAdmittedDeviceCannotRevoke: a device a mediator admitted for A
// counts in the case but is not of A's own chain, so it cannot retire A's
// other devices (it may retire itself). The server refuses (403), clients
// ignore such a revocation if it is logged anyway, and the server and the
// clients agree that A's first device is active (the review's divergence:
// the server refused while clients counted a stored one). A stored
// revocation that does not count does not block a real one: A's first
// device's own revocation is logged beside it (one slot per signer) and
// counts; a further one is answered with it, nothing more logged.
func TestAdmittedDeviceCannotRevoke(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	ctx := context.Background()
	tc := seedE2EE(t, n)
	open(t, tc.med, tc.caseID, client.SecureOptions{})
	signedFor(t, tc.med, tc.caseID, tc.a.id, tc.b.id)
	_, p := newDevice(t, tc.a.c, tc.a.id, e2ee.KEMX25519)
	if err := tc.med.x.AdmitDevice(ctx, tc.caseID, tc.a.id, p.Me.ID); err != nil {
		t.Fatalf("admit: %v", err)
	}
	caseDevices := func() (*e2ee.Devices, int) {
		t.Helper()
		devs, v, err := tc.med.x.CaseDevices(ctx, tc.caseID)
		if err != nil {
			t.Fatal(err)
		}
		ch, err := tc.med.x.Statements(ctx, tc.caseID, devs)
		if err != nil {
			t.Fatal(err)
		}
		devs.AdmitFrom(ch)
		return devs, len(v.Revocations)
	}
	if devs, _ := caseDevices(); !devs.Trusted(tc.a.id, p.Me.ID) || devs.OwnChain(tc.a.id, p.Me.ID) {
		t.Fatal("the admitted device should count in the case, not by A's own chain: test proves nothing")
	}

	err := p.Revoke(ctx, tc.a.x.Me.ID)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != http.StatusForbidden || !strings.Contains(ce.Problem.Detail, "a device a mediator admitted cannot revoke others") {
		t.Fatalf("an admitted device revoking A's first device: %v, want 403", err)
	}

	// Stored anyway (a record signed before this rule, or by an operator).
	raw := p.Me.Revoke(tc.a.x.Me.ID, time.Now())
	b, _ := json.Marshal(map[string]any{"kind": keydir.EventRevoke, "record": raw, "index": -1})
	key := "keydir/revocations/" + tc.a.id + "/" + tc.a.x.Me.ID
	if _, err := n.Store.Put(ctx, key, bytes.NewReader(b), int64(len(b)), objstore.PutOptions{IfNoneMatch: true}); err != nil {
		t.Fatal(err)
	}
	devs, nrev := caseDevices()
	if nrev != 1 {
		t.Fatalf("the stored revocation is not in the answer (%d): test proves nothing", nrev)
	}
	if devs.Revoked(tc.a.id, tc.a.x.Me.ID) {
		t.Fatal("clients count an admitted device's revocation of A's first device")
	}
	// The server agrees: A's first device still acts (revokes a spare).
	_, spare := newDevice(t, tc.a.c, tc.a.id, e2ee.KEMX25519)
	if err := tc.a.x.Revoke(ctx, spare.Me.ID); err != nil {
		t.Fatalf("the server takes A's first device for revoked: %v", err)
	}
	// A revocation that counts is logged: a further one is answered with
	// it, nothing more logged.
	if _, nrev = caseDevices(); nrev != 2 {
		t.Fatalf("%d revocations logged, want 2", nrev)
	}
	again := tc.a.x.Me.Revoke(spare.Me.ID, time.Now().Add(time.Second))
	if err := tc.a.c.Do(ctx, http.MethodPost, "/api/v1/keys/revocations", api.RecordRequest{Record: again}, nil); err != nil {
		t.Fatalf("a further revocation of the spare device: %v", err)
	}
	if _, nrev = caseDevices(); nrev != 2 {
		t.Fatalf("%d revocations logged after a further one, want 2", nrev)
	}

	// A's first device retires itself: logged beside the ignored one.
	if err := tc.a.x.Revoke(ctx, tc.a.x.Me.ID); err != nil {
		t.Fatalf("A's first device revoking itself: %v", err)
	}
	devs, nrev = caseDevices()
	if !devs.Revoked(tc.a.id, tc.a.x.Me.ID) || nrev != 3 {
		t.Fatalf("after A's first device revoked itself: revoked=%v, %d revocations logged (want 3)", devs.Revoked(tc.a.id, tc.a.x.Me.ID), nrev)
	}
}

// TestRevokingNamesTheDevicesItLinked (review MEDIUM 1): a thief with the
// mediator's laptop links a device of their own from it; the mediator
// revokes the laptop from their first device. A link logged before its
// signer's revocation keeps counting, so the thief's device still counts:
// StillLinked names it (what `parley keys revoke` prints), and once it is
// revoked too nothing is named.
func TestRevokingNamesTheDevicesItLinked(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	ctx := context.Background()
	tc := seedE2EE(t, n)
	laptop := newKeys(t, tc.med.c, tc.med.id, e2ee.KEMX25519)
	link(t, tc.med.x, laptop)
	thief := newKeys(t, tc.med.c, tc.med.id, e2ee.KEMX25519)
	link(t, laptop, thief)
	if err := tc.med.x.Revoke(ctx, laptop.Me.ID); err != nil {
		t.Fatal(err)
	}
	devs, _, err := tc.med.x.MyDevices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !devs.Revoked(tc.med.id, laptop.Me.ID) || !devs.Trusted(tc.med.id, thief.Me.ID) || devs.Revoked(tc.med.id, thief.Me.ID) {
		t.Fatal("setup: the laptop should be revoked and the device it linked still count")
	}
	links, err := tc.med.x.StillLinked(ctx, laptop.Me.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != 1 || links[0].Device.ID != thief.Me.ID || links[0].ByDev != laptop.Me.ID || links[0].Created == 0 {
		t.Fatalf("still linked by the revoked laptop: %+v, want the thief's device, linked by the laptop", links)
	}
	if err := tc.med.x.Revoke(ctx, thief.Me.ID); err != nil {
		t.Fatal(err)
	}
	if links, err := tc.med.x.StillLinked(ctx, laptop.Me.ID); err != nil || len(links) != 0 {
		t.Fatalf("once revoked too: %+v %v, want none", links, err)
	}
}
