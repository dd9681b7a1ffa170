package web

import (
	"testing"

	"github.com/parley-mediation/parley/api"
)

func FuzzDecodeClientFrame(f *testing.F) {
	f.Add([]byte(`{"t":"pub","room":"joint","id":"1","body":"eA=="}`))
	f.Add([]byte(`{"t":"sub","room":"caucus:A","from":{"epoch":1,"offset":4}}`))
	f.Add([]byte(`{"t":"unsub","room":"joint"}`))
	f.Add([]byte(`{"t":"pub","room":"joint","id":"1","body":"eA==","epoch":4}`))
	f.Add([]byte(`{"t":"pub","room":"joint","id":"1","body":"eA==","epoch":-1}`))
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
	})
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
