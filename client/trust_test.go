package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/nodetest"
)

// omittingServer is a server that leaves one device out of every device
// list it answers (each remaining record keeps its valid inclusion proof).
func omittingServer(t *testing.T, upstream, device string) string {
	t.Helper()
	return rewritingServer(t, upstream, func(p *api.Proven) {
		p.Devices = slices.DeleteFunc(p.Devices, func(l api.Logged) bool {
			rec, err := e2ee.DecodeDeviceRecord(l.Record)
			return err == nil && rec.ID == device
		})
	})
}

// revocationOmittingServer is a server that leaves every revocation of
// one device out of the device lists it answers, keeping the device (and
// the other records, each with its valid inclusion proof).
func revocationOmittingServer(t *testing.T, upstream, device string) string {
	t.Helper()
	return rewritingServer(t, upstream, func(p *api.Proven) {
		p.Revocations = slices.DeleteFunc(p.Revocations, func(l api.Logged) bool {
			r, err := e2ee.DecodeRevocation(l.Record)
			return err == nil && r.Device == device
		})
	})
}

// rewritingServer passes requests to upstream and lets rewrite change
// each device list it answers.
func rewritingServer(t *testing.T, upstream string, rewrite func(*api.Proven)) string {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(r *http.Response) error {
		if !strings.HasSuffix(r.Request.URL.Path, "/devices") || r.StatusCode != http.StatusOK {
			return nil
		}
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return err
		}
		var p api.Proven
		if err := json.Unmarshal(b, &p); err != nil {
			return err
		}
		rewrite(&p)
		b, _ = json.Marshal(p)
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.ContentLength = int64(len(b))
		r.Header.Del("Content-Length")
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestOmittedFirstDeviceRefused: the server registers a device of its own
// under party A's account and then leaves A's real first device out of
// the case's device list, so that its device looks like A's first. The
// mediator's client pinned A's first device the first time it saw it,
// and refuses the answer instead of sealing anything to the rogue device.
// (The mediator, who admits new devices, is shown devices nobody
// endorsed; side B's party is not — TestOtherSideSeesNoDeviceWaitingForAdmission —
// so a server lying to B would also have to add the rogue record to the
// answer, which the same pin refuses.)
func TestOmittedFirstDeviceRefused(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	// The mediator's device sees the case's devices once, honestly.
	if _, _, err := tc.med.x.CaseDevices(ctx, tc.caseID); err != nil {
		t.Fatal(err)
	}
	rogue := newKeys(t, tc.a.c, tc.a.id, e2ee.KEMX25519)
	acct, err := n.Accounts.Get(ctx, tc.a.id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.KeyDir.Register(ctx, acct, rogue.Me.Record().Raw, 0); err != nil {
		t.Fatal(err)
	}
	// The same device of the mediator, now talking to the omitting server.
	lying := client.New(omittingServer(t, n.URL, tc.a.x.Me.ID), tc.med.c.Token)
	bx, err := lying.E2EE(tc.med.dir)
	if err != nil {
		t.Fatal(err)
	}
	devs, _, err := bx.CaseDevices(ctx, tc.caseID)
	if !errors.Is(err, e2ee.ErrDeviceFork) {
		trusted := devs != nil && devs.Trusted(tc.a.id, rogue.Me.ID)
		t.Fatalf("omitting answer: err %v, rogue device trusted: %v", err, trusted)
	}
	if _, err := bx.OpenSecureChat(ctx, tc.caseID, client.SecureOptions{}); !errors.Is(err, e2ee.ErrDeviceFork) {
		t.Fatalf("opening the case through the omitting server: %v", err)
	}
	// The honest answer still passes.
	if _, _, err := tc.med.x.CaseDevices(ctx, tc.caseID); err != nil {
		t.Fatalf("honest answer after the refused one: %v", err)
	}
}

// TestOmittedRevocationRefused: party A links a second device L, then
// (L lost) revokes it from the first. Side B's client verified the
// revocation; a server colluding with the thief then leaves it out of
// later device lists, so that L looks active again and every member's
// client would seal the rooms' chain keys to it. B's client pinned the
// revocation and refuses the answer (it seals nothing to L); the honest
// answer still passes.
func TestOmittedRevocationRefused(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	lost := newKeys(t, tc.a.c, tc.a.id, e2ee.KEMX25519)
	link(t, tc.a.x, lost)
	devs, _, err := tc.b.x.CaseDevices(ctx, tc.caseID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(devs.Active(tc.a.id), func(r *e2ee.DeviceRecord) bool { return r.ID == lost.Me.ID }) {
		t.Fatal("A's linked device L does not count for B: test proves nothing")
	}
	if err := tc.a.x.Revoke(ctx, lost.Me.ID); err != nil {
		t.Fatal(err)
	}
	if devs, _, err = tc.b.x.CaseDevices(ctx, tc.caseID); err != nil || !devs.Revoked(tc.a.id, lost.Me.ID) {
		t.Fatalf("B after A revoked L: %v", err)
	}

	// The same device of B (a fresh process on its config dir), now
	// talking to a server that leaves L's revocation out.
	lying := client.New(revocationOmittingServer(t, n.URL, lost.Me.ID), tc.b.c.Token)
	bx, err := lying.E2EE(tc.b.dir)
	if err != nil {
		t.Fatal(err)
	}
	devs, v, err := bx.CaseDevices(ctx, tc.caseID)
	if err == nil && len(v.Revocations) != 0 {
		t.Fatal("the lying server still shows the revocation: test proves nothing")
	}
	if !errors.Is(err, e2ee.ErrRevocationOmitted) {
		active := devs != nil && slices.ContainsFunc(devs.Active(tc.a.id), func(r *e2ee.DeviceRecord) bool { return r.ID == lost.Me.ID })
		t.Fatalf("ATTACK WORKS? answer without L's revocation: err %v, L active: %v", err, active)
	}
	if _, err := bx.OpenSecureChat(ctx, tc.caseID, client.SecureOptions{}); !errors.Is(err, e2ee.ErrRevocationOmitted) {
		t.Fatalf("opening the case through the lying server: %v", err)
	}
	// The honest answer still passes, with L revoked.
	if devs, _, err := tc.b.x.CaseDevices(ctx, tc.caseID); err != nil || !devs.Revoked(tc.a.id, lost.Me.ID) {
		t.Fatalf("honest answer after the refused one: %v", err)
	}
}

// TestAdmittedDeviceCannotConsent: a mediator who abuses re-entry and
// admission (makes a device for party A from a re-entry session and
// admits it from their own device) reads what A's rooms say from then
// on, but cannot consent in A's name: the admitted device's client
// refuses to approve a carry, and the others' clients refuse a carried
// message from it (e2ee.TestAdmittedDeviceCannotConsent). A's own device
// still can.
func TestAdmittedDeviceCannotConsent(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	rogue := newKeys(t, tc.a.c, tc.a.id, e2ee.KEMXWing) // the re-entry session's new device
	if err := rogue.Register(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tc.med.x.AdmitDevice(ctx, tc.caseID, tc.a.id, rogue.Me.ID); err != nil {
		t.Fatal(err)
	}
	med := open(t, tc.med, tc.caseID, client.SecureOptions{})
	a := open(t, tc.a, tc.caseID, client.SecureOptions{})
	r := open(t, person{id: tc.a.id, c: tc.a.c, x: rogue}, tc.caseID, client.SecureOptions{})
	orig := send(t, a, "caucus:A", "between us: we would settle for 3,000")
	if ev := expect(t, r, "caucus:A"); ev.Text != "between us: we would settle for 3,000" {
		t.Fatalf("the admitted device read %+v", ev)
	}
	expect(t, med, "caucus:A")
	if _, err := med.ProposeCarry(ctx, "caucus:A", orig.Pos(), ""); err != nil {
		t.Fatal(err)
	}
	proposal := expect(t, r, "caucus:A")
	for proposal.Kind != e2ee.KindCarryProposal {
		proposal = expect(t, r, "caucus:A")
	}
	if _, err := r.ApproveCarry(ctx, proposal); !errors.Is(err, e2ee.ErrAdmittedDevice) {
		t.Fatalf("the admitted device approved a carry in A's name: %v", err)
	}
	if _, err := a.ApproveCarry(ctx, proposal); err != nil {
		t.Fatalf("A's own device: %v", err)
	}
	// A's own device is told who admitted a device to A's account.
	adm, err := tc.a.x.AdmittedToMe(ctx, tc.caseID)
	if err != nil || len(adm) != 1 || adm[0].Device.ID != rogue.Me.ID || adm[0].By != tc.med.id {
		t.Fatalf("A's device's list of admitted devices: %+v %v", adm, err)
	}
	if client.DeviceNumber(adm[0].Device) != client.DeviceNumber(rogue.Me.Record()) {
		t.Fatal("the admitted device's number differs between the two devices")
	}
}

// TestConsentNeedsOwnChainDevice: the server takes an acceptance of terms
// only from a device that counts for the account by its own chain (its
// first device, or one it linked) and records which; a device anyone with
// a session for the account registered (a re-entry link's holder), and a
// device a mediator admitted, are refused.
func TestConsentNeedsOwnChainDevice(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	v, err := tc.a.c.Terms(ctx, tc.caseID)
	if err != nil {
		t.Fatal(err)
	}
	unlinked := newKeys(t, tc.a.c, tc.a.id, e2ee.KEMX25519)
	if err := unlinked.Register(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := unlinked.AcceptTerms(ctx, tc.caseID, v.Terms); status(err) != http.StatusForbidden {
		t.Fatalf("an unlinked device of the account accepted the terms: %v", err)
	}
	admitted := newKeys(t, tc.a.c, tc.a.id, e2ee.KEMX25519)
	if err := admitted.Register(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tc.med.x.AdmitDevice(ctx, tc.caseID, tc.a.id, admitted.Me.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := admitted.AcceptTerms(ctx, tc.caseID, v.Terms); status(err) != http.StatusForbidden {
		t.Fatalf("a mediator-admitted device accepted the terms: %v", err)
	}
	linked := newKeys(t, tc.a.c, tc.a.id, e2ee.KEMX25519)
	link(t, tc.a.x, linked, tc.caseID)
	out, err := linked.AcceptTerms(ctx, tc.caseID, v.Terms)
	if err != nil || out.Mine == nil || out.Mine.Device != linked.Me.ID || out.Mine.DeviceTrust != "linked" {
		t.Fatalf("the linked device's acceptance: %+v %v", out.Mine, err)
	}
	out, err = tc.b.x.AcceptTerms(ctx, tc.caseID, v.Terms)
	if err != nil || out.Mine == nil || out.Mine.DeviceTrust != "first" {
		t.Fatalf("B's first device's acceptance: %+v %v", out.Mine, err)
	}
}
