package messaging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/parley-mediation/parley/api"
)

// randomBatch builds a batch of n messages whose strings need JSON
// escaping now and then.
func randomBatch(r *rand.Rand, room string, epoch, first int64, n int) *Batch {
	odd := []string{"", "plain", "quote\"d", "back\\slash", "<html>&", "new\nline", "é✓", "\u2028", "\x01ctl"}
	b := &Batch{Room: room, Epoch: epoch, First: first}
	for i := range n {
		body := make([]byte, r.IntN(300))
		for j := range body {
			body[j] = byte(r.UintN(256))
		}
		if r.IntN(5) == 0 {
			body = nil
		}
		b.Msgs = append(b.Msgs, Message{
			Epoch: epoch, Offset: first + int64(i), At: r.Int64(),
			ID: odd[r.IntN(len(odd))] + fmt.Sprint(i), From: odd[r.IntN(len(odd))],
			Kind: []string{"", "system"}[r.IntN(2)], Body: body,
		})
	}
	return b
}

// The spliced encodings are byte for byte what json.Marshal gives: the
// journal record, the delivery frame and a segment merged from several
// batches.
func TestSplicedEncodingsMatchMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 2026))
	rooms := []string{"r1", "room \"q\"", "é/<x>", "a\\b"}
	for iter := range 200 {
		room := rooms[iter%len(rooms)]
		epoch, first := int64(1+r.IntN(3)), int64(1+r.IntN(1000))
		var batches []*Batch
		next := first
		for range 1 + r.IntN(4) {
			b := randomBatch(r, room, epoch, next, 1+r.IntN(6))
			if err := b.encodeMsgs(); err != nil {
				t.Fatal(err)
			}
			next = b.End().Offset + 1
			batches = append(batches, b)
		}
		for _, b := range batches {
			got, err := b.encode()
			if err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(b)
			if !bytes.Equal(got, want) {
				t.Fatalf("batch record:\n got %s\nwant %s", got, want)
			}
			if back, err := DecodeBatch(got); err != nil || len(back.Msgs) != len(b.Msgs) {
				t.Fatalf("record does not decode: %v", err)
			}
			quoted, _ := json.Marshal(room)
			gotF := msgsFrame(quoted, room, b)
			wantF := encodeFrame(api.ServerFrame{Type: api.FrameMsgs, Room: room, Msgs: b.Msgs})
			if !bytes.Equal(gotF, wantF) {
				t.Fatalf("frame:\n got %s\nwant %s", gotF, wantF)
			}
		}
		segs := merge(batches)
		if len(segs) != 1 || segs[0].batches != len(batches) {
			t.Fatalf("merge gave %d segments", len(segs))
		}
		if len(segs[0].parts) != len(batches) {
			t.Fatalf("merged segment has %d encoded parts for %d batches", len(segs[0].parts), len(batches))
		}
		got, _ := segs[0].b.encodeParts(segs[0].parts)
		want, _ := json.Marshal(segs[0].b)
		if !bytes.Equal(got, want) {
			t.Fatalf("segment:\n got %s\nwant %s", got, want)
		}
		// The batches merged are left as they were.
		for _, b := range batches {
			again, _ := json.Marshal(b.Msgs)
			if !bytes.Equal(again, b.msgsJSON) {
				t.Fatal("merge changed a journaled batch's encoding")
			}
		}
	}
}

// A batch without its messages' JSON (decoded from the store or a
// broadcast), a seal, and a merge of an encoded batch with one that is
// not, all fall back to json.Marshal.
func TestEncodingFallbacks(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	plain := randomBatch(r, "r", 1, 1, 3)
	got, _ := plain.encode()
	want, _ := json.Marshal(plain)
	if !bytes.Equal(got, want) {
		t.Fatalf("plain: got %s want %s", got, want)
	}
	seal := &Batch{Room: "r", Epoch: 1, First: 4, Seal: &Seal{Next: 2, Reason: "x"}}
	got, _ = seal.encode()
	want, _ = json.Marshal(seal)
	if !bytes.Equal(got, want) {
		t.Fatalf("seal: got %s want %s", got, want)
	}
	enc := randomBatch(r, "r", 1, 4, 2)
	if err := enc.encodeMsgs(); err != nil {
		t.Fatal(err)
	}
	segs := merge([]*Batch{plain, enc})
	if len(segs) != 1 || segs[0].b.msgsJSON != nil {
		t.Fatalf("merge: %d segments", len(segs))
	}
	got, _ = segs[0].b.encodeParts(segs[0].parts)
	want, _ = json.Marshal(segs[0].b)
	if !bytes.Equal(got, want) {
		t.Fatalf("merge with an unencoded batch: got %s want %s", got, want)
	}
	// After's trimmed copy must not keep the untrimmed encoding.
	out, err := after([]*Batch{enc}, Position{Epoch: 1, Offset: 4})
	if err != nil || len(out) != 1 || out[0].msgsJSON != nil {
		t.Fatalf("trimmed batch: %v, %+v", err, out)
	}
}

// A batch encoded tagged is the tag, a newline and the batch's record, in
// one buffer.
func TestEncodeTagged(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, encoded := range []bool{false, true} {
		b := randomBatch(r, "r", 2, 9, 3)
		if encoded {
			if err := b.encodeMsgs(); err != nil {
				t.Fatal(err)
			}
		}
		want, _ := json.Marshal(b)
		got, err := b.encodeTagged("node-1")
		if err != nil || string(got) != "node-1\n"+string(want) {
			t.Fatalf("encoded %v: got %q, %v", encoded, got, err)
		}
	}
	seal := &Batch{Room: "r", Epoch: 1, First: 4, Seal: &Seal{Next: 2, Reason: "x"}}
	want, _ := json.Marshal(seal)
	if got, _ := seal.encodeTagged("n"); string(got) != "n\n"+string(want) {
		t.Fatalf("seal: got %q", got)
	}
}

// A batch committed here is encoded once: the tagged record is the tag, a
// newline and json.Marshal(b), and the messages' JSON kept for the other
// splices is json.Marshal(b.Msgs), within that buffer, its capacity ending
// with it (nothing appended to the record can reach it).
func TestEncodeCommitted(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for iter := range 100 {
		b := randomBatch(r, []string{"r", "é/<x>", "a\\b"}[iter%3], 2, 9, 1+r.IntN(5))
		tag := []string{"", "node-1"}[iter%2]
		got, err := b.encodeCommitted(tag)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(b)
		if tag != "" {
			want = append([]byte(tag+"\n"), want...)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("record:\n got %s\nwant %s", got, want)
		}
		msgs, _ := json.Marshal(b.Msgs)
		if !bytes.Equal(b.msgsJSON, msgs) || cap(b.msgsJSON) != len(b.msgsJSON) {
			t.Fatalf("messages' JSON %q (cap %d), want %q", b.msgsJSON, cap(b.msgsJSON), msgs)
		}
		_ = append(got, "tail"...)
		if !bytes.Equal(b.msgsJSON, msgs) {
			t.Fatal("appending to the record changed the messages' JSON")
		}
	}
	seal := &Batch{Room: "r", Epoch: 1, First: 4, Seal: &Seal{Next: 2, Reason: "x"}}
	got, err := seal.encodeCommitted("n")
	want, _ := json.Marshal(seal)
	if err != nil || string(got) != "n\n"+string(want) || seal.msgsJSON != nil {
		t.Fatalf("seal: got %q, %v", got, err)
	}
}

// Packing a batch's messages keeps every body and id, and each body's
// capacity ends at its own end (appending to one cannot overwrite the
// next).
func TestPackMessages(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	b := randomBatch(r, "r", 1, 1, 9)
	b.Msgs[3].Body = nil
	b.Msgs[4].Body = []byte{}
	want, _ := json.Marshal(b.Msgs)
	packMessages(b.Msgs)
	if got, _ := json.Marshal(b.Msgs); !bytes.Equal(got, want) {
		t.Fatalf("packed messages differ:\n got %s\nwant %s", got, want)
	}
	if b.Msgs[3].Body != nil {
		t.Fatal("a nil body became non-nil")
	}
	for i, m := range b.Msgs {
		if len(m.Body) != cap(m.Body) {
			t.Fatalf("message %d: body len %d cap %d", i, len(m.Body), cap(m.Body))
		}
	}
	if len(b.Msgs[0].Body) > 0 && len(b.Msgs[1].Body) > 0 && &b.Msgs[0].Body[0] == &b.Msgs[1].Body[0] {
		t.Fatal("bodies overlap")
	}
}
