package messaging

import (
	"bytes"
	"encoding/json"
	"testing"
)

// The journal's hand-built encoding is byte for byte what json.Marshal
// makes of the same entry, and decodes to the batches written.
func TestJournalWriteEncodeMatchesMarshal(t *testing.T) {
	b1, _ := json.Marshal(&Batch{Room: "r1", Epoch: 1, First: 1, Msgs: []Message{{ID: "a", From: "u\"<x>", Body: []byte("hi"), Epoch: 1, Offset: 1}}})
	b2, _ := json.Marshal(&Batch{Room: "r2", Epoch: 3, First: 7, Seal: &Seal{Next: 4, Reason: "member left"}})
	for _, e := range []*journalWrite{
		{Node: "n1", Seq: 1, Batches: []json.RawMessage{b1}},
		{Node: "n-\u00e9\"2", Seq: 1 << 40, Batches: []json.RawMessage{b1, b2, b1}},
		{Node: "n3", Seq: 9, FencedBy: "other\\node"},
		{Node: "n4", Seq: 2},
	} {
		want, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		got := e.encode()
		if !bytes.Equal(got, want) {
			t.Fatalf("encode:\n got %s\nwant %s", got, want)
		}
		var back journalEntry
		if err := json.Unmarshal(got, &back); err != nil || back.Node != e.Node || back.Seq != e.Seq || len(back.Batches) != len(e.Batches) || back.FencedBy != e.FencedBy {
			t.Fatalf("decoded %+v (%v) from %s", back, err, got)
		}
	}
}
