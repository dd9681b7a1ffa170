package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/internal/nodetest"
)

// TestFloorLongRoomName: a room name from the path outside the room-name
// grammar (api.ValidRoomName; here one far longer than any) is refused as
// invalid (400) before any decision, and nothing of it reaches the audit
// log (a refusal is audited with the room it names: an unbounded name
// would let anyone grow the log at will).
func TestFloorLongRoomName(t *testing.T) {
	n := nodetest.Start(t, nodetest.Scale(t))
	ctx := context.Background()
	p := seedCase(t, n)
	long := "caucus:" + strings.Repeat("x", 4000)
	from := n.Audit.Size()
	if _, err := p.partyB.RaiseHand(ctx, p.caseID, long); status(err) != http.StatusBadRequest {
		t.Fatalf("raising a hand in a 4000-byte room: %v, want 400", err)
	}
	if _, err := p.med.SetTimer(ctx, p.caseID, long, api.TimerRequest{Minutes: 5}); status(err) != http.StatusBadRequest {
		t.Fatalf("a timer on a 4000-byte room: %v, want 400", err)
	}
	for i := from; i < n.Audit.Size(); i++ {
		ev, err := n.Audit.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(fmt.Sprint(ev), "xxxxxxxx") {
			t.Fatalf("audit entry %d holds the long room name: %.200v", i, ev)
		}
	}
	// A short name outside the grammar is refused the same way; a
	// well-formed name of no room is an ordinary unknown room (404).
	if _, err := p.partyB.RaiseHand(ctx, p.caseID, strings.Repeat("y", api.MaxRoomName)); status(err) != http.StatusBadRequest {
		t.Fatalf("a %d-byte name of no room: %v, want 400", api.MaxRoomName, err)
	}
	if _, err := p.partyB.RaiseHand(ctx, p.caseID, "room:zzzzzzzzzz"); status(err) != http.StatusNotFound {
		t.Fatalf("a well-formed unknown room: %v, want 404", err)
	}
}
