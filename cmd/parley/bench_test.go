package main

import (
	"encoding/json"
	"reflect"
	"testing"

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
