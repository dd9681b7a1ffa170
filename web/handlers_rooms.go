package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/gorilla/websocket"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/caucus"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/messaging"
)

// CloseSockets ends every open WebSocket (at shutdown) and waits until
// each has left its rooms: clients reconnect to another node and resume.
func (a *API) CloseSockets() {
	a.socketMu.Lock()
	a.closeSockets()
	a.socketMu.Unlock()
	a.socketWG.Wait()
	a.fences.wait()
}

// goSocket runs fn (a connection) on a goroutine CloseSockets waits for;
// false once the sockets are closed.
func (a *API) goSocket(fn func()) bool {
	a.socketMu.Lock()
	defer a.socketMu.Unlock()
	if a.sockets.Err() != nil {
		return false
	}
	a.socketWG.Go(fn)
	return true
}

func (a *API) listRooms(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	rooms, err := a.caucus.Rooms(r.Context(), actor, chi.URLParam(r, "caseID"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if rooms == nil {
		rooms = []api.RoomView{} // none (a co-mediator not confirmed yet): [], never null
	}
	writeJSON(w, http.StatusOK, api.List[api.RoomView](rooms))
}

// maxHistoryPage bounds one page of room history.
const maxHistoryPage = 500

func (a *API) roomHistory(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	epoch, err := queryInt(r, "epoch", 0)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	offset, err := queryInt(r, "offset", 0)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	limit, err := queryLimit(r, 100, maxHistoryPage)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	msgs, next, err := a.caucus.History(r.Context(), actor, chi.URLParam(r, "caseID"), roomParam(r),
		messaging.Position{Epoch: epoch, Offset: offset}, int(limit))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if msgs == nil {
		msgs = []messaging.Message{}
	}
	writeJSON(w, http.StatusOK, api.HistoryPage{Messages: msgs, Next: next})
}

// upgrader: no compression (payloads are ciphertext, and compressing
// secrets next to attacker-chosen data invites CRIME-style leaks); the
// Origin is checked before upgrading, in roomSocket.
//
// Buffers are sized to use: a 512-byte read buffer, which an idle
// connection holds for as long as it stays open (a client's frame is
// mostly a few hundred bytes; a larger one is read straight into the
// message: TestLargeFrameThroughSmallReadBuffer), and a 4 KiB write buffer
// taken from a pool only while a message is being written, so that an
// idle connection holds neither the server's 4 KiB request buffers nor a
// write buffer.
var upgrader = websocket.Upgrader{
	ReadBufferSize:    512,
	WriteBufferSize:   4096,
	WriteBufferPool:   &sync.Pool{},
	EnableCompression: false,
	CheckOrigin:       func(*http.Request) bool { return true },
}

// roomSocket upgrades to the case's WebSocket. A browser (cookie) must
// come from our own origin; any Origin sent must be ours.
func (a *API) roomSocket(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	caseID := chi.URLParam(r, "caseID")
	_, src := a.sessionToken(r)
	if (src == fromCookie || r.Header.Get("Origin") != "") && !a.sameOrigin(r) {
		a.writeError(w, r, fmt.Errorf("WebSocket from a foreign origin: %w", fault.ErrForbidden))
		return
	}
	if _, err := a.cases.Get(r.Context(), actor, caseID); err != nil {
		if (errors.Is(err, fault.ErrForbidden) || errors.Is(err, fault.ErrNotFound)) && a.browserSocket(r) {
			// A page reconnecting after its person left the case (or
			// the case was disposed of) says that access ended, rather
			// than retrying a handshake it cannot read. Refused or
			// missing alike: the close tells no more than a 404.
			a.closeHandshake(w, r, api.CloseAccessLost, "access to this case ended")
			return
		}
		a.writeError(w, r, err)
		return
	}
	// A place among the session's and the account's sockets on this
	// node (socketgate.go), taken before the upgrade and given back
	// once the connection has ended.
	token, _ := a.sessionToken(r)
	sessionTopic := a.accounts.SessionTopic(token)
	release, err := a.socketGate.take(sessionTopic, actor.ID)
	if err != nil {
		a.refuseSocket(w, r, err)
		return
	}
	// Given back here unless the connection's goroutine took it over:
	// also if anything below panics (observe recovers the request, and
	// the place would otherwise be held until the node restarts).
	handed := false
	defer func() {
		if !handed {
			release()
		}
	}()
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	floorFeed := a.floorFrame(&actor, caseID)
	opts := socketOptions{
		User: actor.ID, Auth: a.caucus.AuthorizerOf(&actor, caseID), Watch: caucus.CaseTopic(caseID), Queue: a.wsQueue,
		SessionTopics: []string{sessionTopic, account.AccountTopic(actor.ID)},
		Session:       sessionCheck(a.accounts, token),
		CaseGone: func(ctx context.Context) (bool, error) {
			_, err := a.cases.Get(ctx, actor, caseID)
			if errors.Is(err, fault.ErrForbidden) || errors.Is(err, fault.ErrNotFound) {
				return true, nil
			}
			return false, err
		},
		Fence: func(kick func()) func() { return a.fences.add(caseID, kick) },
		// A statement stored on any node: this node's cached seats go
		// before the connection re-checks its rooms with them.
		Heard: func(data []byte) {
			if caucus.SeatsChanged(data) {
				a.cases.ForgetSeats(caseID)
			}
		}}
	if floorFeed != nil {
		opts.Floor, opts.FloorConcerns = floorFeed.frame, floorFeed.concerns
	}
	// The connection runs on a goroutine of its own and this handler
	// returns, so that net/http's goroutine for the request ends: its
	// stack (grown deep by the middleware and the handler) and the
	// request's state, with the server's 4 KiB read and write buffers
	// that the hijacked connection no longer uses, would otherwise be
	// held for as long as the connection stays open.
	opts.Ended = release
	s := newSocket(a.sockets, a.messaging, ws, opts)
	// serve itself, not a closure around it: see socketOptions.Ended.
	handed = a.goSocket(s.serve)
	if !handed {
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), time.Now().Add(writeWait))
		ws.Close()
	}
}

// sessionCheck is a socket's session check of token: valid, ended (signed
// out, expired or revoked, the account disabled or gone), or unknown when
// the store could not answer — an outage is neither a sign-out nor a yes.
func sessionCheck(accounts *account.Service, token string) func(context.Context) sessionState {
	return func(ctx context.Context) sessionState {
		_, _, err := accounts.Authenticate(ctx, token)
		switch {
		case err == nil:
			return sessionValid
		case errors.Is(err, fault.ErrUnauthenticated):
			return sessionEnded
		}
		return sessionUnknown
	}
}
