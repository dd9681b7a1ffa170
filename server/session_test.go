package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
)

// dialRoom opens a raw WebSocket on a case with a bearer token.
func dialRoom(t *testing.T, baseURL, caseID, token string) *websocket.Conn {
	t.Helper()
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	ws, _, err := websocket.DefaultDialer.Dial(socketURL(baseURL, caseID), h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	if err := ws.WriteJSON(map[string]string{"t": "sub", "room": "joint"}); err != nil {
		t.Fatal(err)
	}
	return ws
}

// awaitSubscribed reads ws (bounded) until its subscription to the joint
// room (dialRoom's) is acknowledged. A socket reads frames only once it
// watches its session and account topics, so a sign-out after this is
// announced to it.
func awaitSubscribed(t *testing.T, ws *websocket.Conn) {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer ws.SetReadDeadline(time.Time{})
	for {
		var f struct {
			T    api.FrameType `json:"t"`
			Room string        `json:"room"`
		}
		if err := ws.ReadJSON(&f); err != nil {
			t.Fatalf("waiting for the subscription to be acknowledged: %v", err)
		}
		if f.T == api.FrameSubscribed && f.Room == "joint" {
			return
		}
	}
}

// closeCode reads ws until it closes (bounded by d) and returns the close
// code, or 0 if it was still open after d.
func closeCode(ws *websocket.Conn, d time.Duration) int {
	ws.SetReadDeadline(time.Now().Add(d))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		if ce, ok := err.(*websocket.CloseError); ok {
			return ce.Code
		}
		return 0 // deadline (still open) or a dropped connection without a close frame
	}
}

// testLogoutClosesSockets: signing out closes that session's open
// WebSockets with 4001 within a second — on the node that took the
// sign-out and on any other — while another session of the same user keeps
// its socket.
func testLogoutClosesSockets(t *testing.T, a, b *nodetest.Node) {
	ctx := context.Background()
	p := seedCase(t, a, a.URL, b.URL)
	onA := dialRoom(t, a.URL, p.caseID, p.partyA.Token)
	onB := dialRoom(t, b.URL, p.caseID, p.partyA.Token)
	medWS := dialRoom(t, b.URL, p.caseID, p.med.Token)
	other := dialRoom(t, a.URL, p.caseID, p.partyB.Token)
	for _, ws := range []*websocket.Conn{onA, onB, medWS, other} {
		awaitSubscribed(t, ws)
	}

	start := time.Now()
	if err := client.New(a.URL, p.partyA.Token).Logout(ctx); err != nil {
		t.Fatal(err)
	}
	for name, ws := range map[string]*websocket.Conn{"same node": onA, "other node": onB} {
		if code := closeCode(ws, time.Second-time.Since(start)); code != api.CloseSessionEnded {
			t.Fatalf("%s: socket of the signed-out session: close code %d after %v, want %d within 1s",
				name, code, time.Since(start).Round(time.Millisecond), api.CloseSessionEnded)
		}
	}
	t.Logf("both sockets of the signed-out session closed with 4001 in %v", time.Since(start).Round(time.Millisecond))
	for name, ws := range map[string]*websocket.Conn{"another user": other, "mediator": medWS} {
		if code := closeCode(ws, 300*time.Millisecond); code != 0 {
			t.Fatalf("%s's socket closed (%d) by someone else's sign-out", name, code)
		}
	}
	// The stolen token opens nothing any more. A client without an
	// Origin (the Go client, the CLI) is refused with 401; a browser's
	// handshake (our own Origin) is closed at once with 4001, as a browser
	// cannot read a refused handshake's status.
	h := http.Header{}
	h.Set("Authorization", "Bearer "+p.partyA.Token)
	_, res, err := websocket.DefaultDialer.Dial(socketURL(b.URL, p.caseID), h)
	if err == nil || res == nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("WebSocket with a signed-out token: %v %v", err, res)
	}
	if _, err := client.New(b.URL, p.partyA.Token).Chat(ctx, p.caseID, map[string]*api.Position{"joint": nil}); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("the Go client's chat with a signed-out token: %v", err)
	}
	if code := handshakeClose(t, b.URL, p.caseID, browserHeader(b.URL, p.partyA.Token)); code != api.CloseSessionEnded {
		t.Fatalf("a browser's WebSocket with a signed-out session: close %d, want %d", code, api.CloseSessionEnded)
	}
}

// socketURL is the address of caseID's WebSocket on the node at baseURL.
func socketURL(baseURL, caseID string) string {
	return strings.Replace(baseURL, "http", "ws", 1) + "/api/v1/cases/" + caseID + "/ws"
}

// browserHeader is what a browser's handshake from the node's own page
// carries: the session cookie and the Origin.
func browserHeader(baseURL, token string) http.Header {
	h := http.Header{}
	h.Set("Cookie", "parley_session="+token)
	h.Set("Origin", baseURL)
	return h
}

// handshakeClose dials a case's WebSocket with h and returns the close
// code of a connection the server ends before sending anything; it fails
// the test if the server sends a frame or the handshake is refused.
func handshakeClose(t *testing.T, baseURL, caseID string, h http.Header) int {
	t.Helper()
	ws, res, err := websocket.DefaultDialer.Dial(socketURL(baseURL, caseID), h)
	if err != nil {
		t.Fatalf("handshake refused: %v %v", err, res)
	}
	defer ws.Close()
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("want a close before anything else; read %q, %v", data, err)
	}
	return ce.Code
}

// TestSocketWithoutSessionIsClosedWithReason: a browser's WebSocket
// handshake (our own Origin) with no session, or one that ended, is
// upgraded and closed with 4001; one without an Origin or from a foreign
// one is refused with 401 before any upgrade.
func TestSocketWithoutSessionIsClosedWithReason(t *testing.T) {
	n := nodetest.Embedded(t)
	p := seedCase(t, n, n.URL)
	dial := func(h http.Header) *http.Response {
		t.Helper()
		ws, res, err := websocket.DefaultDialer.Dial(socketURL(n.URL, p.caseID), h)
		if err == nil {
			ws.Close()
			t.Fatalf("handshake %v accepted", h)
		}
		return res
	}
	if res := dial(http.Header{}); res == nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no session, no Origin: %v", res)
	}
	h := http.Header{}
	h.Set("Origin", n.URL)
	if code := handshakeClose(t, n.URL, p.caseID, h); code != api.CloseSessionEnded {
		t.Fatalf("no session, our Origin: close %d", code)
	}
	h.Set("Cookie", "parley_session="+strings.Repeat("x", 43))
	if code := handshakeClose(t, n.URL, p.caseID, h); code != api.CloseSessionEnded {
		t.Fatalf("an unknown session from our origin: close %d", code)
	}
	h.Set("Origin", "http://elsewhere.example")
	if res := dial(h); res == nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a foreign origin without a session: %v", res)
	}
	// A plain request is answered as before.
	if _, err := client.New(n.URL, "").Me(context.Background()); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("GET /me without a session: %v", err)
	}
}

func TestLogoutClosesSocketsEmbedded(t *testing.T) {
	n := nodetest.Embedded(t)
	testLogoutClosesSockets(t, n, n)
}

func TestLogoutClosesSocketsTwoNodes(t *testing.T) {
	cfg := nodetest.Scale(t)
	testLogoutClosesSockets(t, nodetest.Start(t, cfg), nodetest.Start(t, cfg))
}

// TestSecondSessionSurvivesSignOut: two sessions of one account; signing
// out one closes only its own socket.
func TestSecondSessionSurvivesSignOut(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	_, med := n.Staff(t, policy.RoleMediator, "two-sessions@example.org")
	k, err := med.CreateCase(ctx, "Two sessions", "family", "", []string{"A", "B"})
	if err != nil {
		t.Fatal(err)
	}
	second := client.New(n.URL, "")
	if _, err := second.Login(ctx, "two-sessions@example.org", nodetest.Password); err != nil {
		t.Fatal(err)
	}
	first := dialRoom(t, n.URL, k.ID, med.Token)
	kept := dialRoom(t, n.URL, k.ID, second.Token)
	awaitSubscribed(t, first)
	awaitSubscribed(t, kept)
	if err := med.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if code := closeCode(first, time.Second); code != api.CloseSessionEnded {
		t.Fatalf("signed-out session's socket: %d", code)
	}
	if code := closeCode(kept, 300*time.Millisecond); code != 0 {
		t.Fatalf("the other session's socket closed with %d", code)
	}
}

// TestRevokeSessionsClosesEverySocket: an admin revoking an account's
// sessions (a lost laptop) ends all of them on every node — their tokens
// stop working and their sockets close with 4001 within a second — while
// other accounts keep theirs and the owner can sign in again.
func TestRevokeSessionsClosesEverySocket(t *testing.T) {
	cfg := nodetest.Scale(t)
	a, b := nodetest.Start(t, cfg), nodetest.Start(t, cfg)
	ctx := context.Background()
	p := seedCase(t, a, a.URL, b.URL)
	_, admin := a.Staff(t, policy.RoleAdmin, "admin-revoke@example.org")
	laptop := client.New(b.URL, "")
	if _, err := laptop.Login(ctx, p.medEmail, nodetest.Password); err != nil {
		t.Fatal(err)
	}
	onA := dialRoom(t, a.URL, p.caseID, p.med.Token)
	onB := dialRoom(t, b.URL, p.caseID, laptop.Token)
	other := dialRoom(t, b.URL, p.caseID, p.partyA.Token)
	for _, ws := range []*websocket.Conn{onA, onB, other} {
		awaitSubscribed(t, ws)
	}

	if err := p.partyA.RevokeSessions(ctx, p.medID); err == nil {
		t.Fatal("a party revoked the mediator's sessions")
	}
	start := time.Now()
	if err := client.New(a.URL, admin.Token).RevokeSessions(ctx, p.medID); err != nil {
		t.Fatal(err)
	}
	for name, ws := range map[string]*websocket.Conn{"node A": onA, "node B": onB} {
		if code := closeCode(ws, time.Second-time.Since(start)); code != api.CloseSessionEnded {
			t.Fatalf("%s: revoked session's socket: close %d after %v, want 4001 within 1s", name, code, time.Since(start))
		}
	}
	if code := closeCode(other, 300*time.Millisecond); code != 0 {
		t.Fatalf("another account's socket closed with %d", code)
	}
	for _, tok := range []string{p.med.Token, laptop.Token} {
		if _, err := client.New(b.URL, tok).Me(ctx); err == nil {
			t.Fatal("a revoked token still works")
		}
	}
	again := client.New(b.URL, "")
	if _, err := again.Login(ctx, p.medEmail, nodetest.Password); err != nil {
		t.Fatalf("signing in after the revocation: %v", err)
	}
	if _, err := again.Me(ctx); err != nil {
		t.Fatalf("a session opened after the revocation: %v", err)
	}
}

// TestInvalidUTF8TextFrameCloses1007: a text frame that is not UTF-8 closes
// the socket with 1007 (RFC 6455 §8.1), rather than answering with an error
// frame and carrying on (issue 15 item 5).
func TestInvalidUTF8TextFrameCloses1007(t *testing.T) {
	n := nodetest.Embedded(t)
	p := seedCase(t, n, n.URL)
	ws := dialRoom(t, n.URL, p.caseID, p.partyA.Token)
	if err := ws.WriteMessage(websocket.TextMessage, []byte("{\"t\":\"sub\",\"room\":\"joint\xff\xfe\"}")); err != nil {
		t.Fatal(err)
	}
	if code := closeCode(ws, 5*time.Second); code != websocket.CloseInvalidFramePayloadData {
		t.Fatalf("close code %d, want 1007", code)
	}
}

// TestOversizedHeadersAnswerProblemJSON: a request whose headers exceed the
// server's limit gets 431 as problem+json, like every other error, from a
// real server on 127.0.0.1 (issue 15 item 5); a malformed request line
// gets a problem+json 400; ordinary requests on the same server are
// untouched.
func TestOversizedHeadersAnswerProblemJSON(t *testing.T) {
	n := nodetest.Embedded(t)
	req, err := http.NewRequest(http.MethodGet, n.URL+"/api/v1/me", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Cookie", "parley_session="+strings.Repeat("x", 200<<10))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var p struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
	}
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge || res.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("status %d, Content-Type %q; want 431 application/problem+json", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if err := json.NewDecoder(res.Body).Decode(&p); err != nil || p.Status != 431 || p.Title == "" || !strings.HasSuffix(p.Type, "headers-too-large") {
		t.Fatalf("problem %+v (err %v)", p, err)
	}

	// A request line net/http cannot parse.
	conn, err := net.Dial("tcp", strings.TrimPrefix(n.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET /api/v1/me HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n")
	bad, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Body.Close()
	if bad.StatusCode != http.StatusBadRequest || bad.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("malformed request: status %d, Content-Type %q", bad.StatusCode, bad.Header.Get("Content-Type"))
	}

	// Ordinary answers pass through untouched.
	ok, err := http.Get(n.URL + "/api/v1/me")
	if err != nil {
		t.Fatal(err)
	}
	ok.Body.Close()
	if ok.StatusCode != http.StatusUnauthorized || ok.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("ordinary request: status %d, Content-Type %q", ok.StatusCode, ok.Header.Get("Content-Type"))
	}
}

// TestSocketWithoutAccessIsClosedWithReason: a browser's handshake to a
// case its person has no access to (any more: a recused mediator whose page
// was asleep) is closed with 4003, which the page words as access ended;
// the Go client still reads the refused handshake's status. A case that
// does not exist is answered the same way, so the close tells no more
// than a 404. (A party removed from a case also loses their sessions: their
// page gets 4001.)
func TestSocketWithoutAccessIsClosedWithReason(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	p := seedCase(t, n, n.URL)
	other, err := p.med.CreateCase(ctx, "Another case", "family", "", []string{"A", "B"})
	if err != nil {
		t.Fatal(err)
	}
	// The party's own case is served as usual.
	ws := dialRoom(t, n.URL, p.caseID, p.partyA.Token)
	ws.Close()
	// An administrator sees that the case exists but may not read it
	// (403); a party of another case, a case that does not exist (404).
	_, admin := n.Staff(t, policy.RoleAdmin, fmt.Sprintf("admin-%d@example.org", time.Now().UnixNano()))
	for _, try := range []struct {
		who, token, caseID, status string
	}{
		{"an administrator", admin.Token, p.caseID, "403"},
		{"a party of another case", p.partyA.Token, other.ID, "404"},
		{"a party", p.partyA.Token, ids.New("c"), "404"}, // well formed, never made
	} {
		if code := handshakeClose(t, n.URL, try.caseID, browserHeader(n.URL, try.token)); code != api.CloseAccessLost {
			t.Fatalf("%s's browser, handshake to %s: close %d, want %d", try.who, try.caseID, code, api.CloseAccessLost)
		}
		if _, err := client.New(n.URL, try.token).Chat(ctx, try.caseID, map[string]*api.Position{"joint": nil}); err == nil ||
			!strings.Contains(err.Error(), try.status) {
			t.Fatalf("%s's Go client, chat in %s: %v, want HTTP %s", try.who, try.caseID, err, try.status)
		}
	}
}
