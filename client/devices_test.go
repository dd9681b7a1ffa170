package client_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/messaging"
)

// newKeys makes device keys for account in a fresh config dir without
// registering them (a new device before it is linked or admitted).
func newKeys(t *testing.T, c *client.Client, account string, kem e2ee.KEMID) *client.E2EE {
	t.Helper()
	dir := t.TempDir()
	if _, err := client.InitDevice(dir, account, kem); err != nil {
		t.Fatal(err)
	}
	x, err := c.E2EE(dir)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// link runs a whole pairing from old to a new device of the same account
// and checks both sides show the same safety number.
func link(t *testing.T, old, nw *client.E2EE, cases ...string) int {
	t.Helper()
	_, n := linkShared(t, old, nw, cases...)
	return n
}

// linkShared is link, also returning what the old device said it shared.
func linkShared(t *testing.T, old, nw *client.E2EE, cases ...string) (client.Shared, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := old.StartPairing(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Code) != 9 || p.State != "open" {
		t.Fatalf("pairing code %q state %s", p.Code, p.State)
	}
	claimed, oldRec, err := nw.ClaimPairing(ctx, strings.ToLower(p.Code))
	if err != nil {
		t.Fatal(err)
	}
	newRec, err := old.WaitClaimed(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	onOld := client.PairingSafetyNumber(old.Me.Record(), newRec)
	onNew := client.PairingSafetyNumber(oldRec, nw.Me.Record())
	if onOld != onNew || len(onOld) != 60 {
		t.Fatalf("safety numbers differ: %s / %s", onOld, onNew)
	}
	sh, err := old.CompletePairing(ctx, p.ID, newRec, cases)
	if err != nil {
		t.Fatal(err)
	}
	n, err := nw.CollectPairing(ctx, claimed.ID, oldRec)
	if err != nil {
		t.Fatal(err)
	}
	return sh, n
}

// TestPairingCancelled: the old device cancels a claimed pairing (the
// safety numbers differed): the new device stops waiting with
// ErrPairingCancelled, the pairing cannot be completed any more, and
// another account cannot cancel (or see) it.
func TestPairingCancelled(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := tc.a.x.StartPairing(ctx)
	if err != nil {
		t.Fatal(err)
	}
	second := newKeys(t, tc.a.c, tc.a.id, e2ee.KEMX25519)
	claimed, oldRec, err := second.ClaimPairing(ctx, p.Code)
	if err != nil {
		t.Fatal(err)
	}
	newRec, err := tc.a.x.WaitClaimed(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := tc.b.x.CancelPairing(ctx, p.ID); status(err) != http.StatusNotFound {
		t.Fatalf("another account cancelling: %v, want 404", err)
	}
	if err := tc.a.x.CancelPairing(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	if err := tc.a.x.CancelPairing(ctx, p.ID); err != nil {
		t.Fatalf("cancelling again: %v", err)
	}
	if _, err := second.CollectPairing(ctx, claimed.ID, oldRec); !errors.Is(err, client.ErrPairingCancelled) {
		t.Fatalf("the new device after the cancel: %v", err)
	}
	if _, err := tc.a.x.CompletePairing(ctx, p.ID, newRec, []string{tc.caseID}); status(err) != http.StatusGone {
		t.Fatalf("completing a cancelled pairing: %v, want 410", err)
	}
	devs, _, err := tc.a.x.MyDevices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if devs.Trusted(tc.a.id, second.Me.ID) {
		t.Fatal("the device of a cancelled pairing counts")
	}
}

// TestPairingHandsOverEveryCase: a mediator with two cases links a second
// device; it reads the earlier messages of both (the CLI hands over every
// case of the account, as the browser does: review 397 M2). Past the
// bound on one share (e2ee.MaxSharedChains, lowered here) a case is left
// out whole and named, and the device linked then reads only onward there.
func TestPairingHandsOverEveryCase(t *testing.T) {
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	k2, err := tc.med.c.CreateCase(ctx, "E2EE second case", "family", "", []string{"Parent 1", "Parent 2"})
	if err != nil {
		t.Fatal(err)
	}
	s1 := open(t, tc.med, tc.caseID, client.SecureOptions{})
	send(t, s1, "joint", "case one, before the second device")
	s1.Close()
	s2 := open(t, tc.med, k2.ID, client.SecureOptions{})
	send(t, s2, "joint", "case two, before the second device")
	s2.Close()
	reads := func(x *client.E2EE, caseID, want string) bool {
		t.Helper()
		evs, err := x.ReadRoom(ctx, caseID, "joint", messaging.Position{})
		if err != nil {
			t.Fatal(err)
		}
		texts, _ := payloadsIn("joint", evs)
		return slices.Contains(texts, want)
	}

	second := newKeys(t, tc.med.c, tc.med.id, e2ee.KEMXWing)
	sh, got := linkShared(t, tc.med.x, second, tc.caseID, k2.ID)
	if sh.Cases != 2 || len(sh.Left) != 0 || sh.Chains != got || got < 2 {
		t.Fatalf("shared %+v, the new device collected %d chains", sh, got)
	}
	if !reads(second, tc.caseID, "case one, before the second device") || !reads(second, k2.ID, "case two, before the second device") {
		t.Fatal("the linked device does not read the earlier messages of both cases")
	}

	// Room for one case's chains (the mediator's one joint chain each): the
	// second case is left out whole, and named.
	defer client.SetMaxSharedChainsForTest(sh.Chains / 2)()
	third := newKeys(t, tc.med.c, tc.med.id, e2ee.KEMX25519)
	sh, got = linkShared(t, tc.med.x, third, tc.caseID, k2.ID)
	if sh.Cases != 1 || got != sh.Chains || !slices.Equal(sh.Left, []string{k2.ID}) {
		t.Fatalf("past the bound: shared %+v, collected %d", sh, got)
	}
	if !reads(third, tc.caseID, "case one, before the second device") || reads(third, k2.ID, "case two, before the second device") {
		t.Fatal("past the bound, the linked device should read the first case's earlier messages and not the second's")
	}
}

// TestLinkedDeviceReadsEarlierCaucus: a party adds a second device from
// the first; the new device reads the caucus messages sent before it
// existed (their chain keys came sealed from the old device), the other
// people's clients accept it, and the code cannot be used again.
func TestLinkedDeviceReadsEarlierCaucus(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	med := open(t, tc.med, tc.caseID, client.SecureOptions{})
	a := open(t, tc.a, tc.caseID, client.SecureOptions{})
	send(t, a, "caucus:A", "said in caucus before the second device")
	send(t, med, "caucus:A", "mediator answers in caucus")
	a.Close()
	med.Close()

	second := newKeys(t, tc.a.c, tc.a.id, e2ee.KEMX25519)
	if got := link(t, tc.a.x, second, tc.caseID); got < 2 {
		t.Fatalf("the old device shared %d chains, want at least the party's and the mediator's", got)
	}
	evs, err := second.ReadRoom(ctx, tc.caseID, "caucus:A", messaging.Position{})
	if err != nil {
		t.Fatal(err)
	}
	texts, refused := payloadsIn("caucus:A", evs)
	if len(refused) != 0 || len(texts) != 2 || texts[0] != "said in caucus before the second device" || texts[1] != "mediator answers in caucus" {
		t.Fatalf("linked device's caucus history: %q refused %v", texts, refused)
	}
	// Side B's party and the mediator count the linked device.
	for _, p := range []person{tc.b, tc.med} {
		devs, _, err := p.x.CaseDevices(ctx, tc.caseID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.x.Statements(ctx, tc.caseID, devs); err != nil {
			t.Fatal(err)
		}
		if !devs.Trusted(tc.a.id, second.Me.ID) {
			t.Fatalf("%s does not accept the linked device", p.id)
		}
	}
	// What is sent afterwards reaches the new device too, and what it
	// sends is read by the mediator.
	med = open(t, tc.med, tc.caseID, client.SecureOptions{})
	send(t, med, "caucus:A", "after the link")
	s2 := open(t, person{id: tc.a.id, c: tc.a.c, x: second}, tc.caseID, client.SecureOptions{})
	send(t, s2, "caucus:A", "from the second device")
	got := collectUntil(med, func(evs []client.SecureEvent) bool {
		return len(evs) > 0 && evs[len(evs)-1].Text == "from the second device"
	})
	if last := got[len(got)-1]; last.Text != "from the second device" || last.Device != second.Me.ID || last.Rejected != nil {
		t.Fatalf("mediator read %+v", got)
	}
	evs, err = second.ReadRoom(ctx, tc.caseID, "caucus:A", messaging.Position{})
	if texts, refused := payloadsIn("caucus:A", evs); err != nil || len(refused) != 0 || len(texts) != 4 || texts[2] != "after the link" {
		t.Fatalf("after the link: %q %v %v", texts, refused, err)
	}
}

// TestPairingCodeSingleUseAndExpiring: a code works once; a wrong code
// five times spends the pairing; a code past its ten minutes is refused.
func TestPairingCodeSingleUseAndExpiring(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	p, err := tc.a.x.StartPairing(ctx)
	if err != nil {
		t.Fatal(err)
	}
	first := newKeys(t, tc.a.c, tc.a.id, e2ee.KEMX25519)
	if _, _, err := first.ClaimPairing(ctx, p.Code); err != nil {
		t.Fatal(err)
	}
	again := newKeys(t, tc.a.c, tc.a.id, e2ee.KEMX25519)
	if _, _, err := again.ClaimPairing(ctx, p.Code); status(err) != http.StatusBadRequest {
		t.Fatalf("a used code: %v", err)
	}
	// Another person's session cannot claim it either.
	other := newKeys(t, tc.b.c, tc.b.id, e2ee.KEMX25519)
	p2, err := tc.a.x.StartPairing(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := other.ClaimPairing(ctx, p2.Code); status(err) != http.StatusBadRequest {
		t.Fatalf("side B claimed A's code: %v", err)
	}
	// Five wrong codes spend the open pairing: the right one then fails.
	for range 5 {
		if _, _, err := again.ClaimPairing(ctx, "ZZZZ-ZZZZ"); status(err) != http.StatusBadRequest {
			t.Fatalf("wrong code: %v", err)
		}
	}
	if _, _, err := again.ClaimPairing(ctx, p2.Code); status(err) != http.StatusBadRequest {
		t.Fatalf("code after five wrong attempts: %v", err)
	}
	if got, _ := tc.a.x.Pairing(ctx, p2.ID); got.State != "spent" {
		t.Fatalf("pairing after five wrong codes: %s", got.State)
	}
	// A code eleven minutes old is refused.
	p3, err := tc.a.x.StartPairing(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n.KeyDir.SetClock(func() time.Time { return time.Now().Add(11 * time.Minute) })
	defer n.KeyDir.SetClock(time.Now)
	if _, _, err := again.ClaimPairing(ctx, p3.Code); status(err) != http.StatusBadRequest {
		t.Fatalf("expired code: %v", err)
	}
}

// TestServerAddedDeviceGetsNothing: a device the server registers under a
// party's account on its own (no endorsement by the party's device, no
// mediator's admission) is given no key by anyone, and what it signs is
// refused.
func TestServerAddedDeviceGetsNothing(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	rogue := newKeys(t, tc.a.c, tc.a.id, e2ee.KEMX25519)
	acct, err := n.Accounts.Get(ctx, tc.a.id)
	if err != nil {
		t.Fatal(err)
	}
	// The server's own doing: straight into the key directory.
	if _, err := n.KeyDir.Register(ctx, acct, rogue.Me.Record().Raw, 0); err != nil {
		t.Fatal(err)
	}
	med := open(t, tc.med, tc.caseID, client.SecureOptions{})
	a := open(t, tc.a, tc.caseID, client.SecureOptions{})
	send(t, med, "caucus:A", "CANARY for side A only")
	send(t, a, "caucus:A", "CANARY from the party")
	evs, err := rogue.ReadRoom(ctx, tc.caseID, "caucus:A", messaging.Position{})
	if err != nil {
		t.Fatal(err)
	}
	texts, refused := payloadsIn("caucus:A", evs)
	if len(texts) != 0 || len(refused) != 2 {
		t.Fatalf("server-added device read %q (refused %v)", texts, refused)
	}
	for _, err := range refused {
		if !errors.Is(err, e2ee.ErrNoKey) {
			t.Fatalf("refusal: %v", err)
		}
	}
	// Every other client leaves it out of the directory, so a payload it
	// signs names an unknown device.
	devs, _, err := tc.med.x.CaseDevices(ctx, tc.caseID)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := tc.med.x.Statements(ctx, tc.caseID, devs)
	if err != nil {
		t.Fatal(err)
	}
	if devs.Trusted(tc.a.id, rogue.Me.ID) || len(devs.Pending(tc.a.id)) != 1 {
		t.Fatal("the mediator's client accepts a device nobody endorsed")
	}
	sess := e2ee.NewSession(rogue.Me, tc.caseID, chain, e2ee.NewDevices()) // the rogue's own, lax view
	lax := e2ee.NewDevices()
	for _, d := range append(devs.Active(tc.a.id), devs.Pending(tc.a.id)...) {
		lax.Add(d, 0)
	}
	for _, d := range devs.Active(tc.med.id) {
		lax.Add(d, 0)
	}
	sess.Dir = lax
	st := chain.Latest()
	r, _ := st.Room("caucus:A")
	kds, err := sess.Prepare("caucus:A", r.Epoch)
	if err != nil {
		t.Fatal(err)
	}
	mine := e2ee.NewSession(tc.med.x.Me, tc.caseID, chain, devs)
	if _, err := mine.Receive("caucus:A", r.Epoch, tc.a.id, kds[0]); !errors.Is(err, e2ee.ErrUnknownDevice) {
		t.Fatalf("the mediator's session took a key distribution from the server-added device: %v", err)
	}
}

// TestDevicelessPartyAdmittedReadsOnlyAfter: a party who lost every
// device signs in on a new one; the mediator admits it; it reads what is
// sent from then on, and nothing from before.
func TestDevicelessPartyAdmittedReadsOnlyAfter(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	med := open(t, tc.med, tc.caseID, client.SecureOptions{})
	a := open(t, tc.a, tc.caseID, client.SecureOptions{})
	send(t, a, "caucus:A", "before the phone was lost")
	send(t, med, "caucus:A", "mediator before")
	a.Close()
	med.Close()

	fresh := newKeys(t, tc.a.c, tc.a.id, e2ee.KEMXWing)
	if err := fresh.Register(ctx); err != nil {
		t.Fatal(err)
	}
	pending, err := tc.med.x.PendingDevices(ctx, tc.caseID)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending[tc.a.id]) != 1 || pending[tc.a.id][0].ID != fresh.Me.ID {
		t.Fatalf("pending devices: %v", pending)
	}
	// Side B's party cannot admit it (its client does not even know of
	// it: TestOtherSideSeesNoDeviceWaitingForAdmission), nor can an
	// admission B signs of the record get in; the mediator can.
	if err := tc.b.x.AdmitDevice(ctx, tc.caseID, tc.a.id, fresh.Me.ID); !errors.Is(err, e2ee.ErrUnknownDevice) {
		t.Fatalf("side B's client admitted a device it should not know of: %v", err)
	}
	end, err := tc.b.x.Me.Endorse(fresh.Me.Record(), tc.caseID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := tc.b.c.Do(ctx, http.MethodPost, "/api/v1/cases/"+tc.caseID+"/e2ee/admissions", api.RecordRequest{Record: end}, nil); status(err) != http.StatusForbidden {
		t.Fatalf("a party admitted a device: %v", err)
	}
	if err := tc.med.x.AdmitDevice(ctx, tc.caseID, tc.a.id, fresh.Me.ID); err != nil {
		t.Fatal(err)
	}
	med = open(t, tc.med, tc.caseID, client.SecureOptions{})
	send(t, med, "caucus:A", "after admission")
	evs, err := fresh.ReadRoom(ctx, tc.caseID, "caucus:A", messaging.Position{})
	if err != nil {
		t.Fatal(err)
	}
	texts, refused := payloadsIn("caucus:A", evs)
	if len(texts) != 1 || texts[0] != "after admission" || len(refused) != 2 {
		t.Fatalf("admitted device read %q, refused %v", texts, refused)
	}
	for _, err := range refused {
		if !errors.Is(err, e2ee.ErrNoKey) {
			t.Fatalf("refusal: %v", err)
		}
	}
	// The admission counts in this case only.
	if pending, _ := tc.med.x.PendingDevices(ctx, tc.caseID); len(pending) != 0 {
		t.Fatalf("still pending after admission: %v", pending)
	}
}

// TestPairingGuessesInParallelAllCount: wrong codes sent at once each use
// one of the five attempts (none is lost to a concurrent write), so after
// a burst of them the right code is refused too.
func TestPairingGuessesInParallelAllCount(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	p, err := tc.a.x.StartPairing(ctx)
	if err != nil {
		t.Fatal(err)
	}
	guesser := newKeys(t, tc.a.c, tc.a.id, e2ee.KEMX25519)
	const burst = 12
	errs := make(chan error, burst)
	var wg sync.WaitGroup
	for range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := guesser.ClaimPairing(ctx, "ZZZZ-ZZZZ")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if status(err) != http.StatusBadRequest && status(err) != http.StatusConflict && status(err) != http.StatusTooManyRequests {
			t.Fatalf("wrong code: %v", err)
		}
	}
	if _, _, err := guesser.ClaimPairing(ctx, p.Code); status(err) != http.StatusBadRequest {
		t.Fatalf("the right code after %d wrong ones sent at once: %v", burst, err)
	}
	if got, _ := tc.a.x.Pairing(ctx, p.ID); got.State != "spent" {
		t.Fatalf("pairing after %d wrong codes at once: %s", burst, got.State)
	}
}

// TestSafetyNumberCountsAdmittedDevices (review): a device a mediator
// admitted onto party A's account counts for the case (it gets A's keys),
// so the safety number B compares with A changes — as the browser's, which
// reads its session's directory, does, and as docs/security.md promises.
// Before the fix SafetyNumber read the case's devices without the case's
// statements, so no admission counted and the number stayed the same.
func TestSafetyNumberCountsAdmittedDevices(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	med := open(t, tc.med, tc.caseID, client.SecureOptions{})
	send(t, med, "caucus:A", "the mediator's device signed the case's first statement")
	med.Close()
	before, err := tc.b.x.SafetyNumber(ctx, tc.caseID, tc.a.id)
	if err != nil {
		t.Fatal(err)
	}
	fresh := newKeys(t, tc.a.c, tc.a.id, e2ee.KEMXWing)
	if err := fresh.Register(ctx); err != nil {
		t.Fatal(err)
	}
	if pending, err := tc.b.x.SafetyNumber(ctx, tc.caseID, tc.a.id); err != nil || pending != before {
		t.Fatalf("a device nobody linked or admitted changed the safety number: %s → %s (%v)", before, pending, err)
	}
	if err := tc.med.x.AdmitDevice(ctx, tc.caseID, tc.a.id, fresh.Me.ID); err != nil {
		t.Fatal(err)
	}
	after, err := tc.b.x.SafetyNumber(ctx, tc.caseID, tc.a.id)
	if err != nil {
		t.Fatal(err)
	}
	if after == before {
		t.Fatal("the safety number B compares with A did not change when a mediator admitted a device onto A's account")
	}
	want := e2ee.SafetyNumber(tc.b.id, []*e2ee.DeviceRecord{tc.b.x.Me.Record()}, tc.a.id, []*e2ee.DeviceRecord{tc.a.x.Me.Record(), fresh.Me.Record()})
	if after != want {
		t.Fatalf("safety number %s, want the one over A's two devices %s", after, want)
	}
}

// TestOtherSideSeesNoDeviceWaitingForAdmission: side A's party opens a
// link back in on a new browser; until the mediator admits that device,
// side B's party finds nothing of it in the case's key directory (not the
// device, not that A waits on the mediator, not when), while A's own
// account and the mediator see it waiting. Once admitted, B sees it
// counting, with the admission. Review 377 LOW-1: B's client showed it
// as pending for A (and for good, if never admitted).
func TestOtherSideSeesNoDeviceWaitingForAdmission(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	open(t, tc.med, tc.caseID, client.SecureOptions{}) // the case's first membership statement: who may admit
	view := func(who *client.E2EE) *e2ee.Devices {
		t.Helper()
		devs, _, err := who.CaseDevices(ctx, tc.caseID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := who.Statements(ctx, tc.caseID, devs); err != nil {
			t.Fatal(err)
		}
		return devs
	}
	ids := func(recs []*e2ee.DeviceRecord) []string {
		var out []string
		for _, r := range recs {
			out = append(out, r.ID)
		}
		return out
	}
	before := ids(view(tc.b.x).Active(tc.a.id))
	if len(before) != 1 {
		t.Fatalf("B sees A's devices %v", before)
	}

	fresh := newKeys(t, tc.a.c, tc.a.id, e2ee.KEMXWing)
	if err := fresh.Register(ctx); err != nil {
		t.Fatal(err)
	}
	// A second new device that retires itself: neither it nor its
	// revocation reaches B.
	gone := newKeys(t, tc.a.c, tc.a.id, e2ee.KEMX25519)
	if err := gone.Register(ctx); err != nil {
		t.Fatal(err)
	}
	if err := gone.Revoke(ctx, gone.Me.ID); err != nil {
		t.Fatal(err)
	}
	b := view(tc.b.x)
	if _, ok := b.Record(tc.a.id, fresh.Me.ID); ok {
		t.Fatal("side B's key directory lists side A's device waiting for admission")
	}
	if _, ok := b.Record(tc.a.id, gone.Me.ID); ok {
		t.Fatal("side B's key directory lists side A's never-admitted, revoked device")
	}
	if p := b.Pending(tc.a.id); len(p) != 0 {
		t.Fatalf("side B's client counts %d device(s) of A waiting", len(p))
	}
	if got := ids(b.Active(tc.a.id)); !slices.Equal(got, before) {
		t.Fatalf("B's view of A's devices moved: %v, was %v", got, before)
	}
	// A's own devices, the waiting one too, and the mediator see it.
	for who, x := range map[string]*client.E2EE{"A's first device": tc.a.x, "A's new device": fresh, "the mediator": tc.med.x} {
		if p := ids(view(x).Pending(tc.a.id)); !slices.Equal(p, []string{fresh.Me.ID}) {
			t.Fatalf("%s sees A's waiting devices %v, want [%s]", who, p, fresh.Me.ID)
		}
	}
	if err := tc.med.x.AdmitDevice(ctx, tc.caseID, tc.a.id, fresh.Me.ID); err != nil {
		t.Fatal(err)
	}
	b = view(tc.b.x)
	if !b.Trusted(tc.a.id, fresh.Me.ID) || len(b.Pending(tc.a.id)) != 0 {
		t.Fatalf("after the admission B sees A's devices %v (pending %v)", ids(b.Active(tc.a.id)), ids(b.Pending(tc.a.id)))
	}
	if got := b.Admitted(tc.a.id); len(got) != 1 || got[0].Device.ID != fresh.Me.ID || got[0].By != tc.med.id {
		t.Fatalf("B sees A's admissions %+v", got)
	}
	if _, ok := b.Record(tc.a.id, gone.Me.ID); ok {
		t.Fatal("side B's key directory lists side A's never-admitted, revoked device")
	}
}
