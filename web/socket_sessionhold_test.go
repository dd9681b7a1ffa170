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
}

func (s *downStore) Get(ctx context.Context, key string, o objstore.GetOptions) (io.ReadCloser, objstore.Info, error) {
	if s.down.Load() {
		return nil, objstore.Info{}, errors.New("objstore: get: storage unavailable")
	}
	return s.Store.Get(ctx, key, o)
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
		retry   time.Duration // the socket's SessionRetry
		recover bool          // the store answers again after two checks failed
	}{
		{"outage", time.Second, false},
		{"recovers", time.Minute, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
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
			a, err := accounts.Create(ctx, account.NewAccount{Name: "Ann", Role: policy.RoleParticipant})
			if err != nil {
				t.Fatal(err)
			}
			token, _, err := accounts.NewSession(ctx, a)
			if err != nil {
				t.Fatal(err)
			}
			check := sessionCheck(accounts, token)
			var valid, unknown atomic.Int32
			svc := dirService(t)
			const room = "r_sess"
			ws := optionsSocket(t, svc, socketOptions{User: a.ID, Auth: oneRoomAuth{id: room},
				SessionTopics: []string{account.AccountTopic(a.ID)}, SessionRetry: tc.retry,
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
