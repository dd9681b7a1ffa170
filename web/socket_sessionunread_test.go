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
	"github.com/parley-mediation/parley/objstore"
)

// TestSessionUnreadableAtFallbackChecksCloses: nothing is announced (a
// sign-out whose announcement was lost), and the store then fails every
// read, so the socket's fallback session checks (the real one,
// sessionCheck over package account) cannot tell. Once the session has
// gone unread for the socket's UnreadBudget the socket closes with 1013
// ("try again later"; the reconnect's handshake checks the session
// afresh). A store that answers again before the budget passes keeps the
// socket open: an outage shorter than the budget closes nothing. Before,
// the socket stayed open, reading the case, for as long as the store
// failed the read.
func TestSessionUnreadableAtFallbackChecksCloses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		budget  time.Duration // the socket's UnreadBudget
		recover bool          // the store answers again after two checks failed
		hang    bool          // the store's reads hang instead of failing
		again   bool          // recovered, healthy past the budget, then one failed check
		watch   bool          // the socket watches its case: each fallback round first re-checks it, reading the store
	}{
		{"outage", 300 * time.Millisecond, false, false, false, false},
		{"recovers", time.Minute, true, false, false, false},
		// A store that hangs: each check's read is bounded, so the
		// budget holds (review 261: the read waited for ever, and the
		// socket kept reading the case).
		{"hangs", 300 * time.Millisecond, false, true, false, false},
		// The case's re-check, which comes first in a round, hangs too:
		// bounded as well, so the session check still runs (review 267:
		// a round stuck in it never reached the session check).
		{"hangs with a case watch", 300 * time.Millisecond, false, true, false, true},
		// The budget starts again after a check that read: one failed
		// check long after an earlier outage closes nothing.
		{"recovers then one failure", 300 * time.Millisecond, true, false, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, accounts, a, token := signedInOnDownStore(t)
			check := sessionCheck(accounts, token)
			var valid, unknown atomic.Int32
			svc := dirService(t)
			var watch string
			var caseGone func(context.Context) (bool, error)
			if tc.watch {
				watch = "case:c_unread"
				caseGone = func(ctx context.Context) (bool, error) { // a read of the case's record, as package cases makes
					rc, _, err := store.Get(ctx, "cases/c_unread/case", objstore.GetOptions{})
					if errors.Is(err, objstore.ErrNotFound) {
						return false, nil
					}
					if err != nil {
						return false, err
					}
					rc.Close()
					return false, nil
				}
			}
			ws := optionsSocket(t, svc, socketOptions{User: a.ID, Auth: oneRoomAuth{id: "r_unread"}, Watch: watch, CaseGone: caseGone,
				SessionTopics: []string{accounts.SessionTopic(token), account.AccountTopic(a.ID)},
				Fallback:      50 * time.Millisecond, UnreadBudget: tc.budget,
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
			waitUntil(t, "the starting session check", func() bool { return valid.Load() > 0 })
			if tc.hang {
				store.hang.Store(true)
			} else {
				store.down.Store(true)
			}
			ws.SetReadDeadline(time.Now().Add(10 * time.Second))
			frames, ended := framesOf(ws)
			if tc.recover {
				waitUntil(t, "two fallback checks during the outage", func() bool { return unknown.Load() > 1 })
				store.down.Store(false)
				n := valid.Load()
				waitUntil(t, "a fallback check once the store answers", func() bool { return valid.Load() > n })
				if tc.again {
					// Healthy for twice the budget, then one check fails.
					healthy := time.Now()
					waitUntil(t, "fallback checks past twice the budget", func() bool {
						return time.Since(healthy) > 2*tc.budget && valid.Load() > n+2
					})
					u := unknown.Load()
					store.down.Store(true)
					waitUntil(t, "one failed check", func() bool { return unknown.Load() > u })
					store.down.Store(false)
					v := valid.Load()
					waitUntil(t, "a fallback check after it", func() bool { return valid.Load() > v })
				}
				// Still open: it answers a malformed frame.
				sendFrame(t, ws, api.ClientFrame{Type: api.FrameSub})
				awaitFrame(t, frames, ended, "the error a malformed frame gets", func(f api.ServerFrame) bool { return f.Type == api.FrameError })
				return
			}
			for f := range frames {
				t.Fatalf("unexpected %s frame", f.Type)
			}
			if err := <-ended; !websocket.IsCloseError(err, closeTryAgain) {
				t.Fatalf("the socket ended with %v, want close %d (try again later)", err, closeTryAgain)
			}
			if n := unknown.Load(); n < 2 {
				t.Fatalf("the session was asked %d times during the outage; want more than one fallback check before closing", n)
			}
		})
	}
}
