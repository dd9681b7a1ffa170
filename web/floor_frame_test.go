package web

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/parley-mediation/parley/api"
)

// TestFloorFrameAfterFailedPriming: when a connection's first (priming)
// read of its floor view fails, the connection still counts as started,
// so the next view it reads — a real change that someone announced — is
// sent rather than taken for the priming read and swallowed. Views equal
// to the last one sent stay silent, and a priming read that succeeds
// still sends nothing.
func TestFloorFrameAfterFailedPriming(t *testing.T) {
	ctx := context.Background()
	hand := api.FloorView{Case: "c_f", Timers: []api.RoomTimer{}, Turns: []api.FloorTurn{},
		Hands: []api.Hand{{Account: "u_a"}}}
	none := api.FloorView{Case: "c_f", Timers: []api.RoomTimer{}, Turns: []api.FloorTurn{}, Hands: []api.Hand{}}
	type read struct {
		v    api.FloorView
		err  error
		sent bool // a frame is wanted
	}
	for _, tc := range []struct {
		name  string
		reads []read
	}{
		{"priming read fails", []read{
			{err: errors.New("store unreachable")},
			{v: hand, sent: true}, // the hand raised since: sent
			{v: hand},             // unchanged: silent
			{v: none, sent: true},
		}},
		{"priming read succeeds", []read{
			{v: none},
			{v: none},
			{v: hand, sent: true},
			{err: errors.New("store unreachable")},
			{v: hand},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i := 0
			frame := floorFrames(func(context.Context) (api.FloorView, error) {
				r := tc.reads[i]
				return r.v, r.err
			})
			for ; i < len(tc.reads); i++ {
				r := tc.reads[i]
				f := frame(ctx)
				if (f != nil) != r.sent {
					t.Fatalf("read %d: frame %q, want one: %v", i, f, r.sent)
				}
				if f == nil {
					continue
				}
				var got api.ServerFrame
				if err := json.Unmarshal(f, &got); err != nil || got.Type != api.FrameFloor || got.Floor == nil ||
					len(got.Floor.Hands) != len(r.v.Hands) {
					t.Fatalf("read %d: frame %s (%v), want the floor view read", i, f, err)
				}
			}
		})
	}
}
