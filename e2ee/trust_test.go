package e2ee

import (
	"errors"
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
