package e2ee

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

// The vault's streaming format, shared by the server's envelope layer
// (package vault) and by clients that encrypt a document end to end before
// upload (docdoc.go): one implementation, so both layers and every client
// read and write exactly the same bytes.
//
// The stream format (docs/vault-format.md has the full description):
//
//	header   = magic (16 bytes, "parley-vault-v1\n") || salt (32 random bytes)
//	segments = seal(0) || seal(1) || … || seal(n-1)
//
// Plaintext is cut into StreamSegmentSize segments; only the last may be
// shorter (or empty, when the whole plaintext is). Each is sealed with AES-256-GCM
// under a stream key, with nonce = prefix (7 bytes) || segment index (4
// bytes, big-endian) || last flag (1 byte: 1 on the final segment, else 0).
// The stream key and the nonce prefix come from HKDF-SHA-256 over the
// document version's data key, with the salt as HKDF salt and the binding
// (case id, document id, version) in the info string. This is the
// construction of Tink's AES-GCM-HKDF streaming AEAD and of age's STREAM.
const (
	// StreamSegmentSize is the plaintext size of every segment but the last.
	StreamSegmentSize = 64 << 10
	// StreamHeaderSize is the size of the stream header.
	StreamHeaderSize = len(streamMagic) + streamSaltSize

	streamMagic         = "parley-vault-v1\n"
	streamSaltSize      = 32
	streamTagSize       = 16
	StreamPrefixSize    = 7
	streamSegmentCTSize = StreamSegmentSize + streamTagSize
	// maxStreamSegments keeps the 32-bit segment counter from wrapping.
	maxStreamSegments = math.MaxUint32
)

// ErrIntegrity means stored ciphertext did not authenticate or does not
// match its recorded size and SHA-256: it was changed, truncated, extended,
// reordered, or belongs to another document or version. Nothing read from
// such a stream may be trusted.
var ErrIntegrity = errors.New("integrity check failed")

// StreamBinding names the document version a stream belongs to. It is bound into
// the key derivation, so a stream (or any segment of it) moved to another
// document or version fails to open.
type StreamBinding struct {
	Case    string
	Doc     string
	Version int
}

func (b StreamBinding) Info() []byte {
	var buf []byte
	buf = append(buf, "parley/vault/stream/v1\x00"...)
	for _, s := range []string{b.Case, b.Doc} {
		buf = binary.BigEndian.AppendUint16(buf, uint16(len(s)))
		buf = append(buf, s...)
	}
	buf = binary.BigEndian.AppendUint64(buf, uint64(b.Version))
	buf = binary.BigEndian.AppendUint32(buf, StreamSegmentSize)
	return buf
}

// StreamKeys derives the segment AEAD and nonce prefix from a data key.
func StreamKeys(dataKey, salt []byte, b StreamBinding) (cipher.AEAD, [StreamPrefixSize]byte, error) {
	var prefix [StreamPrefixSize]byte
	if len(dataKey) != 32 {
		return nil, prefix, errors.New("e2ee: stream: data key must be 32 bytes")
	}
	okm, err := hkdf.Key(sha256.New, dataKey, salt, string(b.Info()), 32+StreamPrefixSize)
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

func StreamNonce(prefix [StreamPrefixSize]byte, i uint64, last bool) [12]byte {
	var n [12]byte
	copy(n[:], prefix[:])
	binary.BigEndian.PutUint32(n[StreamPrefixSize:], uint32(i))
	if last {
		n[11] = 1
	}
	return n
}

// NewStreamHeader returns a fresh stream header: the magic and a random
// salt. StreamKeys derives the segment key from it (StreamSalt).
func NewStreamHeader() []byte {
	h := make([]byte, StreamHeaderSize)
	copy(h, streamMagic)
	rand.Read(h[len(streamMagic):])
	return h
}

// StreamSalt is the salt part of a stream header.
func StreamSalt(header []byte) []byte { return header[len(streamMagic):] }

// StreamSegmentCTSize is the stored size of every segment but the last.
const StreamSegmentCTSize = streamSegmentCTSize

// MaxStreamSegments bounds a stream's segment count (the 32-bit counter).
const MaxStreamSegments = maxStreamSegments

// StreamPlainSize is the plaintext size of a stream of ctSize stored
// bytes; ok is false when no stream has that length.
func StreamPlainSize(ctSize int64) (size int64, ok bool) {
	n := ctSize - int64(StreamHeaderSize)
	if n < streamTagSize {
		return 0, false
	}
	segs := (n + streamSegmentCTSize - 1) / streamSegmentCTSize
	size = n - segs*streamTagSize
	return size, size >= 0 && StreamCiphertextSize(size) == ctSize
}

// CheckStreamHeader reports whether header starts like a stream header.
func CheckStreamHeader(header []byte) bool {
	return len(header) >= len(streamMagic) && string(header[:len(streamMagic)]) == streamMagic
}

// StreamSegmentCount is the number of segments of a plaintext of size bytes.
func StreamSegmentCount(size int64) int64 {
	if size <= 0 {
		return 1
	}
	return (size + StreamSegmentSize - 1) / StreamSegmentSize
}

// StreamCiphertextSize is the stored size of a plaintext of size bytes.
func StreamCiphertextSize(size int64) int64 {
	return int64(StreamHeaderSize) + size + StreamSegmentCount(size)*streamTagSize
}

// StreamWriter encrypts a stream. Write plaintext to it, then Close it to seal
// the last segment; Close does not close the underlying writer. It holds
// one segment in memory, whatever the size of the stream.
type StreamWriter struct {
	w      io.Writer
	aead   cipher.AEAD
	prefix [StreamPrefixSize]byte
	seg    uint64
	buf    []byte // plaintext of the current segment; capacity streamSegmentCTSize
	closed bool
	err    error
}

// NewStreamWriter writes the stream header to w and returns a StreamWriter sealing
// with a key derived from dataKey (32 bytes) and b.
func NewStreamWriter(w io.Writer, dataKey []byte, b StreamBinding) (*StreamWriter, error) {
	header := make([]byte, StreamHeaderSize)
	copy(header, streamMagic)
	salt := header[len(streamMagic):]
	rand.Read(salt)
	aead, prefix, err := StreamKeys(dataKey, salt, b)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(header); err != nil {
		return nil, err
	}
	return &StreamWriter{w: w, aead: aead, prefix: prefix, buf: make([]byte, 0, streamSegmentCTSize)}, nil
}

// Write encrypts p. A full segment is sealed only once more data arrives,
// since until then it may be the last one.
func (w *StreamWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, errors.New("e2ee: stream: write after close")
	}
	n := 0
	for len(p) > 0 {
		if len(w.buf) == StreamSegmentSize {
			if err := w.flush(false); err != nil {
				return n, err
			}
		}
		k := copy(w.buf[len(w.buf):StreamSegmentSize], p)
		w.buf = w.buf[:len(w.buf)+k]
		p = p[k:]
		n += k
	}
	return n, nil
}

// Close seals the last segment (possibly empty) and writes it.
func (w *StreamWriter) Close() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return nil
	}
	w.closed = true
	return w.flush(true)
}

func (w *StreamWriter) flush(last bool) error {
	if w.seg >= maxStreamSegments {
		w.err = errors.New("e2ee: stream: stream too long")
		return w.err
	}
	nonce := StreamNonce(w.prefix, w.seg, last)
	ct := w.aead.Seal(w.buf[:0], nonce[:], w.buf, nil)
	if _, err := w.w.Write(ct); err != nil {
		w.err = err
		return err
	}
	w.seg++
	w.buf = w.buf[:0]
	return nil
}

// StreamVerify says what a whole-stream StreamReader checks besides each segment's
// authenticity, before it releases the last segment: the plaintext's size
// and SHA-256 as recorded when it was written.
type StreamVerify struct {
	Size   int64
	SHA256 []byte // nil: size only
}

// StreamReader decrypts and authenticates a stream. Every segment is checked
// before any of its bytes are returned; the last segment is returned only
// once the whole stream has been checked (and, with StreamVerify, its size and
// SHA-256 match), so a reader that sees io.EOF has seen exactly the
// plaintext that was written. Any failure is ErrIntegrity.
type StreamReader struct {
	src    io.Reader
	aead   cipher.AEAD
	prefix [StreamPrefixSize]byte
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
	verify   *StreamVerify
	hash     hash.Hash
	total    int64
	describe string
}

// NewStreamReader reads the header from src and returns a StreamReader over the whole
// stream, checking v (if not nil) on top of every segment's authenticity.
func NewStreamReader(src io.Reader, dataKey []byte, b StreamBinding, v *StreamVerify) (*StreamReader, error) {
	header := make([]byte, StreamHeaderSize)
	if _, err := io.ReadFull(src, header); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%s: %w: stream shorter than its header", describeStream(b), ErrIntegrity)
		}
		return nil, err
	}
	r, err := newStreamReader(src, header, dataKey, b)
	if err != nil {
		return nil, err
	}
	r.verify = v
	if v != nil && v.SHA256 != nil {
		r.hash = sha256.New()
	}
	return r, nil
}

// NewStreamRangeReader returns a StreamReader of segments first..last (inclusive) of a
// stream whose plaintext is size bytes: header is the stream's header and
// src yields exactly those segments' ciphertext, from byte
// StreamSegmentOffset(first). Each segment is authenticated, and its last flag
// checked against the layout, but the whole-stream SHA-256 cannot be.
func NewStreamRangeReader(src io.Reader, header, dataKey []byte, b StreamBinding, size int64, first, last int64) (*StreamReader, error) {
	n := StreamSegmentCount(size)
	if first < 0 || last < first || last >= n {
		return nil, fmt.Errorf("e2ee: stream: segments %d-%d outside a stream of %d", first, last, n)
	}
	r, err := newStreamReader(src, header, dataKey, b)
	if err != nil {
		return nil, err
	}
	r.ranged, r.nSeg, r.seg, r.endSeg, r.plain = true, uint64(n), uint64(first), uint64(last), size
	return r, nil
}

// StreamSegmentOffset is where segment i starts in the stored stream.
func StreamSegmentOffset(i int64) int64 { return int64(StreamHeaderSize) + i*streamSegmentCTSize }

func newStreamReader(src io.Reader, header, dataKey []byte, b StreamBinding) (*StreamReader, error) {
	if len(header) != StreamHeaderSize || !bytes.Equal(header[:len(streamMagic)], []byte(streamMagic)) {
		return nil, fmt.Errorf("%s: %w: not a Parley vault stream (bad header)", describeStream(b), ErrIntegrity)
	}
	aead, prefix, err := StreamKeys(dataKey, header[len(streamMagic):], b)
	if err != nil {
		return nil, err
	}
	return &StreamReader{src: src, aead: aead, prefix: prefix, ct: make([]byte, streamSegmentCTSize+1), describe: describeStream(b)}, nil
}

func describeStream(b StreamBinding) string {
	return fmt.Sprintf("document %s version %d", b.Doc, b.Version)
}

func (r *StreamReader) fail(format string, a ...any) error {
	r.err = fmt.Errorf("%s: %w: %s", r.describe, ErrIntegrity, fmt.Sprintf(format, a...))
	r.pt = nil
	return r.err
}

// Read implements io.Reader.
func (r *StreamReader) Read(p []byte) (int, error) {
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
func (r *StreamReader) WriteTo(w io.Writer) (int64, error) {
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
func (r *StreamReader) next() error {
	var ctLen int
	var last bool
	if r.ranged {
		last = r.seg == r.nSeg-1
		ctLen = streamSegmentCTSize
		if last {
			ctLen = int(r.plain-int64(r.seg)*StreamSegmentSize) + streamTagSize
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
		if r.seg >= maxStreamSegments {
			return r.fail("too many segments")
		}
		// Read a whole segment and one byte more: if that byte exists,
		// this segment is not the last.
		k := copy(r.ct, r.carry)
		n, err := io.ReadFull(r.src, r.ct[k:])
		n += k
		switch {
		case err == nil:
			ctLen, last = streamSegmentCTSize, false
			r.carry = append(r.carry[:0], r.ct[streamSegmentCTSize])
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			ctLen, last = n, true
			r.carry = r.carry[:0]
		default:
			r.err = err
			return err
		}
		if ctLen < streamTagSize {
			return r.fail("truncated: segment %d is %d bytes", r.seg, ctLen)
		}
	}
	nonce := StreamNonce(r.prefix, r.seg, last)
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
