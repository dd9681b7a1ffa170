package messaging

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/parley-mediation/parley/api"
)

// A batch committed on this node is encoded once. Its messages' JSON
// (Batch.msgsJSON) is spliced into the batch's journal record, into the
// delivery frame its subscribers get, and into the segment compaction
// writes, instead of each of them marshalling the messages again. Each
// splice produces exactly the bytes json.Marshal would (encode_test.go).

func encodeFrame(f api.ServerFrame) []byte {
	b, _ := json.Marshal(f)
	return b
}

// encodeMsgs sets b.msgsJSON from b.Msgs (encodeCommitted, untagged).
func (b *Batch) encodeMsgs() error {
	_, err := b.encodeCommitted("")
	return err
}

// encodeCommitted encodes a batch just committed here, once: it returns
// tag, a newline (none when tag is empty) and b's record, json.Marshal(b),
// in one buffer, with b's messages marshalled in place, and sets
// b.msgsJSON to their bytes within it (its capacity ends with them).
func (b *Batch) encodeCommitted(tag string) ([]byte, error) {
	if b.Seal != nil || len(b.Msgs) == 0 {
		b.msgsJSON = nil
		return b.appendParts(tag, nil)
	}
	room, err := json.Marshal(b.Room)
	if err != nil {
		return nil, err
	}
	est := len(tag) + len(room) + 64
	for _, m := range b.Msgs {
		est += (len(m.Body)+2)/3*4 + len(m.ID) + len(m.From) + len(m.Kind) + 128
	}
	w := &appendWriter{b: make([]byte, 0, est)}
	w.b = b.appendHead(w.b, tag, room)
	start := len(w.b)
	if err := json.NewEncoder(w).Encode(b.Msgs); err != nil {
		return nil, err
	}
	out := w.b[:len(w.b)-1] // less Encode's newline
	b.msgsJSON = out[start:len(out):len(out)]
	return append(out, '}'), nil
}

// appendWriter is an io.Writer that appends to b.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// appendHead appends tag and a newline (none when tag is empty), then the
// start of b's record up to its messages' array: the JSON string room,
// the epoch and the first offset.
func (b *Batch) appendHead(out []byte, tag string, room []byte) []byte {
	if tag != "" {
		out = append(append(out, tag...), '\n')
	}
	out = append(out, `{"room":`...)
	out = append(out, room...)
	out = append(out, `,"epoch":`...)
	out = strconv.AppendInt(out, b.Epoch, 10)
	out = append(out, `,"first":`...)
	out = strconv.AppendInt(out, b.First, 10)
	return append(out, `,"msgs":`...)
}

// encode returns b as stored and broadcast: json.Marshal(b), with the
// messages' JSON spliced in when b has it.
func (b *Batch) encode() ([]byte, error) {
	return b.encodeTagged("")
}

// encodeTagged returns tag, a newline and encode's bytes in one buffer
// (just encode's bytes when tag is empty): a broadcast is tagged with its
// node, and its tagged copy then costs nothing.
func (b *Batch) encodeTagged(tag string) ([]byte, error) {
	var parts [][]byte
	if b.msgsJSON != nil {
		parts = [][]byte{b.msgsJSON}
	}
	return b.appendParts(tag, parts)
}

// encodeParts is encode for a batch whose messages are the encoded arrays
// parts, joined in order (a segment compaction merged).
func (b *Batch) encodeParts(parts [][]byte) ([]byte, error) {
	return b.appendParts("", parts)
}

// appendParts returns tag and a newline (none when tag is empty), then
// b's JSON with the arrays parts spliced in as its messages: json.Marshal(b)
// when b is a seal, or parts is empty or has one missing.
func (b *Batch) appendParts(tag string, parts [][]byte) ([]byte, error) {
	n := 0
	for _, p := range parts {
		if len(p) <= 2 || p[0] != '[' || p[len(p)-1] != ']' {
			parts = nil // missing, or not a non-empty array: marshal
			break
		}
		n += len(p)
	}
	prefix := 0
	if tag != "" {
		prefix = len(tag) + 1
	}
	if b.Seal != nil || len(parts) == 0 {
		data, err := json.Marshal(b)
		if err != nil || prefix == 0 {
			return data, err
		}
		return append(append(append(make([]byte, 0, prefix+len(data)), tag...), '\n'), data...), nil
	}
	room, err := json.Marshal(b.Room)
	if err != nil {
		return nil, err
	}
	out := b.appendHead(make([]byte, 0, prefix+len(room)+n+64), tag, room)
	out = append(out, '[')
	for i, p := range parts {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, p[1:len(p)-1]...)
	}
	return append(out, "]}"...), nil
}

// msgsFrame returns the delivery frame of all of b's messages in the room
// named room (its JSON string in quoted): encodeFrame of a msgs frame,
// with b's messages' JSON spliced in when it has it.
func msgsFrame(quoted []byte, room string, b *Batch) []byte {
	if b.msgsJSON == nil || room == "" {
		return encodeFrame(api.ServerFrame{Type: api.FrameMsgs, Room: room, Msgs: b.Msgs})
	}
	out := make([]byte, 0, len(quoted)+len(b.msgsJSON)+32)
	out = append(out, `{"t":"`...)
	out = append(out, api.FrameMsgs...)
	out = append(out, `","room":`...)
	out = append(out, quoted...)
	out = append(out, `,"ms":`...)
	out = append(out, b.msgsJSON...)
	return append(out, '}')
}

// packMessages moves the bodies and ids of msgs into one allocation each.
// A batch stays in memory until compacted (seconds, at full rate tens of
// thousands of messages): the collector then marks two objects per batch
// where it marked two per message.
func packMessages(msgs []Message) {
	if len(msgs) < 2 {
		return
	}
	bodies, ids := 0, 0
	for _, m := range msgs {
		bodies += len(m.Body)
		ids += len(m.ID)
	}
	arena := make([]byte, 0, bodies)
	var sb strings.Builder
	sb.Grow(ids)
	for _, m := range msgs {
		sb.WriteString(m.ID)
	}
	all := sb.String()
	off := 0
	for i := range msgs {
		if msgs[i].Body != nil {
			start := len(arena)
			arena = append(arena, msgs[i].Body...)
			msgs[i].Body = arena[start:len(arena):len(arena)]
		}
		n := len(msgs[i].ID)
		msgs[i].ID = all[off : off+n]
		off += n
	}
}
