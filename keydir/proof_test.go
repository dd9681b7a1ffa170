package keydir

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/tlogverify"
)

// testLog is a keydir-style log on a local directory, for building
// answers by hand (honest and dishonest ones).
type testLog struct {
	log    *audit.Log
	signer *audit.Signer
}

func newTestLog(t *testing.T, keySeed string) *testLog {
	t.Helper()
	store, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	seed := sha256.Sum256([]byte(keySeed))
	signer, err := audit.NewSigner("parley.test/keydir", ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.OpenWithPrefix(context.Background(), store, signer, LogPrefix)
	if err != nil {
		t.Fatal(err)
	}
	return &testLog{log: l, signer: signer}
}

func testDevice(t *testing.T, account, name string) *e2ee.DeviceKeys {
	t.Helper()
	s := sha256.Sum256([]byte(name + " sig"))
	k := sha256.Sum256([]byte(name + " kem"))
	d, err := e2ee.DeviceKeysFromSeeds(account, e2ee.KEMX25519, s[:], k[:], 1767225600000)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// add logs a device record and returns it as a Logged (proof filled later).
func (l *testLog) add(t *testing.T, rec *e2ee.DeviceRecord) Logged {
	t.Helper()
	ev, err := eventFor(EventDevice, rec.Raw)
	if err != nil {
		t.Fatal(err)
	}
	ev.Time = time.UnixMilli(1767225600000).UTC()
	entry, _ := ev.Encode()
	idx, err := l.log.Append(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	return Logged{Record: rec.Raw, Index: idx, Entry: entry}
}

// answer is an honest answer with records proven at the current size and
// a consistency proof from since.
func (l *testLog) answer(t *testing.T, since int64, recs ...Logged) *Proven {
	t.Helper()
	signed, err := l.log.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cp, _ := audit.OpenCheckpoint(signed, l.signer.VerifierKey())
	p := &Proven{Key: l.signer.VerifierKey(), Checkpoint: string(signed)}
	if since > 0 && since < cp.Size {
		proof, err := l.log.ConsistencyProof(since, cp.Size)
		if err != nil {
			t.Fatal(err)
		}
		p.Consistency = hashes(proof)
	}
	for _, r := range recs {
		proof, err := l.log.InclusionProof(r.Index, cp.Size)
		if err != nil {
			t.Fatal(err)
		}
		r.Proof = hashes(proof)
		p.Devices = append(p.Devices, r)
	}
	return p
}

func mustFail(t *testing.T, p *Proven, prev View, want string) {
	t.Helper()
	_, err := tlogverify.Verify(p, prev)
	if err == nil || !errors.Is(err, ErrLog) || !strings.Contains(err.Error(), want) {
		t.Fatalf("want %q, got %v", want, err)
	}
}

func TestVerifyHonestAnswersAndGrowth(t *testing.T) {
	l := newTestLog(t, "k")
	a := l.add(t, testDevice(t, "u_a", "a1").Record())
	v1, err := tlogverify.Verify(l.answer(t, 0, a), View{})
	if err != nil || len(v1.Devices) != 1 || v1.Checkpoint.Size != 1 {
		t.Fatalf("first answer: %+v %v", v1, err)
	}
	for i := range 5 {
		l.add(t, testDevice(t, "u_b", fmt.Sprint("b", i)).Record())
	}
	v2, err := tlogverify.Verify(l.answer(t, 1, a), v1.View)
	if err != nil || v2.Checkpoint.Size != 6 {
		t.Fatalf("grown log: %v", err)
	}
	// The same answer again (same size, same root) is fine.
	if _, err := tlogverify.Verify(l.answer(t, 6, a), v2.View); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyDetectsForkRollbackAndLies(t *testing.T) {
	honest := newTestLog(t, "k")
	fork := newTestLog(t, "k") // same key: the server signs two histories
	a := testDevice(t, "u_a", "a1").Record()
	evil := testDevice(t, "u_a", "evil").Record()
	la := honest.add(t, a)
	fork.add(t, a)
	for i := range 3 {
		honest.add(t, testDevice(t, "u_b", fmt.Sprint("b", i)).Record())
	}
	seen, err := tlogverify.Verify(honest.answer(t, 0, la), View{})
	if err != nil {
		t.Fatal(err)
	}
	// Fork: another history of the same size, or a bigger one that does
	// not extend what the client saw (the attacker's device slipped in).
	fork.add(t, evil)
	fork.add(t, evil)
	fork.add(t, evil)
	mustFail(t, fork.answer(t, 4), seen.View, "fork")
	fork.add(t, evil)
	forked := fork.answer(t, 4)
	forked.Consistency = honest.answer(t, 1).Consistency // any proof: none can link them
	mustFail(t, forked, seen.View, "does not extend")
	// Rollback to an older checkpoint.
	old := newTestLog(t, "k")
	old.add(t, a)
	mustFail(t, old.answer(t, 0), seen.View, "went back")
	// Another log key than the one pinned.
	other := newTestLog(t, "another key")
	other.add(t, a)
	mustFail(t, other.answer(t, 0), seen.View, "key changed")
	// A record whose entry describes another record.
	lie := honest.answer(t, 4, la)
	lie.Devices[0].Record = evil.Raw
	mustFail(t, lie, seen.View, "does not describe")
	// A record that is not in the log at its index.
	lie = honest.answer(t, 4, la)
	lie.Devices[0].Index = 2
	mustFail(t, lie, seen.View, "not in the log")
	// A record beyond the checkpoint.
	lie = honest.answer(t, 4, la)
	lie.Devices[0].Index = 99
	mustFail(t, lie, seen.View, "not covered")
	// A tampered checkpoint.
	lie = honest.answer(t, 4, la)
	lie.Checkpoint = strings.Replace(lie.Checkpoint, "\n4\n", "\n5\n", 1)
	mustFail(t, lie, seen.View, "checkpoint")
}

// FuzzProvenVerify feeds arbitrary directory answers (JSON, as a client
// decodes them) to the verifier: nothing panics, and nothing verifies
// against a pinned view unless it really is in that log.
func FuzzProvenVerify(f *testing.F) {
	t := &testing.T{}
	l := newTestLog(t, "k")
	a := l.add(t, testDevice(t, "u_a", "a1").Record())
	a2 := l.add(t, testDevice(t, "u_a", "a2").Record())
	logged := map[string]bool{testDevice(t, "u_a", "a1").ID: true, testDevice(t, "u_a", "a2").ID: true}
	honest := l.answer(t, 1, a, a2)
	b, _ := json.Marshal(honest)
	f.Add(b)
	f.Add([]byte(`{"key":"","checkpoint":""}`))
	f.Add([]byte(`{}`))
	pinned, err := tlogverify.Verify(l.answer(t, 0, a), View{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Proven
		if json.Unmarshal(data, &p) != nil {
			return
		}
		tlogverify.Verify(&p, View{})
		v, err := tlogverify.Verify(&p, pinned.View)
		if err != nil {
			return
		}
		for _, d := range v.Devices {
			if !logged[d.ID] {
				t.Fatalf("verified device %s, which is not in the log", d.ID)
			}
		}
		v.Directory(nil)
	})
}
