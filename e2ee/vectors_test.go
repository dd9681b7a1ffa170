package e2ee

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/cryptotest"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json")

// The test vectors other clients (the browser) check against. Everything
// is deterministic — fixed seeds, fixed chain key and chain id, Ed25519 is
// deterministic, message nonces are derived — except HPKE encapsulation,
// which is randomised by construction: key distributions are checked by
// opening them (the Go generator fixes its randomness with
// testing/cryptotest so regenerating gives the same file).

type hexBytes []byte

func (h hexBytes) MarshalJSON() ([]byte, error) { return json.Marshal(hex.EncodeToString(h)) }
func (h *hexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := hex.DecodeString(s)
	*h = v
	return err
}

type vecDevice struct {
	Name      string   `json:"name"`
	Account   string   `json:"account"`
	KEM       uint16   `json:"kem"`
	SigSeed   hexBytes `json:"sigSeed"`
	KEMSeed   hexBytes `json:"kemSeed"`
	Created   int64    `json:"created"`
	ID        string   `json:"id"`
	SigPublic hexBytes `json:"sigPublic"`
	KEMPublic hexBytes `json:"kemPublic"`
	Record    hexBytes `json:"record"`
}

type vecPerson struct {
	Account string `json:"account"`
	Role    string `json:"role"`
	Side    string `json:"side"`
}

type vecRoom struct {
	Name    string   `json:"name"`
	Epoch   int64    `json:"epoch"`
	Members []string `json:"members"`
}

type vecStatement struct {
	Case    string      `json:"case"`
	Seq     uint64      `json:"seq"`
	Prev    hexBytes    `json:"prev"`
	Created int64       `json:"created"`
	Signer  string      `json:"signer"`
	People  []vecPerson `json:"people"`
	Rooms   []vecRoom   `json:"rooms"`
	Encoded hexBytes    `json:"encoded"`
	Hash    hexBytes    `json:"hash"`
}

type vecContext struct {
	Case         string   `json:"case"`
	Room         string   `json:"room"`
	Epoch        int64    `json:"epoch"`
	StatementSeq uint64   `json:"statementSeq"`
	Sender       string   `json:"sender"`
	Chain        hexBytes `json:"chain"`
}

type vecStep struct {
	Counter      uint32   `json:"counter"`
	ChainKey     hexBytes `json:"chainKey"`
	MessageKey   hexBytes `json:"messageKey"`
	Nonce        hexBytes `json:"nonce"`
	NextChainKey hexBytes `json:"nextChainKey"`
	Text         string   `json:"text"`
	Plaintext    hexBytes `json:"plaintext"`
	Payload      hexBytes `json:"payload"`
}

type vecKeyDist struct {
	Context    vecContext `json:"context"`
	Iteration  uint32     `json:"iteration"`
	ChainKey   hexBytes   `json:"chainKey"`
	Recipients []string   `json:"recipients"`
	Payload    hexBytes   `json:"payload"`
}

type vecSafety struct {
	A            string   `json:"a"`
	ADevices     []string `json:"aDevices"`
	B            string   `json:"b"`
	BDevices     []string `json:"bDevices"`
	FingerprintA string   `json:"fingerprintA"`
	FingerprintB string   `json:"fingerprintB"`
	Number       string   `json:"number"`
	Formatted    string   `json:"formatted"`
}

type vecInvalid struct {
	What    string   `json:"what"`
	Type    string   `json:"type"`
	Payload hexBytes `json:"payload"`
	Error   string   `json:"error"`
}

// vecGenesis is a chain of statements (encodings, from the first) that a
// client extends from empty with the vector devices: Error is "" if every
// statement is accepted, else a substring of the refusal of the last one.
type vecGenesis struct {
	What       string     `json:"what"`
	Statements []hexBytes `json:"statements"`
	Error      string     `json:"error"`
}

type vectors struct {
	Protocol      string         `json:"protocol"`
	Deterministic []string       `json:"deterministic"`
	Devices       []vecDevice    `json:"devices"`
	Statements    []vecStatement `json:"statements"`
	Chain         struct {
		Context vecContext `json:"context"`
		Steps   []vecStep  `json:"steps"`
	} `json:"chain"`
	KeyDist vecKeyDist   `json:"keyDist"`
	Safety  vecSafety    `json:"safetyNumber"`
	Invalid []vecInvalid `json:"invalid"`
	// Endorsements: a link (partyA's device endorses partyA-fallback) and
	// a mediator's admission of partyB's device for the case.
	Endorsements []vecEndorsement `json:"endorsements"`
	// RoomEntry: a sealed room's opening entry (fixed salt) and the slot a
	// statement holds for it.
	RoomEntry vecRoomEntry `json:"roomEntry"`
	// Revocations of partyA's devices, and logs of them: which count.
	Revocations    []vecRevocation    `json:"revocations"`
	RevocationLogs []vecRevocationLog `json:"revocationLogs"`
	// Genesis: chains from their first statement. A first statement names
	// exactly one mediator, its signer (checkGenesis); co-mediators come in
	// by a later statement.
	Genesis []vecGenesis `json:"genesis"`
	// Opener: who may sign a case's first statement, given the case
	// record's creator and mediators in their wire form (api.Mediator).
	// Package e2ee only carries them: api.Opener (TestOpenerVectors in
	// package api) and the browser's opener (src/e2ee.ts) check them.
	Opener []vecOpener `json:"opener"`
	// SafetyDirectories: safety numbers computed from a directory (the
	// vector devices at log indexes 0, 1, … with the endorsements and
	// revocations given, as in RevocationLogs, and the case's mediators):
	// each account's active devices there, a device a mediator admitted
	// included. What the CLI's keys fingerprint and the browser's safety
	// number show.
	SafetyDirectories []vecSafetyDir `json:"safetyDirectories"`
}

type vecSafetyDir struct {
	What         string      `json:"what"`
	Mediators    []string    `json:"mediators,omitempty"`
	Endorsements []vecLogged `json:"endorsements"`
	Revocations  []vecLogged `json:"revocations"`
	A            string      `json:"a"`
	ADevices     []string    `json:"aDevices"` // active, by name
	B            string      `json:"b"`
	BDevices     []string    `json:"bDevices"`
	Number       string      `json:"number"`
	// AAdmitted is A's devices that count only through an admission, with
	// the mediator account of an admission that counts (Devices.Admitted).
	AAdmitted []vecAdmitted `json:"aAdmitted,omitempty"`
}

// vecAdmitted is a device (by name) admitted by a mediator account.
type vecAdmitted struct {
	Device string `json:"device"`
	By     string `json:"by"`
}

// vecOpener is one opener case: Want is the one mediator who may sign
// the case's first statement, "" when any of them may.
type vecOpener struct {
	What      string              `json:"what"`
	CreatedBy string              `json:"createdBy"`
	Mediators []vecOpenerMediator `json:"mediators"`
	Want      string              `json:"want"`
}

// vecOpenerMediator is api.Mediator's wire form (times in RFC 3339 with
// up to nine fractional digits, as Go writes them).
type vecOpenerMediator struct {
	AccountID string `json:"accountId"`
	Added     string `json:"added"`
	Recused   string `json:"recused,omitempty"`
}

type vecRevocation struct {
	Signer  string   `json:"signer"`
	Revoked string   `json:"revoked"`
	Created int64    `json:"created"`
	Encoded hexBytes `json:"encoded"`
}

// vecRevocationLog is a directory: the vector devices at log indexes 0,
// 1, … in their order, then the endorsements and revocations named (by
// their place in the vectors' lists) at the indexes given. Mediators are
// the mediator accounts of the case's statement in force (c_vectorcase):
// their admissions count (Devices.AdmitBy, AdmitFrom). Junk are more
// devices (records), junk i logged at index 100+i, each revoking itself
// (its revocation) at 200+i. Revoked and Active name the vector devices
// that end revoked and not (Active: counted, unrevoked); Pinned the ones
// whose revocation a client with no pins pins (revoked, of the account's
// own chain: Devices.CheckRevocations), each with the log index of the
// revocation that counted. Later, if set, are the revocations of a later
// answer (the same devices, endorsements and junk): checked against the
// pins of this one, it is refused (ErrRevocationOmitted).
type vecRevocationLog struct {
	What         string      `json:"what"`
	Mediators    []string    `json:"mediators,omitempty"`
	Endorsements []vecLogged `json:"endorsements"`
	Revocations  []vecLogged `json:"revocations"`
	Junk         []vecJunk   `json:"junk,omitempty"`
	Revoked      []string    `json:"revoked"`
	Active       []string    `json:"active"`
	Pinned       []vecPin    `json:"pinned"`
	Later        []vecLogged `json:"later,omitempty"`
}

type vecPin struct {
	Name  string `json:"name"`
	Index int64  `json:"index"`
}

type vecJunk struct {
	Record     hexBytes `json:"record"`
	Revocation hexBytes `json:"revocation"`
}

// junkDevices are n devices of u_partya nobody linked, each with its
// revocation of itself: a server's flood.
func junkDevices(n int) []vecJunk {
	var out []vecJunk
	for i := range n {
		name := fmt.Sprintf("junk-%02d", i)
		k, err := DeviceKeysFromSeeds("u_partya", KEMX25519, seed(name+" sig"), seed(name+" kem"), 1767225600000)
		if err != nil {
			panic(err)
		}
		out = append(out, vecJunk{Record: k.Record().Raw, Revocation: k.Revoke(k.ID, time.UnixMilli(1767225604000))})
	}
	return out
}

type vecLogged struct {
	Item  int   `json:"item"`
	Index int64 `json:"index"`
}

// revocationLogs are the directories of the revocation vectors: items 0
// (partyA-fallback revokes partyA), 1 (partyA revokes partyA-fallback), 2
// (partyA-fallback revokes itself), 3 (the mediator's device revokes
// itself); endorsement 0 links partyA-fallback,
// endorsement 2 admits it (the mediator, for c_vectorcase).
func revocationLogs() []vecRevocationLog {
	med := []string{"u_mediator"}
	return []vecRevocationLog{
		{What: "a device nobody counts yet revokes the account's first device (ignored: not even once it is linked later); the first device then revokes it; the revoked device's revocation of the first is ignored",
			Endorsements: []vecLogged{{0, 20}}, Revocations: []vecLogged{{0, 10}, {1, 30}, {0, 40}},
			Revoked: []string{"partyA-fallback"}, Active: []string{"partyA"}, Pinned: []vecPin{{"partyA-fallback", 30}}},
		{What: "a device nobody counts revokes itself (a device may always retire itself; not pinned: it is not of the account's own chain)",
			Revocations: []vecLogged{{2, 10}}, Revoked: []string{"partyA-fallback"}, Active: []string{"partyA"}},
		{What: "a linked device revokes the account's first device",
			Endorsements: []vecLogged{{0, 20}}, Revocations: []vecLogged{{0, 30}},
			Revoked: []string{"partyA"}, Active: []string{"partyA-fallback"}, Pinned: []vecPin{{"partyA", 30}}},
		{What: "a device linked after its revocation of the account's first device (ignored)",
			Endorsements: []vecLogged{{0, 40}}, Revocations: []vecLogged{{0, 30}},
			Active: []string{"partyA", "partyA-fallback"}},
		{What: "a device a mediator admitted revokes the account's first device (ignored: an admitted device can only revoke itself)",
			Mediators: med, Endorsements: []vecLogged{{2, 20}}, Revocations: []vecLogged{{0, 30}},
			Active: []string{"partyA", "partyA-fallback"}},
		{What: "the same log once the admitting mediator has left the statement (the admission no longer counts; the revocation still does not)",
			Endorsements: []vecLogged{{2, 20}}, Revocations: []vecLogged{{0, 30}},
			Active: []string{"partyA"}},
		{What: "a device linked and admitted revokes the account's first device (counts, by the link)",
			Mediators: med, Endorsements: []vecLogged{{2, 20}, {0, 21}}, Revocations: []vecLogged{{0, 30}},
			Revoked: []string{"partyA"}, Active: []string{"partyA-fallback"}, Pinned: []vecPin{{"partyA", 30}}},
		{What: "the same log once the admitting mediator has left the statement (still counts: no statement decides a revocation)",
			Endorsements: []vecLogged{{2, 20}, {0, 21}}, Revocations: []vecLogged{{0, 30}},
			Revoked: []string{"partyA"}, Active: []string{"partyA-fallback"}, Pinned: []vecPin{{"partyA", 30}}},
		{What: "a device a mediator admitted revokes itself (counts; not pinned: it is not of the account's own chain)",
			Mediators: med, Endorsements: []vecLogged{{2, 20}}, Revocations: []vecLogged{{2, 30}},
			Revoked: []string{"partyA-fallback"}, Active: []string{"partyA"}},
		{What: "admission by a later-revoked device no longer counts (the mediator's device that admitted partyA-fallback is revoked after the admission: a revocation of the signer, at any time, ends the admissions it signed)",
			Mediators: med, Endorsements: []vecLogged{{2, 20}}, Revocations: []vecLogged{{3, 30}},
			Revoked: []string{"mediator"}, Active: []string{"partyA"}, Pinned: []vecPin{{"mediator", 30}}},
		{What: "admission by a device revoked before it does not count",
			Mediators: med, Endorsements: []vecLogged{{2, 20}}, Revocations: []vecLogged{{3, 10}},
			Revoked: []string{"mediator"}, Active: []string{"partyA"}, Pinned: []vecPin{{"mediator", 10}}},
		{What: "an admission onto a mediator's account (u_partya a mediator too) does not count",
			Mediators: []string{"u_mediator", "u_partya"}, Endorsements: []vecLogged{{2, 20}},
			Active: []string{"partyA"}},
		{What: "the first device revokes its linked device, then the server logs 32 devices nobody linked, each revoking itself: only the linked device's revocation is pinned (the flood cannot push it out)",
			Endorsements: []vecLogged{{0, 20}}, Revocations: []vecLogged{{1, 30}}, Junk: junkDevices(MaxRevocationPinsPerAccount),
			Revoked: []string{"partyA-fallback"}, Active: []string{"partyA"}, Pinned: []vecPin{{"partyA-fallback", 30}}},
		{What: "the first device revokes its linked device at 30; a later answer leaves that out and shows the linked device revoking itself at 50: refused (the pin holds index 30, so a later revocation cannot stand in for it, nor what the device signed between the two count)",
			Endorsements: []vecLogged{{0, 20}}, Revocations: []vecLogged{{1, 30}}, Later: []vecLogged{{2, 50}},
			Revoked: []string{"partyA-fallback"}, Active: []string{"partyA"}, Pinned: []vecPin{{"partyA-fallback", 30}}},
	}
}

// safetyDirectories: party B's safety number with party A in a
// directory where the mediator admitted partyA-fallback (endorsement 2)
// for the case, then the same once the admitting device is revoked
// (revocation 3).
func safetyDirectories(devs map[string]*DeviceKeys) []vecSafetyDir {
	recs := func(names ...string) []*DeviceRecord {
		var out []*DeviceRecord
		for _, n := range names {
			out = append(out, devs[n].Record())
		}
		return out
	}
	med := []string{"u_mediator"}
	return []vecSafetyDir{
		{What: "a device the mediator admitted onto party A's account counts in the safety number",
			Mediators: med, Endorsements: []vecLogged{{2, 20}},
			A: "u_partya", ADevices: []string{"partyA", "partyA-fallback"}, B: "u_partyb", BDevices: []string{"partyB"},
			Number:    SafetyNumber("u_partyb", recs("partyB"), "u_partya", recs("partyA", "partyA-fallback")),
			AAdmitted: []vecAdmitted{{"partyA-fallback", "u_mediator"}}},
		{What: "once the admitting device is revoked, the admitted device no longer counts in it",
			Mediators: med, Endorsements: []vecLogged{{2, 20}}, Revocations: []vecLogged{{3, 30}},
			A: "u_partya", ADevices: []string{"partyA"}, B: "u_partyb", BDevices: []string{"partyB"},
			Number: SafetyNumber("u_partyb", recs("partyB"), "u_partya", recs("partyA"))},
		{What: "re-admitted by a second mediator (u_partyb's device standing in for one) after the first admitting device is revoked: it counts again, shown as admitted by the second mediator, not by the first (whose admission no longer counts)",
			Mediators: []string{"u_mediator", "u_partyb"}, Endorsements: []vecLogged{{2, 20}, {3, 40}}, Revocations: []vecLogged{{3, 30}},
			A: "u_partya", ADevices: []string{"partyA", "partyA-fallback"}, B: "u_partyb", BDevices: []string{"partyB"},
			Number:    SafetyNumber("u_partyb", recs("partyB"), "u_partya", recs("partyA", "partyA-fallback")),
			AAdmitted: []vecAdmitted{{"partyA-fallback", "u_partyb"}}},
	}
}

type vecRoomEntry struct {
	Case    string   `json:"case"`
	Room    string   `json:"room"`
	Kind    uint8    `json:"kind"`
	Members []string `json:"members"`
	Salt    hexBytes `json:"salt"`
	Encoded hexBytes `json:"encoded"`
	Slot    string   `json:"slot"`
}

func roomEntryVector() vecRoomEntry {
	e := &RoomEntry{Case: "c_vectorcase", Kind: EntryOpen, Members: []string{"u_counsela", "u_counselb", "u_mediator"}}
	copy(e.Salt[:], seed("room entry salt"))
	e.Room = DefinedRoomName(RoomIDFor(e.Salt), true) // the name its salt gives
	e.Raw = e.encode()
	return vecRoomEntry{Case: e.Case, Room: e.Room, Kind: e.Kind, Members: e.Members, Salt: e.Salt[:], Encoded: e.Raw, Slot: e.Slot()}
}

type vecEndorsement struct {
	Signer   string   `json:"signer"`
	Endorsed string   `json:"endorsed"`
	Case     string   `json:"case"`
	Created  int64    `json:"created"`
	Encoded  hexBytes `json:"encoded"`
}

const vectorsFile = "testdata/vectors.json"

func generateVectors(t *testing.T) *vectors {
	cryptotest.SetGlobalRandom(t, 4)
	v := &vectors{Protocol: "parley-e2ee-v1", Deterministic: []string{
		"devices: all fields (keys from the seeds; X-Wing private key = the 32-byte seed expanded with SHAKE256 as in draft-ietf-hpke-pq; X25519 = the scalar)",
		"statements: encoded and hash (Ed25519 signatures are deterministic)",
		"chain: every step (message keys and nonces derive from the chain key; payloads are AES-256-GCM then Ed25519, both deterministic)",
		"keyDist: NOT deterministic (HPKE encapsulation is randomised): open payload with each recipient's key and compare with chainKey; the signature verifies with the sender's record",
		"safetyNumber: all fields",
		"invalid: each payload must be refused (error names the check)",
		"endorsements: encoded (Ed25519 is deterministic); each verifies against the endorsed record and the signer",
		"revocations: encoded (Ed25519 is deterministic); each verifies against its signer",
		"opener: api.Opener(createdBy, mediators) is want (\"\" = any mediator may sign the first statement); mediators in api.Mediator's wire form, times compared to the nanosecond",
		"genesis: each chain extended from empty with the devices above; error \"\" = every statement accepted, else the last is refused with an error containing it (a first statement names exactly one mediator, its signer)",
		"safetyDirectories: the directory of the vector devices (log indexes 0, 1, …) with the endorsements and revocations given at their indexes and the case's mediators; aDevices and bDevices are each account's active devices there (a device a mediator admitted included; by name, in any order), number the safety number between b and a computed from them; aAdmitted (when present) a's devices that count only through an admission, each with the mediator account of an admission that counts now (Devices.Admitted, the browser's admitted(): not a first admission whose signing device was revoked since)",
		"revocationLogs: a revocation counts only if signed by the revoked device or by a device of the account's own chain (first, or linked from one; never through an admission) that counted, unrevoked, before it in the log; the others are ignored, not errors. mediators: the case's mediators whose admissions count, each only while the device that signed it is unrevoked (a revocation of it logged before or after the admission ends it); a device not in active or revoked must not count. pinned: what a client with no pins pins (device, index of the revocation that counted); the same log without its revocations, or with later's instead, is refused against those pins",
	}}
	devs := map[string]*DeviceKeys{}
	for _, d := range []struct {
		name, account string
		kem           KEMID
	}{{"mediator", "u_mediator", KEMXWing}, {"partyA", "u_partya", KEMXWing}, {"partyA-fallback", "u_partya", KEMX25519}, {"partyB", "u_partyb", KEMXWing}} {
		k, err := DeviceKeysFromSeeds(d.account, d.kem, seed(d.name+" sig"), seed(d.name+" kem"), 1767225600000)
		if err != nil {
			t.Fatal(err)
		}
		devs[d.name] = k
		r := k.Record()
		v.Devices = append(v.Devices, vecDevice{Name: d.name, Account: d.account, KEM: uint16(d.kem), SigSeed: k.SigSeed, KEMSeed: k.KEMSeed,
			Created: k.Created, ID: k.ID, SigPublic: hexBytes(r.SigPub), KEMPublic: r.KEMPub, Record: r.Raw})
	}
	people := []Person{{"u_mediator", RoleMediator, ""}, {"u_partya", RoleParty, "A"}, {"u_partyb", RoleParty, "B"}}
	st := StatementFor("c_vectorcase", people, []string{"A", "B"}, map[string]int64{"joint": 3, "caucus:A": 2, "caucus:B": 2, "mediators": 1})
	st.Seq, st.Created = 1, 1767225601000
	if _, err := st.Sign(devs["mediator"]); err != nil {
		t.Fatal(err)
	}
	v.Statements = append(v.Statements, statementVector(st, "mediator"))

	ctx := ChainContext{Case: "c_vectorcase", Room: "caucus:A", Epoch: 2, StatementSeq: 1, Account: "u_partya",
		Device: devs["partyA"].ID, Chain: ChainID{1, 2, 3, 4, 5, 6, 7, 8}}
	vctx := vecContext{Case: ctx.Case, Room: ctx.Room, Epoch: ctx.Epoch, StatementSeq: ctx.StatementSeq, Sender: "partyA", Chain: ctx.Chain[:]}
	v.Chain.Context = vctx
	ck := seed("chain key")
	sc := newSenderChainWithKey(ctx, ck)
	for _, text := range []string{"We could accept 4,000 if the deposit comes back.", "", "Ünïcödé ✓"} {
		key, nonce, next := ratchet(sc.ck)
		step := vecStep{Counter: sc.counter, ChainKey: bytes.Clone(sc.ck), MessageKey: key, Nonce: nonce, NextChainKey: next, Text: text}
		p := &Plaintext{Kind: KindText, Text: text}
		step.Plaintext = p.encode()
		payload, err := sc.Encrypt(devs["partyA"], p)
		if err != nil {
			t.Fatal(err)
		}
		step.Payload = payload
		v.Chain.Steps = append(v.Chain.Steps, step)
	}
	kdc := newSenderChainWithKey(ctx, ck)
	recips := []string{"mediator", "partyA", "partyA-fallback"}
	var recs []*DeviceRecord
	for _, n := range recips {
		recs = append(recs, devs[n].Record())
	}
	kds, err := kdc.KeyDist(devs["partyA"], recs)
	if err != nil || len(kds) != 1 {
		t.Fatalf("keydist: %v", err)
	}
	v.KeyDist = vecKeyDist{Context: vctx, Iteration: 0, ChainKey: ck, Recipients: recips, Payload: kds[0]}

	a := []*DeviceRecord{devs["partyA"].Record(), devs["partyA-fallback"].Record()}
	m := []*DeviceRecord{devs["mediator"].Record()}
	n := SafetyNumber("u_partya", a, "u_mediator", m)
	v.Safety = vecSafety{A: "u_partya", ADevices: []string{"partyA", "partyA-fallback"}, B: "u_mediator", BDevices: []string{"mediator"},
		FingerprintA: Fingerprint("u_partya", a), FingerprintB: Fingerprint("u_mediator", m), Number: n, Formatted: FormatSafetyNumber(n)}

	first := v.Chain.Steps[0].Payload
	flip := func(b []byte, i int) []byte { c := bytes.Clone(b); c[i] ^= 1; return c }
	v.Invalid = []vecInvalid{
		{"signature bit flipped", "message", flip(first, len(first)-1), "bad signature"},
		{"ciphertext bit flipped (signature re-made by the sender would be needed)", "message", flip(first, len(first)-70), "bad signature"},
		{"trailing byte", "message", append(bytes.Clone(first), 0), "malformed"},
		{"version 2", "message", flip(first, 2), "malformed"},
		{"statement with side B's party in caucus:A", "statement", injectedStatement(t, devs["mediator"]), "caucus rule"},
		{"device record renamed to another account", "device", renamedRecord(devs["partyB"]), "bad signature"},
		{"statement with both sides in a room not declared cross-side", "statement", definedStatement(t, devs["mediator"], "room:r1", "u_partya", "u_partyb"), "not declared cross-side"},
		{"statement with an observer in a cross-side room", "statement", definedStatement(t, devs["mediator"], "cross:r1", "u_partya", "u_observer"), "observer"},
	}
	for _, e := range []struct{ signer, endorsed, caseID string }{{"partyA", "partyA-fallback", ""}, {"mediator", "partyB", "c_vectorcase"}, {"mediator", "partyA-fallback", "c_vectorcase"}, {"partyB", "partyA-fallback", "c_vectorcase"}} {
		raw, err := devs[e.signer].Endorse(devs[e.endorsed].Record(), e.caseID, time.UnixMilli(1767225603000))
		if err != nil {
			t.Fatal(err)
		}
		d, err := DecodeEndorsement(raw)
		if err != nil || d.Verify(devs[e.endorsed].Record(), devs[e.signer].Record()) != nil {
			t.Fatalf("endorsement vector: %v", err)
		}
		v.Endorsements = append(v.Endorsements, vecEndorsement{Signer: e.signer, Endorsed: e.endorsed, Case: e.caseID, Created: 1767225603000, Encoded: raw})
	}
	v.RoomEntry = roomEntryVector()
	for _, r := range []struct{ signer, revoked string }{{"partyA-fallback", "partyA"}, {"partyA", "partyA-fallback"}, {"partyA-fallback", "partyA-fallback"}, {"mediator", "mediator"}} {
		raw := devs[r.signer].Revoke(devs[r.revoked].ID, time.UnixMilli(1767225604000))
		v.Revocations = append(v.Revocations, vecRevocation{Signer: r.signer, Revoked: r.revoked, Created: 1767225604000, Encoded: raw})
	}
	v.RevocationLogs = revocationLogs()
	v.SafetyDirectories = safetyDirectories(devs)
	v.Genesis = genesisVectors(t, devs)
	v.Opener = openerVectors()
	return v
}

// openerVectors: the statement opener rule (api.Opener). The creator
// opens when they are a mediator of the case not recused; else the
// mediator not recused added earliest; the record's order breaks a tie;
// with at most one mediator not recused, anyone may ("").
func openerVectors() []vecOpener {
	const t0, t1, t2 = "2026-01-01T09:00:00Z", "2026-01-02T09:00:00Z", "2026-01-03T09:00:00Z"
	m := func(id, added string) vecOpenerMediator { return vecOpenerMediator{AccountID: id, Added: added} }
	r := func(id, added, recused string) vecOpenerMediator {
		return vecOpenerMediator{AccountID: id, Added: added, Recused: recused}
	}
	return []vecOpener{
		{"no mediator", "u_admin", []vecOpenerMediator{}, ""},
		{"one mediator, the creator", "u_mia", []vecOpenerMediator{m("u_mia", t0)}, ""},
		{"two mediators, one of them recused", "u_mia", []vecOpenerMediator{r("u_mia", t0, t1), m("u_noah", t1)}, ""},
		{"the creator, a mediator not recused", "u_mia", []vecOpenerMediator{m("u_mia", t0), m("u_noah", t1)}, "u_mia"},
		{"the creator, listed after and added after another mediator", "u_mia", []vecOpenerMediator{m("u_noah", t0), m("u_mia", t1)}, "u_mia"},
		{"the creator recused: the earliest added of the others", "u_mia",
			[]vecOpenerMediator{r("u_mia", t0, t2), m("u_zoe", t2), m("u_noah", t1)}, "u_noah"},
		{"the creator no mediator (an administrator): the earliest added", "u_admin",
			[]vecOpenerMediator{m("u_zoe", t1), m("u_noah", t0)}, "u_noah"},
		{"the earliest added recused: the next earliest", "u_admin",
			[]vecOpenerMediator{r("u_ava", t0, t1), m("u_zoe", t2), m("u_noah", t1)}, "u_noah"},
		{"added at the same instant: the record's order", "u_admin",
			[]vecOpenerMediator{m("u_zoe", t1), m("u_noah", t1)}, "u_zoe"},
		{"added within one millisecond: the nanoseconds decide", "u_admin",
			[]vecOpenerMediator{m("u_zoe", "2026-01-02T09:00:00.000000900Z"), m("u_noah", "2026-01-02T09:00:00.0000001Z")}, "u_noah"},
		{"the same instant written with another offset", "u_admin",
			[]vecOpenerMediator{m("u_zoe", "2026-01-02T10:00:00+01:00"), m("u_noah", "2026-01-02T09:00:00.5Z")}, "u_zoe"},
	}
}

// genesisVectors: a first statement signed by the mediator that also names
// a co-mediator (refused), and the honest way — the mediator alone first,
// then a statement admitting the co-mediator (accepted).
func genesisVectors(t *testing.T, devs map[string]*DeviceKeys) []vecGenesis {
	med := devs["mediator"]
	alone := []Person{{"u_mediator", RoleMediator, ""}, {"u_partya", RoleParty, "A"}, {"u_partyb", RoleParty, "B"}}
	both := append(slices.Clone(alone), Person{"u_comediator", RoleMediator, ""})
	at := map[string]int64{"joint": 1, "caucus:A": 1, "caucus:B": 1, "mediators": 1}
	sign := func(people []Person, prev *Statement) *Statement {
		st := StatementFor("c_genesiscase", people, []string{"A", "B"}, at)
		st.Seq, st.Created = 1, 1767225605000
		if prev != nil {
			st.Seq, st.Prev, st.Created = prev.Seq+1, prev.Hash(), prev.Created+1
		}
		if _, err := st.Sign(med); err != nil {
			t.Fatal(err)
		}
		return st
	}
	forged := sign(both, nil)
	first := sign(alone, nil)
	admit := sign(both, first)
	return []vecGenesis{
		{"first statement naming a second mediator besides its signer", []hexBytes{forged.Raw}, "first statement names mediator u_comediator"},
		{"first statement naming its signer alone, then one admitting a co-mediator", []hexBytes{first.Raw, admit.Raw}, ""},
	}
}

// checkGenesisVectors extends a chain from empty with each genesis vector.
func checkGenesisVectors(t *testing.T, v *vectors, dir Directory) {
	if len(v.Genesis) == 0 {
		t.Fatal("no genesis vectors")
	}
	for _, g := range v.Genesis {
		var err error
		var chain *Chain
		for _, raw := range g.Statements {
			var st *Statement
			if st, err = DecodeStatement(raw); err != nil {
				break
			}
			if chain == nil {
				chain = NewChain(st.Case)
			}
			if err = chain.Extend(st, dir); err != nil {
				break
			}
		}
		switch {
		case g.Error == "" && err != nil:
			t.Fatalf("genesis vector %q refused: %v", g.What, err)
		case g.Error != "" && (!errors.Is(err, ErrMembership) || !strings.Contains(err.Error(), g.Error)):
			t.Fatalf("genesis vector %q: got %v, want a refusal with %q", g.What, err, g.Error)
		case g.Error == "" && chain.Len() != len(g.Statements):
			t.Fatalf("genesis vector %q: chain of %d", g.What, chain.Len())
		}
	}
}

func statementVector(st *Statement, signer string) vecStatement {
	vs := vecStatement{Case: st.Case, Seq: st.Seq, Prev: st.Prev[:], Created: st.Created, Signer: signer, Encoded: st.Raw}
	h := st.Hash()
	vs.Hash = h[:]
	for _, p := range st.People {
		vs.People = append(vs.People, vecPerson(p))
	}
	for _, r := range st.Rooms {
		vs.Rooms = append(vs.Rooms, vecRoom(r))
	}
	return vs
}

func injectedStatement(t *testing.T, med *DeviceKeys) []byte {
	st := StatementFor("c_vectorcase", []Person{{"u_mediator", RoleMediator, ""}, {"u_partya", RoleParty, "A"}, {"u_partyb", RoleParty, "B"}},
		[]string{"A"}, map[string]int64{"caucus:A": 2})
	st.Seq, st.Created, st.SignerAccount, st.SignerDevice = 2, 1767225602000, med.Account, med.ID
	st.Rooms[0].Members = append(st.Rooms[0].Members, "u_partyb")
	body := st.body()
	return append(body, med.sign(TypeStatement, body)...)
}

// definedStatement is a signed statement with a mediator-defined room of
// the mediator and members, which breaks the defined room rule.
func definedStatement(t *testing.T, med *DeviceKeys, room string, members ...string) []byte {
	st := StatementFor("c_vectorcase", []Person{{"u_mediator", RoleMediator, ""}, {"u_observer", RoleObserver, ""},
		{"u_partya", RoleParty, "A"}, {"u_partyb", RoleParty, "B"}}, nil, nil)
	st.Rooms = []RoomMembers{{Name: room, Epoch: 1, Members: append([]string{"u_mediator"}, members...)}}
	st.Seq, st.Created, st.SignerAccount, st.SignerDevice = 2, 1767225602000, med.Account, med.ID
	body := st.body()
	return append(body, med.sign(TypeStatement, body)...)
}

func renamedRecord(d *DeviceKeys) []byte {
	raw := bytes.Clone(d.Record().Raw)
	raw[bytes.Index(raw, []byte(d.Account))+2] = 'x' // u_partyb → u_xartyb
	return raw
}

func TestVectors(t *testing.T) {
	if *update {
		v := generateVectors(t)
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsFile, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(filepath.FromSlash(vectorsFile))
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	devs := map[string]*DeviceKeys{}
	for _, d := range v.Devices {
		k, err := DeviceKeysFromSeeds(d.Account, KEMID(d.KEM), d.SigSeed, d.KEMSeed, d.Created)
		if err != nil {
			t.Fatal(err)
		}
		r := k.Record()
		if k.ID != d.ID || !bytes.Equal(r.SigPub, d.SigPublic) || !bytes.Equal(r.KEMPub, d.KEMPublic) || !bytes.Equal(r.Raw, d.Record) {
			t.Fatalf("device %s: keys or record differ from the vector", d.Name)
		}
		if _, err := DecodeDeviceRecord(d.Record); err != nil {
			t.Fatalf("device %s: %v", d.Name, err)
		}
		devs[d.Name] = k
	}
	dir := NewDevices()
	for i, d := range v.Devices {
		dir.Add(devs[d.Name].Record(), int64(i))
	}
	chain := NewChain(v.Statements[0].Case)
	for _, vs := range v.Statements {
		st := &Statement{Case: vs.Case, Seq: vs.Seq, Created: vs.Created, LogIndex: -1}
		copy(st.Prev[:], vs.Prev)
		for _, p := range vs.People {
			st.People = append(st.People, Person(p))
		}
		for _, r := range vs.Rooms {
			st.Rooms = append(st.Rooms, RoomMembers(r))
		}
		raw, err := st.Sign(devs[vs.Signer])
		if err != nil || !bytes.Equal(raw, vs.Encoded) {
			t.Fatalf("statement %d: encoding differs from the vector (%v)", vs.Seq, err)
		}
		if h := st.Hash(); !bytes.Equal(h[:], vs.Hash) {
			t.Fatalf("statement %d: hash differs", vs.Seq)
		}
		dec, err := DecodeStatement(vs.Encoded)
		if err != nil {
			t.Fatal(err)
		}
		if err := chain.Extend(dec, dir); err != nil {
			t.Fatal(err)
		}
	}
	c := v.Chain.Context
	ctx := ChainContext{Case: c.Case, Room: c.Room, Epoch: c.Epoch, StatementSeq: c.StatementSeq,
		Account: devs[c.Sender].Account, Device: devs[c.Sender].ID}
	copy(ctx.Chain[:], c.Chain)
	sc := newSenderChainWithKey(ctx, v.Chain.Steps[0].ChainKey)
	rc := &ReceiverChain{Ctx: ctx, ck: bytes.Clone(v.Chain.Steps[0].ChainKey), last: -1}
	for _, s := range v.Chain.Steps {
		key, nonce, next := ratchet(sc.ck)
		if sc.counter != s.Counter || !bytes.Equal(sc.ck, s.ChainKey) || !bytes.Equal(key, s.MessageKey) || !bytes.Equal(nonce, s.Nonce) || !bytes.Equal(next, s.NextChainKey) {
			t.Fatalf("step %d: derivations differ from the vector", s.Counter)
		}
		p := &Plaintext{Kind: KindText, Text: s.Text}
		if !bytes.Equal(p.encode(), s.Plaintext) {
			t.Fatalf("step %d: plaintext encoding differs", s.Counter)
		}
		payload, err := sc.Encrypt(devs[c.Sender], p)
		if err != nil || !bytes.Equal(payload, s.Payload) {
			t.Fatalf("step %d: payload differs from the vector (%v)", s.Counter, err)
		}
		m, err := DecodeMessage(s.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Verify(devs[c.Sender].Record()); err != nil {
			t.Fatal(err)
		}
		got, err := rc.Open(m)
		if err != nil || got.Text != s.Text {
			t.Fatalf("step %d: opened %v, %v", s.Counter, got, err)
		}
	}
	kd, err := DecodeKeyDist(v.KeyDist.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if err := kd.Verify(devs[v.KeyDist.Context.Sender].Record()); err != nil {
		t.Fatal(err)
	}
	if kd.Ctx != ctx || kd.Iteration != v.KeyDist.Iteration {
		t.Fatalf("key distribution context %+v", kd.Ctx)
	}
	for _, name := range v.KeyDist.Recipients {
		r, err := kd.Open(devs[name])
		if err != nil || !bytes.Equal(r.ck, v.KeyDist.ChainKey) {
			t.Fatalf("%s could not open the key distribution: %v", name, err)
		}
	}
	if _, err := kd.Open(devs["partyB"]); err != ErrNotForMe {
		t.Fatalf("party B opened A's caucus key distribution: %v", err)
	}
	sn := v.Safety
	recsOf := func(names []string) []*DeviceRecord {
		var out []*DeviceRecord
		for _, n := range names {
			out = append(out, devs[n].Record())
		}
		return out
	}
	if Fingerprint(sn.A, recsOf(sn.ADevices)) != sn.FingerprintA || Fingerprint(sn.B, recsOf(sn.BDevices)) != sn.FingerprintB ||
		SafetyNumber(sn.B, recsOf(sn.BDevices), sn.A, recsOf(sn.ADevices)) != sn.Number || FormatSafetyNumber(sn.Number) != sn.Formatted {
		t.Fatal("safety number differs from the vector")
	}
	for _, bad := range v.Invalid {
		var err error
		switch bad.Type {
		case "message":
			var m *Message
			if m, err = DecodeMessage(bad.Payload); err == nil {
				err = m.Verify(devs[c.Sender].Record())
			}
		case "statement":
			_, err = DecodeStatement(bad.Payload)
		case "device":
			_, err = DecodeDeviceRecord(bad.Payload)
		}
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(bad.Error)) {
			t.Fatalf("invalid vector %q: got %v, want an error with %q", bad.What, err, bad.Error)
		}
	}
	re := v.RoomEntry
	e, err := DecodeRoomEntry(re.Encoded)
	if err != nil {
		t.Fatal(err)
	}
	if want := roomEntryVector(); e.Case != re.Case || e.Room != re.Room || e.Kind != re.Kind || !slices.Equal(e.Members, re.Members) ||
		!bytes.Equal(e.Salt[:], re.Salt) || e.Slot() != re.Slot || !bytes.Equal(want.Encoded, re.Encoded) || want.Slot != re.Slot {
		t.Fatalf("room entry differs from the vector: %+v", e)
	}
	checkRevocationVectors(t, &v, devs)
	checkSafetyDirectories(t, &v, devs)
	checkGenesisVectors(t, &v, dir)
	if len(v.Opener) == 0 {
		t.Fatal("no opener vectors (api.TestOpenerVectors and the browser check them)")
	}
}

// checkSafetyDirectories builds each directory as a client does (the
// browser's check in web/client/test/vectors-lib.mjs builds the same) and
// computes the safety number from its active devices.
func checkSafetyDirectories(t *testing.T, v *vectors, devs map[string]*DeviceKeys) {
	if !reflect.DeepEqual(v.SafetyDirectories, safetyDirectories(devs)) {
		t.Fatal("safety directories differ from the vector")
	}
	if len(v.SafetyDirectories) == 0 {
		t.Fatal("no safety directories")
	}
	for _, sd := range v.SafetyDirectories {
		d := NewDevices()
		d.RequireEndorsement()
		for i, vd := range v.Devices {
			d.Add(devs[vd.Name].Record(), int64(i))
		}
		d.AdmitBy("c_vectorcase", sd.Mediators...)
		for _, le := range sd.Endorsements {
			e, err := DecodeEndorsement(v.Endorsements[le.Item].Encoded)
			if err != nil {
				t.Fatal(err)
			}
			d.Endorse(e, le.Index)
		}
		for _, lr := range sd.Revocations {
			r, err := DecodeRevocation(v.Revocations[lr.Item].Encoded)
			if err != nil {
				t.Fatal(err)
			}
			d.Revoke(r, lr.Index)
		}
		ids := func(recs []*DeviceRecord) []string {
			var out []string
			for _, r := range recs {
				for _, vd := range v.Devices {
					if vd.ID == r.ID {
						out = append(out, vd.Name)
					}
				}
			}
			return out
		}
		a, b := d.Active(sd.A), d.Active(sd.B)
		sorted := func(n []string) []string { n = slices.Clone(n); slices.Sort(n); return n }
		if !slices.Equal(sorted(ids(a)), sorted(sd.ADevices)) || !slices.Equal(sorted(ids(b)), sorted(sd.BDevices)) {
			t.Fatalf("%s: active devices %v and %v, want %v and %v", sd.What, ids(a), ids(b), sd.ADevices, sd.BDevices)
		}
		if n := SafetyNumber(sd.B, b, sd.A, a); n != sd.Number {
			t.Fatalf("%s: safety number %s, want %s", sd.What, n, sd.Number)
		}
		var admitted []vecAdmitted
		for _, ad := range d.Admitted(sd.A) {
			admitted = append(admitted, vecAdmitted{ids([]*DeviceRecord{ad.Device})[0], ad.By})
		}
		if !slices.Equal(admitted, sd.AAdmitted) {
			t.Fatalf("%s: admitted %v, want %v", sd.What, admitted, sd.AAdmitted)
		}
	}
}

func checkRevocationVectors(t *testing.T, v *vectors, devs map[string]*DeviceKeys) {
	var revs []*Revocation
	for _, vr := range v.Revocations {
		r, err := DecodeRevocation(vr.Encoded)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(devs[vr.Signer].Revoke(devs[vr.Revoked].ID, time.UnixMilli(vr.Created)), vr.Encoded) ||
			r.Device != devs[vr.Revoked].ID || r.Verify(devs[vr.Signer].Record()) != nil {
			t.Fatalf("revocation of %s by %s differs from the vector", vr.Revoked, vr.Signer)
		}
		revs = append(revs, r)
	}
	if !reflect.DeepEqual(v.RevocationLogs, revocationLogs()) {
		t.Fatal("revocation logs differ from the vector")
	}
	for _, l := range v.RevocationLogs {
		build := func(revocations []vecLogged) *Devices {
			d := NewDevices()
			d.RequireEndorsement()
			for i, vd := range v.Devices {
				d.Add(devs[vd.Name].Record(), int64(i))
			}
			d.AdmitBy("c_vectorcase", l.Mediators...)
			for _, le := range l.Endorsements {
				e, err := DecodeEndorsement(v.Endorsements[le.Item].Encoded)
				if err != nil {
					t.Fatal(err)
				}
				d.Endorse(e, le.Index)
			}
			for _, lr := range revocations {
				d.Revoke(revs[lr.Item], lr.Index)
			}
			for i, j := range l.Junk {
				rec, err := DecodeDeviceRecord(j.Record)
				if err != nil {
					t.Fatal(err)
				}
				r, err := DecodeRevocation(j.Revocation)
				if err != nil || r.Verify(rec) != nil {
					t.Fatalf("%s: junk revocation %d: %v", l.What, i, err)
				}
				d.Add(rec, int64(100+i))
				d.Revoke(r, int64(200+i))
			}
			return d
		}
		d := build(l.Revocations)
		// Revocation pins (the browser's Devices.checkRevocations, in
		// web/client/test/vectors-lib.mjs, on the same logs): a client
		// with none pins exactly the revoked devices of the accounts' own
		// chains, each at the index of the revocation that counted, and
		// refuses the same directory without its revocations, or with
		// Later's instead.
		pins, want := RevocationPins{}, RevocationPins{}
		for _, p := range l.Pinned {
			if want[devs[p.Name].Account] == nil {
				want[devs[p.Name].Account] = map[string]int64{}
			}
			want[devs[p.Name].Account][devs[p.Name].ID] = p.Index
		}
		if _, err := d.CheckRevocations(pins); err != nil || !reflect.DeepEqual(pins, want) {
			t.Fatalf("%s: revocation pins %v (%v), want %v", l.What, pins, err, want)
		}
		if _, err := build(nil).CheckRevocations(pins); len(l.Pinned) > 0 && !errors.Is(err, ErrRevocationOmitted) {
			t.Fatalf("%s: the directory without its revocations: %v, want ErrRevocationOmitted", l.What, err)
		}
		if l.Later != nil {
			later := build(l.Later)
			for _, p := range l.Pinned {
				if !later.Revoked(devs[p.Name].Account, devs[p.Name].ID) {
					t.Fatalf("%s: %s is not revoked in the later answer: the vector proves nothing", l.What, p.Name)
				}
			}
			if _, err := later.CheckRevocations(pins); !errors.Is(err, ErrRevocationOmitted) {
				t.Fatalf("%s: the later answer: %v, want ErrRevocationOmitted", l.What, err)
			}
			// Pins saved before they had an index take the index of
			// the first answer that revokes the device.
			old := RevocationPins{}
			for a, m := range pins {
				old[a] = map[string]int64{}
				for id := range m {
					old[a][id] = UnknownRevocationIndex
				}
			}
			if changed, err := d.CheckRevocations(old); err != nil || !changed || !reflect.DeepEqual(old, want) {
				t.Fatalf("%s: pins without an index: %v (%v), want %v", l.What, old, err, want)
			}
			if _, err := later.CheckRevocations(old); !errors.Is(err, ErrRevocationOmitted) {
				t.Fatalf("%s: pins without an index, then the later answer: %v, want ErrRevocationOmitted", l.What, err)
			}
		}
		for _, name := range l.Revoked {
			if !d.Revoked(devs[name].Account, devs[name].ID) {
				t.Fatalf("%s: %s is not revoked", l.What, name)
			}
		}
		for _, name := range l.Active {
			if _, ok := d.Device(devs[name].Account, devs[name].ID, -1); !ok {
				t.Fatalf("%s: %s is not active", l.What, name)
			}
		}
		for _, name := range []string{"partyA", "partyA-fallback"} {
			if !slices.Contains(l.Active, name) && !slices.Contains(l.Revoked, name) {
				if _, ok := d.Device(devs[name].Account, devs[name].ID, -1); ok {
					t.Fatalf("%s: %s counts", l.What, name)
				}
			}
		}
	}
}
