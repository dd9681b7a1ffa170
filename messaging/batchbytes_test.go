package messaging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
)

// sizeSink records the size of every frame it is sent, and the frames.
type sizeSink struct {
	sink
	smu   sync.Mutex
	sizes []int
}

func (s *sizeSink) Send(b []byte) bool {
	s.smu.Lock()
	s.sizes = append(s.sizes, len(b))
	s.smu.Unlock()
	return s.sink.Send(b)
}

func (s *sizeSink) largest() int {
	s.smu.Lock()
	defer s.smu.Unlock()
	n := 0
	for _, v := range s.sizes {
		n = max(n, v)
	}
	return n
}

// maxBatchFrame bounds the frame of maxBatchBytes of bodies: base64 and
// each message's fields.
const maxBatchFrame = maxBatchBytes*4/3 + maxBatchMessages*(2*api.MaxClientID+200) + 1024

// TestCommittedBatchBoundedByBytes: messages of the largest body allowed,
// queued faster than they are committed, are committed in batches of at
// most maxBatchBytes of bodies, and reach a subscriber in frames each well
// under a socket's send-queue bound, in order. Before, a batch was cut
// at 512 messages only and travelled as one frame: with bodies of 48 KiB
// (64 KiB in base64) that frame could be some 32 MiB, past the 16 MiB a
// socket's queue may hold, and busy subscribers were closed with 4008
// for traffic that was legitimate.
func TestCommittedBatchBoundedByBytes(t *testing.T) {
	svc := newService(NewLog(stores(t)["dir"](t)), NewMemory(), Options{}, timing{probe: time.Hour, compact: time.Hour, sweep: time.Hour})
	t.Cleanup(svc.Close)
	room := Room{ID: fmt.Sprintf("c_batchbytes%d/joint", time.Now().UnixNano()), Name: "joint"}
	live := &sizeSink{}
	if _, err := svc.Subscribe(t.Context(), room, "u1", "conn1", nil, live); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("b"), api.MaxBody)
	const n = 64 // 3 MiB of bodies
	var dones []<-chan Result
	for i := range n {
		done, err := svc.Enqueue(t.Context(), room.ID, Message{ID: fmt.Sprintf("m%03d", i), From: "u", Body: body})
		if err != nil {
			t.Fatal(err)
		}
		dones = append(dones, done)
	}
	for _, d := range dones {
		if r := <-d; r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	// The journaled batches, before compaction merges them.
	inc := svc.current()
	svc.incMu.Lock()
	or := inc.owned[room.ID]
	largestBatch, batches := 0, 0
	if or != nil {
		for _, j := range or.tail {
			size := 0
			for _, m := range j.b.Msgs {
				size += len(m.Body)
			}
			largestBatch = max(largestBatch, size)
			batches++
		}
	}
	svc.incMu.Unlock()
	if batches == 0 {
		t.Fatal("no journaled batch to look at")
	}
	if largestBatch > maxBatchBytes {
		t.Errorf("a committed batch held %d bytes of bodies (of %d batches); want at most %d", largestBatch, batches, maxBatchBytes)
	}
	msgs := waitMsgs(t, &live.sink, n)
	for i, m := range msgs {
		if m.Offset != int64(i+1) || m.ID != fmt.Sprintf("m%03d", i) {
			t.Fatalf("message %d is %s at offset %d: out of order", i, m.ID, m.Offset)
		}
	}
	if got := live.largest(); got > maxBatchFrame {
		t.Errorf("a frame of %d bytes was sent; want at most %d", got, maxBatchFrame)
	}
}

// TestLargeBatchSplitIntoFrames: a batch with more than maxBatchBytes of
// bodies (a compacted segment read to fill a gap or a catch-up, or a
// batch committed before batches were cut by bytes) goes out as several
// frames of consecutive messages, each within maxBatchBytes of bodies,
// from any point of it; a batch within the bound is still one frame.
func TestLargeBatchSplitIntoFrames(t *testing.T) {
	svc := newService(NewLog(stores(t)["dir"](t)), NewMemory(), Options{}, timing{probe: time.Hour, compact: time.Hour, sweep: time.Hour})
	t.Cleanup(svc.Close)
	h := &hub{s: svc, room: Room{ID: "r", Name: "joint"}}
	h.quoted, _ = json.Marshal(h.room.Name)
	body := bytes.Repeat([]byte("b"), api.MaxBody)
	b := &Batch{Room: "r", Epoch: 2, First: 10}
	for i := range 64 { // 3 MiB of bodies
		b.Msgs = append(b.Msgs, Message{ID: fmt.Sprintf("m%d", i), From: "u", Body: body, Epoch: 2, Offset: 10 + int64(i), At: 1})
	}
	if err := b.encodeMsgs(); err != nil {
		t.Fatal(err)
	}
	for _, after := range []Position{{Epoch: 2, Offset: 9}, {Epoch: 2, Offset: 30}, {Epoch: 2, Offset: 10 + 64 - 2}} {
		frames := h.frames(b, after)
		var got []Message
		for _, f := range frames {
			if len(f) > maxBatchFrame {
				t.Errorf("after %v: a frame of %d bytes; want at most %d", after, len(f), maxBatchFrame)
			}
			var sf api.ServerFrame
			if err := json.Unmarshal(f, &sf); err != nil || sf.Type != api.FrameMsgs || sf.Room != "joint" {
				t.Fatalf("after %v: frame %.80q (%v)", after, f, err)
			}
			size := 0
			for _, m := range sf.Msgs {
				size += len(m.Body)
			}
			if size > maxBatchBytes {
				t.Errorf("after %v: a frame with %d bytes of bodies", after, size)
			}
			got = append(got, sf.Msgs...)
		}
		want := b.Msgs[after.Offset-b.First+1:]
		if len(got) != len(want) {
			t.Fatalf("after %v: %d messages in %d frames; want %d", after, len(got), len(frames), len(want))
		}
		for i := range got {
			if got[i].Offset != want[i].Offset || got[i].ID != want[i].ID || !bytes.Equal(got[i].Body, want[i].Body) {
				t.Fatalf("after %v: message %d is %s at %d; want %s at %d", after, i, got[i].ID, got[i].Offset, want[i].ID, want[i].Offset)
			}
		}
	}
	small := &Batch{Room: "r", Epoch: 2, First: 10, Msgs: b.Msgs[:3]}
	if err := small.encodeMsgs(); err != nil {
		t.Fatal(err)
	}
	if frames := h.frames(small, Position{Epoch: 2, Offset: 9}); len(frames) != 1 {
		t.Errorf("a batch within the bound went out as %d frames; want 1", len(frames))
	}
}
