package vault

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
)

// The stream format (docs/vault-format.md has the full description):
//
//	header   = magic (16 bytes, "parley-vault-v1\n") || salt (32 random bytes)
//	segments = seal(0) || seal(1) || … || seal(n-1)
//
// Plaintext is cut into SegmentSize segments; only the last may be shorter
// (or empty, when the whole plaintext is). Each is sealed with AES-256-GCM
// under a stream key, with nonce = prefix (7 bytes) || segment index (4
// bytes, big-endian) || last flag (1 byte: 1 on the final segment, else 0).
// The stream key and the nonce prefix come from HKDF-SHA-256 over the
// document version's data key, with the salt as HKDF salt and the binding
// (case id, document id, version) in the info string. This is the
// construction of Tink's AES-GCM-HKDF streaming AEAD and of age's STREAM.
const (
	// SegmentSize is the plaintext size of every segment but the last.
	SegmentSize = 64 << 10
	// HeaderSize is the size of the stream header.
	HeaderSize = len(streamMagic) + saltSize

	streamMagic   = "parley-vault-v1\n"
	saltSize      = 32
	tagSize       = 16
	prefixSize    = 7
	segmentCTSize = SegmentSize + tagSize
	// maxSegments keeps the 32-bit segment counter from wrapping.
	maxSegments = math.MaxUint32
)

// ErrIntegrity means stored ciphertext did not authenticate or does not
// match its recorded size and SHA-256: it was changed, truncated, extended,
// reordered, or belongs to another document or version. Nothing read from
// such a stream may be trusted.
var ErrIntegrity = errors.New("integrity check failed")

// Binding names the document version a stream belongs to. It is bound into
// the key derivation, so a stream (or any segment of it) moved to another
// document or version fails to open.
type Binding struct {
	Case    string
	Doc     string
	Version int
}

func (b Binding) info() []byte {
	var buf []byte
	buf = append(buf, "parley/vault/stream/v1\x00"...)
	for _, s := range []string{b.Case, b.Doc} {
		buf = binary.BigEndian.AppendUint16(buf, uint16(len(s)))
		buf = append(buf, s...)
	}
	buf = binary.BigEndian.AppendUint64(buf, uint64(b.Version))
	buf = binary.BigEndian.AppendUint32(buf, SegmentSize)
	return buf
}

// streamKeys derives the segment AEAD and nonce prefix from a data key.
func streamKeys(dataKey, salt []byte, b Binding) (cipher.AEAD, [prefixSize]byte, error) {
	var prefix [prefixSize]byte
	if len(dataKey) != 32 {
		return nil, prefix, errors.New("vault: data key must be 32 bytes")
	}
	okm, err := hkdf.Key(sha256.New, dataKey, salt, string(b.info()), 32+prefixSize)
	if err != nil {
		return nil, prefix, err
	}
	block, err := aes.NewCipher(okm[:32])
	if err != nil {
		return nil, prefix, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, prefix, err
	}
	copy(prefix[:], okm[32:])
	return aead, prefix, nil
}

func segmentNonce(prefix [prefixSize]byte, i uint64, last bool) [12]byte {
	var n [12]byte
	copy(n[:], prefix[:])
	binary.BigEndian.PutUint32(n[prefixSize:], uint32(i))
	if last {
		n[11] = 1
	}
	return n
}

// SegmentCount is the number of segments of a plaintext of size bytes.
func SegmentCount(size int64) int64 {
	if size <= 0 {
		return 1
	}
	return (size + SegmentSize - 1) / SegmentSize
}

// CiphertextSize is the stored size of a plaintext of size bytes.
func CiphertextSize(size int64) int64 {
	return int64(HeaderSize) + size + SegmentCount(size)*tagSize
}

// Writer encrypts a stream. Write plaintext to it, then Close it to seal
// the last segment; Close does not close the underlying writer. It holds
// one segment in memory, whatever the size of the stream.
type Writer struct {
	w      io.Writer
	aead   cipher.AEAD
	prefix [prefixSize]byte
	seg    uint64
	buf    []byte // plaintext of the current segment; capacity segmentCTSize
	closed bool
	err    error
}

// NewWriter writes the stream header to w and returns a Writer sealing
// with a key derived from dataKey (32 bytes) and b.
func NewWriter(w io.Writer, dataKey []byte, b Binding) (*Writer, error) {
	header := make([]byte, HeaderSize)
	copy(header, streamMagic)
	salt := header[len(streamMagic):]
	rand.Read(salt)
	aead, prefix, err := streamKeys(dataKey, salt, b)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(header); err != nil {
		return nil, err
	}
	return &Writer{w: w, aead: aead, prefix: prefix, buf: make([]byte, 0, segmentCTSize)}, nil
}

// Write encrypts p. A full segment is sealed only once more data arrives,
// since until then it may be the last one.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, errors.New("vault: write after close")
	}
	n := 0
	for len(p) > 0 {
		if len(w.buf) == SegmentSize {
			if err := w.flush(false); err != nil {
				return n, err
			}
		}
		k := copy(w.buf[len(w.buf):SegmentSize], p)
		w.buf = w.buf[:len(w.buf)+k]
		p = p[k:]
		n += k
	}
	return n, nil
}

// Close seals the last segment (possibly empty) and writes it.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return nil
	}
	w.closed = true
	return w.flush(true)
}

func (w *Writer) flush(last bool) error {
	if w.seg >= maxSegments {
		w.err = errors.New("vault: stream too long")
		return w.err
	}
	nonce := segmentNonce(w.prefix, w.seg, last)
	ct := w.aead.Seal(w.buf[:0], nonce[:], w.buf, nil)
	if _, err := w.w.Write(ct); err != nil {
		w.err = err
		return err
	}
	w.seg++
	w.buf = w.buf[:0]
	return nil
}

// sealInto encrypts everything src yields into p, writing the header and
// then sealing each segment in place in one of p's chunks: no copy beyond
// reading src into the chunk. It is the Writer's format, for the upload
// path, where a Write per segment would cost two extra copies. It does not
// close p.
func sealInto(p *aheadPipe, src io.Reader, dataKey []byte, b Binding) error {
	header := make([]byte, HeaderSize)
	copy(header, streamMagic)
	rand.Read(header[len(streamMagic):])
	aead, prefix, err := streamKeys(dataKey, header[len(streamMagic):], b)
	if err != nil {
		return err
	}
	if _, err := p.Write(header); err != nil {
		return err
	}
	fill := func() ([]byte, int, error) {
		c, err := p.chunk()
		if err != nil {
			return nil, 0, err
		}
		n, err := io.ReadFull(src, c[:SegmentSize])
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = io.EOF
		}
		return c, n, err
	}
	cur, n, rerr := fill()
	for seg := uint64(0); ; seg++ {
		if seg >= maxSegments {
			return errors.New("vault: stream too long")
		}
		var next []byte
		var m int
		last := rerr != nil
		if rerr != nil && rerr != io.EOF {
			return rerr
		}
		if !last {
			// A full segment: it is the last one only if nothing follows.
			next, m, rerr = fill()
			if rerr != nil && rerr != io.EOF {
				return rerr
			}
			last = m == 0 && rerr == io.EOF
		}
		nonce := segmentNonce(prefix, seg, last)
		ct := aead.Seal(cur[:0], nonce[:], cur[:n], nil)
		if err := p.send(ct); err != nil {
			return err
		}
		if last {
			if next != nil {
				p.recycle(next)
			}
			return nil
		}
		cur, n = next, m
	}
}

// Verify says what a whole-stream Reader checks besides each segment's
// authenticity, before it releases the last segment: the plaintext's size
// and SHA-256 as recorded when it was written.
type Verify struct {
	Size   int64
	SHA256 []byte // nil: size only
}

// Reader decrypts and authenticates a stream. Every segment is checked
// before any of its bytes are returned; the last segment is returned only
// once the whole stream has been checked (and, with Verify, its size and
// SHA-256 match), so a reader that sees io.EOF has seen exactly the
// plaintext that was written. Any failure is ErrIntegrity.
type Reader struct {
	src    io.Reader
	aead   cipher.AEAD
	prefix [prefixSize]byte
	seg    uint64

	// Whole-stream mode finds the last segment by reading one byte ahead.
	// Range mode knows the layout from the plaintext size.
	ranged   bool
	nSeg     uint64 // range mode: segments in the whole stream
	endSeg   uint64 // range mode: stop after this segment
	plain    int64  // range mode: plaintext size of the whole stream
	carry    []byte // whole-stream mode: the byte read ahead
	ct       []byte // one ciphertext segment and the byte ahead
	pt       []byte // decrypted bytes not yet returned
	done     bool
	err      error
	verify   *Verify
	hash     hash.Hash
	total    int64
	describe string
}

// NewReader reads the header from src and returns a Reader over the whole
// stream, checking v (if not nil) on top of every segment's authenticity.
func NewReader(src io.Reader, dataKey []byte, b Binding, v *Verify) (*Reader, error) {
	header := make([]byte, HeaderSize)
	if _, err := io.ReadFull(src, header); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%s: %w: stream shorter than its header", describe(b), ErrIntegrity)
		}
		return nil, err
	}
	r, err := newReader(src, header, dataKey, b)
	if err != nil {
		return nil, err
	}
	r.verify = v
	if v != nil && v.SHA256 != nil {
		r.hash = sha256.New()
	}
	return r, nil
}

// NewRangeReader returns a Reader of segments first..last (inclusive) of a
// stream whose plaintext is size bytes: header is the stream's header and
// src yields exactly those segments' ciphertext, from byte
// SegmentOffset(first). Each segment is authenticated, and its last flag
// checked against the layout, but the whole-stream SHA-256 cannot be.
func NewRangeReader(src io.Reader, header, dataKey []byte, b Binding, size int64, first, last int64) (*Reader, error) {
	n := SegmentCount(size)
	if first < 0 || last < first || last >= n {
		return nil, fmt.Errorf("vault: segments %d-%d outside a stream of %d", first, last, n)
	}
	r, err := newReader(src, header, dataKey, b)
	if err != nil {
		return nil, err
	}
	r.ranged, r.nSeg, r.seg, r.endSeg, r.plain = true, uint64(n), uint64(first), uint64(last), size
	return r, nil
}

// SegmentOffset is where segment i starts in the stored stream.
func SegmentOffset(i int64) int64 { return int64(HeaderSize) + i*segmentCTSize }

func newReader(src io.Reader, header, dataKey []byte, b Binding) (*Reader, error) {
	if len(header) != HeaderSize || !bytes.Equal(header[:len(streamMagic)], []byte(streamMagic)) {
		return nil, fmt.Errorf("%s: %w: not a Parley vault stream (bad header)", describe(b), ErrIntegrity)
	}
	aead, prefix, err := streamKeys(dataKey, header[len(streamMagic):], b)
	if err != nil {
		return nil, err
	}
	return &Reader{src: src, aead: aead, prefix: prefix, ct: make([]byte, segmentCTSize+1), describe: describe(b)}, nil
}

func describe(b Binding) string {
	return fmt.Sprintf("document %s version %d", b.Doc, b.Version)
}

func (r *Reader) fail(format string, a ...any) error {
	r.err = fmt.Errorf("%s: %w: %s", r.describe, ErrIntegrity, fmt.Sprintf(format, a...))
	r.pt = nil
	return r.err
}

// Read implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) {
	for len(r.pt) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.done {
			return 0, io.EOF
		}
		if err := r.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.pt)
	r.pt = r.pt[n:]
	return n, nil
}

// WriteTo implements io.WriterTo, so io.Copy needs no extra buffer.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		for len(r.pt) == 0 {
			if r.err != nil {
				return total, r.err
			}
			if r.done {
				return total, nil
			}
			if err := r.next(); err != nil {
				return total, err
			}
		}
		n, err := w.Write(r.pt)
		total += int64(n)
		r.pt = r.pt[n:]
		if err != nil {
			return total, err
		}
	}
}

// next reads, authenticates and (for the last segment) verifies one segment.
func (r *Reader) next() error {
	var ctLen int
	var last bool
	if r.ranged {
		last = r.seg == r.nSeg-1
		ctLen = segmentCTSize
		if last {
			ctLen = int(r.plain-int64(r.seg)*SegmentSize) + tagSize
		}
		n, err := io.ReadFull(r.src, r.ct[:ctLen])
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return r.fail("truncated in segment %d (%d of %d bytes)", r.seg, n, ctLen)
			}
			r.err = err
			return err
		}
	} else {
		if r.seg >= maxSegments {
			return r.fail("too many segments")
		}
		// Read a whole segment and one byte more: if that byte exists,
		// this segment is not the last.
		k := copy(r.ct, r.carry)
		n, err := io.ReadFull(r.src, r.ct[k:])
		n += k
		switch {
		case err == nil:
			ctLen, last = segmentCTSize, false
			r.carry = append(r.carry[:0], r.ct[segmentCTSize])
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			ctLen, last = n, true
			r.carry = r.carry[:0]
		default:
			r.err = err
			return err
		}
		if ctLen < tagSize {
			return r.fail("truncated: segment %d is %d bytes", r.seg, ctLen)
		}
	}
	nonce := segmentNonce(r.prefix, r.seg, last)
	pt, err := r.aead.Open(r.ct[:0], nonce[:], r.ct[:ctLen], nil)
	if err != nil {
		what := "segment %d does not authenticate"
		if last && !r.ranged {
			what = "segment %d does not authenticate as the last one (truncated, extended or altered)"
		}
		return r.fail(what, r.seg)
	}
	if last && len(pt) == 0 && r.seg > 0 {
		return r.fail("empty last segment %d", r.seg)
	}
	r.total += int64(len(pt))
	if r.hash != nil {
		r.hash.Write(pt)
	}
	if last && r.verify != nil {
		if r.total != r.verify.Size {
			return r.fail("plaintext is %d bytes, recorded size is %d", r.total, r.verify.Size)
		}
		if r.hash != nil && subtle.ConstantTimeCompare(r.hash.Sum(nil), r.verify.SHA256) != 1 {
			return r.fail("plaintext SHA-256 differs from the recorded one")
		}
	}
	r.pt = pt
	if last || (r.ranged && r.seg == r.endSeg) {
		r.done = true
	}
	r.seg++
	return nil
}
