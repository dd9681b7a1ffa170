package e2ee

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

// Every decoder of the protocol is fuzzed: nothing may panic, and whatever
// decodes must re-encode to the same bytes (one encoding per object) or be
// refused by the checks that follow decoding.

func vectorSeeds(f *testing.F) *vectors {
	return vectorSeedsWith(f, func(b []byte) { f.Add(b) })
}

func vectorSeedsWith(f *testing.F, add func([]byte)) *vectors {
	b, err := os.ReadFile(vectorsFile)
	if err != nil {
		f.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		f.Fatal(err)
	}
	add([]byte{})
	add([]byte("PE\x01"))
	for _, bad := range v.Invalid {
		add([]byte(bad.Payload))
	}
	return &v
}

func FuzzDecodeDeviceRecord(f *testing.F) {
	v := vectorSeeds(f)
	for _, d := range v.Devices {
		f.Add([]byte(d.Record))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := DecodeDeviceRecord(data)
		if err != nil {
			return
		}
		if !bytes.Equal(append(rec.body(), data[len(rec.body()):]...), data) || DeviceID(rec.SigPub) != rec.ID {
			t.Fatal("accepted a record that does not re-encode to itself")
		}
	})
}

func FuzzDecodeRevocation(f *testing.F) {
	vectorSeeds(f)
	d := device(f, "u_x", "x", KEMX25519)
	f.Add(d.Revoke("dv_other", fixedTime))
	f.Fuzz(func(t *testing.T, data []byte) {
		rev, err := DecodeRevocation(data)
		if err != nil {
			return
		}
		if rev.Verify(d.Record()) == nil && !bytes.Equal(data, rev.Raw) {
			t.Fatal("verified revocation differs from its bytes")
		}
	})
}

func FuzzDecodeStatement(f *testing.F) {
	v := vectorSeeds(f)
	for _, s := range v.Statements {
		f.Add([]byte(s.Encoded))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := DecodeStatement(data)
		if err != nil {
			return
		}
		if !bytes.Equal(st.body(), data[:st.bodyLen]) {
			t.Fatal("statement does not re-encode to its bytes")
		}
		if err := st.CheckRules(); err != nil {
			t.Fatalf("decoded a statement that breaks the rules: %v", err)
		}
	})
}

func FuzzDecodeKeyDist(f *testing.F) {
	v := vectorSeeds(f)
	f.Add([]byte(v.KeyDist.Payload))
	me := device(f, "u_partya", "fuzz", KEMX25519)
	f.Fuzz(func(t *testing.T, data []byte) {
		kd, err := DecodeKeyDist(data)
		if err != nil {
			return
		}
		kd.Open(me) // must not panic on any ciphertext
	})
}

func FuzzDecodeMessage(f *testing.F) {
	v := vectorSeeds(f)
	for _, s := range v.Chain.Steps {
		f.Add([]byte(s.Payload))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeMessage(data)
		if err != nil {
			return
		}
		rc := &ReceiverChain{Ctx: m.Ctx, ck: make([]byte, 32), last: -1}
		rc.Open(m) // must not panic; a zero chain key opens nothing
	})
}

func FuzzDecodePlaintext(f *testing.F) {
	v := vectorSeeds(f)
	for _, s := range v.Chain.Steps {
		f.Add([]byte(s.Plaintext))
	}
	f.Add((&Plaintext{Kind: KindCarried, CarryID: "cr_x", Room: "caucus:A", Proposer: "u_m", Text: "t"}).encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := DecodePlaintext(data)
		if err != nil {
			return
		}
		if !bytes.Equal(p.encode(), data) {
			t.Fatal("plaintext does not re-encode to its bytes")
		}
	})
}

// FuzzSessionReceive feeds arbitrary payloads to a session that holds real
// keys and a verified chain: nothing panics, and nothing is accepted that
// no member sent.
func FuzzSessionReceive(f *testing.F) {
	w := newWorld(f)
	w.sign(f, w.med, w.people(), epochs(1))
	posts := send(f, w.session(w.a1), "joint", 1, "seed")
	for _, p := range posts {
		f.Add(p.payload, "u_partya")
	}
	vectorSeedsWith(f, func(b []byte) { f.Add(b, "u_partya") })
	f.Fuzz(func(t *testing.T, data []byte, from string) {
		s := w.session(w.b)
		for _, p := range posts[:len(posts)-1] {
			s.Receive("joint", 1, p.from, p.payload)
		}
		r, err := s.Receive("joint", 1, from, data)
		if err == nil && r.Plain != nil && !bytes.Equal(data, posts[len(posts)-1].payload) {
			t.Fatalf("accepted a message nobody sent: %q", r.Plain.Text)
		}
	})
}
