package vault

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"testing"
)

var testBinding = Binding{Case: "c_test", Doc: "d_test", Version: 1}

func seal(t testing.TB, key, plain []byte, b Binding, chunk int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, key, b)
	if err != nil {
		t.Fatal(err)
	}
	for p := plain; len(p) > 0; {
		n := min(chunk, len(p))
		if _, err := w.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func open(key, sealed []byte, b Binding, v *Verify) ([]byte, error) {
	r, err := NewReader(bytes.NewReader(sealed), key, b, v)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func TestStreamRoundTrip(t *testing.T) {
	t.Parallel()
	key := randomBytes(32)
	for _, size := range []int{0, 1, 100, SegmentSize - 1, SegmentSize, SegmentSize + 1, 2 * SegmentSize, 3*SegmentSize + 17} {
		for _, chunk := range []int{1 << 20, 4096, 7} {
			if chunk == 7 && size > SegmentSize+1 {
				continue // byte-at-a-time writes are slow and prove nothing more
			}
			plain := randomBytes(size)
			sealed := seal(t, key, plain, testBinding, chunk)
			if int64(len(sealed)) != CiphertextSize(int64(size)) {
				t.Fatalf("size %d: ciphertext %d bytes, CiphertextSize says %d", size, len(sealed), CiphertextSize(int64(size)))
			}
			sum := sha256.Sum256(plain)
			got, err := open(key, sealed, testBinding, &Verify{Size: int64(size), SHA256: sum[:]})
			if err != nil {
				t.Fatalf("size %d chunk %d: %v", size, chunk, err)
			}
			if !bytes.Equal(got, plain) {
				t.Fatalf("size %d chunk %d: plaintext differs", size, chunk)
			}
		}
	}
}

func TestStreamIsRandomisedAndHidesPlaintext(t *testing.T) {
	t.Parallel()
	key := randomBytes(32)
	plain := bytes.Repeat([]byte("CANARY-stream "), 10000)
	a, b := seal(t, key, plain, testBinding, 1<<20), seal(t, key, plain, testBinding, 1<<20)
	if bytes.Equal(a, b) {
		t.Fatal("two encryptions of the same plaintext are identical")
	}
	if bytes.Contains(a, []byte("CANARY")) {
		t.Fatal("ciphertext contains plaintext")
	}
}

// Every kind of damage is an ErrIntegrity, and no byte of a damaged
// segment is ever returned.
func TestStreamTampering(t *testing.T) {
	t.Parallel()
	key := randomBytes(32)
	plain := randomBytes(3*SegmentSize + 1000) // 4 segments
	sealed := seal(t, key, plain, testBinding, 1<<20)
	seg := func(i int) []byte {
		start := int(SegmentOffset(int64(i)))
		end := min(start+segmentCTSize, len(sealed))
		return sealed[start:end]
	}
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	header := sealed[:HeaderSize]
	other := seal(t, key, plain, Binding{Case: "c_test", Doc: "d_other", Version: 1}, 1<<20)
	v2 := seal(t, key, plain, Binding{Case: "c_test", Doc: "d_test", Version: 2}, 1<<20)
	cases := map[string][]byte{
		"flip a header byte":     flip(sealed, 3),
		"flip a salt byte":       flip(sealed, HeaderSize-1),
		"flip a body byte":       flip(sealed, HeaderSize+SegmentSize+5),
		"flip a tag byte":        flip(sealed, len(sealed)-1),
		"drop the last segment":  join(header, seg(0), seg(1), seg(2)),
		"drop a middle segment":  join(header, seg(0), seg(2), seg(3)),
		"swap two segments":      join(header, seg(1), seg(0), seg(2), seg(3)),
		"repeat a segment":       join(header, seg(0), seg(0), seg(1), seg(2), seg(3)),
		"truncate mid-segment":   sealed[:len(sealed)-500],
		"truncate to header":     header,
		"truncate in header":     sealed[:10],
		"append garbage":         join(sealed, []byte("more")),
		"append a segment":       join(sealed, seg(1)),
		"empty":                  {},
		"other document":         other,
		"other version":          v2,
		"splice other document":  join(header, seg(0), other[SegmentOffset(1):]),
		"header of other stream": join(other[:HeaderSize], sealed[HeaderSize:]),
	}
	for name, bad := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := open(key, bad, testBinding, nil)
			wantIntegrity(t, name, err)
			// Whatever was returned before the failure is a prefix of the
			// true plaintext, and never the last segment.
			if !bytes.HasPrefix(plain, got) || len(got) > 3*SegmentSize {
				t.Fatalf("returned %d bytes that are not an authenticated prefix", len(got))
			}
		})
	}
	if _, err := open(randomBytes(32), sealed, testBinding, nil); !errors.Is(err, ErrIntegrity) {
		t.Fatalf("wrong key: %v", err)
	}
}

// The recorded size and SHA-256 are checked before the last bytes go out.
func TestStreamVerifyWithholdsLastSegment(t *testing.T) {
	t.Parallel()
	key := randomBytes(32)
	plain := randomBytes(2*SegmentSize + 10)
	sealed := seal(t, key, plain, testBinding, 1<<20)
	sum := sha256.Sum256(plain)
	wrong := sha256.Sum256([]byte("something else"))
	for name, v := range map[string]*Verify{
		"wrong hash": {Size: int64(len(plain)), SHA256: wrong[:]},
		"wrong size": {Size: int64(len(plain)) + 1, SHA256: sum[:]},
		"short size": {Size: 5},
	} {
		got, err := open(key, sealed, testBinding, v)
		wantIntegrity(t, name, err)
		if len(got) > 2*SegmentSize {
			t.Fatalf("%s: %d bytes released, including the unverified last segment", name, len(got))
		}
	}
}

func TestStreamRanges(t *testing.T) {
	t.Parallel()
	key := randomBytes(32)
	size := int64(3*SegmentSize + 1234)
	plain := randomBytes(int(size))
	sealed := seal(t, key, plain, testBinding, 1<<20)
	header := sealed[:HeaderSize]
	read := func(off, n int64) ([]byte, error) {
		first, last := off/SegmentSize, (off+n-1)/SegmentSize
		end := min(SegmentOffset(last+1), int64(len(sealed)))
		r, err := NewRangeReader(bytes.NewReader(sealed[SegmentOffset(first):end]), header, key, testBinding, size, first, last)
		if err != nil {
			return nil, err
		}
		if _, err := io.CopyN(io.Discard, r, off-first*SegmentSize); err != nil {
			return nil, err
		}
		return io.ReadAll(io.LimitReader(r, n))
	}
	for _, rg := range [][2]int64{{0, 1}, {0, SegmentSize}, {SegmentSize - 1, 2}, {SegmentSize, SegmentSize}, {100, 2 * SegmentSize}, {size - 1, 1}, {3 * SegmentSize, 1234}, {0, size}} {
		got, err := read(rg[0], rg[1])
		if err != nil {
			t.Fatalf("range %v: %v", rg, err)
		}
		if !bytes.Equal(got, plain[rg[0]:rg[0]+rg[1]]) {
			t.Fatalf("range %v: wrong bytes", rg)
		}
	}
	// A range over a damaged segment fails; the last segment must carry
	// the last flag even when read on its own.
	damaged := flip(sealed, int(SegmentOffset(1))+7)
	r, _ := NewRangeReader(bytes.NewReader(damaged[SegmentOffset(1):SegmentOffset(2)]), header, key, testBinding, size, 1, 1)
	_, err := io.ReadAll(r)
	wantIntegrity(t, "damaged range", err)
	// Presenting a middle segment where the last belongs fails.
	r, _ = NewRangeReader(bytes.NewReader(sealed[SegmentOffset(2):SegmentOffset(3)]), header, key, testBinding, 2*SegmentSize+SegmentSize, 2, 2)
	_, err = io.ReadAll(r)
	wantIntegrity(t, "middle segment as last", err)
}

func flip(b []byte, i int) []byte {
	out := bytes.Clone(b)
	out[i] ^= 0x20
	return out
}

// sealInto (the upload path) writes exactly the Writer's format.
func TestSealIntoMatchesFormat(t *testing.T) {
	t.Parallel()
	key := randomBytes(32)
	for _, size := range []int{0, 1, SegmentSize - 1, SegmentSize, SegmentSize + 1, 2 * SegmentSize, 5*SegmentSize + 3} {
		plain := randomBytes(size)
		p := newAheadPipe(4, segmentCTSize)
		go func() { p.CloseWithError(sealInto(p, bytes.NewReader(plain), key, testBinding)) }()
		sealed, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(sealed)) != CiphertextSize(int64(size)) {
			t.Fatalf("size %d: %d bytes of ciphertext, want %d", size, len(sealed), CiphertextSize(int64(size)))
		}
		sum := sha256.Sum256(plain)
		got, err := open(key, sealed, testBinding, &Verify{Size: int64(size), SHA256: sum[:]})
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("size %d: %v", size, err)
		}
	}
	// A reader that stops early stops the writer too.
	p := newAheadPipe(2, segmentCTSize)
	done := make(chan error, 1)
	go func() { done <- sealInto(p, bytes.NewReader(randomBytes(10*SegmentSize)), key, testBinding) }()
	p.CloseRead()
	if err := <-done; !errors.Is(err, errReaderClosed) {
		t.Fatalf("writer after the reader left: %v", err)
	}
}
