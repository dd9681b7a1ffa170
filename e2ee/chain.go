package e2ee

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// Derivation labels (HKDF-SHA256 Expand; the chain key is uniformly random,
// so it is used directly as the pseudorandom key).
const (
	labelMessageKey = "parley/e2ee/v1/message-key"
	labelChainKey   = "parley/e2ee/v1/chain-key"
	labelKeyDist    = "parley/e2ee/v1/keydist"
)

// MaxSkip bounds how far a receiver ratchets forward over messages that
// never arrived (lost sends), so a forged counter cannot make it spin.
const MaxSkip = 10000

// ChainID names one sender chain (8 random bytes).
type ChainID [8]byte

func (c ChainID) String() string { return hex.EncodeToString(c[:]) }

// ChainContext is what a sender chain is bound to: the case, room and
// epoch, the membership statement it was distributed under, and the
// sending device. The server assigns offsets after encryption, so only
// what the sender knows is bound.
type ChainContext struct {
	Case         string
	Room         string
	Epoch        int64
	StatementSeq uint64
	Account      string
	Device       string
	Chain        ChainID
}

func (c *ChainContext) fields(w *writer) *writer {
	return w.str(c.Case).str(c.Room).i64(c.Epoch).u64(c.StatementSeq).str(c.Account).str(c.Device).bytes(c.Chain[:])
}

func (c *ChainContext) read(r *reader) {
	c.Case = r.id("case")
	c.Room = r.id("room")
	c.Epoch = r.i64("epoch")
	c.StatementSeq = r.u64("statement")
	c.Account = r.id("sender account")
	c.Device = r.id("sender device")
	copy(c.Chain[:], r.fixed("chain", 8))
}

// ratchet derives message key i's AES key and nonce and the next chain key.
func ratchet(ck []byte) (key, nonce, next []byte) {
	mk, err := hkdf.Expand(sha256.New, ck, labelMessageKey, 32+12)
	if err != nil {
		panic(err) // only for lengths HKDF cannot produce
	}
	next, err = hkdf.Expand(sha256.New, ck, labelChainKey, 32)
	if err != nil {
		panic(err)
	}
	return mk[:32], mk[32:], next
}

// SenderChain is one device's sending state in one room and epoch.
type SenderChain struct {
	Ctx     ChainContext
	ck      []byte // chain key for the next counter
	counter uint32 // next counter to use
	// sent lists the devices this chain's key was distributed to.
	sent map[string]bool
}

// NewSenderChain starts a chain with a fresh random chain key.
func NewSenderChain(ctx ChainContext) *SenderChain {
	ck := make([]byte, 32)
	rand.Read(ck)
	if ctx.Chain == (ChainID{}) {
		rand.Read(ctx.Chain[:])
	}
	return newSenderChainWithKey(ctx, ck)
}

func newSenderChainWithKey(ctx ChainContext, ck []byte) *SenderChain {
	return &SenderChain{Ctx: ctx, ck: bytes.Clone(ck), sent: map[string]bool{}}
}

// Counter is the counter the next message will carry.
func (s *SenderChain) Counter() uint32 { return s.counter }

// SentTo reports whether the chain key was distributed to device.
func (s *SenderChain) SentTo(device string) bool { return s.sent[device] }

// KeyDist seals the chain key (at the current counter: earlier messages
// stay unreadable to late recipients) to each recipient device with HPKE,
// and signs the result with the sender's device key. It returns one or more
// payloads, each within MaxPayload.
func (s *SenderChain) KeyDist(me *DeviceKeys, recipients []*DeviceRecord) ([][]byte, error) {
	if me.ID != s.Ctx.Device || me.Account != s.Ctx.Account {
		return nil, errors.New("e2ee: key distribution by another device than the chain's")
	}
	type entry struct {
		device string
		kem    KEMID
		ct     []byte
	}
	var entries []entry
	for _, rec := range recipients {
		pub, err := rec.hpkePublic()
		if err != nil {
			return nil, err
		}
		ct, err := sealTo(pub, s.keyDistInfo(rec.ID), s.ck)
		if err != nil {
			return nil, err
		}
		entries = append(entries, entry{rec.ID, rec.KEM, ct})
	}
	var out [][]byte
	for len(entries) > 0 || len(out) == 0 {
		// Fill a payload up to the limit.
		n, size := 0, 512 // header and signature, generously
		for n < len(entries) {
			es := 12 + len(entries[n].device) + 2 + 4 + len(entries[n].ct) + 4
			if size+es > MaxPayload && n > 0 {
				break
			}
			size += es
			n++
		}
		part := entries[:n]
		entries = entries[n:]
		w := newWriter(TypeKeyDist)
		s.Ctx.fields(w).u32(s.counter).list(len(part), func(i int, e *writer) {
			e.str(part[i].device).u16(uint16(part[i].kem)).bytes(part[i].ct)
		})
		body := w.b
		out = append(out, append(body, me.sign(TypeKeyDist, body)...))
		if len(out) > maxList {
			return nil, errors.New("e2ee: too many recipients")
		}
	}
	for _, rec := range recipients {
		s.sent[rec.ID] = true
	}
	return out, nil
}

func (s *SenderChain) keyDistInfo(recipient string) []byte {
	w := fieldsWriter()
	s.Ctx.fields(w).u32(s.counter).str(recipient)
	return append([]byte(labelKeyDist+"\x00"), w.b...)
}

// sealTo is HPKE base mode (suite: the key's KEM, HKDF-SHA256,
// AES-256-GCM) with the context as info: enc || ciphertext.
func sealTo(pub hpke.PublicKey, info, pt []byte) ([]byte, error) {
	enc, sender, err := hpke.NewSender(pub, hpke.HKDFSHA256(), hpke.AES256GCM(), info)
	if err != nil {
		return nil, fmt.Errorf("e2ee: hpke: %w", err)
	}
	ct, err := sender.Seal(nil, pt)
	if err != nil {
		return nil, fmt.Errorf("e2ee: hpke: %w", err)
	}
	return append(enc, ct...), nil
}

func encLen(k KEMID) int {
	switch k {
	case KEMXWing:
		return 1120
	case KEMX25519:
		return 32
	}
	return -1
}

// Encrypt encrypts and signs one message with the next message key, which
// is then forgotten (the chain key moves forward).
func (s *SenderChain) Encrypt(me *DeviceKeys, p *Plaintext) ([]byte, error) {
	if s.counter == ^uint32(0) {
		return nil, errors.New("e2ee: chain exhausted; start a new one")
	}
	if err := p.Check(); err != nil {
		return nil, fmt.Errorf("e2ee: %w", err)
	}
	key, nonce, next := ratchet(s.ck)
	header := s.Ctx.fields(newWriter(TypeMessage)).u32(s.counter).b
	ct := aesGCM(key).Seal(nil, nonce, p.encode(), append(label(TypeMessage), header...))
	body := append(header, fieldsWriter().bytes(ct).b...)
	if len(body)+4+ed25519.SignatureSize > MaxPayload {
		return nil, fmt.Errorf("e2ee: message over %d bytes", MaxPayload)
	}
	clear(s.ck)
	clear(key)
	s.ck, s.counter = next, s.counter+1
	return append(body, me.sign(TypeMessage, body)...), nil
}

func aesGCM(key []byte) cipher.AEAD {
	b, err := aes.NewCipher(key)
	if err != nil {
		panic(err) // 32-byte keys only
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		panic(err)
	}
	return g
}

// KeyDist is a decoded key distribution.
type KeyDist struct {
	Ctx        ChainContext
	Iteration  uint32 // the counter the delivered chain key opens
	Recipients []Sealed
	Raw        []byte
	bodyLen    int
	sig        []byte
}

// Sealed is one recipient's copy of a chain key.
type Sealed struct {
	Device     string
	KEM        KEMID
	Ciphertext []byte // HPKE enc || ciphertext
}

// DecodeKeyDist parses a key distribution (signature unchecked).
func DecodeKeyDist(data []byte) (*KeyDist, error) {
	r := newReader(data, TypeKeyDist, MaxPayload)
	kd := &KeyDist{}
	kd.Ctx.read(r)
	kd.Iteration = r.u32("iteration")
	r.list("recipients", func(e *reader) {
		s := Sealed{Device: e.id("device"), KEM: KEMID(e.u16("kem")), Ciphertext: e.bytes("ciphertext")}
		if e.err == nil && len(s.Ciphertext) != encLen(s.KEM)+32+16 {
			e.fail("recipient %s: ciphertext of %d bytes for %s", s.Device, len(s.Ciphertext), s.KEM)
		}
		kd.Recipients = append(kd.Recipients, s)
	})
	kd.bodyLen = r.off
	kd.sig = r.fixed("signature", ed25519.SignatureSize)
	r.end("keydist")
	if r.err != nil {
		return nil, r.err
	}
	kd.Raw = data
	return kd, nil
}

// Verify checks the sender device's signature.
func (kd *KeyDist) Verify(sender *DeviceRecord) error {
	if sender.ID != kd.Ctx.Device || sender.Account != kd.Ctx.Account {
		return fmt.Errorf("%w: key distribution names another device", ErrBadSignature)
	}
	return sender.verify(TypeKeyDist, kd.Raw[:kd.bodyLen], kd.sig)
}

// Open finds this device's copy and returns the receiving chain it starts.
func (kd *KeyDist) Open(me *DeviceKeys) (*ReceiverChain, error) {
	for _, s := range kd.Recipients {
		if s.Device != me.ID {
			continue
		}
		if s.KEM != me.KEM {
			return nil, fmt.Errorf("%w: sealed for %s, device uses %s", ErrDecrypt, s.KEM, me.KEM)
		}
		sc := SenderChain{Ctx: kd.Ctx, counter: kd.Iteration}
		n := encLen(s.KEM)
		rcp, err := hpke.NewRecipient(s.Ciphertext[:n], me.priv, hpke.HKDFSHA256(), hpke.AES256GCM(), sc.keyDistInfo(me.ID))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
		}
		ck, err := rcp.Open(nil, s.Ciphertext[n:])
		if err != nil || len(ck) != 32 {
			return nil, fmt.Errorf("%w: chain key", ErrDecrypt)
		}
		return &ReceiverChain{Ctx: kd.Ctx, ck: ck, next: kd.Iteration, last: -1}, nil
	}
	return nil, ErrNotForMe
}

// PayloadEpoch is the epoch a room payload (a key distribution or an
// encrypted message) names in its header, the epoch its sender encrypted
// it for; ok is false for anything else (or an epoch below 1). The
// signature is not checked: the server reads it to store a payload only
// in that epoch, and every receiver checks the signed header anyway.
func PayloadEpoch(data []byte) (epoch int64, ok bool) {
	if len(data) < 4 {
		return 0, false
	}
	var ctx ChainContext
	switch data[3] {
	case TypeKeyDist:
		kd, err := DecodeKeyDist(data)
		if err != nil {
			return 0, false
		}
		ctx = kd.Ctx
	case TypeMessage:
		m, err := DecodeMessage(data)
		if err != nil {
			return 0, false
		}
		ctx = m.Ctx
	default:
		return 0, false
	}
	return ctx.Epoch, ctx.Epoch >= 1
}

// Message is a decoded encrypted message.
type Message struct {
	Ctx        ChainContext
	Counter    uint32
	Ciphertext []byte
	Raw        []byte
	headerLen  int
	bodyLen    int
	sig        []byte
}

// DecodeMessage parses an encrypted message (signature unchecked).
func DecodeMessage(data []byte) (*Message, error) {
	r := newReader(data, TypeMessage, MaxPayload)
	m := &Message{}
	m.Ctx.read(r)
	m.Counter = r.u32("counter")
	m.headerLen = r.off
	m.Ciphertext = r.bytes("ciphertext")
	m.bodyLen = r.off
	m.sig = r.fixed("signature", ed25519.SignatureSize)
	r.end("message")
	if r.err != nil {
		return nil, r.err
	}
	if len(m.Ciphertext) < 16+padBlock {
		return nil, malformed("message: ciphertext too short")
	}
	m.Raw = data
	return m, nil
}

// Verify checks the sender device's signature.
func (m *Message) Verify(sender *DeviceRecord) error {
	if sender.ID != m.Ctx.Device || sender.Account != m.Ctx.Account {
		return fmt.Errorf("%w: message names another device", ErrBadSignature)
	}
	return sender.verify(TypeMessage, m.Raw[:m.bodyLen], m.sig)
}

// ReceiverChain is the receiving side of one sender chain.
type ReceiverChain struct {
	Ctx  ChainContext
	ck   []byte // chain key for counter next
	next uint32
	last int64 // last counter accepted, -1 before the first
}

// Open decrypts m. Counters must strictly increase: a replayed, duplicated
// or reordered message is refused with ErrReplay. Keys of skipped counters
// (messages that never arrived) are derived and discarded at once, so a
// late copy of them cannot be opened either. Message keys are forgotten
// after use. The signature must have been checked (Verify) first.
func (rc *ReceiverChain) Open(m *Message) (*Plaintext, error) {
	if m.Ctx != rc.Ctx {
		return nil, fmt.Errorf("%w: message of another chain", ErrWrongPlace)
	}
	if int64(m.Counter) <= rc.last || m.Counter < rc.next {
		return nil, fmt.Errorf("%w: counter %d after %d", ErrReplay, m.Counter, rc.last)
	}
	if m.Counter-rc.next > MaxSkip {
		return nil, fmt.Errorf("%w: counter %d skips more than %d messages", ErrReplay, m.Counter, MaxSkip)
	}
	ck := rc.ck
	for i := rc.next; i < m.Counter; i++ {
		_, _, nk := ratchet(ck)
		if i != rc.next {
			clear(ck)
		}
		ck = nk
	}
	key, nonce, next := ratchet(ck)
	padded, err := aesGCM(key).Open(nil, nonce, m.Ciphertext, append(label(TypeMessage), m.Raw[:m.headerLen]...))
	clear(key)
	if err != nil {
		return nil, fmt.Errorf("%w: message %d", ErrDecrypt, m.Counter)
	}
	p, err := DecodePlaintext(padded)
	if err != nil {
		return nil, err
	}
	// Only now, with an authentic message, move the chain forward.
	if &ck[0] != &rc.ck[0] {
		clear(ck)
	}
	clear(rc.ck)
	rc.ck, rc.next, rc.last = next, m.Counter+1, int64(m.Counter)
	return p, nil
}
