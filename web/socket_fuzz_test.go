package web

import (
	"testing"

	"github.com/parley-mediation/parley/api"
)

func FuzzDecodeClientFrame(f *testing.F) {
	f.Add([]byte(`{"t":"pub","room":"joint","id":"1","body":"eA=="}`))
	f.Add([]byte(`{"t":"sub","room":"caucus:A","from":{"epoch":1,"offset":4}}`))
	f.Add([]byte(`{"t":"unsub","room":"joint"}`))
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
	})
}
