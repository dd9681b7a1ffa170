package messaging

import (
	"encoding/json"
	"testing"
)

func FuzzDecodeJournal(f *testing.F) {
	f.Add([]byte(`{"node":"n1","seq":3,"batches":[{"room":"r/joint","epoch":1,"first":1,"msgs":[{"epoch":1,"offset":1,"id":"a","from":"u","at":1,"body":"eA=="}]}]}`))
	f.Add([]byte(`{"node":"n1","seq":3,"fenced_by":"n2"}`))
	f.Add([]byte(`{"node":"n1","seq":3,"batches":[null]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := decodeJournal("n1", 3, data)
		if err != nil {
			return
		}
		if e.Node != "n1" || e.Seq != 3 {
			t.Fatalf("entry for another place accepted: %+v", e)
		}
		for _, b := range e.Batches {
			if b == nil || b.check() != nil {
				t.Fatalf("inconsistent batch accepted: %+v", b)
			}
		}
	})
}

func FuzzDecodeForward(f *testing.F) {
	s := &Service{nodeKey: []byte("k")}
	good, _ := json.Marshal(forwardRequest{Op: "commit", Req: "q", Reply: "p", Room: "r/joint", Msgs: []Message{{ID: "a", Body: []byte("x")}}})
	f.Add(s.sign(good))
	f.Add(good)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		req, ok := s.decodeForward(data)
		if !ok {
			return
		}
		if req.Req == "" || req.Reply == "" || req.Room == "" {
			t.Fatalf("request without id, reply address or room accepted: %+v", req)
		}
		if body, ok := s.verify(data); !ok || len(body) == 0 {
			t.Fatal("an unsigned request was accepted")
		}
	})
}
