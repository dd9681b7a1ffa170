package server_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/messaging"
)

// nextFloor waits (bounded) for a "floor" frame on ch whose view satisfies
// ok, and returns it.
func nextFloor(t *testing.T, ch *client.Chat, what string, ok func(api.FloorView) bool) api.FloorView {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev, open := <-ch.Events():
			if !open {
				t.Fatalf("chat closed while waiting for %s", what)
			}
			if ev.Floor != nil && ok(*ev.Floor) {
				return *ev.Floor
			}
		case <-deadline:
			t.Fatalf("no floor frame with %s within 10s", what)
		}
	}
}

func status(err error) int {
	var e *client.Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

func hasTimer(room string) func(api.FloorView) bool {
	return func(v api.FloorView) bool {
		return slices.ContainsFunc(v.Timers, func(t api.RoomTimer) bool { return t.Room == room })
	}
}

// TestFloorControls: a mediator's timer, floor and the raised hands are
// decided by policy, pushed live to the case's open connections, and each
// person sees only what their rooms allow: side B never sees side A's
// caucus timer or hand, and a party never sees anyone else's hand.
func TestFloorControls(t *testing.T) {
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
	aChat := open(p.partyA, "joint", "caucus:A")
	bChat := open(p.partyB, "joint", "caucus:B")
	aMe, _ := p.partyA.Me(ctx)
	bMe, _ := p.partyB.Me(ctx)

	// Policy: only a mediator sets a timer; a party gets "forbidden" in
	// their own room and "not found" for the other side's caucus.
	if _, err := p.partyA.SetTimer(ctx, p.caseID, "caucus:A", api.TimerRequest{Minutes: 5}); status(err) != http.StatusForbidden {
		t.Fatalf("party sets a timer: %v, want 403", err)
	}
	if _, err := p.partyB.SetTimer(ctx, p.caseID, "caucus:A", api.TimerRequest{Minutes: 5}); status(err) != http.StatusNotFound {
		t.Fatalf("party B sets caucus A's timer: %v, want 404", err)
	}
	if _, err := p.med.SetTimer(ctx, p.caseID, "caucus:A", api.TimerRequest{Minutes: api.MaxTimerMinutes + 1}); status(err) != http.StatusBadRequest {
		t.Fatalf("a timer over the limit: %v, want 400", err)
	}
	if _, err := p.med.SetTimer(ctx, p.caseID, "room:zzzzzzzzzz", api.TimerRequest{Minutes: 5}); status(err) != http.StatusNotFound {
		t.Fatalf("a timer on an unknown room: %v, want 404", err)
	}
	if _, err := p.med.SetTimer(ctx, p.caseID, "nowhere", api.TimerRequest{Minutes: 5}); status(err) != http.StatusBadRequest {
		t.Fatalf("a timer on a name that is no room name: %v, want 400", err)
	}

	// A timer on caucus A reaches A and the mediator live; B's frame for
	// the same change shows nothing of it.
	timer, err := p.med.SetTimer(ctx, p.caseID, "caucus:A", api.TimerRequest{Minutes: 12})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(time.UnixMilli(timer.EndsAt)); d < 11*time.Minute || d > 13*time.Minute {
		t.Fatalf("timer ends in %s, want about 12 min", d)
	}
	nextFloor(t, aChat, "caucus A's timer for party A", hasTimer("caucus:A"))
	nextFloor(t, medChat, "caucus A's timer for the mediator", hasTimer("caucus:A"))
	if v, err := p.partyB.Floor(ctx, p.caseID); err != nil || len(v.Timers) != 0 {
		t.Fatalf("party B sees timers %+v %v", v.Timers, err)
	}
	ext, err := p.med.SetTimer(ctx, p.caseID, "caucus:A", api.TimerRequest{Extend: 3})
	if err != nil || ext.EndsAt != timer.EndsAt+3*60_000 {
		t.Fatalf("extend by 3 min: %+v %v (was %d)", ext, err, timer.EndsAt)
	}

	// Raise hand: only from a room one is in; the mediator sees who and
	// where, live; the other party never sees it.
	if _, err := p.partyB.RaiseHand(ctx, p.caseID, "caucus:A"); status(err) != http.StatusNotFound {
		t.Fatalf("party B raises a hand in caucus A: %v, want 404", err)
	}
	if _, err := p.med.RaiseHand(ctx, p.caseID, "joint"); status(err) != http.StatusForbidden {
		t.Fatalf("a mediator raises a hand: %v, want 403", err)
	}
	h, err := p.partyA.RaiseHand(ctx, p.caseID, "caucus:A")
	if err != nil {
		t.Fatal(err)
	}
	again, err := p.partyA.RaiseHand(ctx, p.caseID, "caucus:A")
	if err != nil || again.Since != h.Since {
		t.Fatalf("raising again: %+v %v, want the first time kept (%d)", again, err, h.Since)
	}
	mv := nextFloor(t, medChat, "party A's hand", func(v api.FloorView) bool { return len(v.Hands) == 1 })
	if mv.Hands[0].Account != aMe.ID || mv.Hands[0].Room != "caucus:A" || !mv.Mediator {
		t.Fatalf("mediator sees %+v", mv)
	}
	if v, err := p.partyB.Floor(ctx, p.caseID); err != nil || len(v.Hands) != 0 || v.Mediator {
		t.Fatalf("party B's view: %+v %v", v, err)
	}
	if _, err := p.partyB.RaiseHand(ctx, p.caseID, "joint"); err != nil {
		t.Fatal(err)
	}
	if v, err := p.partyA.Floor(ctx, p.caseID); err != nil || len(v.Hands) != 1 || v.Hands[0].Account != aMe.ID {
		t.Fatalf("party A sees hands %+v %v, want only their own", v.Hands, err)
	}
	// Party A may not lower B's hand; the mediator may; A lowers their own.
	if err := p.partyA.LowerHand(ctx, p.caseID, "joint", bMe.ID); status(err) != http.StatusForbidden {
		t.Fatalf("party A lowers B's hand: %v, want 403", err)
	}
	if err := p.med.LowerHand(ctx, p.caseID, "joint", bMe.ID); err != nil {
		t.Fatal(err)
	}
	if err := p.partyA.LowerHand(ctx, p.caseID, "caucus:A", ""); err != nil {
		t.Fatal(err)
	}
	if v, _ := p.med.Floor(ctx, p.caseID); len(v.Hands) != 0 {
		t.Fatalf("hands after lowering: %+v", v.Hands)
	}
	// Limits: raising is rate-limited per person.
	var limited error
	for range 12 {
		if _, limited = p.partyA.RaiseHand(ctx, p.caseID, "joint"); limited != nil {
			break
		}
		p.partyA.LowerHand(ctx, p.caseID, "joint", "")
	}
	if status(limited) != http.StatusTooManyRequests {
		t.Fatalf("a dozen raises in a minute: %v, want 429", limited)
	}

	// The floor: side B speaks in joint; everyone in joint sees it; a
	// message from side A meanwhile is not held (clients mark it).
	if _, err := p.med.GiveFloor(ctx, p.caseID, "joint", "Z", 5); status(err) != http.StatusBadRequest {
		t.Fatalf("floor to an unknown side: %v, want 400", err)
	}
	if _, err := p.partyB.GiveFloor(ctx, p.caseID, "joint", "B", 5); status(err) != http.StatusForbidden {
		t.Fatalf("a party gives the floor: %v, want 403", err)
	}
	turn, err := p.med.GiveFloor(ctx, p.caseID, "joint", "B", 5)
	if err != nil {
		t.Fatal(err)
	}
	speaking := func(v api.FloorView) bool {
		return slices.ContainsFunc(v.Turns, func(t api.FloorTurn) bool { return t.Side == "B" && t.Ended == 0 })
	}
	av := nextFloor(t, aChat, "B's turn for party A", speaking)
	nextFloor(t, bChat, "B's turn for party B", speaking)
	if len(av.Turns) != 1 || av.Turns[0].Until != turn.Until {
		t.Fatalf("party A sees turns %+v", av.Turns)
	}
	m, err := aChat.Send(ctx, "joint", "out-of-turn-1", []byte("opaque"))
	if err != nil {
		t.Fatalf("a message out of turn is refused: %v", err)
	}
	if m.At < turn.From || m.At >= turn.Until {
		t.Fatalf("message at %d is not inside the turn %d–%d, clients could not mark it", m.At, turn.From, turn.Until)
	}
	if err := p.med.TakeFloor(ctx, p.caseID, "joint"); err != nil {
		t.Fatal(err)
	}
	av = nextFloor(t, aChat, "the floor taken back", func(v api.FloorView) bool { return !speaking(v) })
	if av.Turns[0].Ended == 0 {
		t.Fatalf("turn after take-back: %+v", av.Turns[0])
	}
	if err := p.med.TakeFloor(ctx, p.caseID, "joint"); status(err) != http.StatusConflict {
		t.Fatalf("taking back a floor nobody has: %v, want 409", err)
	}
}

// TestFloorSurvivesRedisFlush: timers, turns and hands live in the object
// store; a Redis flush (a restart without persistence) and a fresh node
// lose none of them.
func TestFloorSurvivesRedisFlush(t *testing.T) {
	cfg := nodetest.Scale(t)
	redisURL, restart := testenv.PrivateRedis(t)
	cfg.RedisURL = redisURL
	n := nodetest.Start(t, cfg)
	ctx := context.Background()
	p := seedCase(t, n)
	if _, err := p.med.SetTimer(ctx, p.caseID, "caucus:B", api.TimerRequest{Minutes: 20}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.med.GiveFloor(ctx, p.caseID, "joint", "A", 10); err != nil {
		t.Fatal(err)
	}
	if _, err := p.partyB.RaiseHand(ctx, p.caseID, "caucus:B"); err != nil {
		t.Fatal(err)
	}
	before, err := p.med.Floor(ctx, p.caseID)
	if err != nil {
		t.Fatal(err)
	}
	restart()
	m := nodetest.Start(t, cfg)
	after, err := client.New(m.URL, p.med.Token).Floor(ctx, p.caseID)
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Timers) != 1 || len(after.Turns) != 1 || len(after.Hands) != 1 ||
		after.Timers[0] != before.Timers[0] || after.Turns[0] != before.Turns[0] || after.Hands[0] != before.Hands[0] {
		t.Fatalf("after a Redis flush and a new node:\n%+v\nbefore:\n%+v", after, before)
	}
}

// TestFloorHandGoesWithItsOwner: a hand shows only while its owner is in
// the room; when the mediator removes them from the case, the mediator's
// open page gets a floor frame without it at once (a membership change
// pushes the room controls too).
func TestFloorHandGoesWithItsOwner(t *testing.T) {
	n := nodetest.Start(t, nodetest.Scale(t))
	ctx := context.Background()
	p := seedCase(t, n)
	medChat, err := client.New(n.URL, p.med.Token).Chat(ctx, p.caseID, map[string]*messaging.Position{"joint": nil})
	if err != nil {
		t.Fatal(err)
	}
	defer medChat.Close()
	aMe, _ := p.partyA.Me(ctx)
	if _, err := p.partyA.RaiseHand(ctx, p.caseID, "caucus:A"); err != nil {
		t.Fatal(err)
	}
	nextFloor(t, medChat, "party A's hand", func(v api.FloorView) bool { return len(v.Hands) == 1 })
	if _, err := p.med.RemoveParticipant(ctx, p.caseID, aMe.ID); err != nil {
		t.Fatal(err)
	}
	nextFloor(t, medChat, "no hands once party A is removed", func(v api.FloorView) bool { return len(v.Hands) == 0 })
}
