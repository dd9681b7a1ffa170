package web

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/parley-mediation/parley/api"
)

// TestFloorFrameAfterFailedPriming: when a connection's starting read of
// its floor view fails, no view is known: an announcement then makes no
// read and no frame (a frame whatever the view would tell side B's page
// when side A raised a hand — review 352), and the next fallback check
// reads the view and sends it (it may have changed since the page
// loaded). From then on only a changed view is sent, on an announcement
// or a fallback check (which reads even with a view known). A starting
// read that succeeds sends nothing.
func TestFloorFrameAfterFailedPriming(t *testing.T) {
	ctx := context.Background()
	hand := api.FloorView{Case: "c_f", Timers: []api.RoomTimer{}, Turns: []api.FloorTurn{},
		Hands: []api.Hand{{Account: "u_a"}}}
	none := api.FloorView{Case: "c_f", Timers: []api.RoomTimer{}, Turns: []api.FloorTurn{}, Hands: []api.Hand{}}
	type read struct {
		call floorCall
		read bool // the view is read (v, err)
		v    api.FloorView
		err  error
		sent bool // a frame is wanted
	}
	for _, tc := range []struct {
		name  string
		reads []read
	}{
		{"priming read fails", []read{
			{call: floorStart, read: true, err: errors.New("store unreachable")},
			{call: floorChange}, // A raised a hand: nothing read, nothing sent to anyone whose view is unknown
			{call: floorChange}, // and again
			{call: floorRetry, read: true, err: errors.New("store unreachable")},
			{call: floorRetry, read: true, v: hand, sent: true}, // the fallback check: sent, it may have changed since the page loaded
			{call: floorChange, read: true, v: hand},            // unchanged: silent
			{call: floorRetry, read: true, v: hand},             // known: read, unchanged, silent
			{call: floorChange, read: true, v: none, sent: true},
		}},
		{"priming read succeeds", []read{
			{call: floorStart, read: true, v: none},
			{call: floorChange, read: true, v: none},
			{call: floorRetry, read: true, v: none},
			{call: floorChange, read: true, v: hand, sent: true},
			{call: floorChange, read: true, err: errors.New("store unreachable")},
			{call: floorChange},                     // the view is not known since: nothing read
			{call: floorRetry, read: true, v: hand}, // the fallback check: the view last sent, silent
			{call: floorChange, read: true, v: none, sent: true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i, reads := 0, 0
			feed := floorFrames(func(context.Context) (api.FloorView, []string, error) {
				r := tc.reads[i]
				if !r.read {
					t.Fatalf("call %d: the view was read", i)
				}
				reads++
				return r.v, nil, r.err
			})
			for ; i < len(tc.reads); i++ {
				r := tc.reads[i]
				before := reads
				f := feed.frame(ctx, r.call)
				if r.read && reads != before+1 {
					t.Fatalf("call %d: the view was not read", i)
				}
				if (f != nil) != r.sent {
					t.Fatalf("call %d: frame %q, want one: %v", i, f, r.sent)
				}
				if f == nil {
					continue
				}
				var got api.ServerFrame
				if err := json.Unmarshal(f, &got); err != nil || got.Type != api.FrameFloor || got.Floor == nil ||
					len(got.Floor.Hands) != len(r.v.Hands) {
					t.Fatalf("call %d: frame %s (%v), want the floor view read", i, f, err)
				}
			}
		})
	}
}

// TestFloorFrameAfterFailedChangeRead: side B's view is known; the
// announcement of a change to it (the mediator set caucus:B's timer)
// finds the store failing, so nothing is sent; the next announcement is
// of A raising a hand in caucus:A. Before, the failed read kept the old
// view as known, so that announcement read B's view, found it changed,
// and sent B a frame at the moment of A's action (review 364 LOW-1). Now
// a failed read after a change leaves no view known: announcements read
// nothing, and the fallback check, on the connection's own timer, sends
// the pending view.
func TestFloorFrameAfterFailedChangeRead(t *testing.T) {
	ctx := context.Background()
	none := api.FloorView{Case: "c_f", Timers: []api.RoomTimer{}, Turns: []api.FloorTurn{}, Hands: []api.Hand{}}
	timerB := none
	timerB.Timers = []api.RoomTimer{{Room: "caucus:B", EndsAt: 1}}
	reads := []struct {
		v   api.FloorView
		err error
	}{{v: none}, {err: errors.New("store unreachable")}, {v: timerB}}
	i := 0
	feed := floorFrames(func(context.Context) (api.FloorView, []string, error) {
		if i == len(reads) {
			t.Fatalf("read %d: more reads than expected", i)
		}
		r := reads[i]
		i++
		return r.v, []string{"joint", "caucus:B"}, r.err
	})
	feed.frame(ctx, floorStart)
	if f := feed.frame(ctx, floorChange); f != nil { // caucus:B's timer set; the read fails
		t.Fatalf("a frame from a failed read: %s", f)
	}
	if f := feed.frame(ctx, floorChange); f != nil { // A raised a hand in caucus:A
		t.Fatalf("B's socket sent a frame on A's hand: %s", f)
	}
	if i != 2 {
		t.Fatalf("%d reads, want 2: the announcement after a failed read read the view", i)
	}
	f := feed.frame(ctx, floorRetry) // the connection's own fallback check
	var got api.ServerFrame
	if err := json.Unmarshal(f, &got); err != nil || got.Floor == nil || len(got.Floor.Timers) != 1 {
		t.Fatalf("fallback check: frame %s (%v), want caucus:B's timer", f, err)
	}
}

// TestFloorFrameConcernsOnlyItsRooms: an announced change in a room the
// person may not join (as decided by their last view read) raises no
// read; one in a room of theirs, or naming no room, or before any view
// was read, does.
func TestFloorFrameConcernsOnlyItsRooms(t *testing.T) {
	none := api.FloorView{Case: "c_f", Timers: []api.RoomTimer{}, Turns: []api.FloorTurn{}, Hands: []api.Hand{}}
	feed := floorFrames(func(context.Context) (api.FloorView, []string, error) {
		return none, []string{"joint", "caucus:B"}, nil
	})
	if !feed.concerns("caucus:A") {
		t.Fatal("before any view was read, a change in caucus:A was ignored")
	}
	feed.frame(context.Background(), floorStart)
	for room, want := range map[string]bool{"caucus:A": false, "room:r_x": false, "caucus:B": true, "joint": true, "": true} {
		if got := feed.concerns(room); got != want {
			t.Errorf("concerns(%q) = %v, want %v", room, got, want)
		}
	}
}

// TestFloorFrameFallbackSeesANewRoom: the person was let into a new room
// (room:x) whose announcement (the room opened, the membership changed)
// was lost; a timer is then set in it. The socket ignores that change
// (room:x is not among the rooms of the last view read), and the
// fallback check, on the connection's own timer, reads the view anyway:
// it sends the new timer and learns room:x, so the next change in it is
// read. Before (review 373 LOW), the fallback check read nothing while
// the view was known, and the socket ignored every change of room:x for
// as long as it lasted.
func TestFloorFrameFallbackSeesANewRoom(t *testing.T) {
	ctx := context.Background()
	none := api.FloorView{Case: "c_f", Timers: []api.RoomTimer{}, Turns: []api.FloorTurn{}, Hands: []api.Hand{}}
	timerX := none
	timerX.Timers = []api.RoomTimer{{Room: "room:x", EndsAt: 1}}
	reads := []struct {
		v     api.FloorView
		joins []string
	}{{none, []string{"joint"}}, {timerX, []string{"joint", "room:x"}}, {timerX, []string{"joint", "room:x"}}}
	i := 0
	feed := floorFrames(func(context.Context) (api.FloorView, []string, error) {
		if i == len(reads) {
			t.Fatalf("read %d: more reads than expected", i)
		}
		r := reads[i]
		i++
		return r.v, r.joins, nil
	})
	feed.frame(ctx, floorStart)
	if feed.concerns("room:x") {
		t.Fatal("a change in room:x concerned a person not in it")
	}
	f := feed.frame(ctx, floorRetry) // the connection's own fallback check
	var got api.ServerFrame
	if err := json.Unmarshal(f, &got); err != nil || got.Floor == nil || len(got.Floor.Timers) != 1 {
		t.Fatalf("fallback check: frame %s (%v), want room:x's timer", f, err)
	}
	if !feed.concerns("room:x") {
		t.Fatal("after the fallback check, a change in room:x is still ignored")
	}
	if f := feed.frame(ctx, floorRetry); f != nil { // the view last sent: silent
		t.Fatalf("fallback check with nothing changed sent %s", f)
	}
}
