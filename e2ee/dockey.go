package e2ee

import (
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// End-to-end encrypted documents.
//
// A document version is encrypted on the uploader's device, in the vault's
// streaming format (stream.go), under a fresh 32-byte content key bound to
// (case, document, version). The content key reaches the devices of the
// document's audience the way a room's chain key reaches its members: HPKE
// sealed to each device's KEM key, in one signed object, a document key
// wrap (TypeDocKeyNamed):
//
//	dockey = "PE" 1 0x0C case doc version:u64 audience statement:u64
//	         account device created:i64 name:32 [device kem:u16 hpke]* signature
//
// name is the version's name binding ([BindName]): the SHA-256 of the
// file name and media type the uploading device gave the version. The
// server stores and shows both as metadata; a device that opens a wrap
// checks what the server shows against it and refuses a document shown
// under another name or type (ErrRelabelled), and a re-wrap (share,
// narrowing, newcomers) carries the binding of the wrap it opened, never
// the server's name of the moment. Wraps made before names were bound
// (TypeDocKey, 0x0A) have no name field; they still open, their re-wraps
// stay unbound, and clients say the name is not verified.
//
// Each copy is sealed with info "parley/e2ee/v1/dockey-named\0" (0x0A:
// "parley/e2ee/v1/dockey\0") followed by the wrap's fields from case to
// name and the recipient device id, so a copy cannot be moved to another
// document, version, audience, name or device. A
// device wraps only for an audience its verified membership chain places
// it in, for the active devices of that audience's members as the latest
// signed statement lists them ([Session.WrapDocKey]); a device opens a
// wrap only after checking the statement it names, that the wrapping
// account is in the audience under it, and the wrapping device's signature
// ([Session.OpenDocKey]). The server stores wraps as opaque bytes: it can
// refuse a share, never perform one.

// TypeDocKey is a document key wrap made before names were bound (no
// name field); TypeDocKeyNamed, one with the version's name binding.
const (
	TypeDocKey      = 0x0A
	TypeDocKeyNamed = 0x0C
)

const (
	labelDocKey      = "parley/e2ee/v1/dockey"
	labelDocKeyNamed = "parley/e2ee/v1/dockey-named"
	labelDocName     = "parley/e2ee/v1/docname"
	// MaxDocKey bounds a document key wrap.
	MaxDocKey = 256 << 10
	// DocKeySize is a content key's size.
	DocKeySize = 32
	// maxAudience bounds an audience's text form (eight named accounts).
	maxAudience = 1024
)

func init() {
	typeNames[TypeDocKey] = "dockey"
	typeNames[TypeDocKeyNamed] = "dockey-named"
}

// ErrRelabelled: the name or media type the server shows for a document
// version is not the one its uploading device bound into the key wraps.
var ErrRelabelled = errors.New("e2ee: the document's name or type is not the one its uploader's device signed")

// NameBinding is a version's name binding: SHA-256 over
// "parley/e2ee/v1/docname\0" || name || mediaType (each a field: u32be
// length, bytes), name and media type exactly as the server stores and
// shows them (the name trimmed of surrounding white space, the media type
// in Go's mime.FormatMediaType form, "application/octet-stream" when none
// was given). The zero value is "not bound" (a wrap made before names
// were bound).
type NameBinding [32]byte

// BindName returns the name binding of a version named name, of type mediaType.
func BindName(name, mediaType string) NameBinding {
	w := fieldsWriter().str(name).str(mediaType)
	return sha256.Sum256(append([]byte(labelDocName+"\x00"), w.b...))
}

// Bound reports whether b binds a name (false: a wrap from before names were bound).
func (b NameBinding) Bound() bool { return b != NameBinding{} }

// Check refuses (ErrRelabelled) a bound binding that is not name's and
// mediaType's. An unbound one passes: the caller says the name is not
// verified.
func (b NameBinding) Check(name, mediaType string) error {
	if b.Bound() && b != BindName(name, mediaType) {
		return fmt.Errorf("%w (shown as %q, %s)", ErrRelabelled, name, mediaType)
	}
	return nil
}

// ErrNoDocKey: no wrap of a document version's content key reached this
// device (a device that holds it must wrap it for this one).
var ErrNoDocKey = errors.New("e2ee: no key for this document on this device")

// NewDocKey returns a fresh content key for one document version.
func NewDocKey() []byte {
	k := make([]byte, DocKeySize)
	rand.Read(k)
	return k
}

// DocKeyContext is what a wrap is bound to.
type DocKeyContext struct {
	Case         string
	Doc          string
	Version      int
	Audience     string // joint, caucus:<side>, mediators, user:<account>[,…]
	StatementSeq uint64
	Account      string // the wrapping account and device
	Device       string
	Created      int64
	// Name: the version's name binding as the uploading device made it
	// (zero: a wrap of the old form, which binds no name).
	Name NameBinding
}

func (c *DocKeyContext) typ() byte {
	if c.Name.Bound() {
		return TypeDocKeyNamed
	}
	return TypeDocKey
}

func (c *DocKeyContext) fields(w *writer) *writer {
	w.str(c.Case).str(c.Doc).u64(uint64(c.Version)).str(c.Audience).u64(c.StatementSeq).
		str(c.Account).str(c.Device).i64(c.Created)
	if c.Name.Bound() {
		w.bytes(c.Name[:])
	}
	return w
}

func (c *DocKeyContext) info(recipient string) []byte {
	w := c.fields(fieldsWriter()).str(recipient)
	l := labelDocKey
	if c.Name.Bound() {
		l = labelDocKeyNamed
	}
	return append([]byte(l+"\x00"), w.b...)
}

// Binding is the stream binding of the version the wrap belongs to.
func (c *DocKeyContext) Binding() StreamBinding {
	return StreamBinding{Case: c.Case, Doc: c.Doc, Version: c.Version}
}

// DocKeyWrap is a decoded document key wrap.
type DocKeyWrap struct {
	Ctx        DocKeyContext
	Recipients []Sealed
	Raw        []byte
	bodyLen    int
	sig        []byte
}

// Devices lists the devices the wrap holds a copy for.
func (k *DocKeyWrap) Devices() []string {
	out := make([]string, len(k.Recipients))
	for i, s := range k.Recipients {
		out[i] = s.Device
	}
	return out
}

// WrapDocKey seals key to each recipient device and signs the result with
// me. It checks nothing about membership: [Session.WrapDocKey] does.
func WrapDocKey(me *DeviceKeys, ctx DocKeyContext, key []byte, recipients []*DeviceRecord) ([]byte, error) {
	if len(key) != DocKeySize {
		return nil, errors.New("e2ee: a document key is 32 bytes")
	}
	if ctx.Account != me.Account || ctx.Device != me.ID {
		return nil, errors.New("e2ee: a document key wrap names the wrapping device")
	}
	if len(recipients) == 0 || len(recipients) > maxList {
		return nil, fmt.Errorf("e2ee: a document key goes to 1 to %d devices", maxList)
	}
	w := newWriter(ctx.typ())
	ctx.fields(w)
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
		ct, err := sealTo(pub, ctx.info(rec.ID), key)
		if err != nil {
			return nil, err
		}
		entries = append(entries, entry{rec.ID, rec.KEM, ct})
	}
	w.list(len(entries), func(i int, e *writer) {
		e.str(entries[i].device).u16(uint16(entries[i].kem)).bytes(entries[i].ct)
	})
	body := w.b
	if len(body)+4+ed25519.SignatureSize > MaxDocKey {
		return nil, fmt.Errorf("e2ee: document key wrap over %d bytes", MaxDocKey)
	}
	return append(body, me.sign(ctx.typ(), body)...), nil
}

// DecodeDocKey parses a wrap of either form (signature unchecked:
// [DocKeyWrap.Verify]).
func DecodeDocKey(data []byte) (*DocKeyWrap, error) {
	t := byte(TypeDocKey)
	if len(data) >= 4 && data[3] == TypeDocKeyNamed {
		t = TypeDocKeyNamed
	}
	r := newReader(data, t, MaxDocKey)
	k := &DocKeyWrap{}
	c := &k.Ctx
	c.Case = r.id("case")
	c.Doc = r.id("document")
	v := r.u64("version")
	c.Audience = r.str("audience", maxAudience)
	c.StatementSeq = r.u64("statement")
	c.Account = r.id("wrapping account")
	c.Device = r.id("wrapping device")
	c.Created = r.i64("created")
	if t == TypeDocKeyNamed {
		copy(c.Name[:], r.fixed("name binding", len(c.Name)))
		if r.err == nil && !c.Name.Bound() {
			r.fail("dockey: an all-zero name binding")
		}
	}
	r.list("recipients", func(e *reader) {
		s := Sealed{Device: e.id("device"), KEM: KEMID(e.u16("kem")), Ciphertext: e.bytes("ciphertext")}
		if e.err == nil && len(s.Ciphertext) != encLen(s.KEM)+DocKeySize+16 {
			e.fail("recipient %s: ciphertext of %d bytes for %s", s.Device, len(s.Ciphertext), s.KEM)
		}
		k.Recipients = append(k.Recipients, s)
	})
	k.bodyLen = r.off
	k.sig = r.fixed("signature", ed25519.SignatureSize)
	r.end("dockey")
	if r.err != nil {
		return nil, r.err
	}
	if v < 1 || v > 1<<31 {
		return nil, malformed("dockey: version %d", v)
	}
	c.Version = int(v)
	if c.Audience == "" || len(k.Recipients) == 0 {
		return nil, malformed("dockey: no audience or no recipient")
	}
	k.Raw = data
	return k, nil
}

// Verify checks the wrapping device's signature.
func (k *DocKeyWrap) Verify(by *DeviceRecord) error {
	if by.ID != k.Ctx.Device || by.Account != k.Ctx.Account {
		return fmt.Errorf("%w: document key wrap names another device", ErrBadSignature)
	}
	return by.verify(k.Ctx.typ(), k.Raw[:k.bodyLen], k.sig)
}

// Open returns the content key sealed to me (ErrNotForMe when the wrap
// holds no copy for this device).
func (k *DocKeyWrap) Open(me *DeviceKeys) ([]byte, error) {
	for _, s := range k.Recipients {
		if s.Device != me.ID {
			continue
		}
		if s.KEM != me.KEM {
			return nil, fmt.Errorf("%w: sealed for %s, device uses %s", ErrDecrypt, s.KEM, me.KEM)
		}
		n := encLen(s.KEM)
		rcp, err := hpke.NewRecipient(s.Ciphertext[:n], me.priv, hpke.HKDFSHA256(), hpke.AES256GCM(), k.Ctx.info(me.ID))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
		}
		key, err := rcp.Open(nil, s.Ciphertext[n:])
		if err != nil || len(key) != DocKeySize {
			return nil, fmt.Errorf("%w: document key", ErrDecrypt)
		}
		return key, nil
	}
	return nil, ErrNotForMe
}

// AudienceMembers is who may hold a document's key under statement st:
// for a room audience (joint, caucus:<side>, mediators), the room's
// members as st lists them; for named accounts (user:a,b), the case's
// mediators and those accounts, each of whom st must list as a party,
// counsel or observer.
func AudienceMembers(st *Statement, audience string) ([]string, error) {
	if list, ok := strings.CutPrefix(audience, "user:"); ok {
		var out []string
		for _, p := range st.People {
			if p.Role == RoleMediator {
				out = append(out, p.Account)
			}
		}
		for a := range strings.SplitSeq(list, ",") {
			p, ok := st.Person(a)
			if !ok || p.Role == RoleMediator {
				return nil, fmt.Errorf("%w: %s is not a participant in membership statement %d", ErrNotMember, a, st.Seq)
			}
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
		slices.Sort(out)
		return out, nil
	}
	r, ok := st.Room(audience)
	if !ok {
		return nil, fmt.Errorf("%w: membership statement %d has no room %q", ErrMembership, st.Seq, audience)
	}
	return slices.Clone(r.Members), nil
}

// WrapDocKey wraps a document version's content key for audience, after
// checking the latest verified membership statement: it must be the one in
// force for the audience ([Session.InForce]); this device's account
// must be in the audience, and the key goes to the active devices of its
// members (only those in `only`, when it is not nil: a holder wrapping for
// newcomers). It refuses when no device would receive it. name is the
// version's name binding: for a new version, [BindName] of its name and
// media type; for a re-wrap, the Ctx.Name of the wrap the key came from
// (zero only when that wrap binds none).
func (s *Session) WrapDocKey(doc string, version int, audience string, name NameBinding, key []byte, only []string, now time.Time) ([]byte, error) {
	st, members, err := s.InForce(audience)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(members, s.Me.Account) {
		return nil, fmt.Errorf("%w: you are not in %s in the signed membership", ErrNotMember, audience)
	}
	if _, active := s.Dir.Device(s.Me.Account, s.Me.ID, -1); !active {
		return nil, fmt.Errorf("%w: this device is not in the key directory (or revoked)", ErrUnknownDevice)
	}
	var recipients []*DeviceRecord
	for _, m := range members {
		for _, d := range s.Dir.Active(m) {
			if only == nil || slices.Contains(only, d.ID) {
				recipients = append(recipients, d)
			}
		}
	}
	if len(recipients) == 0 {
		return nil, fmt.Errorf("%w: no device of %s to wrap for", ErrUnknownDevice, audience)
	}
	ctx := DocKeyContext{Case: s.Case, Doc: doc, Version: version, Audience: audience, StatementSeq: st.Seq,
		Account: s.Me.Account, Device: s.Me.ID, Created: now.UnixMilli(), Name: name}
	return WrapDocKey(s.Me, ctx, key, recipients)
}

// InForce returns the latest verified statement and audience's members
// under it, when that statement is the one in force for the audience: the
// members it gives the audience are the ones the case's people make it now
// (s.Now, as a mediator's device would sign them). Otherwise someone
// joined or left the audience since — a co-mediator recused, say, and the
// server sealed the rooms into a new epoch — and no mediator's device has
// signed that yet: it refuses with ErrNoStatement, as Prepare refuses to
// send in a room before a statement covers its current epoch, so nothing
// is wrapped for a member who has left. A nil s.Now is refused too.
func (s *Session) InForce(audience string) (*Statement, []string, error) {
	st := s.Chain.Latest()
	if st == nil {
		return nil, nil, ErrNoStatement
	}
	members, err := AudienceMembers(st, audience)
	if err != nil {
		return nil, nil, err
	}
	if s.Now == nil {
		return nil, nil, fmt.Errorf("%w: the case's current people are not known", ErrNoStatement)
	}
	now, err := membersNow(st, s.Now, audience)
	if err != nil || !sameSet(members, now) {
		return nil, nil, fmt.Errorf("%w: who may read %s changed since membership statement %d", ErrNoStatement, audience, st.Seq)
	}
	return st, members, nil
}

// membersNow is who audience holds when people are the case's people: a
// standing room or named accounts by the rules ([StatementFor],
// [AudienceMembers]); a mediator-defined room (which never gains a member)
// its members under st who are still among people.
func membersNow(st *Statement, people []Person, audience string) ([]string, error) {
	var sides []string
	if side, ok := CaucusSide(audience); ok {
		sides = []string{side}
	}
	switch {
	case strings.HasPrefix(audience, "user:"), audience == RoomJoint, audience == RoomMediators, len(sides) == 1:
		return AudienceMembers(StatementFor(st.Case, people, sides, map[string]int64{audience: 1}), audience)
	}
	r, ok := st.Room(audience)
	if !ok {
		return nil, fmt.Errorf("%w: membership statement %d has no room %q", ErrMembership, st.Seq, audience)
	}
	var out []string
	for _, m := range r.Members {
		if slices.ContainsFunc(people, func(p Person) bool { return p.Account == m }) {
			out = append(out, m)
		}
	}
	return out, nil
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// OpenDocKey checks a wrap the server returned for document doc, version
// version, which the server shows under name and mediaType, and returns
// the content key it holds for this device:
//   - it names this case, that document and version (ErrWrongPlace);
//   - the statement it names is verified (ErrUnknownStatement) and places
//     the wrapping account in the wrap's audience (ErrNotMember);
//   - the wrapping device is in the directory and active
//     (ErrUnknownDevice) and signed it (ErrBadSignature);
//   - the name binding it carries is that name's and media type's
//     (ErrRelabelled); a wrap of the old form binds none and passes (the
//     caller says the name is not verified: Ctx.Name.Bound());
//   - it holds a copy for this device (ErrNotForMe) that opens (ErrDecrypt).
func (s *Session) OpenDocKey(doc string, version int, name, mediaType string, payload []byte) ([]byte, *DocKeyWrap, error) {
	k, err := DecodeDocKey(payload)
	if err != nil {
		return nil, nil, err
	}
	c := k.Ctx
	if c.Case != s.Case || c.Doc != doc || c.Version != version {
		return nil, nil, fmt.Errorf("%w: wrap for %s/%s version %d, asked for %s/%s version %d",
			ErrWrongPlace, c.Case, c.Doc, c.Version, s.Case, doc, version)
	}
	st, ok := s.Chain.Get(c.StatementSeq)
	if !ok {
		return nil, nil, fmt.Errorf("%w: %d", ErrUnknownStatement, c.StatementSeq)
	}
	members, err := AudienceMembers(st, c.Audience)
	if err != nil {
		return nil, nil, err
	}
	if !slices.Contains(members, c.Account) {
		return nil, nil, fmt.Errorf("%w: %s in %s (statement %d)", ErrNotMember, c.Account, c.Audience, st.Seq)
	}
	dev, ok := s.Dir.Device(c.Account, c.Device, -1)
	if !ok {
		return nil, nil, fmt.Errorf("%w: %s/%s", ErrUnknownDevice, c.Account, c.Device)
	}
	if err := k.Verify(dev); err != nil {
		return nil, nil, err
	}
	if err := c.Name.Check(name, mediaType); err != nil {
		return nil, nil, err
	}
	key, err := k.Open(s.Me)
	if err != nil {
		return nil, nil, err
	}
	return key, k, nil
}
