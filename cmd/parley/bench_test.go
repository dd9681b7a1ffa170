package main

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
)

// The load generator's frame scanner reads what json.Unmarshal reads,
// also when ids and names hold the keys it looks for.
func TestScanBenchFrame(t *testing.T) {
	var msgs []api.Message
	for n := range 20 {
		body := make([]byte, n)
		for i := range body {
			body[i] = byte(255 - 13*i - n)
		}
		if n == 3 {
			body = nil
		}
		msgs = append(msgs, api.Message{Epoch: 2, Offset: int64(n + 1), ID: `x,"at":7,"body":"AAAA` + string(rune('a'+n)),
			From: `"body":"` + "\u2028", At: 1764000000000 + int64(n), Body: body})
	}
	msgs[5].Kind = "system"
	frames := []api.ServerFrame{
		{Type: api.FrameMsgs, Room: "joint", Msgs: msgs},
		{Type: api.FrameMsgs, Room: `"at":1`, Msgs: msgs[7:8]},
		{Type: api.FrameAck, Room: "joint", ID: "1-2", Msg: &api.Message{Epoch: 1, Offset: 9, At: 5}},
		{Type: api.FrameSubscribed, Room: "joint", Head: &api.Position{Epoch: 1, Offset: 3}},
		{Type: api.FrameError, Room: "joint", Code: api.CodeInvalid, Detail: `"body":"x"`},
	}
	for _, sf := range frames {
		data, err := json.Marshal(sf)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := scanBenchFrame(data)
		want, ok2 := decodeBenchFrame(data)
		if !ok || !ok2 {
			t.Fatalf("%s: scan ok %v, decode ok %v", data, ok, ok2)
		}
		for i := range want.Msgs {
			if len(want.Msgs[i].Body) == 0 {
				want.Msgs[i].Body = nil
			}
		}
		for i := range got.Msgs {
			if len(got.Msgs[i].Body) == 0 {
				got.Msgs[i].Body = nil
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\n scan   %+v\n decode %+v", data, got, want)
		}
		if sf.Type == api.FrameMsgs && len(got.Msgs) != len(sf.Msgs) {
			t.Fatalf("%d messages read of %d", len(got.Msgs), len(sf.Msgs))
		}
	}
	if _, ok := scanBenchFrame([]byte(`{"t":"msgs","ms":[{"epoch":1,"at":1,"body":"%%%"}]}`)); ok {
		t.Fatal("a malformed frame was read")
	}
}

// The load generator's hand-built publish frame is what json.Marshal
// makes of the same api.ClientFrame.
func TestAppendPub(t *testing.T) {
	for _, size := range []int{16, 17, 18, 256, 1000} {
		body := make([]byte, size)
		for i := range body {
			body[i] = byte(i*7 + size)
		}
		want, _ := json.Marshal(api.ClientFrame{Type: "pub", Room: "joint", ID: "12-345", Body: body})
		if got := appendPub(nil, 12, 345, body); string(got) != string(want) {
			t.Fatalf("size %d:\n got %s\nwant %s", size, got, want)
		}
	}
}

// The bench reads the nodes' system calls from /proc/<pid>/io, and says
// nothing rather than a wrong figure when a count is missing.
func TestProcIOCalls(t *testing.T) {
	r, w, ok := procIOCalls("rchar: 6976\nwchar: 12\nsyscr: 10\nsyscw: 3\nread_bytes: 0\n")
	if !ok || r != 10 || w != 3 {
		t.Fatalf("got %d, %d, %v; want 10, 3, true", r, w, ok)
	}
	if _, _, ok := procIOCalls("rchar: 6976\nsyscr: 10\n"); ok {
		t.Fatal("a file without syscw was read as complete")
	}
}

// p99BySecond gives each second of the window its own p99, in order, and
// marks a second with no delivery.
func TestP99BySecond(t *testing.T) {
	start := time.Unix(1000, 0)
	c := &benchConn{}
	add := func(at time.Duration, latMicros int64) {
		c.sent = append(c.sent, start.Add(at).UnixNano())
		c.lat = append(c.lat, latMicros)
	}
	add(-time.Second, 999_000) // warm-up: left out
	for i := range 100 {
		add(time.Duration(i)*time.Millisecond, 1000) // second 0: 1 ms
		add(2*time.Second+time.Duration(i)*time.Millisecond, 40_000)
	}
	add(2*time.Second+500*time.Millisecond, 900_000) // one slow delivery in second 2
	add(3*time.Second+100*time.Millisecond, 5_000)   // after the window: left out
	if got, want := p99BySecond([]*benchConn{c}, start, 3*time.Second), "1ms - 40ms"; got != want {
		t.Fatalf("p99BySecond = %q, want %q", got, want)
	}
}

// The bench's nodes serve no metrics: two nodes (or a node beside another
// program) would otherwise both try serve's default metrics address, and
// all but one log an error.
func TestBenchNodesServeNoMetrics(t *testing.T) {
	args := benchServeArgs("127.0.0.1:1", nil)
	for i, a := range args {
		if a == "--metrics-addr" {
			if i+1 == len(args) || args[i+1] != "off" {
				t.Fatalf("--metrics-addr %v", args[i+1:])
			}
			return
		}
	}
	t.Fatalf("no --metrics-addr off in %q: every node tries the default address", args)
}
