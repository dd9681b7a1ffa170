package e2ee

import (
	"crypto/sha256"
	"slices"
	"testing"
)

// seed derives a fixed 32-byte seed from a name (test vectors and tests).
func seed(name string) []byte {
	s := sha256.Sum256([]byte("parley e2ee test seed " + name))
	return s[:]
}

func device(t testing.TB, account, name string, kem KEMID) *DeviceKeys {
	t.Helper()
	d, err := DeviceKeysFromSeeds(account, kem, seed(name+" sig"), seed(name+" kem"), 1767225600000)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// world is a case with a mediator, a party on each side (A with two
// devices, one on the X25519 fallback) and counsel for A.
type world struct {
	caseID                       string
	med, a1, a2, counselA, b, m2 *DeviceKeys
	dir                          *Devices
	chain                        *Chain
	first                        []byte // the first statement genesis signed, if it did
}

func newWorld(t testing.TB) *world {
	w := &world{caseID: "c_case"}
	w.med = device(t, "u_med", "med", KEMXWing)
	w.m2 = device(t, "u_med2", "med2", KEMXWing)
	w.a1 = device(t, "u_partya", "a1", KEMXWing)
	w.a2 = device(t, "u_partya", "a2", KEMX25519)
	w.counselA = device(t, "u_counsela", "counsela", KEMXWing)
	w.b = device(t, "u_partyb", "b", KEMXWing)
	w.dir = NewDevices()
	for i, d := range []*DeviceKeys{w.med, w.m2, w.a1, w.a2, w.counselA, w.b} {
		w.dir.Add(d.Record(), int64(i))
	}
	w.chain = NewChain(w.caseID)
	return w
}

func (w *world) people() []Person {
	return []Person{
		{Account: "u_med", Role: RoleMediator},
		{Account: "u_med2", Role: RoleMediator},
		{Account: "u_partya", Role: RoleParty, Side: "A"},
		{Account: "u_counsela", Role: RoleCounsel, Side: "A"},
		{Account: "u_partyb", Role: RoleParty, Side: "B"},
	}
}

// sign makes the next statement of the chain for people at epochs, signs
// it with signer and extends the chain. On an empty chain it first signs
// the case's first statement (see [world.genesis]).
func (w *world) sign(t testing.TB, signer *DeviceKeys, people []Person, epochs map[string]int64) *Statement {
	t.Helper()
	w.genesis(t, signer, people, epochs)
	st := w.next(people, epochs)
	raw, err := st.Sign(signer)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := DecodeStatement(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.chain.Extend(dec, w.dir); err != nil {
		t.Fatal(err)
	}
	return dec
}

// genesis, on an empty chain whose people name other mediators than
// signer, signs the case's first statement as a mediator's client does:
// signer as the only mediator (checkGenesis), the others to be admitted
// by the next statement. Its encoding is kept in w.first, for the tests
// that hand a list of statements to another chain.
func (w *world) genesis(t testing.TB, signer *DeviceKeys, people []Person, epochs map[string]int64) {
	t.Helper()
	if w.chain.Len() > 0 {
		return
	}
	alone := slices.DeleteFunc(slices.Clone(people), func(p Person) bool {
		return p.Role == RoleMediator && p.Account != signer.Account
	})
	if len(alone) == len(people) {
		return
	}
	st := w.next(alone, epochs)
	raw, err := st.Sign(signer)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := DecodeStatement(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.chain.Extend(dec, w.dir); err != nil {
		t.Fatal(err)
	}
	w.first = raw
}

func (w *world) next(people []Person, epochs map[string]int64) *Statement {
	st := StatementFor(w.caseID, people, []string{"A", "B"}, epochs)
	st.Seq = uint64(w.chain.Len() + 1)
	if l := w.chain.Latest(); l != nil {
		st.Prev = l.Hash()
	}
	st.Created = 1767225600000 + int64(st.Seq)
	return st
}

func epochs(e int64) map[string]int64 {
	return map[string]int64{"joint": e, "caucus:A": e, "caucus:B": e, "mediators": e}
}

// session is d's session in the case, the case's people now being the
// latest statement's (it is the one in force).
func (w *world) session(d *DeviceKeys) *Session {
	s := NewSession(d, w.caseID, w.chain, w.dir)
	if l := w.chain.Latest(); l != nil {
		s.Now = l.People
	}
	return s
}

// post is what the room log does: payloads in order, with the sender's
// account as the server attributes it.
type post struct {
	from    string
	payload []byte
}

// send prepares and encrypts text from s into room at epoch and returns
// the posts (key distributions first).
func send(t testing.TB, s *Session, room string, epoch int64, text string) []post {
	t.Helper()
	dists, err := s.Prepare(room, epoch)
	if err != nil {
		t.Fatal(err)
	}
	var out []post
	for _, d := range dists {
		out = append(out, post{s.Me.Account, d})
	}
	msg, err := s.Encrypt(room, &Plaintext{Kind: KindText, Text: text})
	if err != nil {
		t.Fatal(err)
	}
	return append(out, post{s.Me.Account, msg})
}

// deliver feeds posts to s and returns the texts it could read and the
// errors of the messages it could not.
func deliver(s *Session, room string, epoch int64, posts []post) (texts []string, errs []error) {
	for _, p := range posts {
		r, err := s.Receive(room, epoch, p.from, p.payload)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if r.Plain != nil {
			texts = append(texts, r.Plain.Text)
		}
	}
	return texts, errs
}
