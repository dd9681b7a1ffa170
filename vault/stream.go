package vault

import (
	"errors"
	"fmt"
	"io"

	"github.com/parley-mediation/parley/e2ee"
)

// The stream format lives in package e2ee (stream.go there), so clients
// that encrypt documents end to end write exactly the bytes this server
// layer writes, without importing the server. docs/vault-format.md
// specifies it; these names keep the vault's own vocabulary.
const (
	// SegmentSize is the plaintext size of every segment but the last.
	SegmentSize = e2ee.StreamSegmentSize
	// HeaderSize is the size of the stream header.
	HeaderSize    = e2ee.StreamHeaderSize
	segmentCTSize = e2ee.StreamSegmentCTSize
)

// ErrIntegrity means stored ciphertext did not authenticate or does not
// match its recorded size and SHA-256 (e2ee.ErrIntegrity).
var ErrIntegrity = e2ee.ErrIntegrity

// Binding names the document version a stream belongs to.
type Binding = e2ee.StreamBinding

// Verify says what a whole-stream Reader checks besides each segment.
type Verify = e2ee.StreamVerify

// Writer encrypts a stream; Reader decrypts and authenticates one.
type (
	Writer = e2ee.StreamWriter
	Reader = e2ee.StreamReader
)

// NewWriter, NewReader and NewRangeReader: see package e2ee.
var (
	NewWriter      = e2ee.NewStreamWriter
	NewReader      = e2ee.NewStreamReader
	NewRangeReader = e2ee.NewStreamRangeReader
	SegmentCount   = e2ee.StreamSegmentCount
	CiphertextSize = e2ee.StreamCiphertextSize
	SegmentOffset  = e2ee.StreamSegmentOffset
)

func describe(b Binding) string {
	return fmt.Sprintf("document %s version %d", b.Doc, b.Version)
}

// sealInto encrypts everything src yields into p, writing the header and
// then sealing each segment in place in one of p's chunks: no copy beyond
// reading src into the chunk. It is the Writer's format, for the upload
// path, where a Write per segment would cost two extra copies. It does not
// close p.
func sealInto(p *aheadPipe, src io.Reader, dataKey []byte, b Binding) error {
	header := e2ee.NewStreamHeader()
	aead, prefix, err := e2ee.StreamKeys(dataKey, e2ee.StreamSalt(header), b)
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
		if seg >= e2ee.MaxStreamSegments {
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
		nonce := e2ee.StreamNonce(prefix, seg, last)
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
