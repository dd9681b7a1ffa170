package audit

import (
	"bytes"
	"crypto/ed25519"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
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

// FuzzReadEntry: a stored entry that readEntry accepts for index is a
// canonical event, either alone (written before entries were signed) or
// followed by exactly the signature line the log's key makes for this log's
// name, this index and this event — never one signed for another index or
// another log, nor a non-canonical event under a valid signature.
func FuzzReadEntry(f *testing.F) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	s, err := NewSigner("parley/audit", key)
	if err != nil {
		f.Fatal(err)
	}
	other, err := NewSigner("parley/keydir", key) // the same key, another log
	if err != nil {
		f.Fatal(err)
	}
	v, err := note.NewVerifier(s.VerifierKey())
	if err != nil {
		f.Fatal(err)
	}
	e := Event{Type: "doc.view", Actor: "a_x", Case: "c_y", Objects: []string{"d_1"}, Time: time.Unix(1700000000, 0).UTC()}
	b, err := e.Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signRecord(s, 3, b), int64(3))
	f.Add(signRecord(s, 3, b), int64(4))
	f.Add(signRecord(s, 0, b), int64(0))
	f.Add(signRecord(other, 3, b), int64(3))
	f.Add(b, int64(3))
	f.Add(append(bytes.Replace(b, []byte(`"actor"`), []byte(` "actor"`), 1), signRecord(s, 3, b)[len(b):]...), int64(3))
	f.Add(append(append([]byte{}, b...), "\n— parley/audit AAAA\n"...), int64(3))
	f.Add(append(signRecord(s, 3, b), '\n'), int64(3))
	f.Fuzz(func(t *testing.T, raw []byte, index int64) {
		got, err := readEntry(v, "k", index, raw)
		if err != nil {
			return
		}
		ev, err := ParseEvent(got.event)
		if err != nil {
			t.Fatalf("accepted an entry whose event does not parse: %v", err)
		}
		again, err := ev.Canonical()
		if err != nil || !bytes.Equal(again, got.event) {
			t.Fatalf("accepted a non-canonical event %q", got.event)
		}
		if !got.signed {
			if !bytes.Equal(raw, got.event) {
				t.Fatalf("accepted %q as an unsigned entry", raw)
			}
			return
		}
		if want := signRecord(s, index, got.event); !bytes.Equal(raw, want) {
			t.Fatalf("accepted %q as signed for entry %d of %s; the signed record is %q", raw, index, s.Name(), want)
		}
	})
}
