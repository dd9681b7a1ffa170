package e2ee

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"time"
)

// Endorsement authorises a device of an account. Clients accept an
// account's first device on first use; every later device needs an
// endorsement, signed either by an accepted device of the same account
// (Case empty: the person linked it from a device they already had) or,
// for one case, by an accepted device of a mediator of that case (Case
// set: the mediator admitted a device-less participant's new device). The
// server registers devices but cannot sign either, so a device it adds to
// an account on its own is never given a key.
type Endorsement struct {
	Account string   // the endorsed device's account
	Device  string   // the endorsed device
	Record  [32]byte // SHA-256 of the endorsed device record
	Case    string   // "" for a same-account link; the case of an admission
	By      string   // signer account
	ByDev   string   // signer device
	Created int64
	Raw     []byte
	sig     []byte
	bodyLen int
}

func (e *Endorsement) body() []byte {
	return newWriter(TypeEndorse).str(e.Account).str(e.Device).bytes(e.Record[:]).str(e.Case).
		str(e.By).str(e.ByDev).i64(e.Created).b
}

// Endorse signs an endorsement of rec by d: a link of d's own account's
// new device (caseID ""), or a mediator's admission of a participant's
// device in caseID.
func (d *DeviceKeys) Endorse(rec *DeviceRecord, caseID string, now time.Time) ([]byte, error) {
	if caseID == "" && rec.Account != d.Account {
		return nil, fmt.Errorf("e2ee: a device of %s cannot link a device of %s", d.Account, rec.Account)
	}
	e := &Endorsement{Account: rec.Account, Device: rec.ID, Record: rec.Hash(), Case: caseID,
		By: d.Account, ByDev: d.ID, Created: now.UnixMilli()}
	body := e.body()
	return append(body, d.sign(TypeEndorse, body)...), nil
}

// DecodeEndorsement parses an endorsement; [Endorsement.Verify] checks it.
func DecodeEndorsement(data []byte) (*Endorsement, error) {
	r := newReader(data, TypeEndorse, MaxDeviceRecord)
	e := &Endorsement{}
	e.Account = r.id("account")
	e.Device = r.id("device")
	copy(e.Record[:], r.fixed("record hash", 32))
	e.Case = r.str("case", maxString)
	e.By = r.id("signer account")
	e.ByDev = r.id("signer device")
	e.Created = r.i64("created")
	e.bodyLen = r.off
	e.sig = r.fixed("signature", ed25519.SignatureSize)
	r.end("endorsement")
	if r.err != nil {
		return nil, r.err
	}
	if e.Case == "" && e.By != e.Account {
		return nil, malformed("endorsement: a link must be signed by the same account")
	}
	e.Raw = bytes.Clone(data)
	e.sig = e.Raw[e.bodyLen+4:]
	return e, nil
}

// Verify checks the endorsement names rec exactly and was signed by by.
func (e *Endorsement) Verify(rec, by *DeviceRecord) error {
	if rec.Account != e.Account || rec.ID != e.Device || rec.Hash() != e.Record {
		return fmt.Errorf("%w: endorsement of another device record", ErrBadSignature)
	}
	if by.Account != e.By || by.ID != e.ByDev {
		return fmt.Errorf("%w: endorsement names another signer", ErrBadSignature)
	}
	return by.verify(TypeEndorse, e.Raw[:e.bodyLen], e.sig)
}

// Hash is SHA-256 of the endorsement's encoding.
func (e *Endorsement) Hash() [32]byte { return PayloadHash(e.Raw) }
