package web

import (
	"fmt"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-mediation/parley/api"
)

// Each open case WebSocket holds, for as long as it stays open, a send
// queue of up to DefaultSendQueueBytes (16 MiB) for a client that stops
// reading, its buffers, its goroutines and its subscriptions. So that one
// person (or one stolen session) cannot hold a node's memory by opening
// sockets, a node keeps at most DefaultSocketsPerSession of them open for
// one session (one signed-in browser or device: its tabs share the
// session) and DefaultSocketsPerAccount for one account (all its
// sessions); Deps.SocketsPerSession and SocketsPerAccount (`parley serve
// --ws-per-session`, `--ws-per-account`) change them. Past either,
// the handshake is refused: 429 problem+json, or, for a browser's
// handshake from our own page (which cannot read a refused handshake's
// status), the connection is closed at once with api.CloseTooManySockets.
//
// A browser page opens one socket per case it shows, and keeps it while
// the page is open; after a dropped connection the server may hold the
// old socket until its pong wait runs out (pongWait, 45 s) while the page
// opens a new one. Eight cases open in tabs of one browser, or a few tabs
// each with an old socket not yet dropped, stay under 8; 16 covers two
// browsers or devices of one person at that, and a third device besides.
// Per node: through a load balancer a person's sockets spread over the
// nodes, so they may hold more in all. What one account can make a node
// hold is then at most 16 sockets: 256 MiB of send queues in the worst
// case, against the unbounded count before.
const (
	DefaultSocketsPerSession = 8
	DefaultSocketsPerAccount = 16
)

// socketGate counts the open case sockets of each session and account on
// this node. Its maps hold only the sessions and accounts that have a
// socket open: a count that falls to zero is deleted, so the maps shrink
// as sockets close. Nothing is read or written under its lock.
type socketGate struct {
	perSession, perAccount int // the limits (set once, in New)
	// refused counts the handshakes refused, by the limit that refused
	// them ("session", "account"): parley_websockets_refused_total.
	refused *prometheus.CounterVec

	mu        sync.Mutex
	bySession map[string]int // the session's topic (a keyed hash of its token) → open sockets
	byAccount map[string]int // account id → open sockets
}

// errTooManySockets is a socket refused past a limit; Detail is for the
// person, in plain words.
type errTooManySockets struct {
	perAccount bool
	limit      int
}

func (e errTooManySockets) Error() string {
	if e.perAccount {
		return fmt.Sprintf("Your account already has %d connections open on this server, the most one person may have at once. Close Parley in some tabs, windows or devices, then try again.", e.limit)
	}
	return fmt.Sprintf("This sign-in already has %d connections open on this server, the most one browser or device may have at once. Close Parley in some tabs or windows, then try again.", e.limit)
}

// take takes a place for a socket of session and account, or says which
// limit refused it. release gives the place back; it may be called more
// than once.
func (g *socketGate) take(session, account string) (release func(), err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.bySession[session] >= g.perSession:
		g.refused.WithLabelValues("session").Inc()
		return nil, errTooManySockets{limit: g.perSession}
	case g.byAccount[account] >= g.perAccount:
		g.refused.WithLabelValues("account").Inc()
		return nil, errTooManySockets{perAccount: true, limit: g.perAccount}
	}
	if g.bySession == nil {
		g.bySession, g.byAccount = map[string]int{}, map[string]int{}
	}
	g.bySession[session]++
	g.byAccount[account]++
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			countDown(g.bySession, session)
			countDown(g.byAccount, account)
		})
	}, nil
}

// countDown counts one socket of key less, deleting key at zero.
func countDown(m map[string]int, key string) {
	if m[key]--; m[key] <= 0 {
		delete(m, key)
	}
}

// refuseSocket answers a socket refused past a limit: a browser's
// handshake from our page gets the close code it can read, any other 429
// problem+json with Retry-After.
func (a *API) refuseSocket(w http.ResponseWriter, r *http.Request, err error) {
	if a.browserSocket(r) {
		// The reason says which limit, for the page's words
		// (web/client/src/secure.ts).
		reason := "too many connections open for this sign-in"
		if e, ok := err.(errTooManySockets); ok && e.perAccount {
			reason = "too many connections open for this account"
		}
		a.closeHandshake(w, r, api.CloseTooManySockets, reason)
		return
	}
	w.Header().Set("Retry-After", "10")
	writeProblem(w, r, problem{Type: api.ProblemRateLimited, Title: "Too many connections open", Status: http.StatusTooManyRequests, Detail: err.Error()})
}
