package web

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/objstore"
)

// oneRoomAuth lets the connection into one room.
type oneRoomAuth struct{ id string }

func (a oneRoomAuth) Resolve(_ context.Context, name, _ string) (messaging.Room, error) {
	return messaging.Room{ID: a.id, Name: name}, nil
}

func (oneRoomAuth) Invalidate() {}

// oneRoomSocket serves svc's socket layer to user u_a, whose every room
// name resolves to room, and returns a client connection to it (closed,
// with the server, when the test ends).
func oneRoomSocket(t *testing.T, svc *messaging.Service, room string) *websocket.Conn {
	t.Helper()
	return optionsSocket(t, svc, socketOptions{User: "u_a", Auth: oneRoomAuth{id: room}})
}

// optionsSocket serves svc's socket layer with opts and returns a client
// connection to it (closed, with the server, when the test ends).
func optionsSocket(t *testing.T, svc *messaging.Service, opts socketOptions) *websocket.Conn {
	t.Helper()
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		serveSocket(r.Context(), svc, ws, opts)
	}))
	t.Cleanup(srv.Close)
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

// sendFrame writes one client frame.
func sendFrame(t *testing.T, ws *websocket.Conn, f api.ClientFrame) {
	t.Helper()
	b, _ := json.Marshal(f)
	if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
		t.Fatal(err)
	}
}

// nextFrame reads server frames until one that want keeps (10 s at most).
func nextFrame(t *testing.T, ws *websocket.Conn, want func(api.ServerFrame) bool) api.ServerFrame {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		var f api.ServerFrame
		if err := ws.ReadJSON(&f); err != nil {
			t.Fatalf("no answer: %v", err)
		}
		if want(f) {
			return f
		}
	}
}

// dialSubscribed opens a connection to url and subscribes it to the
// joint room, returning once the server says it is subscribed.
func dialSubscribed(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	sendFrame(t, ws, api.ClientFrame{Type: api.FrameSub, Room: "joint"})
	nextFrame(t, ws, func(f api.ServerFrame) bool { return f.Type == api.FrameSubscribed })
	return ws
}

// dirService is a messaging service on a fresh local directory with the
// in-process broker, closed when the test ends.
func dirService(t *testing.T) *messaging.Service {
	t.Helper()
	store, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc := messaging.NewService(messaging.NewLog(store), messaging.NewMemory(), messaging.Options{})
	t.Cleanup(svc.Close)
	return svc
}

// TestStaleEpochPubIsRefusedAndNotStored: after a seal ends epoch 1, a
// pub whose body was encrypted for epoch 1 gets an error frame with code
// "moved" and the room's current epoch, and nothing is stored; a pub for
// epoch 2, and one naming no epoch, are acknowledged in epoch 2. A room
// payload's own header decides when the frame names no epoch (an older
// page), and a frame naming another epoch than its payload's is refused.
func TestStaleEpochPubIsRefusedAndNotStored(t *testing.T) {
	svc := dirService(t)
	const room = "c_guard/joint"
	ws := oneRoomSocket(t, svc, room)
	ctx := t.Context()
	pubBody := func(id string, epoch int64, body []byte) api.ServerFrame {
		t.Helper()
		sendFrame(t, ws, api.ClientFrame{Type: api.FramePub, Room: "joint", ID: id, Body: body, Epoch: epoch})
		return nextFrame(t, ws, func(f api.ServerFrame) bool {
			return f.ID == id && (f.Type == api.FrameAck || f.Type == api.FrameError)
		})
	}
	pub := func(id string, epoch int64) api.ServerFrame {
		t.Helper()
		return pubBody(id, epoch, []byte("ciphertext "+id))
	}
	if f := pub("first", 1); f.Type != api.FrameAck || f.Msg.Epoch != 1 {
		t.Fatalf("pub for epoch 1 before the seal: %+v", f)
	}
	if err := svc.Seal(ctx, room, `{"change":"mediator.recused"}`); err != nil {
		t.Fatal(err)
	}
	f := pub("stale", 1)
	if f.Type != api.FrameError || f.Code != api.CodeEpochMoved || f.Epoch != 2 || f.Room != "joint" {
		t.Fatalf("pub for epoch 1 after the seal: %+v, want a %q error naming epoch 2", f, api.CodeEpochMoved)
	}
	if f := pub("fresh", 2); f.Type != api.FrameAck || f.Msg.Pos() != (api.Position{Epoch: 2, Offset: 1}) {
		t.Fatalf("pub for epoch 2: %+v", f)
	}
	if f := pub("any", 0); f.Type != api.FrameAck || f.Msg.Pos() != (api.Position{Epoch: 2, Offset: 2}) {
		t.Fatalf("pub naming no epoch: %+v", f)
	}
	// A client that names no epoch in the frame (a page loaded before
	// the server knew of epochs): a room payload's header says which
	// epoch it was encrypted for, and that is the one it may be stored in.
	msg2, dist2 := vectorPayloads(t)
	if f := pubBody("old-client", 0, msg2); f.Type != api.FrameAck || f.Msg.Pos() != (api.Position{Epoch: 2, Offset: 3}) {
		t.Fatalf("an epoch-2 message naming no epoch in the frame: %+v", f)
	}
	if f := pubBody("mismatch", 3, msg2); f.Type != api.FrameError || f.Code != api.CodeInvalid || !strings.Contains(f.Detail, "encrypted for epoch 2") {
		t.Fatalf("a frame naming epoch 3 for an epoch-2 body: %+v, want refused as invalid", f)
	}
	if err := svc.Seal(ctx, room, `{"change":"party.added"}`); err != nil {
		t.Fatal(err)
	}
	if f := pubBody("old-client-late", 0, dist2); f.Type != api.FrameError || f.Code != api.CodeEpochMoved || f.Epoch != 3 {
		t.Fatalf("an epoch-2 key distribution naming no epoch, after the seal into 3: %+v, want %q", f, api.CodeEpochMoved)
	}
	// Pipelined: the answers come in the order the pubs were sent,
	// refusals and acknowledgements mixed.
	order := []struct {
		id    string
		epoch int64
	}{{"p-stale", 2}, {"p-fresh", 3}, {"p-stale-2", 1}, {"p-any", 0}}
	for _, p := range order {
		sendFrame(t, ws, api.ClientFrame{Type: api.FramePub, Room: "joint", ID: p.id, Body: []byte("ciphertext " + p.id), Epoch: p.epoch})
	}
	var answers []string
	for len(answers) < len(order) {
		f := nextFrame(t, ws, func(f api.ServerFrame) bool { return f.Type == api.FrameAck || f.Type == api.FrameError })
		switch f.Type {
		case api.FrameAck:
			answers = append(answers, f.ID+":ack")
		case api.FrameError:
			answers = append(answers, f.ID+":"+string(f.Code))
		}
	}
	if got := strings.Join(answers, ","); got != "p-stale:moved,p-fresh:ack,p-stale-2:moved,p-any:ack" {
		t.Fatalf("pipelined answers: %s", got)
	}
	msgs, _, err := svc.Page(ctx, room, messaging.Position{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range msgs {
		ids = append(ids, m.ID)
	}
	if strings.Join(ids, ",") != "first,fresh,any,old-client,p-fresh,p-any" {
		t.Fatalf("room holds %v; the stale body must not be stored", ids)
	}
}

// vectorPayloads are an encrypted message and a key distribution from the
// shared protocol vectors (e2ee/testdata/vectors.json), both encrypted
// for epoch 2.
func vectorPayloads(t *testing.T) (msg, dist []byte) {
	t.Helper()
	raw, err := os.ReadFile("../e2ee/testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Chain struct {
			Steps []struct {
				Payload string `json:"payload"`
			} `json:"steps"`
		} `json:"chain"`
		KeyDist struct {
			Payload string `json:"payload"`
		} `json:"keyDist"`
	}
	if err := json.Unmarshal(raw, &v); err != nil || len(v.Chain.Steps) == 0 {
		t.Fatalf("vectors: %v", err)
	}
	if msg, err = hex.DecodeString(v.Chain.Steps[0].Payload); err != nil {
		t.Fatal(err)
	}
	if dist, err = hex.DecodeString(v.KeyDist.Payload); err != nil {
		t.Fatal(err)
	}
	return msg, dist
}
