package e2ee

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/cryptotest"
	"time"
)

var docNow = time.UnixMilli(1767225605000)

// The name and media type the test documents are uploaded under, and
// their binding.
const docShown, docType = "Bottom line.pdf", "application/pdf"

var docName = BindName(docShown, docType)

// TestDocKeyWrapAndOpen: a party wraps a content key for their caucus;
// every device of the caucus opens it, side B's party has no copy, and a
// wrap moved to another document or version, or altered, is refused.
func TestDocKeyWrapAndOpen(t *testing.T) {
	w := newWorld(t)
	w.sign(t, w.med, w.people(), epochs(1))
	key := NewDocKey()
	wrap, err := w.session(w.a1).WrapDocKey("d_doc", 1, "caucus:A", docName, key, nil, docNow)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []*DeviceKeys{w.med, w.m2, w.a1, w.a2, w.counselA} {
		got, k, err := w.session(d).OpenDocKey("d_doc", 1, docShown, docType, wrap)
		if err != nil || !bytes.Equal(got, key) || k.Ctx.Audience != "caucus:A" {
			t.Fatalf("%s/%s: %v", d.Account, d.ID, err)
		}
	}
	if _, _, err := w.session(w.b).OpenDocKey("d_doc", 1, docShown, docType, wrap); !errors.Is(err, ErrNotForMe) {
		t.Fatalf("side B's party opened side A's document key: %v", err)
	}
	if _, _, err := w.session(w.med).OpenDocKey("d_doc", 2, docShown, docType, wrap); !errors.Is(err, ErrWrongPlace) {
		t.Fatalf("a wrap moved to version 2: %v", err)
	}
	if _, _, err := w.session(w.med).OpenDocKey("d_other", 1, docShown, docType, wrap); !errors.Is(err, ErrWrongPlace) {
		t.Fatalf("a wrap moved to another document: %v", err)
	}
	bad := bytes.Clone(wrap)
	bad[len(bad)-1] ^= 1
	if _, _, err := w.session(w.med).OpenDocKey("d_doc", 1, docShown, docType, bad); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("altered wrap: %v", err)
	}
	// Side B's party cannot wrap for A's caucus: not a member.
	if _, err := w.session(w.b).WrapDocKey("d_doc", 1, "caucus:A", docName, key, nil, docNow); !errors.Is(err, ErrNotMember) {
		t.Fatalf("B wrapped for A's caucus: %v", err)
	}
}

// TestDocKeyCaucusRuleAndUnsignedNewcomer: a wrap for an audience follows
// the signed statement only. A device the server lists for an account the
// statement does not place in the audience gets nothing, and a wrap made
// by someone outside the audience is refused on opening.
func TestDocKeyCaucusRuleAndUnsignedNewcomer(t *testing.T) {
	w := newWorld(t)
	// Statement without the second mediator: they are in the directory
	// (an account the administrators made) but not in the signed roster.
	people := w.people()[:1]
	people = append(people, w.people()[2:]...)
	w.sign(t, w.med, people, epochs(1))
	key := NewDocKey()
	wrap, err := w.session(w.med).WrapDocKey("d_doc", 1, "joint", docName, key, nil, docNow)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.session(w.m2).OpenDocKey("d_doc", 1, docShown, docType, wrap); !errors.Is(err, ErrNotForMe) {
		t.Fatalf("a mediator outside the signed membership got the key: %v", err)
	}
	// A wrap by that mediator's device (signed correctly, but they are not
	// in the audience under the statement it names) is refused.
	ctx := DocKeyContext{Case: w.caseID, Doc: "d_doc", Version: 1, Audience: "joint", StatementSeq: 1,
		Account: w.m2.Account, Device: w.m2.ID, Created: docNow.UnixMilli(), Name: docName}
	forged, err := WrapDocKey(w.m2, ctx, NewDocKey(), []*DeviceRecord{w.a1.Record()})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.session(w.a1).OpenDocKey("d_doc", 1, docShown, docType, forged); !errors.Is(err, ErrNotMember) {
		t.Fatalf("a wrap by someone outside the audience: %v", err)
	}
	// Named accounts: the mediators and the named participant only.
	wrap, err = w.session(w.med).WrapDocKey("d_doc", 1, "user:u_partyb", docName, key, nil, docNow)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.session(w.b).OpenDocKey("d_doc", 1, docShown, docType, wrap); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.session(w.a1).OpenDocKey("d_doc", 1, docShown, docType, wrap); !errors.Is(err, ErrNotForMe) {
		t.Fatalf("a participant not named: %v", err)
	}
	if _, err := w.session(w.med).WrapDocKey("d_doc", 1, "user:u_stranger", docName, key, nil, docNow); !errors.Is(err, ErrNotMember) {
		t.Fatalf("wrapped for an account outside the statement: %v", err)
	}
}

// TestDocKeyNameBound: a wrap binds the version's name and media type as
// the uploading device gave them. A server that shows side A's "Bottom
// line.pdf" as "Hearing schedule.pdf" (or under another type) gets the
// document refused on every device, whatever else checks out; a re-wrap
// carries the binding on. A wrap of the old form binds no name: it opens
// under any name and says so (Bound false), and cannot be made from a
// bound one (the type byte is under the signature).
func TestDocKeyNameBound(t *testing.T) {
	w := newWorld(t)
	w.sign(t, w.med, w.people(), epochs(1))
	key := NewDocKey()
	wrap, err := w.session(w.a1).WrapDocKey("d_doc", 1, "caucus:A", docName, key, nil, docNow)
	if err != nil {
		t.Fatal(err)
	}
	for _, shown := range [][2]string{{"Hearing schedule.pdf", docType}, {docShown, "text/plain"}, {"bottom line.pdf", docType}, {"", ""}} {
		if _, _, err := w.session(w.med).OpenDocKey("d_doc", 1, shown[0], shown[1], wrap); !errors.Is(err, ErrRelabelled) {
			t.Fatalf("shown as %q (%s): %v", shown[0], shown[1], err)
		}
	}
	got, k, err := w.session(w.med).OpenDocKey("d_doc", 1, docShown, docType, wrap)
	if err != nil || !bytes.Equal(got, key) || !k.Ctx.Name.Bound() || k.Ctx.Name != docName || wrap[3] != TypeDocKeyNamed {
		t.Fatalf("the bound wrap: %v", err)
	}
	// The mediator re-wraps for the joint room with the binding it opened:
	// side B's device checks the same name.
	shared, err := w.session(w.med).WrapDocKey("d_doc", 1, "joint", k.Ctx.Name, got, nil, docNow)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.session(w.b).OpenDocKey("d_doc", 1, "Hearing schedule.pdf", docType, shared); !errors.Is(err, ErrRelabelled) {
		t.Fatalf("side B opened the re-wrap under the server's other name: %v", err)
	}
	if _, _, err := w.session(w.b).OpenDocKey("d_doc", 1, docShown, docType, shared); err != nil {
		t.Fatal(err)
	}
	// The old form: no name field, opens under any name, unbound.
	old, err := w.session(w.a1).WrapDocKey("d_doc", 1, "caucus:A", NameBinding{}, key, nil, docNow)
	if err != nil {
		t.Fatal(err)
	}
	if old[3] != TypeDocKey {
		t.Fatalf("an unbound wrap has type %#x", old[3])
	}
	if _, k, err := w.session(w.med).OpenDocKey("d_doc", 1, "Hearing schedule.pdf", docType, old); err != nil || k.Ctx.Name.Bound() {
		t.Fatalf("the old form: %v", err)
	}
	// The binding cannot be stripped: a bound wrap retyped as the old form
	// (its name field still there, or cut out) does not pass.
	retyped := bytes.Clone(wrap)
	retyped[3] = TypeDocKey
	if _, _, err := w.session(w.med).OpenDocKey("d_doc", 1, "Hearing schedule.pdf", docType, retyped); err == nil {
		t.Fatal("a bound wrap retyped as the old form opened")
	}
	dk, _ := DecodeDocKey(wrap)
	cut := fieldsWriter()
	dk.Ctx.fields(cut)
	stripped := append([]byte{'P', 'E', Version, TypeDocKey}, cut.b[:len(cut.b)-4-32]...)
	stripped = append(stripped, wrap[4+len(cut.b):]...)
	if _, _, err := w.session(w.med).OpenDocKey("d_doc", 1, "Hearing schedule.pdf", docType, stripped); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("a bound wrap with its name field cut out: %v", err)
	}
}

// TestDocKeyWaitsForStatementInForce (review 394 M1): the co-mediator
// recused and the server sealed the rooms, but no mediator's device has
// signed the change yet. A device wraps no document key under the old
// statement (which still lists the recused mediator), for any audience
// the change touches; an audience it leaves as it was is wrapped as
// before, and once a mediator signs the change every audience is, without
// the recused mediator's device.
func TestDocKeyWaitsForStatementInForce(t *testing.T) {
	w := newWorld(t)
	w.sign(t, w.med, w.people(), epochs(1))
	var recused []Person
	for _, p := range w.people() {
		if p.Account != w.m2.Account {
			recused = append(recused, p)
		}
	}
	key := NewDocKey()
	session := func(d *DeviceKeys, now []Person) *Session {
		s := w.session(d)
		s.Now = now
		return s
	}
	for _, c := range []struct {
		by       *DeviceKeys
		audience string
	}{{w.a1, "caucus:A"}, {w.b, "joint"}, {w.med, "mediators"}, {w.med, "user:u_partyb"}} {
		if _, err := session(c.by, recused).WrapDocKey("d_doc", 1, c.audience, docName, key, nil, docNow); !errors.Is(err, ErrNoStatement) {
			t.Fatalf("%s wrapped for %s under the statement that still lists the recused mediator: %v", c.by.Account, c.audience, err)
		}
	}
	if _, err := session(w.a1, nil).WrapDocKey("d_doc", 1, "caucus:A", docName, key, nil, docNow); !errors.Is(err, ErrNoStatement) {
		t.Fatalf("wrapped without knowing the case's people now: %v", err)
	}
	// Side B gains a party: side A's caucus is as signed.
	grown := append(w.people(), Person{Account: "u_partyb2", Role: RoleParty, Side: "B"})
	if _, err := session(w.a1, grown).WrapDocKey("d_doc", 1, "caucus:A", docName, key, nil, docNow); err != nil {
		t.Fatalf("caucus:A, untouched by side B's newcomer: %v", err)
	}
	if _, err := session(w.a1, grown).WrapDocKey("d_doc", 1, "joint", docName, key, nil, docNow); !errors.Is(err, ErrNoStatement) {
		t.Fatalf("joint, which side B's newcomer joined unsigned: %v", err)
	}
	// A mediator signs the recusal: wrapped, for nobody of the recused mediator's.
	w.sign(t, w.med, recused, epochs(2))
	wrap, err := session(w.a1, recused).WrapDocKey("d_doc", 1, "caucus:A", docName, key, nil, docNow)
	if err != nil {
		t.Fatal(err)
	}
	k, err := DecodeDocKey(wrap)
	if err != nil || slices.Contains(k.Devices(), w.m2.ID) || !slices.Contains(k.Devices(), w.med.ID) {
		t.Fatalf("after the signed recusal: wrapped for %v (%v)", k.Devices(), err)
	}
}

// TestDocKeyOnlyNewcomers: a holder wraps for the devices that lack the key.
func TestDocKeyOnlyNewcomers(t *testing.T) {
	w := newWorld(t)
	w.sign(t, w.med, w.people(), epochs(1))
	wrap, err := w.session(w.med).WrapDocKey("d_doc", 1, "caucus:A", docName, NewDocKey(), []string{w.a2.ID}, docNow)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := DecodeDocKey(wrap)
	if got := k.Devices(); len(got) != 1 || got[0] != w.a2.ID {
		t.Fatalf("wrapped for %v", got)
	}
}

// The document vectors (testdata/doc-vectors.json) other clients check:
// a content stream of three segments under a fixed key, a wrap of that key
// for the caucus of side A bound to the version's name and media type,
// name bindings, the names a relabelling server shows instead (each must
// be refused), and a wrap of the old form (no name bound).
type docVectors struct {
	Stream struct {
		Key       hexBytes `json:"key"`
		Case      string   `json:"case"`
		Doc       string   `json:"doc"`
		Version   int      `json:"version"`
		Plaintext hexBytes `json:"plaintextSha256"`
		Size      int      `json:"size"`
		Sealed    hexBytes `json:"sealed"`
	} `json:"stream"`
	Wrap struct {
		Wrapper    string   `json:"wrapper"`
		Audience   string   `json:"audience"`
		Recipients []string `json:"recipients"`
		Key        hexBytes `json:"key"`
		Payload    hexBytes `json:"payload"`
		Name       string   `json:"name"`
		MediaType  string   `json:"mediaType"`
		Binding    hexBytes `json:"nameBinding"`
	} `json:"wrap"`
	// Names: BindName of each name and media type.
	Names []docVectorName `json:"names"`
	// Relabelled: what a lying server shows the wrap's version as; every
	// client refuses the wrap under each.
	Relabelled []docVectorName `json:"relabelled"`
	// Unbound: a wrap of the same key of the old form (type 0x0A, no name
	// bound): it opens under any name, and clients say the name is not
	// verified.
	Unbound struct {
		Payload hexBytes `json:"payload"`
	} `json:"unbound"`
	// The world the wrap lives in, for clients that rebuild it: the
	// devices from their seeds (in directory order) and the signed
	// membership: the case's first statement (its mediator alone) and
	// the statement that admits everyone else.
	Devices   []docVectorDevice `json:"devices"`
	First     hexBytes          `json:"first"`
	Statement hexBytes          `json:"statement"`
	// DocIDs: new end-to-end encrypted documents' ids, DocumentID of
	// case, account and nonce; every client derives the same.
	DocIDs []docVectorID `json:"docIds"`
}

type docVectorID struct {
	Case    string   `json:"case"`
	Account string   `json:"account"`
	Nonce   hexBytes `json:"nonce"`
	Doc     string   `json:"doc"`
}

type docVectorName struct {
	Name      string   `json:"name"`
	MediaType string   `json:"mediaType"`
	Binding   hexBytes `json:"nameBinding,omitempty"`
}

type docVectorDevice struct {
	Name    string   `json:"name"`
	Account string   `json:"account"`
	KEM     int      `json:"kem"`
	SigSeed hexBytes `json:"sigSeed"`
	KEMSeed hexBytes `json:"kemSeed"`
	Created int64    `json:"created"`
}

// browserDocVectors is e2ee/testdata/doc-vectors-browser.json, what the
// browser's code (web/client/src/docs-e2ee.ts) makes in the same world
// (node web/client/test/vectors-docs.mjs --write): a stream under the
// vector key with a fresh salt, and a wrap of that key by the X25519
// device a2 for caucus:A. Go opens both.
type browserDocVectors struct {
	Stream struct {
		Case      string   `json:"case"`
		Doc       string   `json:"doc"`
		Version   int      `json:"version"`
		Key       hexBytes `json:"key"`
		Plaintext hexBytes `json:"plaintextSha256"`
		Size      int      `json:"size"`
		Sealed    hexBytes `json:"sealed"`
	} `json:"stream"`
	Wrap struct {
		Wrapper   string   `json:"wrapper"`
		Payload   hexBytes `json:"payload"`
		Name      string   `json:"name"`
		MediaType string   `json:"mediaType"`
	} `json:"wrap"`
}

const docVectorsFile = "testdata/doc-vectors.json"

// validDocID is internal/ids.Valid("d", s) (package e2ee imports only the
// standard library).
func validDocID(s string) bool {
	rest, ok := strings.CutPrefix(s, "d_")
	return ok && len(rest) == 26 && strings.Trim(rest, "abcdefghijklmnopqrstuvwxyz234567") == ""
}

// docPlain is the stream vector's plaintext: size bytes, byte i = i*7 mod 251.
func docPlain(size int) []byte {
	p := make([]byte, size)
	for i := range p {
		p[i] = byte(i * 7 % 251)
	}
	return p
}

func generateDocVectors(t *testing.T) *docVectors {
	cryptotest.SetGlobalRandom(t, 21)
	v := &docVectors{}
	w := newWorld(t)
	st := w.sign(t, w.med, w.people(), epochs(1))
	v.First, v.Statement = w.first, st.Raw
	for _, d := range []struct {
		name, account string
		kem           KEMID
	}{{"med", "u_med", KEMXWing}, {"med2", "u_med2", KEMXWing}, {"a1", "u_partya", KEMXWing}, {"a2", "u_partya", KEMX25519}, {"counsela", "u_counsela", KEMXWing}, {"b", "u_partyb", KEMXWing}} {
		v.Devices = append(v.Devices, docVectorDevice{Name: d.name, Account: d.account, KEM: int(d.kem), SigSeed: seed(d.name + " sig"), KEMSeed: seed(d.name + " kem"), Created: 1767225600000})
	}
	key := seed("document key")
	b := StreamBinding{Case: w.caseID, Doc: "d_vectordoc", Version: 1}
	plain := docPlain(StreamSegmentSize + 100) // two segments, the last short
	var buf bytes.Buffer
	sw, err := NewStreamWriter(&buf, key, b)
	if err != nil {
		t.Fatal(err)
	}
	sw.Write(plain)
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(plain)
	v.Stream.Key, v.Stream.Case, v.Stream.Doc, v.Stream.Version = key, b.Case, b.Doc, b.Version
	v.Stream.Plaintext, v.Stream.Size, v.Stream.Sealed = sum[:], len(plain), buf.Bytes()
	name, mt := "Relevé – bottom line.pdf", "application/pdf"
	bind := BindName(name, mt)
	wrap, err := w.session(w.a1).WrapDocKey(b.Doc, 1, "caucus:A", bind, key, nil, docNow)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := DecodeDocKey(wrap)
	v.Wrap.Wrapper, v.Wrap.Audience, v.Wrap.Key, v.Wrap.Payload = "a1", "caucus:A", key, wrap
	v.Wrap.Recipients = k.Devices()
	v.Wrap.Name, v.Wrap.MediaType, v.Wrap.Binding = name, mt, bind[:]
	for _, n := range [][2]string{{name, mt}, {"Hearing schedule.pdf", "application/pdf"}, {"notes", "application/octet-stream"},
		{"offer.txt", "text/plain; charset=utf-8"}, {"日本語の書類.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}} {
		sum := BindName(n[0], n[1])
		v.Names = append(v.Names, docVectorName{Name: n[0], MediaType: n[1], Binding: sum[:]})
	}
	for _, n := range [][2]string{{"Hearing schedule.pdf", mt}, {name, "text/plain"}, {"relevé – bottom line.pdf", mt}, {name + " ", mt}, {"", ""}} {
		v.Relabelled = append(v.Relabelled, docVectorName{Name: n[0], MediaType: n[1]})
	}
	if v.Unbound.Payload, err = w.session(w.a1).WrapDocKey(b.Doc, 1, "caucus:A", NameBinding{}, key, nil, docNow); err != nil {
		t.Fatal(err)
	}
	for _, d := range []struct{ caseID, account, nonce string }{{w.caseID, "u_partya", "id nonce 1"}, {w.caseID, "u_partyb", "id nonce 1"},
		{w.caseID, "u_partya", "id nonce 2"}, {"c_othercase", "u_partya", "id nonce 1"}} {
		n := seed(d.nonce)[:DocIDNonceSize]
		v.DocIDs = append(v.DocIDs, docVectorID{Case: d.caseID, Account: d.account, Nonce: n, Doc: DocumentID(d.caseID, d.account, n)})
	}
	return v
}

// TestDocVectors checks the stored document vectors open (the stream and
// the wrap are randomised by their salt and HPKE, so they are checked by
// opening, as the browser does). go test -run TestDocVectors -update
// rewrites them.
func TestDocVectors(t *testing.T) {
	if *update {
		b, _ := json.MarshalIndent(generateDocVectors(t), "", "  ")
		if err := os.WriteFile(docVectorsFile, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(docVectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	var v docVectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	b := StreamBinding{Case: v.Stream.Case, Doc: v.Stream.Doc, Version: v.Stream.Version}
	r, err := NewStreamReader(bytes.NewReader(v.Stream.Sealed), v.Stream.Key, b, &StreamVerify{Size: int64(v.Stream.Size), SHA256: v.Stream.Plaintext})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, docPlain(v.Stream.Size)) {
		t.Fatalf("stream vector: %v", err)
	}
	w := newWorld(t)
	w.sign(t, w.med, w.people(), epochs(1))
	for _, d := range []*DeviceKeys{w.med, w.a1, w.a2, w.counselA} {
		key, k, err := w.session(d).OpenDocKey(v.Stream.Doc, 1, v.Wrap.Name, v.Wrap.MediaType, v.Wrap.Payload)
		if err != nil || !bytes.Equal(key, v.Wrap.Key) || !bytes.Equal(k.Ctx.Name[:], v.Wrap.Binding) {
			t.Fatalf("wrap vector for %s: %v", d.ID, err)
		}
	}
	for _, n := range v.Names {
		if sum := BindName(n.Name, n.MediaType); !bytes.Equal(sum[:], n.Binding) {
			t.Fatalf("name binding of %q (%s)", n.Name, n.MediaType)
		}
	}
	for _, n := range v.Relabelled {
		if _, _, err := w.session(w.med).OpenDocKey(v.Stream.Doc, 1, n.Name, n.MediaType, v.Wrap.Payload); !errors.Is(err, ErrRelabelled) {
			t.Fatalf("the wrap shown as %q (%s): %v", n.Name, n.MediaType, err)
		}
	}
	if key, k, err := w.session(w.a2).OpenDocKey(v.Stream.Doc, 1, "Hearing schedule.pdf", "application/pdf", v.Unbound.Payload); err != nil || !bytes.Equal(key, v.Wrap.Key) || k.Ctx.Name.Bound() {
		t.Fatalf("the unbound wrap: %v", err)
	}
	if len(v.DocIDs) < 4 {
		t.Fatalf("%d document id vectors", len(v.DocIDs))
	}
	seen := map[string]bool{}
	for _, d := range v.DocIDs {
		got := DocumentID(d.Case, d.Account, d.Nonce)
		if got != d.Doc || !validDocID(got) || seen[got] {
			t.Fatalf("document id of %s, %s, %x: %s, want %s (d_ and 26 base32 characters, each vector's its own)", d.Case, d.Account, []byte(d.Nonce), got, d.Doc)
		}
		seen[got] = true
	}

	// What the browser's code made in the same world opens here.
	raw, err = os.ReadFile("testdata/doc-vectors-browser.json")
	if err != nil {
		t.Fatal(err)
	}
	var bv browserDocVectors
	if err := json.Unmarshal(raw, &bv); err != nil {
		t.Fatal(err)
	}
	bb := StreamBinding{Case: bv.Stream.Case, Doc: bv.Stream.Doc, Version: bv.Stream.Version}
	br, err := NewStreamReader(bytes.NewReader(bv.Stream.Sealed), bv.Stream.Key, bb, &StreamVerify{Size: int64(bv.Stream.Size), SHA256: bv.Stream.Plaintext})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(br); err != nil || !bytes.Equal(got, docPlain(bv.Stream.Size)) {
		t.Fatalf("the browser's stream: %v", err)
	}
	if bytes.Equal(bv.Stream.Sealed[:StreamHeaderSize], v.Stream.Sealed[:StreamHeaderSize]) {
		t.Fatal("the browser's stream reuses the vector's salt")
	}
	wk, err := DecodeDocKey(bv.Wrap.Payload)
	if err != nil || wk.Ctx.Device != w.a2.ID || wk.Ctx.Audience != "caucus:A" {
		t.Fatalf("the browser's wrap: %v %+v", err, wk)
	}
	for _, d := range []*DeviceKeys{w.med, w.m2, w.a1, w.a2, w.counselA} {
		key, k, err := w.session(d).OpenDocKey(bv.Stream.Doc, bv.Stream.Version, bv.Wrap.Name, bv.Wrap.MediaType, bv.Wrap.Payload)
		if err != nil || !bytes.Equal(key, bv.Stream.Key) || !k.Ctx.Name.Bound() {
			t.Fatalf("the browser's wrap for %s: %v", d.ID, err)
		}
	}
	if _, _, err := w.session(w.b).OpenDocKey(bv.Stream.Doc, bv.Stream.Version, bv.Wrap.Name, bv.Wrap.MediaType, bv.Wrap.Payload); !errors.Is(err, ErrNotForMe) {
		t.Fatalf("side B opened the browser's caucus:A wrap: %v", err)
	}
	for _, n := range v.Relabelled {
		if _, _, err := w.session(w.med).OpenDocKey(bv.Stream.Doc, bv.Stream.Version, n.Name, n.MediaType, bv.Wrap.Payload); !errors.Is(err, ErrRelabelled) {
			t.Fatalf("the browser's wrap shown as %q (%s): %v", n.Name, n.MediaType, err)
		}
	}
}
