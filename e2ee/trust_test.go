package e2ee

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"
)

// TestFirstDevicePinnedAgainstOmission: the log proves each listed device
// is in it, not that the list is complete. A server that leaves an
// account's real first device out of an answer makes its own device the
// "first"; a client that pinned the first device it saw refuses that
// answer.
func TestFirstDevicePinnedAgainstOmission(t *testing.T) {
	real := device(t, "u_party", "real", KEMX25519)
	rogue := device(t, "u_party", "rogue", KEMX25519)
	other := device(t, "u_other", "other", KEMX25519)

	full := NewDevices()
	full.RequireEndorsement()
	full.Add(real.Record(), 5)
	full.Add(other.Record(), 7)
	full.Add(rogue.Record(), 10)
	if full.Trusted("u_party", rogue.ID) {
		t.Fatal("an unendorsed later device counts")
	}
	pins := FirstPins{}
	if changed, err := full.CheckFirsts(pins); err != nil || !changed || pins["u_party"] != real.ID || pins["u_other"] != other.ID {
		t.Fatalf("first sight: changed %v err %v pins %v", changed, err, pins)
	}
	if changed, err := full.CheckFirsts(pins); err != nil || changed {
		t.Fatalf("the same answer again: changed %v err %v", changed, err)
	}

	omit := NewDevices()
	omit.RequireEndorsement()
	omit.Add(other.Record(), 7)
	omit.Add(rogue.Record(), 10)
	// The directory alone cannot tell: the rogue device is "first".
	if !omit.Trusted("u_party", rogue.ID) {
		t.Fatal("expected the omitting answer to make the rogue device first")
	}
	if _, err := omit.CheckFirsts(pins); !errors.Is(err, ErrDeviceFork) {
		t.Fatalf("omitting answer: %v, want ErrDeviceFork", err)
	}
	if pins["u_party"] != real.ID {
		t.Fatal("a refused answer moved the pin")
	}
}

// TestAdmittedDeviceCannotConsent: a device that counts only through a
// mediator's admission reads and writes in its account's rooms, but a
// carried message (its author's consent) from it is refused; the same
// from a device the account linked itself is accepted.
func TestAdmittedDeviceCannotConsent(t *testing.T) {
	w := newWorld(t)
	w.dir.RequireEndorsement()
	now := time.UnixMilli(1767225600000)
	endorse := func(by *DeviceKeys, rec *DeviceRecord, caseID string, index int64) {
		t.Helper()
		raw, err := by.Endorse(rec, caseID, now)
		if err != nil {
			t.Fatal(err)
		}
		e, err := DecodeEndorsement(raw)
		if err != nil {
			t.Fatal(err)
		}
		w.dir.Endorse(e, index)
	}
	endorse(w.a1, w.a2.Record(), "", 6) // linked by the party's first device
	admitted := device(t, "u_partya", "admitted", KEMXWing)
	w.dir.Add(admitted.Record(), 7)
	endorse(w.med, admitted.Record(), w.caseID, 8) // admitted by the mediator
	chained := device(t, "u_partya", "chained", KEMXWing)
	w.dir.Add(chained.Record(), 9)
	endorse(admitted, chained.Record(), "", 10) // linked by the admitted device
	w.sign(t, w.med, w.people(), epochs(1))
	w.dir.AdmitFrom(w.chain)

	for _, c := range []struct {
		d       *DeviceKeys
		trusted bool
		own     bool
	}{{w.a1, true, true}, {w.a2, true, true}, {admitted, true, false}, {chained, true, false}} {
		if got := w.dir.Trusted(c.d.Account, c.d.ID); got != c.trusted {
			t.Fatalf("%s trusted = %v", c.d.ID, got)
		}
		if got := w.dir.OwnChain(c.d.Account, c.d.ID); got != c.own {
			t.Fatalf("%s own chain = %v, want %v", c.d.ID, got, c.own)
		}
	}

	b := w.session(w.b)
	carried := func(from *DeviceKeys, kind int) error {
		t.Helper()
		s := w.session(from)
		dists, err := s.Prepare("joint", 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range dists {
			if _, err := b.Receive("joint", 1, from.Account, d); err != nil {
				t.Fatalf("key distribution from %s: %v", from.ID, err)
			}
		}
		p := &Plaintext{Kind: kind, Text: "I accept 4,000"}
		if kind == KindCarried {
			p.CarryID, p.Room, p.Ref, p.Proposer = "cr_test", "caucus:A", Position{Epoch: 1, Offset: 3}, "u_med"
		}
		msg, err := s.Encrypt("joint", p)
		if err != nil {
			t.Fatal(err)
		}
		_, err = b.Receive("joint", 1, from.Account, msg)
		return err
	}
	if err := carried(w.a2, KindCarried); err != nil {
		t.Fatalf("a carry consent from a linked device: %v", err)
	}
	if err := carried(admitted, KindText); err != nil {
		t.Fatalf("a plain message from the admitted device: %v", err)
	}
	for _, d := range []*DeviceKeys{admitted, chained} {
		if err := carried(d, KindCarried); !errors.Is(err, ErrAdmittedDevice) {
			t.Fatalf("a carry consent from %s: %v, want ErrAdmittedDevice", d.ID, err)
		}
	}
}

// TestRevocationNeedsCountedSigner: a revocation counts only when the
// revoked device signed it itself or a device of the same account that
// counted, unrevoked, at the revocation's place in the log did. A device
// nobody counts (the server's, or one registered with a stolen session)
// cannot retire the account's real device, not even once it is endorsed
// later; a revocation that does not count is ignored, not an error.
func TestRevocationNeedsCountedSigner(t *testing.T) {
	now := time.UnixMilli(1767225600000)
	real := device(t, "u_party", "real", KEMX25519)
	rogue := device(t, "u_party", "rogue", KEMX25519)
	late := device(t, "u_party", "late", KEMX25519)
	linked := device(t, "u_party", "linked", KEMX25519)
	d := NewDevices()
	d.RequireEndorsement()
	d.Add(real.Record(), 5)
	d.Add(rogue.Record(), 10)
	d.Add(late.Record(), 20)
	d.Add(linked.Record(), 40)
	revoke := func(by *DeviceKeys, device string, index int64) {
		t.Helper()
		v, err := DecodeRevocation(by.Revoke(device, now))
		if err != nil {
			t.Fatal(err)
		}
		d.Revoke(v, index)
	}
	endorse := func(by *DeviceKeys, rec *DeviceRecord, index int64) {
		t.Helper()
		raw, err := by.Endorse(rec, "", now)
		if err != nil {
			t.Fatal(err)
		}
		e, err := DecodeEndorsement(raw)
		if err != nil {
			t.Fatal(err)
		}
		d.Endorse(e, index)
	}
	active := func(dev *DeviceKeys) bool {
		_, ok := d.Device(dev.Account, dev.ID, -1)
		return ok
	}

	revoke(rogue, real.ID, 11) // an uncounted device revokes the real one
	if !active(real) || d.Revoked("u_party", real.ID) || len(d.Active("u_party")) != 1 {
		t.Fatal("a device nobody counts revoked the account's real device")
	}
	revoke(late, real.ID, 21) // revoked before it was linked...
	endorse(real, late.Record(), 30)
	if !d.Trusted("u_party", late.ID) {
		t.Fatal("the linked device does not count")
	}
	if !active(real) { // ...so it did not count at the revocation's place
		t.Fatal("a revocation signed before its signer counted was taken")
	}
	revoke(rogue, rogue.ID, 12) // a device may always retire itself
	if !d.Revoked("u_party", rogue.ID) {
		t.Fatal("a device's own revocation was ignored")
	}

	endorse(real, linked.Record(), 41)
	revoke(linked, real.ID, 42) // a counted device retires another
	if active(real) || !d.Revoked("u_party", real.ID) {
		t.Fatal("a counted device's revocation was ignored")
	}
	if _, ok := d.Device("u_party", real.ID, 41); !ok {
		t.Fatal("the real device is revoked before its revocation")
	}
	revoke(real, linked.ID, 50) // a revoked device retires nothing
	if !active(linked) {
		t.Fatal("a revoked device's revocation was taken")
	}
}

// TestAdmissionOntoMediatorIgnored: a mediator's admission counts only for
// a participant's device; one onto another mediator's account (or the
// mediator's own) does not, so a mediator cannot give another mediator's
// account a device of their own making.
func TestAdmissionOntoMediatorIgnored(t *testing.T) {
	w := newWorld(t)
	w.dir.RequireEndorsement()
	now := time.UnixMilli(1767225600000)
	admit := func(rec *DeviceRecord, index int64) {
		t.Helper()
		raw, err := w.med.Endorse(rec, w.caseID, now)
		if err != nil {
			t.Fatal(err)
		}
		e, err := DecodeEndorsement(raw)
		if err != nil {
			t.Fatal(err)
		}
		w.dir.Endorse(e, index)
	}
	m2new := device(t, "u_med2", "m2new", KEMXWing)
	w.dir.Add(m2new.Record(), 7)
	admit(m2new.Record(), 8)
	bnew := device(t, "u_partyb", "bnew", KEMXWing)
	w.dir.Add(bnew.Record(), 9)
	admit(bnew.Record(), 10)
	w.sign(t, w.med, w.people(), epochs(1))
	w.dir.AdmitFrom(w.chain)
	if !w.dir.Trusted("u_partyb", bnew.ID) {
		t.Fatal("a participant's admitted device does not count")
	}
	if w.dir.Trusted("u_med2", m2new.ID) {
		t.Fatal("a mediator's admission onto another mediator's account counts")
	}
}

// TestAdmittedDeviceCannotRevokeOthers: a device that counts only through a
// mediator's admission cannot retire another device of its account (it may
// retire itself), and whether a revocation counts does not depend on the
// case's statement: a linked device's revocation keeps counting, and an
// admitted one's stays ignored, when the admitting mediator leaves the
// statement and another re-admits the device (the review's resurrection:
// the stolen device counted again once the admission stopped counting).
func TestAdmittedDeviceCannotRevokeOthers(t *testing.T) {
	w := newWorld(t)
	w.dir.RequireEndorsement()
	now := time.UnixMilli(1767225600000)
	bnew := device(t, "u_partyb", "bnew", KEMXWing)
	blink := device(t, "u_partyb", "blink", KEMXWing)
	w.dir.Add(bnew.Record(), 9)
	raw, err := w.med.Endorse(bnew.Record(), w.caseID, now)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := DecodeEndorsement(raw)
	w.dir.Endorse(e, 10)
	v, _ := DecodeRevocation(bnew.Revoke(w.b.ID, now))
	w.dir.Revoke(v, 11) // the admitted device revokes the lost first device
	w.sign(t, w.med, w.people(), epochs(1))
	w.dir.AdmitFrom(w.chain)
	if !w.dir.Trusted("u_partyb", bnew.ID) || w.dir.OwnChain("u_partyb", bnew.ID) {
		t.Fatal("setup: the admitted device should count, not by the own chain")
	}
	if w.dir.Revoked("u_partyb", w.b.ID) {
		t.Fatal("a revocation by an admitted device counted")
	}
	// u_med leaves the statement; u_med2 re-admits the device.
	var ppl []Person
	for _, p := range w.people() {
		if p.Account != "u_med" {
			ppl = append(ppl, p)
		}
	}
	w.sign(t, w.m2, ppl, epochs(2))
	w.dir.AdmitFrom(w.chain)
	raw2, _ := w.m2.Endorse(bnew.Record(), w.caseID, now)
	e2, _ := DecodeEndorsement(raw2)
	w.dir.Endorse(e2, 30)
	if w.dir.Revoked("u_partyb", w.b.ID) {
		t.Fatal("a revocation by an admitted device counted after the mediators changed")
	}

	// b links blink, which revokes b: that counts, whatever the statement.
	w.dir.Add(blink.Record(), 40)
	rawl, _ := w.b.Endorse(blink.Record(), "", now)
	el, _ := DecodeEndorsement(rawl)
	w.dir.Endorse(el, 41)
	vl, _ := DecodeRevocation(blink.Revoke(w.b.ID, now))
	w.dir.Revoke(vl, 42)
	if !w.dir.Revoked("u_partyb", w.b.ID) {
		t.Fatal("a linked device's revocation was ignored")
	}
	w.sign(t, w.m2, w.people(), epochs(3))
	w.dir.AdmitFrom(w.chain)
	if !w.dir.Revoked("u_partyb", w.b.ID) {
		t.Fatal("a linked device's revocation stopped counting when the mediators changed")
	}
	// The admitted device may still retire itself.
	vs, _ := DecodeRevocation(bnew.Revoke(bnew.ID, now))
	w.dir.Revoke(vs, 50)
	if !w.dir.Revoked("u_partyb", bnew.ID) {
		t.Fatal("an admitted device's own revocation was ignored")
	}
}

// TestRevocationPinnedAgainstOmission: a revocation that counted is
// pinned; an answer that lists the revoked device without it (or without
// what made it count) is an ErrRevocationOmitted; one that leaves the
// device out too passes (the device is no recipient); a revocation that
// does not count is not pinned; the pins of an account are bounded.
func TestRevocationPinnedAgainstOmission(t *testing.T) {
	now := time.UnixMilli(1767225600000)
	first := device(t, "u_party", "first", KEMX25519)
	lost := device(t, "u_party", "lost", KEMX25519)
	rogue := device(t, "u_party", "rogue", KEMX25519)
	e := endorsement(t, first, lost, now)
	rev := func(by *DeviceKeys, id string) *Revocation { return revocation(t, by, id, now) }
	dir := func(withLost, withRevocation bool) *Devices {
		d := NewDevices()
		d.RequireEndorsement()
		d.Add(first.Record(), 1)
		d.Add(rogue.Record(), 2)
		if withLost {
			d.Add(lost.Record(), 3)
		}
		d.Endorse(e, 4)
		d.Revoke(rev(rogue, first.ID), 5) // by a device nobody counts: ignored, never pinned
		if withRevocation {
			d.Revoke(rev(first, lost.ID), 6)
		}
		return d
	}
	pins := RevocationPins{}
	if changed, err := dir(true, false).CheckRevocations(pins); err != nil || changed {
		t.Fatalf("before the revocation: changed %v err %v pins %v", changed, err, pins)
	}
	if changed, err := dir(true, true).CheckRevocations(pins); err != nil || !changed || !maps.Equal(pins["u_party"], map[string]int64{lost.ID: 6}) {
		t.Fatalf("after the revocation: changed %v err %v pins %v", changed, err, pins)
	}
	if changed, err := dir(true, true).CheckRevocations(pins); err != nil || changed {
		t.Fatalf("the same answer again: changed %v err %v", changed, err)
	}
	omit := dir(true, false)
	if !slices.ContainsFunc(omit.Active("u_party"), func(r *DeviceRecord) bool { return r.ID == lost.ID }) {
		t.Fatal("the omitting answer should make the lost device active: test proves nothing")
	}
	if _, err := omit.CheckRevocations(pins); !errors.Is(err, ErrRevocationOmitted) {
		t.Fatalf("answer without the revocation: %v, want ErrRevocationOmitted", err)
	}
	if changed, err := dir(false, false).CheckRevocations(pins); err != nil || changed {
		t.Fatalf("answer without the lost device at all: changed %v err %v", changed, err)
	}
	if !maps.Equal(pins["u_party"], map[string]int64{lost.ID: 6}) {
		t.Fatalf("pins after refused answers: %v", pins)
	}

	// Bounded: an answer that would take an account past the limit is
	// refused and no pin is dropped.
	many := RevocationPins{"u_party": {}}
	for i := range MaxRevocationPinsPerAccount {
		many["u_party"][fmt.Sprintf("old-%02d", i)] = 1
	}
	full := maps.Clone(many["u_party"])
	if changed, err := dir(true, true).CheckRevocations(many); !errors.Is(err, ErrRevocationPinsFull) || changed {
		t.Fatalf("full pins: changed %v err %v, want ErrRevocationPinsFull", changed, err)
	}
	if !maps.Equal(many["u_party"], full) {
		t.Fatalf("full pins after a refused answer: %v", many["u_party"])
	}
}

// TestRevocationPinsSurviveJunkFlood: a server cannot push a pinned
// revocation out. It logs 32 devices of its own for the account, each
// revoking itself (the log proves each entry; its own device limit does
// not bind a malicious server), then leaves the lost device's revocation
// out. Only revocations of devices that count by the account's own chain
// are pinned, so the flood pins nothing and the omission is refused.
func TestRevocationPinsSurviveJunkFlood(t *testing.T) {
	now := time.UnixMilli(1767225600000)
	first := device(t, "u_party", "first", KEMX25519)
	lost := device(t, "u_party", "lost", KEMX25519)
	e := endorsement(t, first, lost, now)
	rev := func(by *DeviceKeys, id string) *Revocation { return revocation(t, by, id, now) }
	var junk []*DeviceKeys
	for i := range MaxRevocationPinsPerAccount {
		junk = append(junk, device(t, "u_party", fmt.Sprintf("junk-%02d", i), KEMX25519))
	}
	dir := func(withLostRevocation, withJunk bool) *Devices {
		d := NewDevices()
		d.RequireEndorsement()
		d.Add(first.Record(), 1)
		d.Add(lost.Record(), 2)
		d.Endorse(e, 3)
		if withLostRevocation {
			d.Revoke(rev(first, lost.ID), 4)
		}
		if withJunk {
			for i, j := range junk {
				d.Add(j.Record(), int64(10+i))
				d.Revoke(rev(j, j.ID), int64(100+i))
			}
		}
		return d
	}
	pins := RevocationPins{}
	if _, err := dir(true, false).CheckRevocations(pins); err != nil || !maps.Equal(pins["u_party"], map[string]int64{lost.ID: 4}) {
		t.Fatalf("lost laptop revoked: err %v pins %v", err, pins)
	}
	flood := dir(true, true)
	for _, j := range junk {
		if !flood.Revoked("u_party", j.ID) {
			t.Fatal("a junk device's revocation of itself should count: test proves nothing")
		}
	}
	if _, err := flood.CheckRevocations(pins); err != nil {
		t.Fatalf("the flood: %v", err)
	}
	if !maps.Equal(pins["u_party"], map[string]int64{lost.ID: 4}) {
		t.Fatalf("pins after the flood: %v, want only the lost device", pins["u_party"])
	}
	omit := dir(false, true)
	if !slices.ContainsFunc(omit.Active("u_party"), func(r *DeviceRecord) bool { return r.ID == lost.ID }) {
		t.Fatal("the omitting answer should make the lost device active: test proves nothing")
	}
	if _, err := omit.CheckRevocations(pins); !errors.Is(err, ErrRevocationOmitted) {
		t.Fatalf("answer without the lost device's revocation after the flood: %v, want ErrRevocationOmitted", err)
	}
}

// TestRevocationPinKeepsItsIndex: a pin records where the revocation that
// counted was logged. Alice's laptop revokes her lost phone at 100 and a
// client pins it; whoever holds the phone's key, with the server, logs a
// link from the phone to a new device at 150 and the phone's revocation of
// itself at 200, and the server's answer leaves the laptop's revocation
// out. The phone is still revoked in that answer, but later: the answer is
// refused, or the new device would count (linked while the phone was
// valid) and get keys.
func TestRevocationPinKeepsItsIndex(t *testing.T) {
	now := time.UnixMilli(1767225600000)
	laptop := device(t, "u_alice", "laptop", KEMX25519)
	phone := device(t, "u_alice", "phone", KEMX25519)
	rogue := device(t, "u_alice", "rogue", KEMX25519)
	endorse := func(by, d *DeviceKeys) *Endorsement { return endorsement(t, by, d, now) }
	rev := func(by *DeviceKeys, id string) *Revocation { return revocation(t, by, id, now) }
	dir := func(honest bool) *Devices {
		d := NewDevices()
		d.RequireEndorsement()
		d.Add(laptop.Record(), 1)
		d.Add(phone.Record(), 2)
		d.Endorse(endorse(laptop, phone), 3)
		if honest {
			d.Revoke(rev(laptop, phone.ID), 100)
		}
		d.Add(rogue.Record(), 140)
		d.Endorse(endorse(phone, rogue), 150)
		d.Revoke(rev(phone, phone.ID), 200)
		return d
	}
	pins := RevocationPins{}
	if _, err := dir(true).CheckRevocations(pins); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(pins["u_alice"], map[string]int64{phone.ID: 100}) {
		t.Fatalf("pins after the honest answer: %v, want the phone at 100", pins)
	}
	forged := dir(false)
	if !slices.ContainsFunc(forged.Active("u_alice"), func(r *DeviceRecord) bool { return r.ID == rogue.ID }) {
		t.Fatal("the forged answer should make the rogue device active: test proves nothing")
	}
	if _, err := forged.CheckRevocations(pins); !errors.Is(err, ErrRevocationOmitted) {
		t.Fatalf("answer revoking the phone later than pinned: %v, want ErrRevocationOmitted", err)
	}
	if !maps.Equal(pins["u_alice"], map[string]int64{phone.ID: 100}) {
		t.Fatalf("pins after the refused answer: %v", pins)
	}
	if changed, err := dir(true).CheckRevocations(pins); err != nil || changed {
		t.Fatalf("the honest answer again: changed %v err %v", changed, err)
	}

	// A pin saved before pins had an index (revoked.json as id lists)
	// reads as UnknownRevocationIndex and takes the index of the first
	// answer that revokes the device; from then on it holds.
	var old RevocationPins
	if err := json.Unmarshal([]byte(`{"u_alice":["`+phone.ID+`"]}`), &old); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(old["u_alice"], map[string]int64{phone.ID: UnknownRevocationIndex}) {
		t.Fatalf("old pins read as %v", old)
	}
	if changed, err := dir(true).CheckRevocations(old); err != nil || !changed || !maps.Equal(old["u_alice"], map[string]int64{phone.ID: 100}) {
		t.Fatalf("old pin on the honest answer: changed %v err %v pins %v", changed, err, old)
	}
	if _, err := forged.CheckRevocations(old); !errors.Is(err, ErrRevocationOmitted) {
		t.Fatalf("old pin, re-pinned, on the forged answer: %v, want ErrRevocationOmitted", err)
	}
	b, err := json.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	var again RevocationPins
	if err := json.Unmarshal(b, &again); err != nil || !maps.Equal(again["u_alice"], old["u_alice"]) {
		t.Fatalf("pins saved and read back: %s -> %v (%v)", b, again, err)
	}

	// Merging keeps the earlier index, a known one over an unknown one.
	m := RevocationPins{"u_alice": {phone.ID: UnknownRevocationIndex, "x": 7}}
	if err := m.Merge(RevocationPins{"u_alice": {phone.ID: 100, "x": 9, "y": 3}}); err != nil ||
		!maps.Equal(m["u_alice"], map[string]int64{phone.ID: 100, "x": 7, "y": 3}) {
		t.Fatalf("merged: %v (%v)", m, err)
	}
}

// endorsement is by's link of device d, made at now and decoded.
func endorsement(t *testing.T, by, d *DeviceKeys, now time.Time) *Endorsement {
	t.Helper()
	raw, err := by.Endorse(d.Record(), "", now)
	if err != nil {
		t.Fatal(err)
	}
	e, err := DecodeEndorsement(raw)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// revocation is by's revocation of device id, made at now and decoded.
func revocation(t *testing.T, by *DeviceKeys, id string, now time.Time) *Revocation {
	t.Helper()
	r, err := DecodeRevocation(by.Revoke(id, now))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestAdmissionEndsWithItsSignersRevocation (review): an admission counts
// only while the mediator device that signed it is unrevoked. A thief with
// a mediator's linked laptop admits a device of their own onto party B's
// account; once the mediator revokes the laptop from another device, the
// admitted device (and any device it linked) no longer counts — before,
// only a revocation logged before the admission was checked, so it kept
// receiving B's keys. A live mediator device may admit it again.
func TestAdmissionEndsWithItsSignersRevocation(t *testing.T) {
	w := newWorld(t)
	w.dir.RequireEndorsement()
	now := time.UnixMilli(1767225600000)
	laptop := device(t, "u_med", "laptop", KEMXWing)
	w.dir.Add(laptop.Record(), 7)
	w.dir.Endorse(endorsement(t, w.med, laptop, now), 8)
	thief := device(t, "u_partyb", "thief", KEMXWing)
	w.dir.Add(thief.Record(), 9)
	admit := func(by *DeviceKeys, index int64) {
		t.Helper()
		raw, err := by.Endorse(thief.Record(), w.caseID, now)
		if err != nil {
			t.Fatal(err)
		}
		e, err := DecodeEndorsement(raw)
		if err != nil {
			t.Fatal(err)
		}
		w.dir.Endorse(e, index)
	}
	admit(laptop, 10)
	thiefLinked := device(t, "u_partyb", "thief-linked", KEMXWing)
	w.dir.Add(thiefLinked.Record(), 11)
	w.dir.Endorse(endorsement(t, thief, thiefLinked, now), 12)
	w.sign(t, w.med, w.people(), epochs(1))
	w.dir.AdmitFrom(w.chain)
	if !w.dir.Trusted("u_partyb", thief.ID) || !w.dir.Trusted("u_partyb", thiefLinked.ID) {
		t.Fatal("setup: the admitted device and the one it linked should count")
	}
	w.dir.Revoke(revocation(t, w.med, laptop.ID, now), 20)
	for _, d := range []*DeviceKeys{thief, thiefLinked} {
		if w.dir.Trusted("u_partyb", d.ID) {
			t.Fatalf("%s still counts once the laptop that admitted it is revoked", d.Account)
		}
		if _, ok := w.dir.Device("u_partyb", d.ID, -1); ok {
			t.Fatal("Device still gives an admitted device whose admitter is revoked")
		}
	}
	if a := w.dir.Active("u_partyb"); len(a) != 1 || a[0].ID != w.b.ID {
		t.Fatalf("B's active devices %v, want B's own one alone", a)
	}
	if len(w.dir.Admitted("u_partyb")) != 0 {
		t.Fatal("an admission by a revoked device is still listed")
	}
	// The mediator's live device admits it again: it counts again.
	admit(w.med, 30)
	if !w.dir.Trusted("u_partyb", thief.ID) {
		t.Fatal("a re-admission by a live mediator device does not count")
	}
}

// TestAdmittedNamesAnAdmissionThatCounts (review LOW): Admitted names the
// mediator of an admission that counts. A party's device admitted from
// u_med's laptop, the laptop then revoked and the device re-admitted by
// u_med2, is listed as admitted by u_med2 — before, the first admission
// logged was taken, its signer revoked, and u_med named.
func TestAdmittedNamesAnAdmissionThatCounts(t *testing.T) {
	w := newWorld(t)
	w.dir.RequireEndorsement()
	now := time.UnixMilli(1767225600000)
	laptop := device(t, "u_med", "laptop", KEMXWing)
	w.dir.Add(laptop.Record(), 7)
	w.dir.Endorse(endorsement(t, w.med, laptop, now), 8)
	bnew := device(t, "u_partyb", "bnew", KEMXWing)
	w.dir.Add(bnew.Record(), 9)
	admit := func(by *DeviceKeys, index int64) {
		t.Helper()
		raw, err := by.Endorse(bnew.Record(), w.caseID, now)
		if err != nil {
			t.Fatal(err)
		}
		e, err := DecodeEndorsement(raw)
		if err != nil {
			t.Fatal(err)
		}
		w.dir.Endorse(e, index)
	}
	admit(laptop, 10)
	w.sign(t, w.med, w.people(), epochs(1))
	w.dir.AdmitFrom(w.chain)
	if a := w.dir.Admitted("u_partyb"); len(a) != 1 || a[0].By != "u_med" {
		t.Fatalf("setup: admitted %v, want bnew by u_med", a)
	}
	w.dir.Revoke(revocation(t, w.med, laptop.ID, now), 20)
	admit(w.m2, 30)
	a := w.dir.Admitted("u_partyb")
	if len(a) != 1 || a[0].Device.ID != bnew.ID {
		t.Fatalf("admitted %v, want bnew alone", a)
	}
	if a[0].By != "u_med2" {
		t.Fatalf("bnew shown as admitted by %s, want u_med2 (u_med's admitting laptop is revoked)", a[0].By)
	}
}

// TestLinkedByNamesWhatARevokedDeviceLinked: a revoked device's links
// logged before its revocation keep counting; LinkedBy names the devices
// it linked that still count, also through a device it linked that is
// revoked since, and leaves out the devices kept and what they linked.
func TestLinkedByNamesWhatARevokedDeviceLinked(t *testing.T) {
	w := newWorld(t)
	w.dir.RequireEndorsement()
	now := time.UnixMilli(1767225600000)
	laptop := device(t, "u_med", "laptop", KEMXWing)
	thief := device(t, "u_med", "thief", KEMXWing)
	thief2 := device(t, "u_med", "thief2", KEMXWing)
	late := device(t, "u_med", "late", KEMXWing)
	w.dir.Add(laptop.Record(), 7)
	w.dir.Endorse(endorsement(t, w.med, laptop, now), 8)
	w.dir.Add(thief.Record(), 9)
	w.dir.Endorse(endorsement(t, laptop, thief, now), 10)
	w.dir.Add(thief2.Record(), 11)
	w.dir.Endorse(endorsement(t, thief, thief2, now), 12)
	w.dir.Revoke(revocation(t, w.med, thief.ID, now), 13)
	w.dir.Revoke(revocation(t, w.med, laptop.ID, now), 14)
	w.dir.Add(late.Record(), 15)
	w.dir.Endorse(endorsement(t, laptop, late, now), 16) // after the laptop's revocation: does not count
	got := w.dir.LinkedBy("u_med", laptop.ID)
	if len(got) != 1 || got[0].Device.ID != thief2.ID || got[0].ByDev != thief.ID || got[0].Created != now.UnixMilli() {
		t.Fatalf("LinkedBy(laptop) = %+v, want thief2 alone (linked by the revoked thief before its revocation)", got)
	}
	if got := w.dir.LinkedBy("u_med", laptop.ID, thief.ID); len(got) != 0 {
		t.Fatalf("LinkedBy(laptop, keep thief) = %+v, want none", got)
	}
	if got := w.dir.LinkedBy("u_med", "nosuch"); got != nil {
		t.Fatalf("LinkedBy of an unknown device = %+v", got)
	}
}
