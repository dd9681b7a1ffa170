package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/messaging"
)

// TestFloorQuietForTheOtherSide: side A's raised hand and A's caucus
// timer change nothing side B sees, so B's socket gets no frame for them
// (a frame, even an empty one, would tell B when and how often A acts).
// The sentinel: after A's changes, a change B does see (a joint timer)
// must be the first floor frame B's socket carries.
func TestFloorQuietForTheOtherSide(t *testing.T) {
	n := nodetest.Start(t, nodetest.Scale(t))
	ctx := context.Background()
	p := seedCase(t, n)
	open := func(c *client.Client, rooms ...string) *client.Chat {
		subs := map[string]*messaging.Position{}
		for _, r := range rooms {
			subs[r] = nil
		}
		ch, err := client.New(n.URL, c.Token).Chat(ctx, p.caseID, subs)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(ch.Close)
		return ch
	}
	medChat := open(p.med, "joint", "caucus:A", "caucus:B")
	bChat := open(p.partyB, "joint", "caucus:B")

	if _, err := p.partyA.RaiseHand(ctx, p.caseID, "caucus:A"); err != nil {
		t.Fatal(err)
	}
	nextFloor(t, medChat, "party A's hand", func(v api.FloorView) bool { return len(v.Hands) == 1 })
	if _, err := p.med.SetTimer(ctx, p.caseID, "caucus:A", api.TimerRequest{Minutes: 12}); err != nil {
		t.Fatal(err)
	}
	nextFloor(t, medChat, "caucus A's timer", hasTimer("caucus:A"))
	if _, err := p.med.SetTimer(ctx, p.caseID, "caucus:A", api.TimerRequest{Extend: 3}); err != nil {
		t.Fatal(err)
	}
	nextFloor(t, medChat, "caucus A's timer extended", func(v api.FloorView) bool {
		return len(v.Timers) == 1 && v.Timers[0].EndsAt-v.Timers[0].SetAt > 14*60_000
	})
	if err := p.partyA.LowerHand(ctx, p.caseID, "caucus:A", ""); err != nil {
		t.Fatal(err)
	}
	nextFloor(t, medChat, "party A's hand lowered", func(v api.FloorView) bool { return len(v.Hands) == 0 })

	// The sentinel: a change B sees.
	if _, err := p.med.SetTimer(ctx, p.caseID, "joint", api.TimerRequest{Minutes: 30}); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-bChat.Events():
			if !ok {
				t.Fatal("B's chat closed")
			}
			if ev.Floor == nil {
				continue
			}
			if len(ev.Floor.Timers) != 1 || ev.Floor.Timers[0].Room != "joint" {
				t.Fatalf("B's socket got a floor frame for side A's change: %+v", *ev.Floor)
			}
			return
		case <-deadline:
			t.Fatal("no floor frame for the joint timer on B's socket within 10s")
		}
	}
}
