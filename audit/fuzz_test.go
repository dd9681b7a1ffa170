package audit

import (
	"bytes"
	"crypto/ed25519"
	"testing"
	"time"
)

// FuzzParseEvent: a stored entry either fails to parse or is canonical:
// encoding what was parsed gives back exactly the input.
func FuzzParseEvent(f *testing.F) {
	for _, e := range []Event{
		{Type: "case.open", Actor: "a_x", Case: "c_y", Time: time.Unix(1700000000, 0).UTC()},
		{Type: "access.denied", Actor: "a_x", Objects: []string{"d_1"}, Hashes: []string{"sha256:00"}, Attrs: map[string]string{"action": "doc.download"}, Time: time.Unix(0, 0).UTC()},
	} {
		b, err := e.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"type":"x"} {}`))
	f.Add([]byte(`{"type":"x","unknown":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEvent(data)
		if err != nil {
			return
		}
		again, err := e.Canonical()
		if err != nil {
			t.Fatalf("parsed but does not encode: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("accepted a non-canonical entry:\n%q\nre-encodes as\n%q", data, again)
		}
	})
}

// FuzzParseCheckpoint: a checkpoint body either fails or round-trips
// through Text to the same checkpoint.
func FuzzParseCheckpoint(f *testing.F) {
	f.Add(Checkpoint{Origin: "parley/audit", Size: 3}.Text())
	f.Add("parley/audit\n-1\nAAAA\n")
	f.Add("parley/audit\n3\n" + string(make([]byte, 44)) + "\nextension\n")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := ParseCheckpoint(text)
		if err != nil {
			return
		}
		if c.Size < 0 {
			t.Fatalf("negative size accepted: %d", c.Size)
		}
		back, err := ParseCheckpoint(c.Text())
		if err != nil || back != c {
			t.Fatalf("checkpoint does not round-trip: %+v → %q → %+v, %v", c, c.Text(), back, err)
		}
	})
}

// FuzzOpenCheckpoint: a signed checkpoint that opens under the verifier key
// says exactly what the signer signed (mutations fail).
func FuzzOpenCheckpoint(f *testing.F) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	s, err := NewSigner("parley/audit", key)
	if err != nil {
		f.Fatal(err)
	}
	want := Checkpoint{Origin: "parley/audit", Size: 5}
	signed, err := signCheckpoint(want, s)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signed)
	f.Add(bytes.Replace(signed, []byte("\n5\n"), []byte("\n6\n"), 1))
	f.Add(signed[:len(signed)-3])
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := OpenCheckpoint(data, s.VerifierKey())
		if err != nil {
			return
		}
		if c != want {
			t.Fatalf("a forged checkpoint opened: %+v", c)
		}
	})
}
