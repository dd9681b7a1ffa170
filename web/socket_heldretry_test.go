package web

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
)

// waitUntil polls cond every 5 ms, failing the test if it is not true
// within 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10 s", what)
		}
	}
}

// TestSubscribeRefusedWhileHeldNamesTheSub: a subscribe sent while the
// socket's frames are held for a session check is answered "could not
// subscribe; try again", and once the check keeps the person that answer
// goes out naming the room and saying it refuses a "sub", so that a
// client asks again (the browser does); asked again, the room is
// subscribed. Before, the answer said only the room and "unavailable",
// which the browser took for nothing it had to act on (it answers no
// message of its own), and the room stayed silent on that connection.
func TestSubscribeRefusedWhileHeldNamesTheSub(t *testing.T) {
	ctx := t.Context()
	svc := dirService(t)
	const user = "u_a"
	gate := make(chan struct{})
	var checks, refused atomic.Int32
	ws := optionsSocket(t, svc, socketOptions{User: user, Auth: oneRoomAuth{id: "c1/joint"},
		SessionTopics: []string{account.AccountTopic(user)}, refusedHeld: func() { refused.Add(1) },
		Session: func(ctx context.Context) sessionState {
			if checks.Add(1) > 1 {
				select {
				case <-gate:
				case <-ctx.Done():
				}
			}
			return sessionValid
		}})
	waitUntil(t, "the starting session check", func() bool { return checks.Load() > 0 })
	if err := svc.Announce(ctx, account.AccountTopic(user), []byte("revoked")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the session check after the revocation", func() bool { return checks.Load() > 1 })
	sendFrame(t, ws, api.ClientFrame{Type: api.FrameSub, Room: "joint"})
	waitUntil(t, "the subscribe answered while held", func() bool { return refused.Load() > 0 })
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	frames, ended := framesOf(ws)
	close(gate)
	var refusal api.ServerFrame
	awaitFrame(t, frames, ended, "the subscribe's refusal", func(f api.ServerFrame) bool {
		refusal = f
		return f.Type == api.FrameError
	})
	if refusal.Room != "joint" || refusal.Refused != api.FrameSub || refusal.Code != api.CodeUnavailable || refusal.ID != "" {
		t.Fatalf("refusal %+v: want room joint, refused %q, code %q and no id", refusal, api.FrameSub, api.CodeUnavailable)
	}
	sendFrame(t, ws, api.ClientFrame{Type: api.FrameSub, Room: "joint"})
	awaitFrame(t, frames, ended, "the subscribe asked again", func(f api.ServerFrame) bool {
		return f.Type == api.FrameSubscribed && f.Room == "joint"
	})
}
