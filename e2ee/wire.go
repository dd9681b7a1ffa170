package e2ee

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// The binary encoding every protocol object uses (docs/protocol.md, "Encoding"):
//
//	object = "PE" version:u8 type:u8 field*
//	field  = length:u32be value[length]
//
// Each object type has a fixed sequence of fields; integers are fields of
// exactly 2, 4 or 8 bytes (big-endian); a list is one field whose value is
// a sequence of fields, each element itself a field holding the element's
// fields. Decoders refuse missing fields, trailing bytes, wrong integer
// widths and invalid UTF-8, so one object has exactly one encoding — which
// is what signatures and hashes are computed over.

// Version is the protocol version in every object.
const Version = 1

// Object types.
const (
	TypeDevice     = 0x01
	TypeStatement  = 0x02
	TypeKeyDist    = 0x03
	TypeMessage    = 0x04
	TypePlaintext  = 0x05
	TypeRevocation = 0x06
	TypeEndorse    = 0x07
	TypeKeyShare   = 0x08
	TypeShared     = 0x09
)

var typeNames = map[byte]string{
	TypeDevice: "device", TypeStatement: "statement", TypeKeyDist: "keydist",
	TypeMessage: "message", TypePlaintext: "plaintext", TypeRevocation: "revocation",
	TypeEndorse: "endorsement", TypeKeyShare: "keyshare", TypeShared: "shared-chains",
}

// Limits.
const (
	// MaxPayload bounds a room payload (key distribution or message); it is
	// messaging.MaxBody.
	MaxPayload = 48 << 10
	// MaxStatement bounds a membership statement.
	MaxStatement = 64 << 10
	// MaxDeviceRecord bounds a device record or revocation.
	MaxDeviceRecord = 4 << 10
	// MaxKeyShare bounds a key share (the chain keys one device hands a
	// newly linked device of the same account).
	MaxKeyShare = 4 << 20
	// maxString bounds ids, room names, roles and sides.
	maxString = 128
	// maxList bounds the elements of any list.
	maxList = 4096
)

// ErrMalformed wraps every decoding failure.
var ErrMalformed = errors.New("e2ee: malformed object")

func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, a...))
}

// label is the domain-separation prefix of a signature or AAD over an
// object of type t: "parley/e2ee/v1/<name>\x00".
func label(t byte) []byte { return []byte("parley/e2ee/v1/" + typeNames[t] + "\x00") }

// writer builds one object.
type writer struct{ b []byte }

func newWriter(t byte) *writer { return &writer{b: []byte{'P', 'E', Version, t}} }

// fieldsWriter builds a bare sequence of fields (an HPKE info string, a
// list element).
func fieldsWriter() *writer { return &writer{} }

func (w *writer) bytes(v []byte) *writer {
	w.b = binary.BigEndian.AppendUint32(w.b, uint32(len(v)))
	w.b = append(w.b, v...)
	return w
}
func (w *writer) str(s string) *writer { return w.bytes([]byte(s)) }
func (w *writer) u8(v uint8) *writer   { return w.bytes([]byte{v}) }
func (w *writer) u16(v uint16) *writer { return w.bytes(binary.BigEndian.AppendUint16(nil, v)) }
func (w *writer) u32(v uint32) *writer { return w.bytes(binary.BigEndian.AppendUint32(nil, v)) }
func (w *writer) u64(v uint64) *writer { return w.bytes(binary.BigEndian.AppendUint64(nil, v)) }
func (w *writer) i64(v int64) *writer  { return w.u64(uint64(v)) }

// list writes n elements, each built by elem into its own field.
func (w *writer) list(n int, elem func(i int, e *writer)) *writer {
	inner := fieldsWriter()
	for i := range n {
		e := fieldsWriter()
		elem(i, e)
		inner.bytes(e.b)
	}
	return w.bytes(inner.b)
}
func (w *writer) strs(ss []string) *writer {
	return w.list(len(ss), func(i int, e *writer) { e.str(ss[i]) })
}

// reader parses one object or field sequence. The first error sticks;
// every accessor then returns zero values.
type reader struct {
	b   []byte
	off int
	err error
}

// newReader checks the object header and returns a reader positioned after it.
func newReader(data []byte, t byte, max int) *reader {
	r := &reader{b: data}
	switch {
	case len(data) > max:
		r.err = malformed("%s over %d bytes", typeNames[t], max)
	case len(data) < 4 || data[0] != 'P' || data[1] != 'E':
		r.err = malformed("not a protocol object")
	case data[2] != Version:
		r.err = malformed("version %d, want %d", data[2], Version)
	case data[3] != t:
		r.err = malformed("type %d, want %s", data[3], typeNames[t])
	default:
		r.off = 4
	}
	return r
}

func fieldsReader(b []byte) *reader { return &reader{b: b} }

func (r *reader) fail(format string, a ...any) {
	if r.err == nil {
		r.err = malformed(format, a...)
	}
}

func (r *reader) bytes(what string) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b)-r.off < 4 {
		r.fail("%s: missing", what)
		return nil
	}
	n := binary.BigEndian.Uint32(r.b[r.off:])
	if uint64(n) > uint64(len(r.b)-r.off-4) {
		r.fail("%s: length %d past the end", what, n)
		return nil
	}
	v := r.b[r.off+4 : r.off+4+int(n)]
	r.off += 4 + int(n)
	return v
}

// fixed reads a field of exactly n bytes.
func (r *reader) fixed(what string, n int) []byte {
	v := r.bytes(what)
	if r.err == nil && len(v) != n {
		r.fail("%s: %d bytes, want %d", what, len(v), n)
		return nil
	}
	return v
}

func (r *reader) str(what string, max int) string {
	v := r.bytes(what)
	if r.err != nil {
		return ""
	}
	if len(v) > max || !utf8.Valid(v) {
		r.fail("%s: not UTF-8 of at most %d bytes", what, max)
		return ""
	}
	return string(v)
}

// id reads a non-empty identifier: at most maxString bytes of printable
// ASCII without spaces.
func (r *reader) id(what string) string {
	s := r.str(what, maxString)
	if r.err != nil {
		return ""
	}
	if s == "" {
		r.fail("%s: empty", what)
		return ""
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			r.fail("%s: not a printable identifier", what)
			return ""
		}
	}
	return s
}

func (r *reader) u8(what string) uint8 {
	v := r.fixed(what, 1)
	if v == nil {
		return 0
	}
	return v[0]
}
func (r *reader) u16(what string) uint16 {
	v := r.fixed(what, 2)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint16(v)
}
func (r *reader) u32(what string) uint32 {
	v := r.fixed(what, 4)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}
func (r *reader) u64(what string) uint64 {
	v := r.fixed(what, 8)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// i64 reads a non-negative int64.
func (r *reader) i64(what string) int64 {
	v := r.u64(what)
	if v > 1<<62 {
		r.fail("%s: out of range", what)
		return 0
	}
	return int64(v)
}

// list reads a list field and calls elem with a reader over each element.
func (r *reader) list(what string, elem func(e *reader)) {
	v := r.bytes(what)
	if r.err != nil {
		return
	}
	inner := fieldsReader(v)
	n := 0
	for inner.err == nil && inner.off < len(inner.b) {
		if n++; n > maxList {
			r.fail("%s: more than %d elements", what, maxList)
			return
		}
		e := fieldsReader(inner.bytes(what))
		if inner.err != nil {
			break
		}
		elem(e)
		e.end(what)
		if e.err != nil {
			inner.err = e.err
		}
	}
	if inner.err != nil && r.err == nil {
		r.err = inner.err
	}
}

func (r *reader) strs(what string, elem func(*reader) string) []string {
	var out []string
	r.list(what, func(e *reader) { out = append(out, elem(e)) })
	return out
}

// end fails unless every byte was consumed.
func (r *reader) end(what string) {
	if r.err == nil && r.off != len(r.b) {
		r.fail("%s: %d trailing bytes", what, len(r.b)-r.off)
	}
}
