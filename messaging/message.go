package messaging

import (
	"bytes"
	"fmt"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/parley-mediation/parley/api"
)

// Limits on what clients send (see package api).
const (
	MaxBody     = api.MaxBody
	MaxFrame    = api.MaxFrame
	MaxClientID = api.MaxClientID
)

// Position, Message and Seal are the wire's (package api): a room's log
// holds messages exactly as clients receive them, opaque bodies and all.
type (
	Position = api.Position
	Message  = api.Message
	Seal     = api.Seal
)

// Batch is the unit of commit, of storage and of fan-out: consecutive
// messages of one room and epoch, or a seal.
type Batch struct {
	Room  string    `json:"room"`
	Epoch int64     `json:"epoch"`
	First int64     `json:"first"`
	Msgs  []Message `json:"msgs,omitempty"`
	Seal  *Seal     `json:"seal,omitempty"`

	// Stage tracing (stages.go) of a batch committed here: the StageClock
	// of its oldest message's enqueue and of its journal's answer.
	origin, answered int64

	// msgsJSON, when set, is json.Marshal(Msgs): a batch committed here
	// encodes its messages once, for its journal entry, its delivery
	// frames and its segment (encode.go). Whoever changes Msgs clears it.
	msgsJSON []byte
}

// End is the position after the batch's last message (for a seal: the
// start of the next epoch).
func (b *Batch) End() Position {
	if b.Seal != nil {
		return Position{Epoch: b.Seal.Next, Offset: 0}
	}
	return Position{Epoch: b.Epoch, Offset: b.First + int64(len(b.Msgs)) - 1}
}

// strictJSON is how this package decodes what it reads from the store and
// the broker, with the go-json-experiment decoder (three times faster than
// encoding/json on a batch): names match in any case, as encoding/json
// matches them, and a name given twice, in the same case or another, or
// invalid UTF-8, refuses the whole input, where encoding/json would take
// the last value. So whatever is accepted, any reader (encoding/json, a
// browser) reads the same way (decode_test.go).
var strictJSON = jsonv2.MatchCaseInsensitiveNames(true)

// DecodeBatch parses a stored or published batch and checks that it is
// internally consistent. The batch keeps a copy of its messages' JSON as
// it arrived (msgsJSON), so that its delivery frames and segments splice
// it rather than encode the messages again: every encoder of batches
// writes json.Marshal(Msgs) there, and the decoder has checked it whole.
// The messages are read in one pass (msgsField), not read whole and then
// parsed again: a node decodes every batch of the rooms it does not own.
func DecodeBatch(data []byte) (*Batch, error) {
	b := &Batch{}
	w := struct {
		Room  string    `json:"room"`
		Epoch int64     `json:"epoch"`
		First int64     `json:"first"`
		Msgs  msgsField `json:"msgs,omitempty"`
		Seal  *Seal     `json:"seal,omitempty"`
	}{Msgs: msgsField{data: data, msgs: &b.Msgs}}
	if err := jsonv2.Unmarshal(data, &w, strictJSON); err != nil {
		return nil, fmt.Errorf("batch: %w", err)
	}
	b.Room, b.Epoch, b.First, b.Seal = w.Room, w.Epoch, w.First, w.Seal
	if b.Msgs != nil {
		kept := bytes.Clone(w.Msgs.raw)
		b.msgsJSON = kept[:len(kept):len(kept)]
	}
	if err := b.check(); err != nil {
		return nil, err
	}
	return b, nil
}

// msgsField is DecodeBatch's "msgs": it parses the messages into *msgs
// and keeps raw, the bytes of data (the whole input, which the decoder's
// offsets index) they were parsed from.
type msgsField struct {
	data []byte
	msgs *[]Message
	raw  []byte
}

func (f *msgsField) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	start := dec.InputOffset() // after the name: then the colon and any space
	if err := jsonv2.UnmarshalDecode(dec, f.msgs); err != nil {
		return err
	}
	end := dec.InputOffset()
	if start < 0 || end > int64(len(f.data)) || start > end {
		return fmt.Errorf("msgs: decoder offsets %d..%d outside the input", start, end)
	}
	f.raw = bytes.TrimLeft(f.data[start:end], " \t\r\n:")
	return nil
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
