package e2ee

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"errors"
	"fmt"
	"time"
)

// SharedChain is one receiving chain handed from a device to a newly
// linked device of the same account: the chain key as the key
// distribution gave it (at Iteration), so the new device reads what the
// old one was sent from that point on.
type SharedChain struct {
	Ctx       ChainContext
	Iteration uint32
	CK        []byte
}

const labelKeyShare = "parley/e2ee/v1/keyshare"

// Share checks a key distribution found in room at epoch, posted by
// account from, and returns the chain it gives this device (nil when it
// has no copy for this device), without installing it: a device collects
// these to hand them to its account's new device.
func (s *Session) Share(room string, epoch int64, from string, payload []byte) (*SharedChain, error) {
	kd, err := DecodeKeyDist(payload)
	if err != nil {
		return nil, err
	}
	dev, err := s.check(&kd.Ctx, room, epoch, from)
	if err != nil {
		return nil, err
	}
	if err := kd.Verify(dev); err != nil {
		return nil, err
	}
	rc, err := kd.Open(s.Me)
	if errors.Is(err, ErrNotForMe) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &SharedChain{Ctx: kd.Ctx, Iteration: kd.Iteration, CK: rc.ck}, nil
}

// AddShared installs chains received from another device of this account
// (see [KeyShare.Open]); chains of other cases, and chains this session
// already holds, are left alone.
func (s *Session) AddShared(chains []SharedChain) {
	for _, c := range chains {
		if c.Ctx.Case != s.Case {
			continue
		}
		key := inKey{c.Ctx.Room, c.Ctx.Epoch, c.Ctx.Device, c.Ctx.Chain}
		if _, have := s.in[key]; have {
			continue
		}
		s.in[key] = &ReceiverChain{Ctx: c.Ctx, ck: bytes.Clone(c.CK), next: c.Iteration, last: -1}
	}
}

// KeyShare is chain keys sealed by one device to another device of the
// same account (HPKE to the new device's KEM key), signed by the sender.
// The server relays it as opaque bytes.
type KeyShare struct {
	Account string
	From    string
	To      string
	Created int64
	KEM     KEMID
	Sealed  []byte // HPKE enc || ciphertext
	Raw     []byte
	sig     []byte
	bodyLen int
}

func keyShareInfo(account, from, to string, created int64) []byte {
	w := fieldsWriter().str(account).str(from).str(to).i64(created)
	return append([]byte(labelKeyShare+"\x00"), w.b...)
}

// MaxSharedChains bounds the chains one key share carries: the wire
// format's list limit, which every reader enforces.
const MaxSharedChains = maxList

// ShareKeys seals chains to to, a device of d's own account, and signs
// the result.
func (d *DeviceKeys) ShareKeys(to *DeviceRecord, chains []SharedChain, now time.Time) ([]byte, error) {
	if to.Account != d.Account {
		return nil, fmt.Errorf("e2ee: keys go only to a device of the same account")
	}
	if len(chains) > MaxSharedChains {
		return nil, fmt.Errorf("e2ee: a key share carries at most %d chains", MaxSharedChains)
	}
	pt := newWriter(TypeShared).list(len(chains), func(i int, e *writer) {
		c := chains[i]
		c.Ctx.fields(e).u32(c.Iteration).bytes(c.CK)
	}).b
	if len(pt) > MaxKeyShare-8<<10 {
		return nil, fmt.Errorf("e2ee: key share over %d bytes", MaxKeyShare)
	}
	pub, err := to.hpkePublic()
	if err != nil {
		return nil, err
	}
	created := now.UnixMilli()
	sealed, err := sealTo(pub, keyShareInfo(d.Account, d.ID, to.ID, created), pt)
	clear(pt)
	if err != nil {
		return nil, err
	}
	body := newWriter(TypeKeyShare).str(d.Account).str(d.ID).str(to.ID).i64(created).u16(uint16(to.KEM)).bytes(sealed).b
	return append(body, d.sign(TypeKeyShare, body)...), nil
}

// DecodeKeyShare parses a key share; [KeyShare.Open] checks and opens it.
func DecodeKeyShare(data []byte) (*KeyShare, error) {
	r := newReader(data, TypeKeyShare, MaxKeyShare)
	k := &KeyShare{}
	k.Account = r.id("account")
	k.From = r.id("from device")
	k.To = r.id("to device")
	k.Created = r.i64("created")
	k.KEM = KEMID(r.u16("kem"))
	k.Sealed = r.bytes("sealed")
	k.bodyLen = r.off
	k.sig = r.fixed("signature", ed25519.SignatureSize)
	r.end("keyshare")
	if r.err != nil {
		return nil, r.err
	}
	if n := encLen(k.KEM); n < 0 || len(k.Sealed) < n+16 {
		return nil, malformed("keyshare: sealed part too short")
	}
	k.Raw = bytes.Clone(data)
	k.Sealed = k.Raw[k.bodyLen-len(k.Sealed) : k.bodyLen]
	k.sig = k.Raw[k.bodyLen+4:]
	return k, nil
}

// Open checks the share was signed by from (an accepted device of me's
// account: the caller checks that in the directory) for me, and returns
// its chains.
func (k *KeyShare) Open(me *DeviceKeys, from *DeviceRecord) ([]SharedChain, error) {
	if k.Account != me.Account || from.Account != me.Account || from.ID != k.From {
		return nil, fmt.Errorf("%w: key share from another account or device", ErrBadSignature)
	}
	if k.To != me.ID {
		return nil, ErrNotForMe
	}
	if err := from.verify(TypeKeyShare, k.Raw[:k.bodyLen], k.sig); err != nil {
		return nil, err
	}
	if k.KEM != me.KEM {
		return nil, fmt.Errorf("%w: sealed for %s, device uses %s", ErrDecrypt, k.KEM, me.KEM)
	}
	n := encLen(k.KEM)
	rcp, err := hpke.NewRecipient(k.Sealed[:n], me.priv, hpke.HKDFSHA256(), hpke.AES256GCM(), keyShareInfo(k.Account, k.From, k.To, k.Created))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
	}
	pt, err := rcp.Open(nil, k.Sealed[n:])
	if err != nil {
		return nil, fmt.Errorf("%w: key share", ErrDecrypt)
	}
	defer clear(pt)
	r := newReader(pt, TypeShared, MaxKeyShare)
	var out []SharedChain
	r.list("chains", func(e *reader) {
		var c SharedChain
		c.Ctx.read(e)
		c.Iteration = e.u32("iteration")
		c.CK = bytes.Clone(e.fixed("chain key", 32))
		if c.Ctx.Account != "" && e.err == nil {
			out = append(out, c)
		}
	})
	r.end("shared chains")
	if r.err != nil {
		return nil, r.err
	}
	return out, nil
}
