package messaging

import (
	"encoding/json"
	"fmt"
)

// MaxBody bounds one message payload (after base64 decoding). The frame
// limit (MaxFrame) leaves room for the envelope around it.
const (
	MaxBody  = 48 << 10
	MaxFrame = 64 << 10
	// MaxClientID bounds a client-chosen message id.
	MaxClientID = 64
)

// Position is a place in a room's stream: the last message seen.
// The zero Position is "before everything".
type Position struct {
	Epoch  int64 `json:"epoch"`
	Offset int64 `json:"offset"`
}

// Before reports whether p comes before q.
func (p Position) Before(q Position) bool {
	return p.Epoch < q.Epoch || p.Epoch == q.Epoch && p.Offset < q.Offset
}

// Message is one message in a room.
type Message struct {
	Epoch  int64  `json:"epoch"`
	Offset int64  `json:"offset"`
	ID     string `json:"id"`             // chosen by the sender, unique per sender
	From   string `json:"from"`           // account id of the sender ("" for system events)
	At     int64  `json:"at"`             // unix milliseconds, server time at commit
	Kind   string `json:"kind,omitempty"` // "" for a participant's message, "system" for membership events
	Body   []byte `json:"body"`           // opaque: ciphertext, or a system event's JSON
}

// Pos is the message's position.
func (m Message) Pos() Position { return Position{Epoch: m.Epoch, Offset: m.Offset} }

// Seal ends an epoch: the next message is offset 1 of epoch Next.
type Seal struct {
	Next   int64  `json:"next"`
	Reason string `json:"reason"` // what changed (ids only), e.g. a system event's JSON
}

// Batch is the unit of commit, of storage and of fan-out: consecutive
// messages of one room and epoch, or a seal.
type Batch struct {
	Room  string    `json:"room"`
	Epoch int64     `json:"epoch"`
	First int64     `json:"first"`
	Msgs  []Message `json:"msgs,omitempty"`
	Seal  *Seal     `json:"seal,omitempty"`
}

// End is the position after the batch's last message (for a seal: the
// start of the next epoch).
func (b *Batch) End() Position {
	if b.Seal != nil {
		return Position{Epoch: b.Seal.Next, Offset: 0}
	}
	return Position{Epoch: b.Epoch, Offset: b.First + int64(len(b.Msgs)) - 1}
}

// DecodeBatch parses a stored or published batch and checks that it is
// internally consistent.
func DecodeBatch(data []byte) (*Batch, error) {
	var b Batch
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("batch: %w", err)
	}
	if err := b.check(); err != nil {
		return nil, err
	}
	return &b, nil
}

// check reports whether b is internally consistent.
func (b *Batch) check() error {
	if b.Room == "" || b.Epoch < 1 || b.First < 1 {
		return fmt.Errorf("batch: missing room, epoch or offset")
	}
	if (b.Seal == nil) == (len(b.Msgs) == 0) {
		return fmt.Errorf("batch: must hold messages or a seal")
	}
	if b.Seal != nil && b.Seal.Next != b.Epoch+1 {
		return fmt.Errorf("batch: seal must open epoch %d", b.Epoch+1)
	}
	for i, m := range b.Msgs {
		if m.Epoch != b.Epoch || m.Offset != b.First+int64(i) {
			return fmt.Errorf("batch: message %d out of sequence", i)
		}
	}
	return nil
}
