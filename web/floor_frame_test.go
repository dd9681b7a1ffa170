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
// loaded). From then on only a changed view is sent, on an announcement;
// a fallback check with a view known reads nothing. A starting read that
// succeeds sends nothing.
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
			{call: floorRetry},                                  // known: nothing read
			{call: floorChange, read: true, v: none, sent: true},
		}},
		{"priming read succeeds", []read{
			{call: floorStart, read: true, v: none},
			{call: floorChange, read: true, v: none},
			{call: floorRetry},
			{call: floorChange, read: true, v: hand, sent: true},
			{call: floorChange, read: true, err: errors.New("store unreachable")},
			{call: floorChange, read: true, v: hand},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i, reads := 0, 0
			frame := floorFrames(func(context.Context) (api.FloorView, error) {
				r := tc.reads[i]
				if !r.read {
					t.Fatalf("call %d: the view was read", i)
				}
				reads++
				return r.v, r.err
			})
			for ; i < len(tc.reads); i++ {
				r := tc.reads[i]
				before := reads
				f := frame(ctx, r.call)
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
