package web

import (
	"testing"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/objstore"
)

// TestPubToEndedRoomIsRefusedInWords: a post that reaches the engine for
// a room whose history has ended (its case disposed of, the room held by
// no node) is refused as forbidden, in the disposal's words, not "send
// again" (which would have the client resend for nothing), and nothing
// is stored.
func TestPubToEndedRoomIsRefusedInWords(t *testing.T) {
	store, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc := messaging.NewService(messaging.NewLog(store), messaging.NewMemory(), messaging.Options{})
	t.Cleanup(svc.Close)
	const room = "c_ended/joint"
	const want = "not stored: this case is being disposed of under its retention schedule, so nothing can be added to it"
	if err := messaging.EndHistory(t.Context(), store, "c_ended"); err != nil {
		t.Fatal(err)
	}
	ws := oneRoomSocket(t, svc, room)
	sendFrame(t, ws, api.ClientFrame{Type: api.FramePub, Room: "joint", ID: "late", Body: []byte("ciphertext")})
	f := nextFrame(t, ws, func(f api.ServerFrame) bool {
		return f.ID == "late" && (f.Type == api.FrameAck || f.Type == api.FrameError)
	})
	if f.Type != api.FrameError || f.Code != api.CodeForbidden || f.Detail != want {
		t.Fatalf("a pub to an ended room: %+v, want refused as %q with %q", f, api.CodeForbidden, want)
	}
	if msgs, _, err := svc.Page(t.Context(), room, messaging.Position{}, 10); err == nil && len(msgs) > 0 {
		t.Fatalf("the ended room holds %d messages", len(msgs))
	}
}
