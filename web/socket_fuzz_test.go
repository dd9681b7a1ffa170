package web

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/api"
)

func FuzzDecodeClientFrame(f *testing.F) {
	f.Add([]byte(`{"t":"pub","room":"joint","id":"1","body":"eA=="}`))
	f.Add([]byte(`{"t":"sub","room":"caucus:A","from":{"epoch":1,"offset":4}}`))
	f.Add([]byte(`{"t":"unsub","room":"joint"}`))
	f.Add([]byte(`{"t":"pub","room":"joint","id":"1","body":"eA==","epoch":4}`))
	f.Add([]byte(`{"t":"pub","room":"joint","id":"1","body":"eA==","epoch":-1}`))
	f.Add([]byte(`{"t":"pub","room":"joint","Room":"caucus:B","id":"1","body":"eA=="}`))
	f.Add([]byte(`{"T":"pub","ROOM":"joint","Id":"1","body":"eA=="}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := decodeClientFrame(data)
		if err != nil {
			return
		}
		if fr.Room == "" || len(fr.Room) > api.MaxRoomName || len(fr.Body) > api.MaxBody || len(fr.ID) > api.MaxClientID {
			t.Fatalf("frame past its limits accepted: %+v", fr)
		}
		if fr.Type == api.FramePub && (fr.ID == "" || len(fr.Body) == 0) {
			t.Fatalf("pub without id or body accepted")
		}
		if fr.Epoch < 0 {
			t.Fatalf("negative epoch accepted: %+v", fr)
		}
		// No parser differential: what the socket accepts, encoding/json
		// reads the same way.
		var v1 api.ClientFrame
		if err := json.Unmarshal(data, &v1); err != nil || !reflect.DeepEqual(*fr, v1) {
			t.Fatalf("decoded %+v, encoding/json gives %+v (%v)", *fr, v1, err)
		}
	})
}

// TestDecodeClientFrameIsStrict: a frame naming a field twice, in the same
// case or another, or holding invalid UTF-8, is refused whole, where
// encoding/json would take the last of two rooms; a proxy or a log reading
// the frame another way must not see another room than the one the
// message is stored in. A name in another case alone is read as
// encoding/json reads it.
func TestDecodeClientFrameIsStrict(t *testing.T) {
	const ok = `{"t":"pub","room":"joint","id":"1","body":"eA=="}`
	if _, err := decodeClientFrame([]byte(ok)); err != nil {
		t.Fatalf("a good frame: %v", err)
	}
	for name, bad := range map[string]string{
		"two rooms":              strings.Replace(ok, `"room":"joint"`, `"room":"joint","room":"caucus:A"`, 1),
		"two rooms, two cases":   strings.Replace(ok, `"room":"joint"`, `"room":"joint","Room":"caucus:A"`, 1),
		"two rooms, other order": strings.Replace(ok, `"room":"joint"`, `"ROOM":"caucus:A","room":"joint"`, 1),
		"invalid UTF-8":          strings.Replace(ok, `"id":"1"`, "\"id\":\"1\xff\"", 1),
	} {
		if fr, err := decodeClientFrame([]byte(bad)); err == nil {
			t.Errorf("%s: accepted as %+v", name, fr)
		}
	}
	fr, err := decodeClientFrame([]byte(strings.Replace(ok, `"room"`, `"Room"`, 1)))
	if err != nil || fr.Room != "joint" {
		t.Errorf("a name in capitals alone: %+v, %v; want room joint, as encoding/json reads it", fr, err)
	}
}

// TestDecodePubEpoch: a pub's epoch is optional and never negative.
func TestDecodePubEpoch(t *testing.T) {
	for in, want := range map[string]int64{
		`{"t":"pub","room":"joint","id":"1","body":"eA==","epoch":4}`:  4,
		`{"t":"pub","room":"joint","id":"1","body":"eA=="}`:            0,
		`{"t":"pub","room":"joint","id":"1","body":"eA==","epoch":-1}`: -1,
	} {
		fr, err := decodeClientFrame([]byte(in))
		switch {
		case want < 0 && err == nil:
			t.Errorf("%s: accepted", in)
		case want >= 0 && (err != nil || fr.Epoch != want):
			t.Errorf("%s: %+v %v, want epoch %d", in, fr, err, want)
		}
	}
}

// BenchmarkDecodeClientFrame: one pub frame with a 256-byte body, as the
// socket reads every message sent; "encoding-json" is the way before.
func BenchmarkDecodeClientFrame(b *testing.B) {
	body := make([]byte, 256)
	data, _ := json.Marshal(api.ClientFrame{Type: api.FramePub, Room: "joint", ID: "m-0123456789-abcdef", Body: body, Epoch: 3})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			var f api.ClientFrame
			if err := json.Unmarshal(data, &f); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decodeClientFrame", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeClientFrame(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
