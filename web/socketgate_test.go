package web_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/web"
)

// TestSocketsPerSessionAndAccountCapped: a session may hold
// web.DefaultSocketsPerSession case sockets open on a node and an account
// web.DefaultSocketsPerAccount; the next handshake is refused, 429 problem+json
// in plain words (or, for a browser's handshake from our page, closed at
// once with api.CloseTooManySockets), a socket that closes gives its
// place back, and once every socket has closed the node counts no
// session or account any more. Before the limit, a session opened as
// many as it liked.
func TestSocketsPerSessionAndAccountCapped(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := t.Context()
	const email = "cap@sockets.test"
	_, med := n.Staff(t, policy.RoleMediator, email)
	c, err := med.CreateCase(ctx, "Socket cap", "commercial", "", []string{"Buyer", "Seller"})
	if err != nil {
		t.Fatal(err)
	}
	// Two more sign-ins of the same account: sessions of their own.
	tokens := []string{med.Token}
	for range 2 {
		other := client.New(n.URL, "")
		if _, err := other.Login(ctx, email, nodetest.Password); err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, other.Token)
	}
	url := strings.Replace(n.URL, "http", "ws", 1) + "/api/v1/cases/" + c.ID + "/ws"
	var open []*websocket.Conn
	t.Cleanup(func() {
		for _, ws := range open {
			ws.Close()
		}
	})
	dial := func(token string, browser bool) (*websocket.Conn, *http.Response, error) {
		h := http.Header{}
		h.Set("Authorization", "Bearer "+token)
		if browser {
			h.Set("Origin", n.URL)
		}
		d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
		ws, res, err := d.DialContext(ctx, url, h)
		if err == nil {
			open = append(open, ws)
		}
		return ws, res, err
	}
	mustOpen := func(token string) *websocket.Conn {
		t.Helper()
		ws, _, err := dial(token, false)
		if err != nil {
			t.Fatalf("socket %d: %v", len(open)+1, err)
		}
		return ws
	}
	// refused checks that the next handshake of token is answered 429
	// problem+json whose detail says want.
	refused := func(token, want string) {
		t.Helper()
		_, res, err := dial(token, false)
		if err == nil {
			t.Fatalf("a socket past the limit was opened (%d open)", len(open))
		}
		if res == nil || res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Content-Type") != "application/problem+json" || res.Header.Get("Retry-After") == "" {
			t.Fatalf("past the limit: %v %+v, want 429 problem+json with Retry-After", err, res)
		}
		var p api.Problem
		if err := json.NewDecoder(res.Body).Decode(&p); err != nil {
			t.Fatal(err)
		}
		if p.Type != api.ProblemTypeBase+string(api.ProblemRateLimited) || !strings.Contains(p.Detail, want) || strings.Contains(p.Detail, c.ID) {
			t.Fatalf("past the limit: %+v, want a detail saying %q", p, want)
		}
	}

	first := make([]*websocket.Conn, 0, web.DefaultSocketsPerSession)
	for range web.DefaultSocketsPerSession {
		first = append(first, mustOpen(tokens[0]))
	}
	refused(tokens[0], "This sign-in already has 8 connections open")
	// The Go client (and so the CLI) says the server's words.
	if _, err := client.New(n.URL, tokens[0]).Chat(ctx, c.ID, nil); err == nil || !strings.Contains(err.Error(), "This sign-in already has 8 connections open") {
		t.Fatalf("the Go client's chat past the limit: %v, want the server's words", err)
	}

	// A browser's handshake from our page cannot read a 429: it is
	// upgraded and closed at once with the code the page reads.
	ws, _, err := dial(tokens[0], true)
	if err != nil {
		t.Fatalf("a browser's handshake past the limit: %v, want upgraded and closed", err)
	}
	browserRefused(t, ws, "sign-in")

	// A socket that closes gives its place back (once the node has seen
	// it close: a bounded poll).
	first[0].Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, _, err := dial(tokens[0], false); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a closed socket's place was not given back")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The account's limit counts every session of it.
	for range web.DefaultSocketsPerAccount - web.DefaultSocketsPerSession {
		mustOpen(tokens[1])
	}
	refused(tokens[2], "Your account already has 16 connections open")
	if ws, _, err = dial(tokens[2], true); err != nil {
		t.Fatalf("a browser's handshake past the account's limit: %v, want upgraded and closed", err)
	}
	browserRefused(t, ws, "account")

	// The refusals are counted, by the limit that refused them: the
	// session's at least three times (a 429, the Go client's, a
	// browser's), the account's twice (a 429, a browser's).
	refusals := map[string]float64{}
	families, err := n.API.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "parley_websockets_refused_total" {
			for _, m := range f.GetMetric() {
				refusals[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	if refusals["session"] < 3 || refusals["account"] != 2 {
		t.Fatalf("parley_websockets_refused_total: %v, want session ≥ 3 (more while the closed socket's place was awaited), account 2", refusals)
	}

	// Every socket closed: the node counts nobody.
	for _, ws := range open {
		ws.Close()
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		s, a := n.API.SocketPlacesHeld()
		if s == 0 && a == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after every socket closed the node still counts %d sessions and %d accounts", s, a)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// And a place is there again.
	mustOpen(tokens[2])
}

// browserRefused checks that ws, a browser's handshake past a limit, is
// closed at once with api.CloseTooManySockets, its reason naming which
// limit ("sign-in", "account") for the page's words.
func browserRefused(t *testing.T, ws *websocket.Conn, limit string) {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err := ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != api.CloseTooManySockets || !strings.Contains(ce.Text, limit) {
		t.Fatalf("a browser's socket past the %s limit: %v, want close %d naming the %s", limit, err, api.CloseTooManySockets, limit)
	}
}
