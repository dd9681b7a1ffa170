package web

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/messaging"
)

// stallAuth lets the connection into one room; while gated is set, an
// answer waits for gate and then decides nothing (the store failed a
// read). entered counts the answers that waited.
type stallAuth struct {
	id      string
	gated   atomic.Bool
	entered atomic.Int32
	gate    chan struct{}
}

func (a *stallAuth) Resolve(ctx context.Context, name, _ string) (messaging.Room, error) {
	if a.gated.Load() {
		a.entered.Add(1)
		select {
		case <-a.gate:
		case <-ctx.Done():
		}
		return messaging.Room{}, errors.New("store: unavailable")
	}
	return messaging.Room{ID: a.id, Name: name}, nil
}

func (*stallAuth) Invalidate() {}

// noMoreWithin fails the test if count grows past want within d: a
// bounded poll for something that must not happen (the retry's first
// wait, retryFirst, is 250 ms).
func noMoreWithin(t *testing.T, what string, d time.Duration, want int32, count func() int32) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if n := count(); n > want {
			t.Fatalf("%s: %d, want %d: the retry's timer fired after the check had decided", what, n, want)
		}
	}
}

// TestRetryTimerStopsWhenTheCheckDecides: a check that decided nothing
// while frames were held for it (the store failed its read) is asked
// again on a timer; when it then decides in a round another announcement
// asked for, before that timer fires, the timer is stopped: no further
// check (no store read) follows. Before, the timer still fired once and
// the check read the store once more for nothing. Both checks that retry
// are covered: the session check (after a sign-out was announced) and the
// access re-check (after the person's removal was announced).
func TestRetryTimerStopsWhenTheCheckDecides(t *testing.T) {
	t.Run("session", func(t *testing.T) {
		ctx := t.Context()
		svc := dirService(t)
		gate := make(chan struct{})
		var checks atomic.Int32
		ws := optionsSocket(t, svc, socketOptions{User: "u_a", Auth: oneRoomAuth{id: "c1/joint"},
			SessionTopics: []string{"session:s1", account.AccountTopic("u_a")},
			Session: func(ctx context.Context) sessionState {
				switch checks.Add(1) {
				case 1:
					return sessionValid // the check at start
				case 2:
					// The check after the first announcement waits, then
					// cannot tell.
					select {
					case <-gate:
					case <-ctx.Done():
					}
					return sessionUnknown
				}
				return sessionValid
			}})
		waitUntil(t, "the starting session check", func() bool { return checks.Load() > 0 })
		if err := svc.Announce(ctx, account.AccountTopic("u_a"), []byte("revoked")); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "the check after the announcement", func() bool { return checks.Load() > 1 })
		// Asked again by an announcement while the first cannot tell: the
		// next round decides (valid) as soon as the undecided one ends.
		if err := svc.Announce(ctx, "session:s1", []byte("password-changed")); err != nil {
			t.Fatal(err)
		}
		close(gate)
		waitUntil(t, "the check the second announcement asked for", func() bool { return checks.Load() > 2 })
		// Kept: the held frames went, and the socket answers.
		sendFrame(t, ws, api.ClientFrame{Type: api.FrameSub, Room: "joint"})
		nextFrame(t, ws, func(f api.ServerFrame) bool { return f.Type == api.FrameSubscribed })
		noMoreWithin(t, "session checks", time.Second, 3, checks.Load)
	})
	t.Run("access", func(t *testing.T) {
		ctx := t.Context()
		svc := dirService(t)
		const room, user = "c1/joint", "u_a"
		auth := &stallAuth{id: room, gate: make(chan struct{})}
		var rechecks atomic.Int32
		ws := optionsSocket(t, svc, socketOptions{User: user, Auth: auth, Watch: "case:c1",
			rechecked: func() { rechecks.Add(1) }})
		sendFrame(t, ws, api.ClientFrame{Type: api.FrameSub, Room: "joint"})
		nextFrame(t, ws, func(f api.ServerFrame) bool { return f.Type == api.FrameSubscribed })
		nextFrame(t, ws, func(f api.ServerFrame) bool { return f.Type == api.FramePresence && f.User == user })
		auth.gated.Store(true)
		if err := svc.Announce(ctx, "case:c1", removedAnnouncement(user)); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "the re-check after the removal", func() bool { return auth.entered.Load() > 0 })
		// Another change of the case asks for a re-check while the first
		// cannot tell; it decides (still in the room).
		if err := svc.Announce(ctx, "case:c1", []byte(`{"change":"participant.added","account":"u_c"}`)); err != nil {
			t.Fatal(err)
		}
		auth.gated.Store(false)
		close(auth.gate)
		waitUntil(t, "the re-check the second announcement asked for", func() bool { return rechecks.Load() > 1 })
		if _, err := svc.Publish(ctx, room, api.Message{ID: "m1", From: "u_b", Body: []byte("x")}); err != nil {
			t.Fatal(err)
		}
		nextFrame(t, ws, func(f api.ServerFrame) bool { return f.Type == api.FrameMsgs })
		noMoreWithin(t, "access re-checks", time.Second, 2, rechecks.Load)
	})
}
