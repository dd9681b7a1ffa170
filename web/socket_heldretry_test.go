package web

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/messaging"
)

// downAuth lets the connection into one room, except that while down is
// set every answer decides nothing (the store failed a read).
type downAuth struct {
	id   string
	down atomic.Bool
}

func (a *downAuth) Resolve(_ context.Context, name, _ string) (messaging.Room, error) {
	if a.down.Load() {
		return messaging.Room{}, errors.New("store: unavailable")
	}
	return messaging.Room{ID: a.id, Name: name}, nil
}

func (*downAuth) Invalidate() {}

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

// removedAnnouncement is the case topic's announcement of user's removal.
func removedAnnouncement(user string) []byte {
	return []byte(`{"change":"participant.removed","account":"` + user + `"}`)
}

// TestHeldFramesStayHeldWhileAccessUndecided: the person's removal is
// announced, so their socket holds its frames until its access re-check
// decides; the store then fails every read, so the re-check decides
// nothing. The frames stay held: the re-check is asked again, with the
// session check's backoff, without another announcement; once the store
// answers (still in the room) the held message goes out; if it never
// answers, the socket closes after the retry budget with 1013, the
// message unwritten. Before, an undecided access check waited for the
// next announcement or the minute's fallback check, with no deadline.
func TestHeldFramesStayHeldWhileAccessUndecided(t *testing.T) {
	for _, tc := range []struct {
		name    string
		budget  time.Duration // the socket's RetryBudget
		recover bool          // the store answers again after two re-checks failed
	}{
		{"outage", time.Second, false},
		{"recovers", time.Minute, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			svc := dirService(t)
			const room, user = "c1/joint", "u_a"
			auth := &downAuth{id: room}
			var rechecks atomic.Int32
			ws := optionsSocket(t, svc, socketOptions{User: user, Auth: auth, Watch: "case:c1", RetryBudget: tc.budget,
				// Asked by a re-check that finds no room subscribed yet
				// (the subscribe is recorded just after its answer).
				CaseGone: func(context.Context) (bool, error) {
					if auth.down.Load() {
						return false, errors.New("store: unavailable")
					}
					return false, nil
				},
				rechecked: func() { rechecks.Add(1) }})
			sendFrame(t, ws, api.ClientFrame{Type: api.FrameSub, Room: "joint"})
			nextFrame(t, ws, func(f api.ServerFrame) bool { return f.Type == api.FrameSubscribed })
			nextFrame(t, ws, func(f api.ServerFrame) bool { return f.Type == api.FramePresence && f.User == user })
			auth.down.Store(true)
			if err := svc.Announce(ctx, "case:c1", removedAnnouncement(user)); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, "a re-check during the outage", func() bool { return rechecks.Load() > 0 })
			// The room goes on while the re-check cannot tell.
			if _, err := svc.Publish(ctx, room, api.Message{ID: "m1", From: "u_b", Body: []byte("x")}); err != nil {
				t.Fatal(err)
			}
			ws.SetReadDeadline(time.Now().Add(10 * time.Second))
			frames, ended := framesOf(ws)
			if tc.recover {
				// Asked again without another announcement: still held.
				waitUntil(t, "a second re-check during the outage", func() bool { return rechecks.Load() > 1 })
				select {
				case f := <-frames:
					t.Fatalf("a %s frame went out while the access check could not tell", f.Type)
				default:
				}
				auth.down.Store(false)
				awaitFrame(t, frames, ended, "the held message once the access check kept the person",
					func(f api.ServerFrame) bool { return f.Type == api.FrameMsgs })
				return
			}
			for f := range frames {
				t.Fatalf("a %s frame went out while the access check could not tell (%d re-checks)", f.Type, rechecks.Load())
			}
			if err := <-ended; !websocket.IsCloseError(err, websocket.CloseTryAgainLater) {
				t.Fatalf("the socket ended with %v, want close %d (try again later)", err, websocket.CloseTryAgainLater)
			}
			if n := rechecks.Load(); n < 2 {
				t.Fatalf("the access was checked %d times during the outage; want it asked again before closing", n)
			}
		})
	}
}

// TestHeldFramesGoOnceEachCheckDecided: the person's account is
// announced disabled (the session check holds the frames) while the store
// cannot read their session, and then their removal (the access re-check
// holds them too). The re-check decides (still in the room) while the
// session check is still undecided; later the session check, retried
// alone, finds the session valid, and the held message goes out. Before,
// the frames went only once one round decided both checks, and the
// session's retry round ran no re-check: they waited for the next
// announcement or the minute's fallback check.
func TestHeldFramesGoOnceEachCheckDecided(t *testing.T) {
	ctx := t.Context()
	svc := dirService(t)
	const room, user = "c1/joint", "u_a"
	var sessDown, recheckDone atomic.Bool
	var valid, unknown, unknownAfterRecheck atomic.Int32
	ws := optionsSocket(t, svc, socketOptions{User: user, Auth: oneRoomAuth{id: room}, Watch: "case:c1",
		SessionTopics: []string{account.AccountTopic(user)},
		Session: func(context.Context) sessionState {
			if !sessDown.Load() {
				valid.Add(1)
				return sessionValid
			}
			unknown.Add(1)
			if recheckDone.Load() {
				unknownAfterRecheck.Add(1)
			}
			return sessionUnknown
		},
		rechecked: func() { recheckDone.Store(true) }})
	sendFrame(t, ws, api.ClientFrame{Type: api.FrameSub, Room: "joint"})
	nextFrame(t, ws, func(f api.ServerFrame) bool { return f.Type == api.FrameSubscribed })
	nextFrame(t, ws, func(f api.ServerFrame) bool { return f.Type == api.FramePresence && f.User == user })
	waitUntil(t, "the starting session check", func() bool { return valid.Load() > 0 })
	sessDown.Store(true)
	if err := svc.Announce(ctx, account.AccountTopic(user), []byte("disabled")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "a session check after the disabling", func() bool { return unknown.Load() > 0 })
	if err := svc.Announce(ctx, "case:c1", removedAnnouncement(user)); err != nil {
		t.Fatal(err)
	}
	// Two session checks counted after the re-check: at least one ran in
	// a round after the re-check's, alone.
	waitUntil(t, "session retries after the re-check decided", func() bool { return unknownAfterRecheck.Load() > 1 })
	if _, err := svc.Publish(ctx, room, api.Message{ID: "m1", From: "u_b", Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	frames, ended := framesOf(ws)
	waitUntil(t, "another session retry", func() bool { return unknownAfterRecheck.Load() > 2 })
	select {
	case f := <-frames:
		t.Fatalf("a %s frame went out while the session check could not tell", f.Type)
	default:
	}
	sessDown.Store(false)
	awaitFrame(t, frames, ended, "the held message once both checks kept the person",
		func(f api.ServerFrame) bool { return f.Type == api.FrameMsgs })
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

// TestSessionUnknownAfterSignOutAnnounced: a sign-out of the socket's
// session is announced (from another device) while the store cannot
// read the session, so the check cannot tell; nothing is held. The check
// is asked again, and once the retry budget passes undecided the socket
// closes with 1013 (the reconnect's handshake checks the session
// afresh). Before, the socket stayed open, and read the case, for as long
// as the store failed that read. A check that cannot tell with nothing
// announced (the minute's fallback check during an outage) keeps the
// socket open past the retry budget: a short store outage does not close
// every socket of the node (it closes only after UnreadBudget, minutes:
// TestSessionUnreadableAtFallbackChecksCloses).
func TestSessionUnknownAfterSignOutAnnounced(t *testing.T) {
	for _, tc := range []struct {
		name     string
		announce bool
	}{
		{"announced", true},
		{"fallback only", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			svc := dirService(t)
			var checks atomic.Int32
			opts := socketOptions{User: "u_a", Auth: oneRoomAuth{id: "c1/joint"},
				SessionTopics: []string{"session:s1"}, RetryBudget: 200 * time.Millisecond,
				Session: func(context.Context) sessionState {
					if checks.Add(1) == 1 {
						return sessionValid // the check at start
					}
					return sessionUnknown
				}}
			if !tc.announce {
				opts.Fallback = 50 * time.Millisecond
			}
			ws := optionsSocket(t, svc, opts)
			waitUntil(t, "the starting session check", func() bool { return checks.Load() > 0 })
			ws.SetReadDeadline(time.Now().Add(10 * time.Second))
			frames, ended := framesOf(ws)
			if !tc.announce {
				// Several fallback checks, undecided, over more than the
				// retry budget: the socket still answers.
				waitUntil(t, "fallback checks during the outage", func() bool { return checks.Load() > 8 })
				sendFrame(t, ws, api.ClientFrame{Type: api.FrameSub})
				awaitFrame(t, frames, ended, "the error a malformed frame gets", func(f api.ServerFrame) bool { return f.Type == api.FrameError })
				return
			}
			if err := svc.Announce(ctx, "session:s1", []byte("ended")); err != nil {
				t.Fatal(err)
			}
			for f := range frames {
				t.Fatalf("unexpected %s frame", f.Type)
			}
			if err := <-ended; !websocket.IsCloseError(err, websocket.CloseTryAgainLater) {
				t.Fatalf("the socket ended with %v, want close %d (try again later)", err, websocket.CloseTryAgainLater)
			}
			if n := checks.Load(); n < 3 {
				t.Fatalf("the session was checked %d times; want it asked again after the announcement before closing", n)
			}
		})
	}
}

// TestSubscribeUndecidedIsUnavailable: a subscribe whose room decision
// could not read the store is answered "could not subscribe; try again"
// (a refused "sub", unavailable), which a client asks again, not "not
// allowed in this room", which it does not; a room refused is still
// "forbidden". Before, a store failure answered "forbidden" and the
// browser never asked again on that connection.
func TestSubscribeUndecidedIsUnavailable(t *testing.T) {
	svc := dirService(t)
	auth := &downAuth{id: "c1/joint"}
	auth.down.Store(true)
	ws := optionsSocket(t, svc, socketOptions{User: "u_a", Auth: auth})
	sendFrame(t, ws, api.ClientFrame{Type: api.FrameSub, Room: "joint"})
	f := nextFrame(t, ws, func(f api.ServerFrame) bool { return f.Type == api.FrameError })
	if f.Room != "joint" || f.Refused != api.FrameSub || f.Code != api.CodeUnavailable {
		t.Fatalf("answer %+v: want room joint, refused %q, code %q", f, api.FrameSub, api.CodeUnavailable)
	}
	auth.down.Store(false)
	sendFrame(t, ws, api.ClientFrame{Type: api.FrameSub, Room: "joint"})
	nextFrame(t, ws, func(f api.ServerFrame) bool { return f.Type == api.FrameSubscribed && f.Room == "joint" })
}

// TestPostUndecidedIsUnavailable: a post whose room decision could not
// read the store is answered "not stored; send again" (the client sends
// it again), not forbidden ("you cannot write in this room any more",
// which the browser told the person before).
func TestPostUndecidedIsUnavailable(t *testing.T) {
	svc := dirService(t)
	auth := &downAuth{id: "c1/joint"}
	auth.down.Store(true)
	ws := optionsSocket(t, svc, socketOptions{User: "u_a", Auth: auth})
	sendFrame(t, ws, api.ClientFrame{Type: api.FramePub, Room: "joint", ID: "m1", Body: []byte("ciphertext")})
	f := nextFrame(t, ws, func(f api.ServerFrame) bool { return f.Type == api.FrameError })
	if f.Room != "joint" || f.ID != "m1" || f.Code != api.CodeUnavailable {
		t.Fatalf("answer %+v: want room joint, id m1, code %q", f, api.CodeUnavailable)
	}
}
