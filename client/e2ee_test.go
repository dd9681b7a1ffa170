package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/keydir"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// Every test of this package runs in parallel with the others (t.Parallel):
// each starts node(s) of its own (a fresh data directory, or a fresh
// MinIO bucket and a fresh master key) and its own accounts, cases and
// devices, so none sees another's, and much of each one's time is spent
// waiting (on a mediator's signed statement, compaction, a retry's pause)
// rather than on the CPU. The two that read MinIO's data directory (their
// bucket's and MinIO's own files: scanMinIO) or a dump of Redis look only
// for canaries of their own.

// person is someone in the test case with a signed-in client and a device.
type person struct {
	id  string
	c   *client.Client
	x   *client.E2EE
	dir string
}

type e2eeCase struct {
	n      *nodetest.Node
	caseID string
	med    person
	a, b   person
}

// newDevice makes and registers a device for p in a fresh config dir.
func newDevice(t *testing.T, c *client.Client, account string, kem e2ee.KEMID) (string, *client.E2EE) {
	t.Helper()
	dir := t.TempDir()
	if _, err := client.InitDevice(dir, account, kem); err != nil {
		t.Fatal(err)
	}
	x, err := c.E2EE(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Register(context.Background()); err != nil {
		t.Fatal(err)
	}
	return dir, x
}

// seedE2EE makes a case with a mediator and a party on each side, each
// with a registered device; urls (optional) say which node each person
// talks to: mediator, A, B.
func seedE2EE(t *testing.T, n *nodetest.Node, urls ...string) *e2eeCase {
	t.Helper()
	ctx := context.Background()
	for len(urls) < 3 {
		urls = append(urls, n.URL)
	}
	medAcct, medC := n.Staff(t, policy.RoleMediator, fmt.Sprintf("med-%d@example.org", time.Now().UnixNano()))
	medC = client.New(urls[0], medC.Token)
	k, err := medC.CreateCase(ctx, "E2EE test", "family", "", []string{"Parent 1", "Parent 2"})
	if err != nil {
		t.Fatal(err)
	}
	tc := &e2eeCase{n: n, caseID: k.ID}
	tc.med = person{id: medAcct.ID, c: medC}
	tc.med.dir, tc.med.x = newDevice(t, medC, medAcct.ID, e2ee.KEMXWing)
	join := func(side, name, url string, kem e2ee.KEMID) person {
		inv, err := medC.Invite(ctx, k.ID, "party", side, name, "", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		pc := client.New(url, "")
		s, err := pc.Join(ctx, inv.Link)
		if err != nil {
			t.Fatal(err)
		}
		p := person{id: s.Account.ID, c: pc}
		p.dir, p.x = newDevice(t, pc, s.Account.ID, kem)
		return p
	}
	tc.a = join("A", "Avery", urls[1], e2ee.KEMXWing)
	tc.b = join("B", "Blake", urls[2], e2ee.KEMX25519)
	return tc
}

func open(t *testing.T, p person, caseID string, opts client.SecureOptions) *client.SecureChat {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := p.x.OpenSecureChat(ctx, caseID, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// expect waits (bounded) for the next readable message in room, failing
// on any refused payload; notices and seals are skipped.
func expect(t *testing.T, s *client.SecureChat, room string) client.SecureEvent {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case ev, ok := <-s.Events():
			if !ok {
				t.Fatalf("chat closed while waiting in %s", room)
			}
			if ev.Rejected != nil && !staleEpoch(ev.Rejected) {
				t.Fatalf("refused payload in %s at %v: %v", ev.Room, ev.Pos, ev.Rejected)
			}
			if ev.Rejected == nil && ev.Room == room && ev.Seal == nil && ev.Notice == "" {
				return ev
			}
		case <-deadline:
			t.Fatalf("no message in %s within 15s", room)
		}
	}
}

// staleEpoch: a payload encrypted for an earlier epoch of the same room,
// committed after the room was sealed (a membership change raced the
// send). Its sender sees that and sends it again for the new epoch
// (SecureChat.send); every other refusal is a failure.
func staleEpoch(err error) bool {
	if !errors.Is(err, e2ee.ErrWrongPlace) {
		return false
	}
	_, rest, ok := strings.Cut(err.Error(), "names ")
	named, found, ok2 := strings.Cut(rest, ", found in ")
	if !ok || !ok2 {
		return false
	}
	roomOf := func(s string) string { r, _, _ := strings.Cut(s, " epoch "); return r }
	return roomOf(named) == roomOf(found)
}

// collectUntil gathers events until done says the gathered ones are
// enough, or 20 s pass.
func collectUntil(s *client.SecureChat, done func([]client.SecureEvent) bool) []client.SecureEvent {
	var out []client.SecureEvent
	deadline := time.After(20 * time.Second)
	for !done(out) {
		select {
		case ev, ok := <-s.Events():
			if !ok {
				return out
			}
			out = append(out, ev)
		case <-deadline:
			return out
		}
	}
	return out
}

// notice waits for a notice containing all of parts.
func notice(s *client.SecureChat, parts ...string) bool {
	evs := collectUntil(s, func(evs []client.SecureEvent) bool {
		return len(evs) > 0 && hasAll(evs[len(evs)-1].Notice, parts)
	})
	return len(evs) > 0 && hasAll(evs[len(evs)-1].Notice, parts)
}

func hasAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// payloadsIn counts readable messages and refusals in room.
func payloadsIn(room string, evs []client.SecureEvent) (texts []string, refused []error) {
	for _, ev := range evs {
		if ev.Room != room {
			continue
		}
		if ev.Rejected != nil {
			refused = append(refused, ev.Rejected)
		} else if ev.Seal == nil && ev.Notice == "" {
			texts = append(texts, ev.Text)
		}
	}
	return texts, refused
}

func send(t *testing.T, s *client.SecureChat, room, text string) messaging.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	m, err := s.Send(ctx, room, text)
	if err != nil {
		t.Fatalf("send in %s: %v", room, err)
	}
	return m
}

func TestSecureChatCaucusAndJoint(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	med := open(t, tc.med, tc.caseID, client.SecureOptions{})
	a := open(t, tc.a, tc.caseID, client.SecureOptions{})
	b := open(t, tc.b, tc.caseID, client.SecureOptions{})

	send(t, a, "caucus:A", "We could accept 4,000.")
	if ev := expect(t, med, "caucus:A"); ev.Text != "We could accept 4,000." || ev.From != tc.a.id {
		t.Fatalf("mediator got %+v", ev)
	}
	send(t, med, "joint", "Welcome, both of you.")
	for _, s := range []*client.SecureChat{a, b} {
		if ev := expect(t, s, "joint"); ev.Text != "Welcome, both of you." || ev.From != tc.med.id {
			t.Fatalf("joint: %+v", ev)
		}
	}
	send(t, b, "joint", "Thank you.") // B's device is on the X25519 fallback
	if ev := expect(t, a, "joint"); ev.Text != "Thank you." {
		t.Fatalf("A got %+v", ev)
	}
	// History read by another process of A (a script): same text.
	evs, err := tc.a.x.ReadRoom(context.Background(), tc.caseID, "caucus:A", messaging.Position{})
	if err != nil || len(evs) != 1 || evs[0].Text != "We could accept 4,000." {
		t.Fatalf("ReadRoom: %+v %v", evs, err)
	}
	// B reading A's caucus is refused by policy, and B's device holds no
	// key for it anyway.
	if _, err := tc.b.x.ReadRoom(context.Background(), tc.caseID, "caucus:A", messaging.Position{}); err == nil {
		t.Fatal("B paged A's caucus")
	}
	// The payload the server stores is ciphertext.
	msgs, _, err := n.Messages.Page(context.Background(), tc.caseID+"/caucus-A", messaging.Position{}, 100)
	if err != nil || len(msgs) < 2 {
		t.Fatalf("stored: %d, %v", len(msgs), err)
	}
	for _, m := range msgs {
		if strings.Contains(string(m.Body), "4,000") {
			t.Fatal("plaintext stored on the server")
		}
	}
}

// TestRecusedMediatorReadsNothingAfterRecusal: a recused mediator's device
// keeps every key it ever held and reads the stored ciphertext straight
// from the bucket: it opens what was said before, nothing after.
func TestRecusedMediatorReadsNothingAfterRecusal(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	m2Acct, m2C := n.Staff(t, policy.RoleMediator, fmt.Sprintf("m2-%d@example.org", time.Now().UnixNano()))
	if _, err := tc.med.c.CaseAction(ctx, tc.caseID, "mediators", map[string]string{"accountId": m2Acct.ID}); err != nil {
		t.Fatal(err)
	}
	_, m2x := newDevice(t, m2C, m2Acct.ID, e2ee.KEMXWing)
	med := open(t, tc.med, tc.caseID, client.SecureOptions{})
	// The co-mediator reads the rooms once a mediator admits them (a
	// mediator's device never does it on the case record's word alone).
	if err := med.AdmitMediator(ctx, m2Acct.ID); err != nil {
		t.Fatal(err)
	}
	signedFor(t, tc.a, tc.caseID, m2Acct.ID)
	a := open(t, tc.a, tc.caseID, client.SecureOptions{})
	send(t, a, "joint", "before recusal")
	send(t, a, "caucus:A", "caucus before recusal")
	before := a.Epoch("joint")

	if _, err := tc.med.c.CaseAction(ctx, tc.caseID, "recusals", map[string]string{"mediatorId": m2Acct.ID, "reason": "conflict"}); err != nil {
		t.Fatal(err)
	}
	// A sends before it has heard of the seal, so it encrypts for the
	// ended epoch, whose sender key the recused mediator holds. The server
	// stores none of it (the pub names that epoch: "moved"), and A
	// encrypts again, with a new key, for the new epoch.
	sctx, cancel := context.WithTimeout(ctx, 40*time.Second)
	m, err := client.SendStaleForTest(sctx, a, "joint", before, "CANARY-encrypted-for-ended-epoch")
	cancel()
	if err != nil || m.Epoch <= before {
		t.Fatalf("send encrypted first for ended epoch %d: %+v %v", before, m, err)
	}
	send(t, a, "joint", "CANARY-joint-after-recusal")
	send(t, a, "caucus:A", "CANARY-caucus-after-recusal")
	send(t, med, "joint", "CANARY-mediator-after-recusal")
	// A server that reports the joint room's old epoch again cannot make
	// A encrypt to the membership that still held the recused mediator:
	// A encrypts for the epoch its verified chain names.
	client.SetEpochForTest(a, "joint", before)
	send(t, a, "joint", "CANARY-stale-epoch-after-recusal")

	// The recused mediator, with all its keys and the complete verified
	// chain and directory (as if an accomplice handed them over), reads
	// every stored payload of both rooms, each at the epoch the payload
	// itself names (it could try any): every stored payload names the
	// epoch it is stored in.
	devs, _, err := tc.med.x.CaseDevices(ctx, tc.caseID)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := tc.med.x.Statements(ctx, tc.caseID, devs)
	if err != nil {
		t.Fatal(err)
	}
	sess := e2ee.NewSession(m2x.Me, tc.caseID, chain, devs)
	var read []string
	var noKey int
	for _, room := range []string{"joint", "caucus:A"} {
		key := map[string]string{"joint": "joint", "caucus:A": "caucus-A"}[room]
		msgs, _, err := n.Messages.Page(ctx, tc.caseID+"/"+key, messaging.Position{}, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.From == "" {
				continue
			}
			claimed := payloadEpoch(t, m.Body)
			if claimed != m.Epoch {
				t.Errorf("%s %v: the log holds a payload encrypted for epoch %d", room, m.Pos(), claimed)
			}
			r, err := sess.Receive(room, claimed, m.From, m.Body)
			switch {
			case errors.Is(err, e2ee.ErrNoKey):
				noKey++
			case err != nil:
				t.Fatalf("%s %v: %v", room, m.Pos(), err)
			case r.Plain != nil:
				read = append(read, r.Plain.Text)
			}
		}
	}
	joined := strings.Join(read, "|")
	if !strings.Contains(joined, "before recusal") || !strings.Contains(joined, "caucus before recusal") {
		t.Fatalf("the recused device should still open what was said before: %q", read)
	}
	if strings.Contains(joined, "CANARY") || noKey != 5 {
		t.Fatalf("recused device read %q (%d without key, want 5)", read, noKey)
	}
	// And the server shows it nothing: its API access ended.
	if _, err := m2x.ReadRoom(ctx, tc.caseID, "joint", messaging.Position{}); err == nil {
		t.Fatal("recused mediator paged the joint room")
	}
	_ = expect(t, med, "joint")
}

// payloadEpoch is the epoch a stored payload says it was encrypted for.
func payloadEpoch(t *testing.T, body []byte) int64 {
	t.Helper()
	if len(body) >= 4 && body[3] == e2ee.TypeKeyDist {
		kd, err := e2ee.DecodeKeyDist(body)
		if err != nil {
			t.Fatal(err)
		}
		return kd.Ctx.Epoch
	}
	msg, err := e2ee.DecodeMessage(body)
	if err != nil {
		t.Fatal(err)
	}
	return msg.Ctx.Epoch
}

// TestRevokedDeviceReadsNothingAfterRevocation: a party revokes a lost
// device; everything sent afterwards is sealed to the remaining devices.
func TestRevokedDeviceReadsNothingAfterRevocation(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	_, lost := newDevice(t, tc.a.c, tc.a.id, e2ee.KEMX25519)
	med := open(t, tc.med, tc.caseID, client.SecureOptions{})
	send(t, med, "caucus:A", "before")
	if err := tc.a.x.Revoke(ctx, lost.Me.ID); err != nil {
		t.Fatal(err)
	}
	// The mediator's chat learns of the revocation when it next refreshes
	// (a seal, an unknown device, or reopening); reopen to make it now.
	med.Close()
	med = open(t, tc.med, tc.caseID, client.SecureOptions{})
	send(t, med, "caucus:A", "CANARY after revocation")
	evs, err := lost.ReadRoom(ctx, tc.caseID, "caucus:A", messaging.Position{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if strings.Contains(ev.Text, "CANARY") {
			t.Fatal("revoked device read a message sent after its revocation")
		}
	}
	// The other device reads both.
	evs, err = tc.a.x.ReadRoom(ctx, tc.caseID, "caucus:A", messaging.Position{})
	if err != nil || len(evs) != 2 || evs[1].Text != "CANARY after revocation" {
		t.Fatalf("remaining device: %+v %v", evs, err)
	}
	// The revoked device cannot send either: receivers refuse it.
	ls, err := lost.OpenSecureChat(ctx, tc.caseID, client.SecureOptions{StatementWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	if _, err := ls.Send(ctx, "joint", "from a lost laptop"); !errors.Is(err, e2ee.ErrUnknownDevice) {
		t.Fatalf("revoked device sent: %v", err)
	}
}

// TestServerInjectedMemberRefused: the server moves side B's party into
// side A (so policy lets them into A's caucus) and seals the rooms. The
// mediator's device refuses to sign it, so A's clients have no membership
// for the new epoch and refuse to send; what B posts there is refused.
func TestServerInjectedMemberRefused(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	med := open(t, tc.med, tc.caseID, client.SecureOptions{})
	a := open(t, tc.a, tc.caseID, client.SecureOptions{StatementWait: 2 * time.Second})
	send(t, a, "caucus:A", "A's secret")
	expect(t, med, "caucus:A")

	// The server forges the case record and seals the rooms.
	if _, err := metastore.Update(ctx, n.Meta, "cases/"+tc.caseID+"/case", func(c *cases.Case) error {
		for i := range c.Participants {
			if c.Participants[i].AccountID == tc.b.id {
				c.Participants[i].Side = "A"
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	n.Rooms.MembershipChanged(ctx, tc.caseID, cases.MembershipChange{Kind: "participant.joined", Account: tc.b.id, Side: "A"})
	if !notice(med, "refusing to sign", "changes role or side") {
		t.Fatal("the mediator's device did not refuse the forged membership")
	}
	if _, err := a.Send(ctx, "caucus:A", "must not be sent"); !errors.Is(err, e2ee.ErrNoStatement) {
		t.Fatalf("A sent into a caucus whose membership no mediator signed: %v", err)
	}
	// B's device holds no key for A's caucus: it reads nothing, though the
	// server now lets it page the room.
	evs, err := tc.b.x.ReadRoom(ctx, tc.caseID, "caucus:A", messaging.Position{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Rejected == nil {
			t.Fatalf("B read %q from A's caucus", ev.Text)
		}
	}
	// What B posts into A's caucus (a chain "for" it) is refused by A.
	devs, _, err := tc.b.x.CaseDevices(ctx, tc.caseID)
	if err != nil {
		t.Fatal(err)
	}
	epoch := a.Epoch("caucus:A")
	sc := e2ee.NewSenderChain(e2ee.ChainContext{Case: tc.caseID, Room: "caucus:A", Epoch: epoch, StatementSeq: 1, Account: tc.b.id, Device: tc.b.x.Me.ID})
	dists, err := sc.KeyDist(tc.b.x.Me, devs.Active(tc.a.id))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := sc.Encrypt(tc.b.x.Me, &e2ee.Plaintext{Kind: e2ee.KindText, Text: "I am on your side"})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := tc.b.c.Chat(ctx, tc.caseID, map[string]*messaging.Position{"caucus:A": nil})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for i, p := range append(dists, msg) {
		if _, err := raw.Send(ctx, "caucus:A", fmt.Sprint("inject-", i), p); err != nil {
			t.Fatal(err)
		}
	}
	evs = collectUntil(a, func(evs []client.SecureEvent) bool {
		_, refused := payloadsIn("caucus:A", evs)
		return len(refused) == 2
	})
	for _, ev := range evs {
		if ev.Room == "caucus:A" && ev.Rejected == nil && ev.From == tc.b.id {
			t.Fatalf("A accepted %q from B", ev.Text)
		}
	}
	_, refused := payloadsIn("caucus:A", evs)
	if len(refused) != 2 {
		t.Fatalf("A refused %d of B's 2 payloads", len(refused))
	}
	for _, err := range refused {
		if !errors.Is(err, e2ee.ErrWrongPlace) && !errors.Is(err, e2ee.ErrNotMember) {
			t.Fatalf("refused for the wrong reason: %v", err)
		}
	}
}

// TestUnsignedMembershipRefused: the server appends to the chain a
// membership list no mediator signed (B's device signs one that puts B in
// A's caucus). Clients refuse the chain and do not send.
func TestUnsignedMembershipRefused(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	med := open(t, tc.med, tc.caseID, client.SecureOptions{})
	send(t, med, "joint", "first")
	chain := med.Chain()
	latest := chain.Latest()
	people := append([]e2ee.Person{}, latest.People...)
	for i := range people {
		if people[i].Account == tc.b.id {
			people[i].Side = "A"
		}
	}
	epochs := map[string]int64{}
	for _, r := range latest.Rooms {
		epochs[r.Name] = r.Epoch
	}
	forged := e2ee.StatementFor(tc.caseID, people, []string{"A", "B"}, epochs)
	forged.Seq, forged.Prev = latest.Seq+1, latest.Hash()
	raw, err := forged.Sign(tc.b.x.Me)
	if err != nil {
		t.Fatal(err)
	}
	// Written straight into the bucket, past the server's own checks.
	if err := putStatement(ctx, tc, forged.Seq, raw); err != nil {
		t.Fatal(err)
	}
	a, err := tc.a.x.OpenSecureChat(ctx, tc.caseID, client.SecureOptions{})
	if err == nil {
		a.Close()
		t.Fatal("A's client accepted a chain with a statement no mediator signed")
	}
	if !errors.Is(err, e2ee.ErrMembership) || !strings.Contains(err.Error(), "not a mediator") {
		t.Fatalf("refused for the wrong reason: %v", err)
	}
	if _, err := tc.a.x.ReadRoom(ctx, tc.caseID, "joint", messaging.Position{}); !errors.Is(err, e2ee.ErrMembership) {
		t.Fatalf("ReadRoom: %v", err)
	}
}

// TestForgedReplayedReorderedRejected: payloads injected on the server side
// (as a compromised node or Redis would) are refused by clients.
func TestForgedReplayedReorderedRejected(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	med := open(t, tc.med, tc.caseID, client.SecureOptions{})
	a := open(t, tc.a, tc.caseID, client.SecureOptions{})
	send(t, a, "joint", "genuine")
	expect(t, med, "joint")
	msgs, _, err := n.Messages.Page(ctx, tc.caseID+"/joint", messaging.Position{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	last := msgs[len(msgs)-1]
	inject := func(id string, body []byte) {
		if _, err := n.Messages.Publish(ctx, tc.caseID+"/joint", messaging.Message{ID: id, From: tc.a.id, Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	inject("replay", last.Body)
	forged := append([]byte{}, last.Body...)
	forged[len(forged)-10] ^= 1
	inject("forged", forged)
	// Reordered: A's device encrypts two messages; the server stores the
	// second first.
	devs, _, _ := tc.a.x.CaseDevices(ctx, tc.caseID)
	chain, _ := tc.a.x.Statements(ctx, tc.caseID, devs)
	sess := e2ee.NewSession(tc.a.x.Me, tc.caseID, chain, devs)
	epoch := a.Epoch("joint")
	dists, err := sess.Prepare("joint", epoch)
	if err != nil {
		t.Fatal(err)
	}
	m1, _ := sess.Encrypt("joint", &e2ee.Plaintext{Kind: e2ee.KindText, Text: "first of two"})
	m2, _ := sess.Encrypt("joint", &e2ee.Plaintext{Kind: e2ee.KindText, Text: "second of two"})
	for i, d := range dists {
		inject(fmt.Sprint("kd", i), d)
	}
	inject("m2", m2)
	inject("m1", m1)
	got, reasons := payloadsIn("joint", collectUntil(med, func(evs []client.SecureEvent) bool {
		texts, refused := payloadsIn("joint", evs)
		return len(texts)+len(refused) >= 4
	}))
	if strings.Join(got, "|") != "second of two" || len(reasons) != 3 ||
		!errors.Is(reasons[0], e2ee.ErrReplay) || !errors.Is(reasons[1], e2ee.ErrBadSignature) || !errors.Is(reasons[2], e2ee.ErrReplay) {
		t.Fatalf("accepted %q, refused %v", got, reasons)
	}
}

// TestConsentedCarry: a mediator proposes carrying A's caucus message to
// the joint room; only A's device can, after A approves; the audit log
// records proposal and consent by ids and hashes, never content.
func TestConsentedCarry(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	med := open(t, tc.med, tc.caseID, client.SecureOptions{})
	a := open(t, tc.a, tc.caseID, client.SecureOptions{})
	b := open(t, tc.b, tc.caseID, client.SecureOptions{})
	orig := send(t, a, "caucus:A", "CANARY-CARRY we would drop the claim for the deposit")
	expect(t, med, "caucus:A")
	before := n.Audit.Size()
	id, err := med.ProposeCarry(ctx, "caucus:A", orig.Pos(), "may I share this?")
	if err != nil {
		t.Fatal(err)
	}
	proposal := expect(t, a, "caucus:A")
	for proposal.Kind != e2ee.KindCarryProposal {
		proposal = expect(t, a, "caucus:A")
	}
	if proposal.Carry == nil || proposal.Carry.ID != id || proposal.Carry.Ref != orig.Pos() || proposal.From != tc.med.id {
		t.Fatalf("proposal %+v", proposal)
	}
	// Nobody but the author consents: not the mediator, not B. Another
	// person's carry is answered like one that does not exist (404).
	for _, who := range []person{tc.med, tc.b} {
		err := who.c.Do(ctx, "POST", "/api/v1/cases/"+tc.caseID+"/carries/"+id+"/consent", api.ConsentRequest{Hash: "sha256:" + strings.Repeat("0", 64)}, nil)
		var ae *client.Error
		if !errors.As(err, &ae) || ae.Status != 404 {
			t.Fatalf("consent by %s: %v", who.id, err)
		}
	}
	// B cannot make A's device carry anything: B is not the author.
	if _, err := b.ApproveCarry(ctx, proposal); err == nil {
		t.Fatal("B approved a carry of A's message")
	}
	if _, err := a.ApproveCarry(ctx, proposal); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*client.SecureChat{b, med} {
		ev := expect(t, s, "joint")
		if ev.Kind != e2ee.KindCarried || ev.From != tc.a.id || ev.Text != "CANARY-CARRY we would drop the claim for the deposit" ||
			ev.Carry.ID != id || ev.Carry.Room != "caucus:A" || ev.Carry.Proposer != tc.med.id {
			t.Fatalf("carried: %+v", ev)
		}
	}
	var proposed, consented bool
	for i := before; i < n.Audit.Size(); i++ {
		ev, err := n.Audit.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := ev.Encode()
		if strings.Contains(string(b), "CANARY") || strings.Contains(string(b), "deposit") {
			t.Fatalf("audit entry holds content: %s", b)
		}
		switch ev.Type {
		case "e2ee.carry.proposed":
			proposed = ev.Actor == tc.med.id && ev.Objects[0] == id && ev.Objects[1] == tc.a.id && len(ev.Hashes) == 1
		case "e2ee.carry.consented":
			consented = ev.Actor == tc.a.id && ev.Objects[0] == id && len(ev.Hashes) == 2
		}
	}
	if !proposed || !consented {
		t.Fatalf("audit: proposed %v consented %v", proposed, consented)
	}
}

// TestApproveCarryChecksServerRecord: the author's device compares the
// proposal it decrypted with the server's record of that carry id before
// consenting. A mediator registers a carry of one message and then posts,
// in the caucus, a proposal with the same id naming another of the
// author's messages (what a second mediator's client could do). Before,
// ApproveCarry carried the second message under a consent the server
// records, and audits, for the first; now it refuses, nothing is carried
// and no consent is recorded. The record itself is for the author and the
// case's mediators only: the other side's request answers 404.
func TestApproveCarryChecksServerRecord(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	med := open(t, tc.med, tc.caseID, client.SecureOptions{})
	a := open(t, tc.a, tc.caseID, client.SecureOptions{})
	registered := send(t, a, "caucus:A", "the line the mediator registered")
	other := send(t, a, "caucus:A", "CANARY-OTHER the line nobody registered")
	expect(t, med, "caucus:A")
	expect(t, med, "caucus:A")
	id, err := med.ProposeCarry(ctx, "caucus:A", registered.Pos(), "")
	if err != nil {
		t.Fatal(err)
	}
	// The hash of other's payload as the server stores it.
	var page api.HistoryPage
	if err := tc.med.c.Do(ctx, "GET", fmt.Sprintf("/api/v1/cases/%s/rooms/caucus:A/messages?epoch=%d&offset=%d&limit=1",
		tc.caseID, other.Epoch, other.Offset-1), nil, &page); err != nil || len(page.Messages) != 1 || page.Messages[0].Pos() != other.Pos() {
		t.Fatalf("reading the other message: %v, %+v", err, page)
	}
	if err := client.SendCarryProposalForTest(ctx, med, "caucus:A", id, other.Pos(), e2ee.PayloadHash(page.Messages[0].Body)); err != nil {
		t.Fatal(err)
	}
	var genuine, forged client.SecureEvent
	for forged.Carry == nil {
		ev := expect(t, a, "caucus:A")
		switch {
		case ev.Kind != e2ee.KindCarryProposal || ev.Carry == nil:
		case ev.Carry.Ref == registered.Pos():
			genuine = ev
		case ev.Carry.Ref == other.Pos():
			forged = ev
		}
	}
	if genuine.Carry == nil || genuine.Carry.ID != id || forged.Carry.ID != id {
		t.Fatalf("proposals %+v, %+v", genuine, forged)
	}
	if _, err := a.ApproveCarry(ctx, forged); !errors.Is(err, client.ErrCarryMismatch) {
		t.Fatalf("approving a proposal that names another message than the record: %v", err)
	}
	joint, err := tc.med.x.ReadRoom(ctx, tc.caseID, "joint", api.Position{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range joint {
		if ev.Kind == e2ee.KindCarried || strings.Contains(ev.Text, "CANARY-OTHER") {
			t.Fatalf("carried to the joint room: %+v", ev)
		}
	}
	var rec api.Carry
	for _, who := range []person{tc.med, tc.a} {
		if err := who.c.Do(ctx, "GET", "/api/v1/cases/"+tc.caseID+"/carries/"+id, nil, &rec); err != nil {
			t.Fatalf("%s reads the carry: %v", who.id, err)
		}
		if rec.Consented != nil || rec.CarriedHash != "" || rec.Ref != registered.Pos() || rec.Author != tc.a.id {
			t.Fatalf("record as %s reads it: %+v", who.id, rec)
		}
	}
	var ae *client.Error
	if err := tc.b.c.Do(ctx, "GET", "/api/v1/cases/"+tc.caseID+"/carries/"+id, nil, &rec); !errors.As(err, &ae) || ae.Status != 404 {
		t.Fatalf("the other side reads the carry: %v", err)
	}
	// The genuine proposal still carries.
	if _, err := a.ApproveCarry(ctx, genuine); err != nil {
		t.Fatalf("approving the registered proposal: %v", err)
	}
}

// TestCarriedCopyNamesNoCaucusPosition: the carried copy in the joint room
// tells its readers nothing about the author's caucus beyond the approved
// text, the carry id, the source room and the proposer. Before, it named
// the original's position in the caucus (epoch and offset: how many
// payloads the caucus had exchanged) and its payload's hash, and every
// joint-room member, the other side included, decrypted them. The
// mediator, who reads the caucus, still finds the original through the
// carry id and the proposal there, and so sees whether the text differs.
// A copy from an older client that still names the position shows it to
// nobody: receivers ignore those fields of a carried message.
func TestCarriedCopyNamesNoCaucusPosition(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	med := open(t, tc.med, tc.caseID, client.SecureOptions{})
	a := open(t, tc.a, tc.caseID, client.SecureOptions{})
	b := open(t, tc.b, tc.caseID, client.SecureOptions{})
	var orig messaging.Message
	for i := 1; i <= 6; i++ {
		orig = send(t, a, "caucus:A", fmt.Sprintf("caucus line %d", i))
	}
	if orig.Pos() == (api.Position{}) {
		t.Fatal("the original has no position")
	}
	id, err := med.ProposeCarry(ctx, "caucus:A", orig.Pos(), "")
	if err != nil {
		t.Fatal(err)
	}
	proposal := expect(t, a, "caucus:A")
	for proposal.Kind != e2ee.KindCarryProposal {
		proposal = expect(t, a, "caucus:A")
	}
	if _, err := a.ApproveCarry(ctx, proposal); err != nil {
		t.Fatal(err)
	}
	carriedBy := func(s *client.SecureChat) client.SecureEvent {
		t.Helper()
		ev := expect(t, s, "joint")
		for ev.Kind != e2ee.KindCarried {
			ev = expect(t, s, "joint")
		}
		if ev.Carry == nil || ev.Carry.ID != id || ev.Carry.Room != "caucus:A" || ev.Carry.Proposer != tc.med.id || ev.Text != "caucus line 6" {
			t.Fatalf("carried: %+v", ev)
		}
		return ev
	}
	// The other side (every joint-room member outside caucus A).
	if ev := carriedBy(b); ev.Carry.Ref != (api.Position{}) || ev.Carry.RefHash != ([32]byte{}) {
		t.Fatalf("side B reads the original's place in caucus A: ref %v, hash %x", ev.Carry.Ref, ev.Carry.RefHash)
	}
	// What A's device encrypted, as B's own keys open it from the store.
	devs, _, err := tc.b.x.CaseDevices(ctx, tc.caseID)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := tc.b.x.Statements(ctx, tc.caseID, devs)
	if err != nil {
		t.Fatal(err)
	}
	bs := e2ee.NewSession(tc.b.x.Me, tc.caseID, chain, devs)
	msgs, _, err := n.Messages.Page(ctx, tc.caseID+"/joint", messaging.Position{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var raw int
	for _, m := range msgs {
		if m.From == "" {
			continue
		}
		r, err := bs.Receive("joint", m.Epoch, m.From, m.Body)
		if err != nil {
			t.Fatalf("B opens %v: %v", m.Pos(), err)
		}
		if r.Plain != nil && r.Plain.Kind == e2ee.KindCarried {
			raw++
			if r.Plain.Ref != (e2ee.Position{}) || r.Plain.RefHash != ([32]byte{}) {
				t.Fatalf("the carried payload names ref %v, hash %x", r.Plain.Ref, r.Plain.RefHash)
			}
		}
	}
	if raw != 1 {
		t.Fatalf("%d carried payloads in the joint room, want 1", raw)
	}

	// The mediator: the carried copy names no position either, yet the
	// proposal in the caucus (found by the carry id) leads to the
	// original, so the mediator's client tells whether the text differs.
	mc := carriedBy(med)
	if mc.Carry.Ref != (api.Position{}) || mc.Carry.RefHash != ([32]byte{}) {
		t.Fatalf("the mediator's copy names ref %v, hash %x", mc.Carry.Ref, mc.Carry.RefHash)
	}
	caucus, err := tc.med.x.ReadRoom(ctx, tc.caseID, "caucus:A", api.Position{})
	if err != nil {
		t.Fatal(err)
	}
	var ref api.Position
	for _, ev := range caucus {
		if ev.Rejected == nil && ev.Kind == e2ee.KindCarryProposal && ev.Carry != nil && ev.Carry.ID == mc.Carry.ID {
			ref = ev.Carry.Ref
		}
	}
	var original *client.SecureEvent
	for i, ev := range caucus {
		if ev.Rejected == nil && ev.Pos == ref && ev.Kind == e2ee.KindText {
			original = &caucus[i]
		}
	}
	if ref != orig.Pos() || original == nil || original.From != mc.From || original.Text != mc.Text {
		t.Fatalf("the mediator cannot find the original through carry %s: ref %v, original %+v", id, ref, original)
	}

	// An older client's copy that still names the position: B's client
	// takes the consent and ignores the position and hash.
	adevs, _, err := tc.a.x.CaseDevices(ctx, tc.caseID)
	if err != nil {
		t.Fatal(err)
	}
	achain, err := tc.a.x.Statements(ctx, tc.caseID, adevs)
	if err != nil {
		t.Fatal(err)
	}
	as := e2ee.NewSession(tc.a.x.Me, tc.caseID, achain, adevs)
	dists, err := as.Prepare("joint", a.Epoch("joint"))
	if err != nil {
		t.Fatal(err)
	}
	old, err := as.Encrypt("joint", &e2ee.Plaintext{Kind: e2ee.KindCarried, CarryID: id, Room: "caucus:A", Proposer: tc.med.id,
		Ref: e2ee.Position{Epoch: orig.Epoch, Offset: orig.Offset}, RefHash: [32]byte{7}, Text: "caucus line 6"})
	if err != nil {
		t.Fatal(err)
	}
	for i, body := range append(dists, old) {
		if _, err := n.Messages.Publish(ctx, tc.caseID+"/joint", messaging.Message{ID: fmt.Sprint("old-client-", i), From: tc.a.id, Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	if ev := carriedBy(b); ev.Carry.Ref != (api.Position{}) || ev.Carry.RefHash != ([32]byte{}) {
		t.Fatalf("B's client shows an older client's ref %v, hash %x", ev.Carry.Ref, ev.Carry.RefHash)
	}
}

// TestNewParticipantAdmittedByMediator: a party who joins later is
// admitted by the mediator's device and reads only what follows.
func TestNewParticipantAdmittedByMediator(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	med := open(t, tc.med, tc.caseID, client.SecureOptions{})
	a := open(t, tc.a, tc.caseID, client.SecureOptions{})
	send(t, a, "caucus:A", "before counsel joined")
	inv, err := tc.med.c.Invite(ctx, tc.caseID, "counsel", "A", "Counsel for Avery", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cc := client.New(n.URL, "")
	s, err := cc.Join(ctx, inv.Link)
	if err != nil {
		t.Fatal(err)
	}
	counsel := person{id: s.Account.ID, c: cc}
	counsel.dir, counsel.x = newDevice(t, cc, counsel.id, e2ee.KEMXWing)
	if !notice(med, "admitted "+counsel.id+" (counsel, side A)") {
		t.Fatal("the mediator's device did not admit counsel")
	}
	send(t, a, "caucus:A", "after counsel joined")
	cs := open(t, counsel, tc.caseID, client.SecureOptions{})
	if ev := expect(t, cs, "caucus:A"); ev.Text != "after counsel joined" {
		t.Fatalf("counsel read %+v", ev)
	}
	evs, err := counsel.x.ReadRoom(ctx, tc.caseID, "caucus:A", messaging.Position{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || !errors.Is(evs[0].Rejected, e2ee.ErrNoKey) || evs[1].Text != "after counsel joined" {
		t.Fatalf("counsel's history: %+v", evs)
	}
	// The safety number A and counsel compare is the same on both sides.
	n1, err := tc.a.x.SafetyNumber(ctx, tc.caseID, counsel.id)
	if err != nil {
		t.Fatal(err)
	}
	n2, err := counsel.x.SafetyNumber(ctx, tc.caseID, tc.a.id)
	if err != nil || n1 != n2 || len(n1) != 60 {
		t.Fatalf("safety numbers %s / %s (%v)", n1, n2, err)
	}
}

// putStatement writes a statement record into the bucket directly, as
// someone with write access to the store (the server's operator) could.
func putStatement(ctx context.Context, tc *e2eeCase, seq uint64, raw []byte) error {
	b, _ := json.Marshal(map[string]any{"kind": keydir.EventStatement, "record": raw, "index": -1})
	_, err := tc.n.Store.Put(ctx, keydir.StatementKey(tc.caseID, seq), bytes.NewReader(b), int64(len(b)), objstore.PutOptions{IfNoneMatch: true})
	return err
}

// TestMembershipHistoryPinned: a client keeps the first and the latest
// membership statement it verified; a server that later takes statements
// back or rewrites the chain is refused.
func TestMembershipHistoryPinned(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	med := open(t, tc.med, tc.caseID, client.SecureOptions{})
	send(t, med, "joint", "first")
	inv, _ := tc.med.c.Invite(ctx, tc.caseID, "observer", "", "Court observer", "", time.Hour)
	if _, err := client.New(n.URL, "").Join(ctx, inv.Link); err != nil {
		t.Fatal(err)
	}
	send(t, med, "joint", "second") // signs the joint room's new epoch first
	devs, _, err := tc.a.x.CaseDevices(ctx, tc.caseID)
	if err != nil {
		t.Fatal(err)
	}
	// Two statements at least: the case's first, and one naming the
	// observer. The mediator's device may sign the observer in before it
	// learns the joint room's new epoch, and then signs that epoch in a
	// third: both chains are right, so the test takes back the latest.
	chain, err := tc.a.x.Statements(ctx, tc.caseID, devs)
	if err != nil || chain.Len() < 2 {
		t.Fatalf("chain of %d: %v", chain.Len(), err)
	}
	// The server takes the latest statement back.
	if err := n.Store.Delete(ctx, keydir.StatementKey(tc.caseID, uint64(chain.Len())), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.a.x.Statements(ctx, tc.caseID, devs); !errors.Is(err, e2ee.ErrMembership) || !strings.Contains(err.Error(), "shorter") {
		t.Fatalf("a shortened chain: %v", err)
	}
}
