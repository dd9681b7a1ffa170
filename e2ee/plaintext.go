package e2ee

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Plaintext kinds: what a decrypted message is.
const (
	KindText          = 1 // a line of chat
	KindCarryProposal = 2 // a mediator proposes carrying a caucus message elsewhere
	KindCarried       = 3 // an author's consented copy of a caucus message
	KindCarryDeclined = 4 // the author declines a proposal, in the caucus it was made in
	// KindNotice is a mediator's notice, broadcast to every room they are
	// in (one message per room). Encoded like KindText; a client shows it
	// as a notice only when its sender is a mediator of the case.
	KindNotice = 5
)

// Position is a message's place in a room (epoch, offset), as the server
// assigned it.
type Position struct {
	Epoch  int64
	Offset int64
}

// Plaintext is what a message carries inside its encryption.
type Plaintext struct {
	Kind int
	Text string
	// Carry fields (proposal and carried copy).
	CarryID string
	Room    string // proposal, declined: the target room; carried: the source room
	// Ref and RefHash: proposal, declined: the original's position in the
	// caucus and the SHA-256 of its payload. A carried copy names neither:
	// clients write them zero (the encoding keeps the fields) and ignore
	// them on reading, since the whole joint room reads the copy.
	Ref      Position
	RefHash  [32]byte
	Proposer string // carried: the mediator who proposed it
}

// MaxText bounds one message's text in bytes of UTF-8 (the payload limit,
// MaxPayload, bounds the whole message). Readers refuse a longer text, so
// Encrypt refuses to make one.
const MaxText = 40 << 10

const maxText = MaxText

// Check reports whether p's text is one readers accept: valid UTF-8 of at
// most MaxText bytes.
func (p *Plaintext) Check() error {
	if len(p.Text) > MaxText {
		return fmt.Errorf("the text is %d bytes; a message holds at most %d (40 KiB)", len(p.Text), MaxText)
	}
	if !utf8.ValidString(p.Text) {
		return errors.New("the text is not valid UTF-8")
	}
	return nil
}

// padBlock: plaintexts are padded to a multiple of it before encryption,
// so ciphertext sizes say little about text lengths.
const padBlock = 64

func (p *Plaintext) encode() []byte {
	w := newWriter(TypePlaintext).u8(uint8(p.Kind))
	switch p.Kind {
	case KindText, KindNotice:
		w.str(p.Text)
	case KindCarryProposal, KindCarryDeclined:
		w.str(p.CarryID).str(p.Room).i64(p.Ref.Epoch).i64(p.Ref.Offset).bytes(p.RefHash[:]).str(p.Text)
	case KindCarried:
		w.str(p.CarryID).str(p.Room).i64(p.Ref.Epoch).i64(p.Ref.Offset).bytes(p.RefHash[:]).str(p.Proposer).str(p.Text)
	}
	// ISO/IEC 7816-4 padding: 0x80 then zeros to the block size.
	b := append(w.b, 0x80)
	for len(b)%padBlock != 0 {
		b = append(b, 0)
	}
	return b
}

// DecodePlaintext removes the padding and parses a decrypted plaintext.
func DecodePlaintext(padded []byte) (*Plaintext, error) {
	if len(padded) == 0 || len(padded)%padBlock != 0 {
		return nil, malformed("plaintext: not padded to %d bytes", padBlock)
	}
	end := len(padded) - 1
	for end >= 0 && padded[end] == 0 {
		end--
	}
	if end < 0 || padded[end] != 0x80 {
		return nil, malformed("plaintext: bad padding")
	}
	r := newReader(padded[:end], TypePlaintext, MaxPayload)
	p := &Plaintext{Kind: int(r.u8("kind"))}
	switch p.Kind {
	case KindText, KindNotice:
		p.Text = r.str("text", maxText)
	case KindCarryProposal, KindCarried, KindCarryDeclined:
		p.CarryID = r.id("carry")
		p.Room = r.id("room")
		p.Ref = Position{Epoch: r.i64("ref epoch"), Offset: r.i64("ref offset")}
		copy(p.RefHash[:], r.fixed("ref hash", 32))
		if p.Kind == KindCarried {
			p.Proposer = r.id("proposer")
		}
		p.Text = r.str("text", maxText)
	default:
		r.fail("plaintext: unknown kind %d", p.Kind)
	}
	r.end("plaintext")
	if r.err != nil {
		return nil, r.err
	}
	if !utf8.ValidString(p.Text) {
		return nil, malformed("plaintext: text not UTF-8")
	}
	return p, nil
}

// PayloadHash is the SHA-256 of a room payload: how carries and the audit
// log name a message without its content.
func PayloadHash(payload []byte) [32]byte { return sha256.Sum256(payload) }
