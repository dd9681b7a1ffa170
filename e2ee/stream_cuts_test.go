package e2ee

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"testing"
)

// TestStreamCutsAndSplices: the cuts and splices the browser's vectors
// check (web/client/test/vectors-docs.mjs), in Go's reader: a stream cut
// at exactly the header and one or two full segments (a valid size), cut
// to its header, two segments swapped, a segment appended, the last one
// appended again, and an empty file altered are each refused as
// ErrIntegrity; the whole stream and an empty file open.
func TestStreamCutsAndSplices(t *testing.T) {
	key := NewDocKey()
	b := StreamBinding{Case: "c_cuts", Doc: "d_cuts", Version: 1}
	seal := func(pt []byte) []byte {
		var out bytes.Buffer
		w, err := NewStreamWriter(&out, key, b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(pt); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return out.Bytes()
	}
	open := func(ct []byte, v *StreamVerify) ([]byte, error) {
		r, err := NewStreamReader(bytes.NewReader(ct), key, b, v)
		if err != nil {
			return nil, err
		}
		return io.ReadAll(r)
	}
	pt := make([]byte, 3*StreamSegmentSize+100)
	for i := range pt {
		pt[i] = byte(i * 13)
	}
	four := seal(pt)
	if got, err := open(four, &StreamVerify{Size: int64(len(pt))}); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("the whole stream: %v", err)
	}
	const H, C = StreamHeaderSize, streamSegmentCTSize
	splice := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	bad := map[string][]byte{
		"cut after one full segment":  four[:H+C],
		"cut after two full segments": four[:H+2*C],
		"cut to the header":           four[:H],
		"two segments swapped":        splice(four[:H], four[H+C:H+2*C], four[H:H+C], four[H+2*C:]),
		"a full segment appended":     splice(four, four[H:H+C]),
		"the last segment twice":      splice(four, four[H+3*C:]),
	}
	empty := seal(nil)
	if got, err := open(empty, &StreamVerify{Size: 0, SHA256: func() []byte { s := sha256.Sum256(nil); return s[:] }()}); err != nil || len(got) != 0 {
		t.Fatalf("an empty file: %d bytes, %v", len(got), err)
	}
	bent := bytes.Clone(empty)
	bent[len(bent)-1] ^= 1
	bad["an empty file's tag altered"] = bent
	for name, ct := range bad {
		if _, err := open(ct, nil); !errors.Is(err, ErrIntegrity) {
			t.Errorf("%s: %v, want ErrIntegrity", name, err)
		}
	}
}
