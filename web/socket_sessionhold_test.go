package web

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/ratelimit"
)

// downStore is a real store whose every read fails while down is set, as
// during a storage outage.
type downStore struct {
	objstore.Store
	down atomic.Bool
	hang atomic.Bool // reads wait for their context instead of failing
}

func (s *downStore) Get(ctx context.Context, key string, o objstore.GetOptions) (io.ReadCloser, objstore.Info, error) {
	if s.hang.Load() {
		<-ctx.Done()
		return nil, objstore.Info{}, ctx.Err()
	}
	if s.down.Load() {
		return nil, objstore.Info{}, errors.New("objstore: get: storage unavailable")
	}
	return s.Store.Get(ctx, key, o)
}

// signedInOnDownStore is a participant, Ann, signed in (her session's
// token) through accounts on a directory store the test can make fail
// or hang.
func signedInOnDownStore(t *testing.T) (*downStore, *account.Service, account.Account, string) {
	t.Helper()
	dir, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := &downStore{Store: dir}
	key := make([]byte, 32)
	rand.Read(key)
	meta, err := metastore.New(store, key)
	if err != nil {
		t.Fatal(err)
	}
	accounts := account.NewService(meta, ratelimit.NewMemory())
	a, err := accounts.Create(t.Context(), account.NewAccount{Name: "Ann", Role: policy.RoleParticipant})
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := accounts.NewSession(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	return store, accounts, a, token
}

// TestHeldFramesStayHeldWhileSessionUnknown: the person's account is
// announced disabled, so their socket holds its frames until its session
// check decides; the store then fails every read, so the check (the real
// one, sessionCheck over package account) cannot tell. The frames stay
// held: the check is asked again, with a backoff, and once the store
// answers (valid) the held message goes out; if it never answers, the
// socket closes after the retry budget with 1013 ("try again later", on
// which every client reconnects), the message unwritten. Before, a check
// that could not read the store answered "valid" and the held frames went
// out at once.
func TestHeldFramesStayHeldWhileSessionUnknown(t *testing.T) {
	for _, tc := range []struct {
		name    string
		retry   time.Duration // the socket's RetryBudget
		recover bool          // the store answers again after two checks failed
	}{
		{"outage", time.Second, false},
		{"recovers", time.Minute, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			store, accounts, a, token := signedInOnDownStore(t)
			check := sessionCheck(accounts, token)
			var valid, unknown atomic.Int32
			svc := dirService(t)
			const room = "r_sess"
			ws := optionsSocket(t, svc, socketOptions{User: a.ID, Auth: oneRoomAuth{id: room},
				SessionTopics: []string{account.AccountTopic(a.ID)}, RetryBudget: tc.retry,
				Session: func(ctx context.Context) sessionState {
					s := check(ctx)
					switch s {
					case sessionValid:
						valid.Add(1)
					case sessionUnknown:
						unknown.Add(1)
					}
					return s
				}})
			sendFrame(t, ws, api.ClientFrame{Type: api.FrameSub, Room: "joint"})
			nextFrame(t, ws, func(f api.ServerFrame) bool { return f.Type == api.FrameSubscribed })
			// Everything before the announcement has been read: the last
			// of it is the person's own arrival in the room.
			nextFrame(t, ws, func(f api.ServerFrame) bool { return f.Type == api.FramePresence && f.User == a.ID })
			waitFor := func(what string, cond func() bool) {
				t.Helper()
				for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("%s: not within 10 s", what)
					}
				}
			}
			waitFor("the starting session check", func() bool { return valid.Load() > 0 })
			store.down.Store(true)
			if err := svc.Announce(ctx, account.AccountTopic(a.ID), []byte("disabled")); err != nil {
				t.Fatal(err)
			}
			waitFor("a session check during the outage", func() bool { return unknown.Load() > 0 })
			// The room goes on while the check cannot tell.
			if _, err := svc.Publish(ctx, room, api.Message{ID: "m1", From: "u_b", Body: []byte("x")}); err != nil {
				t.Fatal(err)
			}
			frames, ended := framesOf(ws)
			if tc.recover {
				// Asked again without another announcement: still held.
				waitFor("a second session check during the outage", func() bool { return unknown.Load() > 1 })
				select {
				case f := <-frames:
					t.Fatalf("a %s frame went out while the session check could not tell", f.Type)
				default:
				}
				store.down.Store(false)
				for f := range frames {
					if f.Type == api.FrameMsgs {
						return
					}
				}
				t.Fatalf("the held message never went out once the session was found valid: %v", <-ended)
			}
			for f := range frames {
				t.Fatalf("a %s frame went out while the session check could not tell (%d checks)", f.Type, unknown.Load())
			}
			if err := <-ended; !websocket.IsCloseError(err, websocket.CloseTryAgainLater) {
				t.Fatalf("the socket ended with %v, want close %d (try again later)", err, websocket.CloseTryAgainLater)
			}
			if n := unknown.Load(); n < 2 {
				t.Fatalf("the session was asked %d times during the outage; want it asked again before closing", n)
			}
		})
	}
}

// TestPostRefusedWhileHeldForSession: the person's sessions are announced
// revoked (a stolen laptop), so the socket holds its frames until its
// session check decides; the check is slow. A post sent meanwhile must not
// be stored: the room decision cached at the handshake knows nothing of
// the revocation, and a fresh one would allow it too. Before (review 238),
// the hold stopped only what the socket wrote, and every post until the
// check ended the session was stored and delivered to the others.
func TestPostRefusedWhileHeldForSession(t *testing.T) {
	ctx := t.Context()
	svc := dirService(t)
	const room = "r_held"
	gate := make(chan struct{})
	var checks atomic.Int32
	ws := optionsSocket(t, svc, socketOptions{User: "u_a", Auth: oneRoomAuth{id: room},
		SessionTopics: []string{account.AccountTopic("u_a")},
		Session: func(ctx context.Context) sessionState {
			if checks.Add(1) == 1 {
				return sessionValid // the check at start
			}
			select {
			case <-gate:
			case <-ctx.Done():
			}
			return sessionEnded
		}})
	sendFrame(t, ws, api.ClientFrame{Type: api.FrameSub, Room: "joint"})
	nextFrame(t, ws, func(f api.ServerFrame) bool { return f.Type == api.FrameSubscribed })
	sendFrame(t, ws, api.ClientFrame{Type: api.FramePub, Room: "joint", ID: "m-before", Body: []byte("before")})
	nextFrame(t, ws, func(f api.ServerFrame) bool { return f.Type == api.FrameAck && f.ID == "m-before" })
	if err := svc.Announce(ctx, account.AccountTopic("u_a"), []byte("revoked")); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); checks.Load() < 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no session check after the announcement")
		}
	}
	sendFrame(t, ws, api.ClientFrame{Type: api.FramePub, Room: "joint", ID: "m-held", Body: []byte("after revocation")})
	stored := func() bool {
		msgs, _, err := svc.Page(ctx, room, messaging.Position{}, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.ID == "m-held" {
				return true
			}
		}
		return false
	}
	// Bounded: a post taken is committed within milliseconds.
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if stored() {
			t.Fatal("a post sent after the socket heard its sessions were revoked was stored")
		}
	}
	close(gate)
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	var err error
	for err == nil {
		var f api.ServerFrame
		err = ws.ReadJSON(&f)
		if err == nil && f.Type == api.FrameAck && f.ID == "m-held" {
			t.Fatal("the post sent while held was acknowledged")
		}
	}
	if !websocket.IsCloseError(err, api.CloseSessionEnded) {
		t.Fatalf("socket ended with %v, want close %d", err, api.CloseSessionEnded)
	}
	if stored() {
		t.Fatal("the post sent while held was stored")
	}
}

// TestEverySessionEndingAnnouncementHolds: a sign-out of the socket's
// session ("ended"), a password changed or reset, like a revocation,
// holds the person's frames until the session check keeps them; with
// the store failing that check, no message published after the
// announcement is written before the socket closes with 1013. Before
// (review 248), only "disabled" and "revoked" held: after the owner of a
// stolen laptop changed their password, its open socket went on reading
// the rooms for the 30 s the check retried. The socket's first session
// check answers valid, every later one cannot tell.
func TestEverySessionEndingAnnouncementHolds(t *testing.T) {
	for _, tc := range []struct{ topic, data string }{
		{"session:s1", "ended"},
		{account.AccountTopic("u_a"), "password-changed"},
		{account.AccountTopic("u_a"), "password-reset"},
		{account.AccountTopic("u_a"), "password-reset-requested"},
		{account.AccountTopic("u_a"), "revoked"},
	} {
		t.Run(tc.data, func(t *testing.T) {
			ctx := t.Context()
			svc := dirService(t)
			const room = "c1/joint"
			var checks atomic.Int32
			ws := optionsSocket(t, svc, socketOptions{User: "u_a", Auth: oneRoomAuth{id: room},
				SessionTopics: []string{"session:s1", account.AccountTopic("u_a")}, RetryBudget: 2 * time.Second,
				Session: func(context.Context) sessionState {
					if checks.Add(1) == 1 {
						return sessionValid
					}
					return sessionUnknown
				}})
			sendFrame(t, ws, api.ClientFrame{Type: api.FrameSub, Room: "joint"})
			nextFrame(t, ws, func(f api.ServerFrame) bool { return f.Type == api.FrameSubscribed })
			waitUntil(t, "the first session check", func() bool { return checks.Load() > 0 })
			if err := svc.Announce(ctx, tc.topic, []byte(tc.data)); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, "the check after the announcement", func() bool { return checks.Load() > 1 })
			if _, err := svc.Publish(ctx, room, api.Message{ID: "m1", From: "u_b", Body: []byte("x")}); err != nil {
				t.Fatal(err)
			}
			ws.SetReadDeadline(time.Now().Add(10 * time.Second))
			frames, ended := framesOf(ws)
			for f := range frames {
				if f.Type == api.FrameMsgs {
					t.Errorf("a message frame reached the socket while its session check could not tell")
				}
			}
			if err := <-ended; !websocket.IsCloseError(err, closeTryAgain) {
				t.Errorf("socket ended with %v, want a close with %d", err, closeTryAgain)
			}
		})
	}
}
