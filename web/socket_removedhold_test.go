package web

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/messaging"
)

// removedAuth lets the connection into any room until armed; then, like
// the store after the person's removal, it reads through g and answers
// that their access to the case ended.
type removedAuth struct{ g *storeGate }

func (a removedAuth) Resolve(ctx context.Context, name, _ string) (messaging.Room, error) {
	if !a.g.armed.Load() {
		return messaging.Room{ID: "r_gate", Name: name}, nil
	}
	a.g.read(ctx)
	return messaging.Room{}, fmt.Errorf("case: %w", messaging.ErrAccessLost)
}

func (removedAuth) Invalidate() {}

// discardSink is a subscriber that takes every frame.
type discardSink struct{}

func (discardSink) Send([]byte) bool { return true }
func (discardSink) Overflow()        {}

// TestRemovedPersonGetsNoFramesDuringRecheck: once an announcement names
// this socket's own person as having lost the case (removed from it,
// recused, their account disabled), the socket writes none of the frames
// queued while its check decides: with that check's store read held, the
// room's next presence and message frames reach the other people's
// sockets (whose own checks are held too: they learn no timing from it)
// and not the removed person's, which then closes. Before, frames kept
// going out until the check decided, so a removed person read the
// envelopes (sender, time, id, epoch, offset) and presence of a room they
// had left.
func TestRemovedPersonGetsNoFramesDuringRecheck(t *testing.T) {
	const topic = "case:c_rm"
	const account = "account-sessions:u_a"
	cases := []struct {
		name      string
		announce  func(svc *messaging.Service)
		caseTopic bool // the other person's socket hears it (and re-checks) too
		code      int
	}{
		{"removed", func(svc *messaging.Service) {
			svc.Announce(context.Background(), topic, []byte(`{"change":"participant.removed","account":"u_a"}`))
		}, true, api.CloseAccessLost},
		{"recused", func(svc *messaging.Service) {
			svc.Announce(context.Background(), topic, []byte(`{"change":"mediator.recused","account":"u_a"}`))
		}, true, api.CloseAccessLost},
		{"disabled", func(svc *messaging.Service) {
			svc.Announce(context.Background(), account, []byte("disabled"))
		}, false, api.CloseSessionEnded},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc := dirService(t)
			gR, gC := newStoreGate(), newStoreGate()
			var relR, relC sync.Once
			releaseR := func() { relR.Do(func() { close(gR.release) }) }
			releaseC := func() { relC.Do(func() { close(gC.release) }) }
			t.Cleanup(releaseR)
			t.Cleanup(releaseC)
			var sessionChecks atomic.Int32
			removed := optionsSocket(t, svc, socketOptions{User: "u_a", Auth: removedAuth{gR}, Watch: topic,
				SessionTopics: []string{account},
				Session: func(ctx context.Context) sessionState {
					defer sessionChecks.Add(1)
					if !gR.armed.Load() {
						return sessionValid
					}
					gR.read(ctx)
					return sessionEnded
				}})
			control := optionsSocket(t, svc, socketOptions{User: "u_c", Auth: gateAuth{gC}, Watch: topic})
			sendFrame(t, removed, api.ClientFrame{Type: api.FrameSub, Room: "joint"})
			nextFrame(t, removed, func(f api.ServerFrame) bool { return f.Type == api.FrameSubscribed })
			sendFrame(t, control, api.ClientFrame{Type: api.FrameSub, Room: "joint"})
			nextFrame(t, control, func(f api.ServerFrame) bool { return f.Type == api.FrameSubscribed })
			// The removed person's subscription is recorded before the
			// announcement: the connection reads its frames in order, so
			// the answer to a malformed frame sent after the sub comes
			// once the sub has been recorded. Otherwise the re-check
			// could run between the sub's subscribing and its recording,
			// find no room to ask about and (with no CaseGone here, which
			// the server's sockets have) decide to keep the person, and
			// the re-check the sub then asks for would wait on the store
			// with the frames no longer held: the room's next frames
			// reached the removed person in about one run in a few
			// hundred under load.
			if err := removed.WriteMessage(websocket.TextMessage, []byte("{")); err != nil {
				t.Fatal(err)
			}
			// Everything for the removed person before the announcement
			// has been read: the last of it is that error and the removed
			// person's own arrival and the control's, which the room
			// announces in any order.
			seen := map[string]bool{}
			nextFrame(t, removed, func(f api.ServerFrame) bool {
				if f.Type == api.FramePresence && f.Here {
					seen[f.User] = true
				}
				if f.Type == api.FrameError && f.Code == api.CodeInvalid {
					seen["error"] = true
				}
				return seen["u_a"] && seen["u_c"] && seen["error"]
			})
			for deadline := time.Now().Add(10 * time.Second); sessionChecks.Load() == 0; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the connection's starting session check never ran")
				}
			}
			gR.armed.Store(true)
			gC.armed.Store(true)
			tc.announce(svc)
			for _, g := range []*storeGate{gR, gC} {
				if g == gC && !tc.caseTopic {
					continue
				}
				select {
				case <-g.entered:
				case <-time.After(10 * time.Second):
					t.Fatal("no check started on the announcement")
				}
			}
			// The room goes on: someone joins, someone posts.
			room := messaging.Room{ID: "r_gate", Name: "joint"}
			if _, err := svc.Subscribe(t.Context(), room, "u_b", "b1", nil, discardSink{}); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Publish(t.Context(), room.ID, api.Message{ID: "m1", From: "u_b", Body: []byte("x")}); err != nil {
				t.Fatal(err)
			}
			// The other person gets them while their own check waits; the
			// hub queued them for both sockets in the same pass.
			nextFrame(t, control, func(f api.ServerFrame) bool { return f.Type == api.FramePresence && f.User == "u_b" })
			nextFrame(t, control, func(f api.ServerFrame) bool { return f.Type == api.FrameMsgs })
			if gR.inside.Load() == 0 {
				t.Fatal("the removed person's check was no longer waiting: the test proved nothing")
			}
			releaseR()
			removed.SetReadDeadline(time.Now().Add(10 * time.Second))
			for {
				var f api.ServerFrame
				err := removed.ReadJSON(&f)
				if err != nil {
					if !websocket.IsCloseError(err, tc.code) {
						t.Fatalf("the removed person's socket ended with %v; want close %d", err, tc.code)
					}
					break
				}
				if f.Type == api.FramePresence || f.Type == api.FrameMsgs {
					t.Fatalf("the removed person's socket got a %s frame of the room (%+v) while its check decided", f.Type, f)
				}
			}
		})
	}
}
