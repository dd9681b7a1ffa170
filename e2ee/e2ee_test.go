package e2ee

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestRoundTripAcrossDevicesAndSuites(t *testing.T) {
	w := newWorld(t)
	w.sign(t, w.med, w.people(), epochs(1))
	med, a1, a2, counsel, b := w.session(w.med), w.session(w.a1), w.session(w.a2), w.session(w.counselA), w.session(w.b)
	posts := send(t, med, "caucus:A", 1, "what would you accept?")
	posts = append(posts, send(t, a1, "caucus:A", 1, "4,000 and the deposit")...)
	posts = append(posts, send(t, med, "caucus:A", 1, "noted")...)
	want := []string{"what would you accept?", "4,000 and the deposit", "noted"}
	for name, s := range map[string]*Session{"mediator": med, "party A (X-Wing)": a1, "party A (X25519)": a2, "counsel A": counsel} {
		got, errs := deliver(s, "caucus:A", 1, posts)
		if !slices.Equal(got, want) || len(errs) != 0 {
			t.Fatalf("%s read %q, errors %v", name, got, errs)
		}
	}
	// Side B is not in A's caucus: nothing was sealed to its device.
	got, errs := deliver(b, "caucus:A", 1, posts)
	if len(got) != 0 || len(errs) != 3 {
		t.Fatalf("side B read %q (errors %v)", got, errs)
	}
	for _, err := range errs {
		if !errors.Is(err, ErrNotMember) && !errors.Is(err, ErrNoKey) {
			t.Fatalf("side B: %v", err)
		}
	}
	if _, err := b.Prepare("caucus:A", 1); !errors.Is(err, ErrNotMember) {
		t.Fatalf("side B prepared to send in A's caucus: %v", err)
	}
}

// TestRemovedDeviceReadsNothingAfterRemoval: a recused mediator's device,
// keeping every key it ever held, cannot open anything of the next epoch.
func TestRemovedDeviceReadsNothingAfterRemoval(t *testing.T) {
	w := newWorld(t)
	w.sign(t, w.med, w.people(), epochs(1))
	med, a1, m2 := w.session(w.med), w.session(w.a1), w.session(w.m2)
	before := append(send(t, med, "joint", 1, "opening"), send(t, a1, "joint", 1, "hello")...)
	if got, _ := deliver(m2, "joint", 1, before); len(got) != 2 {
		t.Fatalf("second mediator read %q before recusal", got)
	}
	// Recusal: the server seals the rooms into epoch 2; the remaining
	// mediator signs who is left.
	var left []Person
	for _, p := range w.people() {
		if p.Account != "u_med2" {
			left = append(left, p)
		}
	}
	w.sign(t, w.med, left, epochs(2))
	after := append(send(t, med, "joint", 2, "CANARY after recusal"), send(t, a1, "joint", 2, "CANARY party after recusal")...)
	got, errs := deliver(m2, "joint", 2, after)
	if len(got) != 0 {
		t.Fatalf("recused mediator read %q", got)
	}
	if len(errs) != 2 {
		t.Fatalf("recused mediator: %d errors, want one per message", len(errs))
	}
	for _, err := range errs {
		if !errors.Is(err, ErrNoKey) {
			t.Fatalf("recused mediator: %v", err)
		}
	}
	// Even ignoring the membership checks, none of its chains opens them.
	for _, p := range after {
		if p.payload[3] != TypeMessage {
			continue
		}
		m, _ := DecodeMessage(p.payload)
		for _, rc := range m2.in {
			forced := *rc
			forced.Ctx = m.Ctx
			forced.next, forced.last = m.Counter, int64(m.Counter)-1
			if _, err := forced.Open(m); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("an old chain key opened an epoch-2 message: %v", err)
			}
		}
		kdOpened := 0
		for _, q := range after {
			if q.payload[3] == TypeKeyDist {
				kd, _ := DecodeKeyDist(q.payload)
				if _, err := kd.Open(w.m2); !errors.Is(err, ErrNotForMe) {
					kdOpened++
				}
			}
		}
		if kdOpened != 0 {
			t.Fatal("a key distribution of epoch 2 was addressed to the recused mediator")
		}
	}
	// Everyone still in reads them.
	if got, errs := deliver(w.session(w.b), "joint", 2, after); len(got) != 2 {
		t.Fatalf("party B read %q, %v", got, errs)
	}
}

// TestRevokedDeviceGetsNothingAfterRevocation: revoking a device makes its
// owner's and everyone's next send start a new chain without it.
func TestRevokedDeviceGetsNothingAfterRevocation(t *testing.T) {
	w := newWorld(t)
	w.sign(t, w.med, w.people(), epochs(1))
	med, a2 := w.session(w.med), w.session(w.a2)
	first := send(t, med, "joint", 1, "before")
	if got, _ := deliver(a2, "joint", 1, first); len(got) != 1 {
		t.Fatal("device could not read before revocation")
	}
	rev, err := DecodeRevocation(w.a1.Revoke(w.a2.ID, fixedTime))
	if err != nil {
		t.Fatal(err)
	}
	if err := rev.Verify(w.a1.Record()); err != nil {
		t.Fatal(err)
	}
	w.dir.Revoke(rev, 100)
	second := send(t, med, "joint", 1, "CANARY after revocation")
	if second[0].payload[3] != TypeKeyDist {
		t.Fatal("revocation did not start a new chain")
	}
	if got, _ := deliver(a2, "joint", 1, second); len(got) != 0 {
		t.Fatalf("revoked device read %q", got)
	}
	if got, _ := deliver(w.session(w.a1), "joint", 1, append(first, second...)); len(got) != 2 {
		t.Fatalf("the other device read %q", got)
	}
	// A revoked device's own messages are refused.
	if _, err := a2.Prepare("joint", 1); !errors.Is(err, ErrUnknownDevice) {
		t.Fatalf("revoked device prepared to send: %v", err)
	}
}

func TestForgedSenderRejected(t *testing.T) {
	w := newWorld(t)
	w.sign(t, w.med, w.people(), epochs(1))
	a1, counsel := w.session(w.a1), w.session(w.counselA)
	posts := send(t, a1, "caucus:A", 1, "genuine")
	if got, _ := deliver(counsel, "caucus:A", 1, posts); len(got) != 1 {
		t.Fatal("counsel could not read")
	}
	// 1. A flipped bit anywhere in the message.
	msg := posts[len(posts)-1].payload
	for _, i := range []int{10, len(msg) / 2, len(msg) - 1} {
		bad := bytes.Clone(msg)
		bad[i] ^= 1
		if _, err := w.session(w.counselA).Receive("caucus:A", 1, "u_partya", bad); err == nil {
			t.Fatalf("flipped byte %d accepted", i)
		}
	}
	// 2. Counsel holds A's chain key (all members do) and forges a message
	// in A's chain: it decrypts, but the signature is not A's device's.
	rc := counsel.in[inKey{"caucus:A", 1, w.a1.ID, posts[0].chain(t)}]
	forged := &SenderChain{Ctx: rc.Ctx, ck: bytes.Clone(rc.ck), counter: rc.next, sent: map[string]bool{}}
	forgedMsg, err := forged.Encrypt(&DeviceKeys{Account: w.a1.Account, ID: w.a1.ID, sig: w.counselA.sig}, &Plaintext{Kind: KindText, Text: "I accept 1,000"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.session(w.med).Receive("caucus:A", 1, "u_partya", forgedMsg); !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrNoKey) {
		t.Fatalf("forged message: %v", err)
	}
	med := w.session(w.med)
	deliver(med, "caucus:A", 1, posts[:len(posts)-1])
	if _, err := med.Receive("caucus:A", 1, "u_partya", forgedMsg); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged message with the key in hand: %v", err)
	}
	// 3. A key distribution re-signed by another device for A's chain.
	kd := posts[0].payload
	body := kd[:len(kd)-68]
	resigned := append(bytes.Clone(body), w.counselA.sign(TypeKeyDist, body)...)
	if _, err := w.session(w.med).Receive("caucus:A", 1, "u_partya", resigned); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("re-signed key distribution: %v", err)
	}
	// 4. The server attributes A's message to someone else.
	if _, err := w.session(w.med).Receive("caucus:A", 1, "u_counsela", posts[0].payload); !errors.Is(err, ErrWrongPlace) {
		t.Fatalf("misattributed payload: %v", err)
	}
}

// chain returns the chain id of a key distribution or message post.
func (p post) chain(t testing.TB) ChainID {
	t.Helper()
	if kd, err := DecodeKeyDist(p.payload); err == nil {
		return kd.Ctx.Chain
	}
	m, err := DecodeMessage(p.payload)
	if err != nil {
		t.Fatal(err)
	}
	return m.Ctx.Chain
}

func TestReplayReorderAndMovedPayloadsRejected(t *testing.T) {
	w := newWorld(t)
	w.sign(t, w.med, w.people(), epochs(1))
	a1 := w.session(w.a1)
	posts := send(t, a1, "joint", 1, "one")
	posts = append(posts, send(t, a1, "joint", 1, "two")...)
	posts = append(posts, send(t, a1, "joint", 1, "three")...)
	kd, m1, m2, m3 := posts[0], posts[1], posts[2], posts[3]

	med := w.session(w.med)
	deliver(med, "joint", 1, []post{kd})
	if got, _ := deliver(med, "joint", 1, []post{m1}); len(got) != 1 {
		t.Fatal("first message")
	}
	if _, err := med.Receive("joint", 1, m1.from, m1.payload); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay: %v", err)
	}
	// Reordered by the server: three before two. Three is read, two is
	// refused (its key was discarded when three moved the chain on).
	if got, _ := deliver(med, "joint", 1, []post{m3}); len(got) != 1 {
		t.Fatal("third message")
	}
	if _, err := med.Receive("joint", 1, m2.from, m2.payload); !errors.Is(err, ErrReplay) {
		t.Fatalf("reordered: %v", err)
	}
	// Moved to another room, epoch or case.
	b := w.session(w.b)
	deliver(b, "joint", 1, []post{kd})
	for _, place := range []struct {
		room  string
		epoch int64
	}{{"caucus:B", 1}, {"joint", 2}} {
		if _, err := b.Receive(place.room, place.epoch, m1.from, m1.payload); !errors.Is(err, ErrWrongPlace) {
			t.Fatalf("moved to %s epoch %d: %v", place.room, place.epoch, err)
		}
	}
	other := NewSession(w.b, "c_other", w.chain, w.dir)
	if _, err := other.Receive("joint", 1, m1.from, m1.payload); !errors.Is(err, ErrWrongPlace) {
		t.Fatalf("moved to another case: %v", err)
	}
	// A counter far ahead is refused, not ratcheted to.
	if got, errs := deliver(b, "joint", 1, []post{m1, m2, m3}); len(got) != 3 {
		t.Fatalf("in order: %q %v", got, errs)
	}
}

func TestSkippedMessagesCannotBeOpenedLater(t *testing.T) {
	w := newWorld(t)
	w.sign(t, w.med, w.people(), epochs(1))
	a1, med := w.session(w.a1), w.session(w.med)
	var posts []post
	for i := range 5 {
		posts = append(posts, send(t, a1, "joint", 1, fmt.Sprint("m", i))...)
	}
	// Messages 1–3 never arrive; 4 does; then 2 turns up late.
	got, _ := deliver(med, "joint", 1, []post{posts[0], posts[1], posts[5]})
	if !slices.Equal(got, []string{"m0", "m4"}) {
		t.Fatalf("got %q", got)
	}
	if _, err := med.Receive("joint", 1, posts[3].from, posts[3].payload); !errors.Is(err, ErrReplay) {
		t.Fatalf("late message: %v", err)
	}
}

func TestSenderRefusesUnsignedOrBrokenMembership(t *testing.T) {
	w := newWorld(t)
	if _, err := w.session(w.a1).Prepare("joint", 1); !errors.Is(err, ErrNoStatement) {
		t.Fatalf("no statement at all: %v", err)
	}
	w.sign(t, w.med, w.people(), epochs(1))
	// The server sealed the room into epoch 2 but no mediator signed it.
	if _, err := w.session(w.a1).Prepare("joint", 2); !errors.Is(err, ErrNoStatement) {
		t.Fatalf("unsigned epoch: %v", err)
	}
}

// TestPrepareAfterChainReplaced (review 394 L4): the chain a session
// sends under is replaced by one that lacks the statement its sending
// chain names (a refresh that came back shorter). Prepare starts a new
// chain instead of reading the missing statement's rooms.
func TestPrepareAfterChainReplaced(t *testing.T) {
	w := newWorld(t)
	w.sign(t, w.med, w.people(), epochs(1))
	w.sign(t, w.med, w.people(), epochs(1))
	s := w.session(w.a1)
	send(t, s, "joint", 1, "under the latest statement")
	short := w.chain.Clone()
	short.stmts = short.stmts[:len(short.stmts)-1]
	s.Chain = short
	dists, err := s.Prepare("joint", 1)
	if err != nil || len(dists) == 0 {
		t.Fatalf("after the chain lost the sending chain's statement: %d key distributions, %v", len(dists), err)
	}
}

func TestCaucusRuleAndChainRules(t *testing.T) {
	w := newWorld(t)
	w.sign(t, w.med, w.people(), epochs(1))
	injected := func() *Statement {
		st := w.next(w.people(), epochs(2))
		for i := range st.Rooms {
			if st.Rooms[i].Name == "caucus:A" {
				st.Rooms[i].Members = append(st.Rooms[i].Members, "u_partyb")
			}
		}
		return st
	}
	// Sign refuses to sign it.
	if _, err := injected().Sign(w.med); !errors.Is(err, ErrMembership) || !strings.Contains(err.Error(), "caucus rule") {
		t.Fatalf("signed a caucus with side B in it: %v", err)
	}
	// Signed anyway (a compromised mediator device): decoding refuses it.
	st := injected()
	st.SignerAccount, st.SignerDevice = w.med.Account, w.med.ID
	body := st.body()
	raw := append(body, w.med.sign(TypeStatement, body)...)
	if _, err := DecodeStatement(raw); !errors.Is(err, ErrMembership) {
		t.Fatalf("decoded a caucus with side B in it: %v", err)
	}
	// Moving B's party to side A (so A's caucus "legitimately" includes
	// them) breaks the chain: nobody changes side.
	moved := slices.Clone(w.people())
	for i := range moved {
		if moved[i].Account == "u_partyb" {
			moved[i].Side = "A"
		}
	}
	mustRefuse(t, w, w.next(moved, epochs(2)), w.med, "changes role or side")
	// A statement signed by someone who is not a mediator.
	mustRefuse(t, w, w.next(w.people(), epochs(2)), w.a1, "not a mediator")
	// A statement that does not follow the latest.
	orphan := w.next(w.people(), epochs(2))
	orphan.Prev[0] ^= 1
	mustRefuse(t, w, orphan, w.med, "does not follow")
	// Epochs never go back.
	back := w.next(w.people(), epochs(2))
	back.Rooms[0].Epoch = 0
	if _, err := back.Sign(w.med); err == nil {
		t.Fatal("signed epoch 0")
	}
	// A signer device unknown to the directory.
	stranger := device(t, "u_med", "stranger", KEMXWing)
	mustRefuse(t, w, w.next(w.people(), epochs(2)), stranger, "unknown device")
	// The genuine next statement still extends the chain.
	w.sign(t, w.m2, w.people(), epochs(2))
}

func mustRefuse(t *testing.T, w *world, st *Statement, signer *DeviceKeys, want string) {
	t.Helper()
	raw, err := st.Sign(signer)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := DecodeStatement(raw)
	if err != nil {
		t.Fatal(err)
	}
	n := w.chain.Len()
	err = w.chain.Extend(dec, w.dir)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("want refusal %q, got %v", want, err)
	}
	if w.chain.Len() != n {
		t.Fatal("refused statement was appended")
	}
}

func TestNewDeviceGetsOnlyWhatFollows(t *testing.T) {
	w := newWorld(t)
	w.sign(t, w.med, w.people(), epochs(1))
	med := w.session(w.med)
	early := send(t, med, "joint", 1, "early")
	a3 := device(t, "u_partya", "a3", KEMXWing)
	w.dir.Add(a3.Record(), 50)
	late := send(t, med, "joint", 1, "late")
	if len(late) != 2 || late[0].payload[3] != TypeKeyDist {
		t.Fatalf("want one key distribution for the new device, then the message; got %d posts", len(late))
	}
	kd, _ := DecodeKeyDist(late[0].payload)
	if len(kd.Recipients) != 1 || kd.Recipients[0].Device != a3.ID || kd.Iteration != 1 {
		t.Fatalf("supplementary distribution: %+v", kd.Recipients)
	}
	got, _ := deliver(w.session(a3), "joint", 1, append(early, late...))
	if !slices.Equal(got, []string{"late"}) {
		t.Fatalf("new device read %q", got)
	}
}

func TestKeyDistSplitsForLargeRooms(t *testing.T) {
	w := newWorld(t)
	var extra []*DeviceKeys
	for i := range 60 {
		d := device(t, "u_partyb", fmt.Sprint("b-extra-", i), KEMXWing)
		w.dir.Add(d.Record(), int64(10+i))
		extra = append(extra, d)
	}
	w.sign(t, w.med, w.people(), epochs(1))
	posts := send(t, w.session(w.med), "joint", 1, "to everyone")
	if len(posts) < 3 {
		t.Fatalf("%d posts for 66 X-Wing devices: want the distribution split", len(posts))
	}
	for _, p := range posts {
		if len(p.payload) > MaxPayload {
			t.Fatalf("payload of %d bytes", len(p.payload))
		}
	}
	for _, d := range append(extra, w.a2, w.b) {
		if got, errs := deliver(w.session(d), "joint", 1, posts); len(got) != 1 {
			t.Fatalf("device %s read %q %v", d.ID, got, errs)
		}
	}
}

func TestSafetyNumber(t *testing.T) {
	w := newWorld(t)
	a := []*DeviceRecord{w.a1.Record(), w.a2.Record()}
	m := []*DeviceRecord{w.med.Record()}
	n1 := SafetyNumber("u_partya", a, "u_med", m)
	n2 := SafetyNumber("u_med", m, "u_partya", []*DeviceRecord{w.a2.Record(), w.a1.Record()})
	if n1 != n2 || len(n1) != 60 || strings.Trim(n1, "0123456789") != "" {
		t.Fatalf("not order-independent 60 digits: %s / %s", n1, n2)
	}
	if g := FormatSafetyNumber(n1); len(strings.Fields(g)) != 12 {
		t.Fatalf("format %q", g)
	}
	if SafetyNumber("u_partya", a[:1], "u_med", m) == n1 {
		t.Fatal("safety number did not change with the device set")
	}
}

func TestDeviceRecordChecks(t *testing.T) {
	d := device(t, "u_x", "x", KEMXWing)
	rec, err := DecodeDeviceRecord(d.Record().Raw)
	if err != nil || rec.ID != d.ID || !bytes.Equal(rec.KEMPub, d.Record().KEMPub) {
		t.Fatalf("decode own record: %v", err)
	}
	// Another account's name on the same keys breaks the self-signature.
	other := bytes.Clone(d.Record().Raw)
	copy(other[8:], "u_y")
	if _, err := DecodeDeviceRecord(other); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("renamed record: %v", err)
	}
}

func TestPlaintextPaddingAndKinds(t *testing.T) {
	for _, p := range []*Plaintext{
		{Kind: KindText, Text: ""},
		{Kind: KindText, Text: strings.Repeat("é", 100)},
		{Kind: KindCarryProposal, CarryID: "cr_1", Room: "joint", Ref: Position{3, 7}, RefHash: [32]byte{1}},
		{Kind: KindCarried, CarryID: "cr_1", Room: "caucus:A", Ref: Position{3, 7}, RefHash: [32]byte{1}, Proposer: "u_med", Text: "carried"},
		{Kind: KindCarryDeclined, CarryID: "cr_1", Room: "joint", Ref: Position{3, 7}, RefHash: [32]byte{1}},
		{Kind: KindNotice, Text: "We meet again at 11:00."},
	} {
		enc := p.encode()
		if len(enc)%padBlock != 0 {
			t.Fatalf("not padded: %d", len(enc))
		}
		got, err := DecodePlaintext(enc)
		if err != nil || *got != *p {
			t.Fatalf("round trip %+v → %+v, %v", p, got, err)
		}
	}
	if _, err := DecodePlaintext(make([]byte, 64)); err == nil {
		t.Fatal("all-zero padding accepted")
	}
}

// TestPayloadEpoch: the epoch the server reads from a room payload's
// header is the one its sender encrypted it for, for key distributions
// and messages alike; anything else (another type, a truncated payload,
// bytes that are no payload) has none.
func TestPayloadEpoch(t *testing.T) {
	w := newWorld(t)
	w.sign(t, w.med, w.people(), epochs(1))
	w.sign(t, w.med, w.people(), epochs(2))
	posts := send(t, w.session(w.a1), "joint", 2, "hello")
	kinds := map[byte]bool{}
	for _, p := range posts {
		e, ok := PayloadEpoch(p.payload)
		if !ok || e != 2 {
			t.Fatalf("payload of type %d: epoch %d %v, want 2", p.payload[3], e, ok)
		}
		kinds[p.payload[3]] = true
		if _, ok := PayloadEpoch(p.payload[:len(p.payload)-1]); ok {
			t.Fatalf("a truncated payload of type %d has an epoch", p.payload[3])
		}
	}
	if !kinds[TypeKeyDist] || !kinds[TypeMessage] {
		t.Fatalf("payload types sent: %v, want a key distribution and a message", kinds)
	}
	for _, b := range [][]byte{nil, []byte("PE"), []byte("ciphertext-1"), w.a1.Record().Raw} {
		if e, ok := PayloadEpoch(b); ok {
			t.Fatalf("%q: epoch %d, want none", b, e)
		}
	}
}
