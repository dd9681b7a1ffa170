package web

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/parley-mediation/parley/api"
)

// ackFrame gives the bytes encodeFrame gives for an ack, with names that
// need escaping and with empty ones.
func TestAckFrameMatchesEncodeFrame(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 3))
	names := []string{"", "joint", "caucus \"A\"", "back\\slash", "<b>&", "tab\t", "é✓", "\u2028", "\x00nul"}
	for range 500 {
		room, id := names[r.IntN(len(names))], names[r.IntN(len(names))]
		epoch, offset, at := r.Int64N(1<<40), r.Int64N(1<<40), r.Int64()
		if r.IntN(4) == 0 {
			at = -at
		}
		m := api.Message{Epoch: epoch, Offset: offset, At: at}
		want := encodeFrame(api.ServerFrame{Type: api.FrameAck, Room: room, ID: id, Msg: &m})
		if got := ackFrame(room, id, epoch, offset, at); !bytes.Equal(got, want) {
			t.Fatalf("ackFrame(%q, %q):\n got %s\nwant %s", room, id, got, want)
		}
	}
}
