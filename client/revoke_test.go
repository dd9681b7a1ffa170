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
	if !errors.As(err, &ce) || ce.Status != http.StatusForbidden || !strings.Contains(ce.Problem.Detail, "cannot revoke another device") {
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
