package e2ee

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"
)

// KEMID names the HPKE KEM of a device's key-delivery key.
type KEMID uint16

// The KEMs a device may use. X-Wing is the default; DHKEM(X25519) is the
// fallback for clients without ML-KEM. The KDF (HKDF-SHA256) and AEAD
// (AES-256-GCM) are fixed.
const (
	KEMXWing  KEMID = 0x647a // MLKEM768-X25519, draft-ietf-hpke-pq
	KEMX25519 KEMID = 0x0020 // DHKEM(X25519, HKDF-SHA256), RFC 9180
)

func (k KEMID) String() string {
	switch k {
	case KEMXWing:
		return "X-Wing"
	case KEMX25519:
		return "X25519"
	}
	return fmt.Sprintf("KEM 0x%04x", uint16(k))
}

func (k KEMID) kem() (hpke.KEM, error) {
	switch k {
	case KEMXWing:
		return hpke.MLKEM768X25519(), nil
	case KEMX25519:
		return hpke.DHKEM(ecdhX25519()), nil
	}
	return nil, fmt.Errorf("e2ee: unsupported KEM 0x%04x", uint16(k))
}

// publicKeySize is the encoded public key length of each KEM.
func (k KEMID) publicKeySize() int {
	switch k {
	case KEMXWing:
		return 1216
	case KEMX25519:
		return 32
	}
	return -1
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// DeviceID derives a device's id from its signing key:
// "dv_" + base32 (lowercase, unpadded) of the first 16 bytes of
// SHA-256("parley/e2ee/v1/device-id\x00" || Ed25519 public key).
// The server cannot give a device an id other than its key's.
func DeviceID(sigPub ed25519.PublicKey) string {
	h := sha256.Sum256(append([]byte("parley/e2ee/v1/device-id\x00"), sigPub...))
	return "dv_" + strings.ToLower(b32.EncodeToString(h[:16]))
}

// DeviceKeys is a device's private keys. They never leave the device.
type DeviceKeys struct {
	Account string
	ID      string
	Created int64 // unix milliseconds
	KEM     KEMID
	// SigSeed is the Ed25519 private key seed (RFC 8032).
	SigSeed []byte
	// KEMSeed is the 32-byte HPKE private key: for X-Wing the seed of
	// draft-ietf-hpke-pq (expanded with SHAKE256), for X25519 the scalar.
	// It is what is stored — never a DeriveKeyPair input.
	KEMSeed []byte

	sig  ed25519.PrivateKey
	priv hpke.PrivateKey
	rec  *DeviceRecord
}

// NewDeviceKeys makes fresh keys for a device of account.
func NewDeviceKeys(account string, kem KEMID, now time.Time) (*DeviceKeys, error) {
	sigSeed := make([]byte, ed25519.SeedSize)
	kemSeed := make([]byte, 32)
	rand.Read(sigSeed)
	rand.Read(kemSeed)
	return DeviceKeysFromSeeds(account, kem, sigSeed, kemSeed, now.UnixMilli())
}

// DeviceKeysFromSeeds rebuilds device keys from their stored seeds (and
// makes the test vectors' fixed keys).
func DeviceKeysFromSeeds(account string, kem KEMID, sigSeed, kemSeed []byte, created int64) (*DeviceKeys, error) {
	if len(sigSeed) != ed25519.SeedSize || len(kemSeed) != 32 {
		return nil, errors.New("e2ee: device seeds must be 32 bytes each")
	}
	if account == "" || len(account) > maxString {
		return nil, errors.New("e2ee: device needs an account id")
	}
	k, err := kem.kem()
	if err != nil {
		return nil, err
	}
	priv, err := k.NewPrivateKey(kemSeed)
	if err != nil {
		return nil, fmt.Errorf("e2ee: KEM private key: %w", err)
	}
	sig := ed25519.NewKeyFromSeed(sigSeed)
	d := &DeviceKeys{Account: account, Created: created, KEM: kem,
		SigSeed: bytes.Clone(sigSeed), KEMSeed: bytes.Clone(kemSeed), sig: sig, priv: priv}
	d.ID = DeviceID(sig.Public().(ed25519.PublicKey))
	d.rec = &DeviceRecord{Account: account, ID: d.ID, Created: created, SigPub: sig.Public().(ed25519.PublicKey),
		KEM: kem, KEMPub: priv.PublicKey().Bytes()}
	body := d.rec.body()
	d.rec.Raw = append(bytes.Clone(body), signField(sig, TypeDevice, body)...)
	return d, nil
}

// Record is the device's public record, signed by the device itself.
func (d *DeviceKeys) Record() *DeviceRecord { return d.rec }

func (d *DeviceKeys) sign(t byte, body []byte) []byte { return signField(d.sig, t, body) }

// signField returns the signature over body as an encoded field.
func signField(k ed25519.PrivateKey, t byte, body []byte) []byte {
	sig := ed25519.Sign(k, append(label(t), body...))
	return fieldsWriter().bytes(sig).b
}

// DeviceRecord is a device's public keys, as registered in the key
// directory and logged in its Merkle tree.
type DeviceRecord struct {
	Account string
	ID      string
	Created int64
	SigPub  ed25519.PublicKey
	KEM     KEMID
	KEMPub  []byte
	// Raw is the record's encoding (what is hashed into the log).
	Raw []byte

	pub hpke.PublicKey
}

func (r *DeviceRecord) body() []byte {
	return newWriter(TypeDevice).str(r.Account).str(r.ID).i64(r.Created).
		bytes(r.SigPub).u16(uint16(r.KEM)).bytes(r.KEMPub).b
}

// Hash is SHA-256 of the record's encoding, as logged ("sha256:<hex>").
func (r *DeviceRecord) Hash() [32]byte { return sha256.Sum256(r.Raw) }

// DecodeDeviceRecord parses a device record and checks it: the id is the
// one its signing key derives, the KEM key parses, and the record is
// signed by its own key (proof of possession).
func DecodeDeviceRecord(data []byte) (*DeviceRecord, error) {
	r := newReader(data, TypeDevice, MaxDeviceRecord)
	rec := &DeviceRecord{}
	rec.Account = r.id("account")
	rec.ID = r.id("device")
	rec.Created = r.i64("created")
	rec.SigPub = ed25519.PublicKey(r.fixed("signing key", ed25519.PublicKeySize))
	rec.KEM = KEMID(r.u16("kem"))
	rec.KEMPub = r.bytes("kem key")
	bodyEnd := r.off
	sig := r.fixed("signature", ed25519.SignatureSize)
	r.end("device")
	if r.err != nil {
		return nil, r.err
	}
	if rec.KEMPub == nil || len(rec.KEMPub) != rec.KEM.publicKeySize() {
		return nil, malformed("kem key: wrong size for %s", rec.KEM)
	}
	if DeviceID(rec.SigPub) != rec.ID {
		return nil, fmt.Errorf("%w: device id does not match its signing key", ErrBadSignature)
	}
	if !ed25519.Verify(rec.SigPub, append(label(TypeDevice), data[:bodyEnd]...), sig) {
		return nil, fmt.Errorf("%w: device record", ErrBadSignature)
	}
	if _, err := rec.hpkePublic(); err != nil {
		return nil, err
	}
	rec.Raw = bytes.Clone(data)
	rec.SigPub = bytes.Clone(rec.SigPub)
	rec.KEMPub = bytes.Clone(rec.KEMPub)
	return rec, nil
}

func (r *DeviceRecord) hpkePublic() (hpke.PublicKey, error) {
	if r.pub != nil {
		return r.pub, nil
	}
	k, err := r.KEM.kem()
	if err != nil {
		return nil, err
	}
	pub, err := k.NewPublicKey(r.KEMPub)
	if err != nil {
		return nil, malformed("kem key: %v", err)
	}
	r.pub = pub
	return pub, nil
}

// verify checks an Ed25519 signature field by this device over body.
func (r *DeviceRecord) verify(t byte, body, sig []byte) error {
	if !ed25519.Verify(r.SigPub, append(label(t), body...), sig) {
		return fmt.Errorf("%w: %s from device %s", ErrBadSignature, typeNames[t], r.ID)
	}
	return nil
}

// Revocation retires a device. It is signed by a device of the same
// account (the revoked one itself, or another).
type Revocation struct {
	Account string
	Device  string // the revoked device
	By      string // the signing device
	Created int64
	Raw     []byte
	sig     []byte
	bodyLen int
}

// Revoke signs the revocation of device (of the same account) by d.
func (d *DeviceKeys) Revoke(device string, now time.Time) []byte {
	body := newWriter(TypeRevocation).str(d.Account).str(device).str(d.ID).i64(now.UnixMilli()).b
	return append(body, d.sign(TypeRevocation, body)...)
}

// DecodeRevocation parses a revocation; [Revocation.Verify] checks it.
func DecodeRevocation(data []byte) (*Revocation, error) {
	r := newReader(data, TypeRevocation, MaxDeviceRecord)
	v := &Revocation{}
	v.Account = r.id("account")
	v.Device = r.id("device")
	v.By = r.id("by")
	v.Created = r.i64("created")
	v.bodyLen = r.off
	v.sig = r.fixed("signature", ed25519.SignatureSize)
	r.end("revocation")
	if r.err != nil {
		return nil, r.err
	}
	v.Raw = bytes.Clone(data)
	return v, nil
}

// Verify checks the revocation was signed by by, a device of the same account.
func (v *Revocation) Verify(by *DeviceRecord) error {
	if by.ID != v.By || by.Account != v.Account {
		return fmt.Errorf("%w: revocation signed by a device of another account", ErrBadSignature)
	}
	return by.verify(TypeRevocation, v.Raw[:v.bodyLen], v.sig)
}

// Hash is SHA-256 of the revocation's encoding.
func (v *Revocation) Hash() [32]byte { return sha256.Sum256(v.Raw) }
