package web_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
)

// sideBCase is a case with a mediator, side A's party and side B's party
// and counsel, each signed in.
type sideBCase struct {
	n      *nodetest.Node
	caseID string
	med    *client.Client
	as     map[string]*client.Client
	id     map[string]string
}

func newSideBCase(t *testing.T) *sideBCase {
	t.Helper()
	n := nodetest.Embedded(t)
	ctx := t.Context()
	medAcct, med := n.Staff(t, policy.RoleMediator, "med@example.org")
	c, err := med.CreateCase(ctx, "Side B watches", "commercial", "", []string{"Buyer", "Seller"})
	if err != nil {
		t.Fatal(err)
	}
	k := &sideBCase{n: n, caseID: c.ID, med: med, as: map[string]*client.Client{}, id: map[string]string{"mediator": medAcct.ID}}
	for _, p := range []struct{ who, role, side string }{{"partyA", "party", "A"}, {"partyB", "party", "B"}, {"counselB", "counsel", "B"}} {
		link, err := med.Invite(ctx, c.ID, p.role, p.side, "Person "+p.who, "", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		pc := client.New(n.URL, "")
		s, err := pc.Join(ctx, link.Link)
		if err != nil {
			t.Fatal(err)
		}
		k.as[p.who], k.id[p.who] = pc, s.Account.ID
	}
	return k
}

// sideBWatch is side B's party watching the case while side A and the
// mediator act in A's caucus: its answer to every GET route of the live
// router (walked, so a route added later is watched without editing
// this), and every frame on its socket, subscribed to the joint room and
// caucus B. Each step must leave every answer byte for byte as it was
// (but for the request id and the server's clock) and send the socket
// nothing.
type sideBWatch struct {
	t      *testing.T
	k      *sideBCase
	token  string
	paths  []string
	ws     *websocket.Conn
	frames chan []byte
	base   map[string]string
	steps  int
}

// sideBNoise is what differs between two answers with nothing changed:
// the request's id and the server's clock.
var sideBNoise = regexp.MustCompile(`"requestId":"[0-9a-f]+"|"now":\d+`)

// watchSideB subscribes side B's party's socket and takes the first
// snapshot. fill names, for the path parameters filled with B's own
// resources, their values (each one asked); any other parameter gets a
// well-formed id of nothing.
func watchSideB(t *testing.T, k *sideBCase, fill map[string][]string) *sideBWatch {
	t.Helper()
	w := &sideBWatch{t: t, k: k, token: k.as["partyB"].Token, frames: make(chan []byte, 4096)}
	param := regexp.MustCompile(`\{[a-zA-Z]+\}`)
	for _, r := range allRoutes(t, k.n) {
		if r.method != http.MethodGet || strings.HasSuffix(r.pattern, "/ws") {
			continue
		}
		paths := []string{strings.ReplaceAll(r.pattern, "{caseID}", k.caseID)}
		for name, values := range fill {
			var next []string
			for _, p := range paths {
				if !strings.Contains(p, "{"+name+"}") {
					next = append(next, p)
					continue
				}
				for _, v := range values {
					next = append(next, strings.ReplaceAll(p, "{"+name+"}", v))
				}
			}
			paths = next
		}
		for _, p := range paths {
			w.paths = append(w.paths, param.ReplaceAllString(p, "x_"+strings.Repeat("a", 26)))
		}
	}
	if len(w.paths) < 20 {
		t.Fatalf("only %d GET routes to watch", len(w.paths))
	}
	url := strings.Replace(k.n.URL, "http", "ws", 1) + "/api/v1/cases/" + k.caseID + "/ws"
	h := http.Header{}
	h.Set("Authorization", "Bearer "+w.token)
	ws, _, err := websocket.DefaultDialer.Dial(url, h)
	if err != nil {
		t.Fatal(err)
	}
	w.ws = ws
	t.Cleanup(func() { ws.Close() })
	go func() {
		defer close(w.frames)
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			w.frames <- data
		}
	}()
	for _, room := range []string{"joint", "caucus:B"} {
		if err := ws.WriteJSON(api.ClientFrame{Type: api.FrameSub, Room: room}); err != nil {
			t.Fatal(err)
		}
	}
	heads := map[string]*api.Position{}
	for len(heads) < 2 {
		f := w.frame("subscribing")
		if f.Type == api.FrameSubscribed {
			heads[f.Room] = f.Head
		}
	}
	w.sentinel("subscribing", true)
	// A room's history is read from the head B's socket was told: a page
	// from the start ends ("next") where compaction has reached, which
	// moves by itself some 10 s after the room's last seal (one for each
	// person joining), whatever side A does; what side A could add to
	// B's rooms comes after the head.
	for i, p := range w.paths {
		for room, head := range heads {
			if head != nil && strings.HasSuffix(p, "/rooms/"+room+"/messages") {
				w.paths[i] = fmt.Sprintf("%s?epoch=%d&offset=%d", p, head.Epoch, head.Offset)
			}
		}
	}
	w.base = w.snapshot()
	return w
}

// frame is the socket's next frame, waited for at most 10 s.
func (w *sideBWatch) frame(step string) api.ServerFrame {
	w.t.Helper()
	select {
	case data, ok := <-w.frames:
		if !ok {
			w.t.Fatalf("[%s] side B's socket closed", step)
		}
		var f api.ServerFrame
		if err := json.Unmarshal(data, &f); err != nil {
			w.t.Fatalf("[%s] %v: %s", step, err, data)
		}
		return f
	case <-time.After(10 * time.Second):
		w.t.Fatalf("[%s] side B's socket got nothing in 10 s", step)
	}
	return api.ServerFrame{}
}

// sentinel has the mediator set and clear a timer in the joint room, and
// reads side B's socket until both floor frames came: a frame before them
// is one the step sent B (leaked says whether that is allowed: only
// while subscribing). The step's broadcasts left the node before the
// sentinel's, so they are on the socket before it.
func (w *sideBWatch) sentinel(step string, leaked bool) {
	w.t.Helper()
	ctx := w.t.Context()
	jointTimer := func(f api.ServerFrame) bool {
		return f.Floor != nil && slices.ContainsFunc(f.Floor.Timers, func(t api.RoomTimer) bool { return t.Room == "joint" })
	}
	if _, err := w.k.med.SetTimer(ctx, w.k.caseID, "joint", api.TimerRequest{Minutes: 30}); err != nil {
		w.t.Fatal(err)
	}
	for f := w.frame(step); !jointTimer(f); f = w.frame(step) {
		if !leaked {
			w.t.Errorf("[%s] side B's socket got a frame: %s", step, frameText(f))
		}
	}
	if err := w.k.med.ClearTimer(ctx, w.k.caseID, "joint"); err != nil {
		w.t.Fatal(err)
	}
	for f := w.frame(step); f.Type != api.FrameFloor || jointTimer(f); f = w.frame(step) {
		if !leaked && !jointTimer(f) {
			w.t.Errorf("[%s] side B's socket got a frame: %s", step, frameText(f))
		}
	}
}

// snapshot is side B's answer to every watched route.
func (w *sideBWatch) snapshot() map[string]string {
	w.t.Helper()
	out := make(map[string]string, len(w.paths))
	for _, p := range w.paths {
		res := rawRequest(w.t, http.MethodGet, w.k.n.URL+p, w.token, nil, nil)
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			w.t.Fatal(err)
		}
		out[p] = fmt.Sprintf("%d %s", res.StatusCode, sideBNoise.ReplaceAllString(withoutLogSize(b), ""))
	}
	return out
}

// withoutLogSize is a key-directory answer (api.Proven) without its
// checkpoint and each record's inclusion proof: both change with the
// log's size, which grows with every device, statement and signature of
// the whole program (security.md, "Key-directory counts (residual)").
// The records themselves, with their log index and entry, stay. Any other
// answer is as it came.
func withoutLogSize(b []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil || m["checkpoint"] == nil || m["key"] == nil {
		return string(b)
	}
	delete(m, "checkpoint")
	for k, v := range m {
		var list []map[string]json.RawMessage
		if json.Unmarshal(v, &list) != nil {
			continue
		}
		for _, l := range list {
			delete(l, "proof")
		}
		m[k], _ = json.Marshal(list)
	}
	out, _ := json.Marshal(m)
	return string(out)
}

// step runs what side A or the mediator does, then checks side B's
// socket got nothing and every answer of B's is as it was.
func (w *sideBWatch) step(name string, do func() error) {
	w.t.Helper()
	w.steps++
	if err := do(); err != nil {
		w.t.Fatalf("[%s] %v", name, err)
	}
	w.sentinel(name, false)
	now := w.snapshot()
	for _, p := range w.paths {
		if w.base[p] != now[p] {
			before, after := aroundFirstDifference(w.base[p], now[p])
			w.t.Errorf("[%s] side B's answer to GET %s changed:\n  before: %s\n  after:  %s", name, p, before, after)
		}
	}
	w.base = now
}

// TestSideBViewUnchangedByCaucusA: while side A's party and the mediator
// work in A's caucus — messages, timers, hands, the floor, sessions
// scheduled, moved and cancelled, uploads, versions, a share request, a
// room with A alone, a link back in for A, opened — side B's party's
// answer to every GET route stays the same, byte for byte, and its socket
// gets nothing (review 377 LOW-2).
func TestSideBViewUnchangedByCaucusA(t *testing.T) {
	t.Parallel()
	start := time.Now()
	k := newSideBCase(t)
	ctx := t.Context()
	med, a := k.med, k.as["partyA"]
	// Something of B's own in each list B reads, so that a route's answer
	// is a list with B's in it, not an empty one.
	docB, err := k.as["partyB"].UploadDocument(ctx, k.caseID, client.Upload{Name: "mine.txt", Audience: "caucus:B", Class: "evidence",
		Body: strings.NewReader("B's own"), Size: 7})
	if err != nil {
		t.Fatal(err)
	}
	w := watchSideB(t, k, map[string][]string{"room": {"joint", "caucus:B"}, "docID": {docB.ID}, "accountID": {k.id["partyB"]}})
	t.Logf("watching %d GET answers of side B", len(w.paths))

	post := func(c *client.Client, room, id, text string) error {
		ch, err := c.Chat(ctx, k.caseID, map[string]*api.Position{room: nil})
		if err != nil {
			return err
		}
		defer ch.Close()
		_, err = ch.Send(ctx, room, id, []byte(text))
		return err
	}
	w.step("A posts in caucus A", func() error {
		for i := range 3 {
			if err := post(a, "caucus:A", fmt.Sprintf("a-%d", i), strings.Repeat("x", 1000*(i+1))); err != nil {
				return err
			}
		}
		return nil
	})
	w.step("the mediator replies in caucus A", func() error { return post(med, "caucus:A", "m-1", "noted") })
	w.step("the mediator sets a timer in caucus A", func() error {
		_, err := med.SetTimer(ctx, k.caseID, "caucus:A", api.TimerRequest{Minutes: 10})
		return err
	})
	w.step("A raises a hand in caucus A", func() error {
		_, err := a.RaiseHand(ctx, k.caseID, "caucus:A")
		return err
	})
	w.step("the mediator gives A the floor in caucus A", func() error {
		_, err := med.GiveFloor(ctx, k.caseID, "caucus:A", "A", 5)
		return err
	})
	w.step("A lowers the hand", func() error { return a.LowerHand(ctx, k.caseID, "caucus:A", "") })
	w.step("the mediator clears caucus A's timer", func() error { return med.ClearTimer(ctx, k.caseID, "caucus:A") })
	var docA string
	w.step("A uploads a document to caucus A", func() error {
		d, err := a.UploadDocument(ctx, k.caseID, client.Upload{Name: "secret.txt", Audience: "caucus:A", Class: "evidence",
			Body: strings.NewReader("secret body"), Size: 11})
		docA = d.ID
		return err
	})
	w.step("A uploads a new version", func() error {
		_, err := a.UploadVersion(ctx, k.caseID, docA, client.Upload{Name: "secret2.txt", Body: strings.NewReader("secret body 2"), Size: 13})
		return err
	})
	w.step("the mediator asks A to share it with the joint room", func() error {
		return med.Do(ctx, http.MethodPost, "/api/v1/cases/"+k.caseID+"/documents/"+docA+"/share-requests", map[string]any{"audience": "joint"}, nil)
	})
	w.step("the mediator uploads to caucus A", func() error {
		_, err := med.UploadDocument(ctx, k.caseID, client.Upload{Name: "m.txt", Audience: "caucus:A", Class: "correspondence",
			Body: strings.NewReader("med body"), Size: 8})
		return err
	})
	var sessID string
	w.step("the mediator schedules a caucus A session", func() error {
		s, err := med.AddSession(ctx, k.caseID, api.NewSessionRequest{Start: time.Now().Add(48 * time.Hour).UTC().Format("2006-01-02T15:04"),
			TimeZone: "UTC", Minutes: 30, Rooms: []string{"caucus:A"}, Expected: []string{k.id["partyA"], k.id["mediator"]}})
		sessID = s.ID
		return err
	})
	w.step("the mediator moves it", func() error {
		_, err := med.MoveSession(ctx, k.caseID, sessID, api.MoveSessionRequest{Start: time.Now().Add(50 * time.Hour).UTC().Format("2006-01-02T15:04"), Reason: "r"})
		return err
	})
	w.step("the mediator cancels it", func() error {
		_, err := med.CancelSession(ctx, k.caseID, sessID, "r")
		return err
	})
	var room string
	w.step("the mediator opens a room with A alone", func() error {
		var dr api.DefinedRoom
		err := med.Do(ctx, http.MethodPost, "/api/v1/cases/"+k.caseID+"/defined-rooms", map[string]any{"label": "A alone",
			"members": []string{k.id["mediator"], k.id["partyA"]}}, &dr)
		room = dr.Room
		return err
	})
	w.step("A works in that room", func() error {
		if _, err := med.SetTimer(ctx, k.caseID, room, api.TimerRequest{Minutes: 10}); err != nil {
			return err
		}
		if _, err := a.RaiseHand(ctx, k.caseID, room); err != nil {
			return err
		}
		return post(a, room, "d-1", "hello")
	})
	w.step("the mediator closes the room", func() error {
		_, err := med.CloseRoom(ctx, k.caseID, room)
		return err
	})
	w.step("the mediator makes A a link back in, and A opens it", func() error {
		link, err := med.Reentry(ctx, k.caseID, k.id["partyA"], time.Hour)
		if err != nil {
			return err
		}
		_, err = client.New(k.n.URL, "").Join(ctx, link.Link)
		return err
	})
	t.Logf("%d steps watched; %v in all", w.steps, time.Since(start).Round(time.Millisecond))
}

// TestSideBViewUnchangedByCaucusAE2EE: the same with end-to-end
// encryption: side A's party and the mediator talk in A's caucus, A
// uploads an encrypted document there, and A opens the case on a new
// device the mediator has not admitted yet; side B's party's answers —
// the case's devices and membership statements among them — and socket
// stay as they were (review 377 LOW-1 and LOW-2).
func TestSideBViewUnchangedByCaucusAE2EE(t *testing.T) {
	t.Parallel()
	start := time.Now()
	k := newSideBCase(t)
	ctx := t.Context()
	x := map[string]*client.E2EE{}
	for _, who := range []string{"mediator", "partyA", "partyB"} {
		c := k.med
		if who != "mediator" {
			c = k.as[who]
		}
		x[who] = newRegisteredDevice(t, c, k.id[who])
	}
	secure := func(who string) *client.SecureChat {
		t.Helper()
		s, err := x[who].OpenSecureChat(ctx, k.caseID, client.SecureOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}
	med := secure("mediator") // signs the case's membership
	secure("partyB").Close()  // B's device verified the case once
	a := secure("partyA")
	w := watchSideB(t, k, map[string][]string{"room": {"joint", "caucus:B"}, "accountID": {k.id["partyB"]}})
	t.Logf("watching %d GET answers of side B", len(w.paths))

	w.step("A writes in caucus A", func() error {
		for _, s := range []string{"one", "two two two two", strings.Repeat("three ", 50)} {
			if _, err := a.Send(ctx, "caucus:A", s); err != nil {
				return err
			}
		}
		return nil
	})
	w.step("the mediator replies in caucus A", func() error {
		_, err := med.Send(ctx, "caucus:A", "noted")
		return err
	})
	w.step("A uploads an encrypted document to caucus A", func() error {
		_, err := x["partyA"].UploadDocumentE2EE(ctx, k.caseID, client.Upload{Name: "a.txt", Audience: "caucus:A", Class: "evidence",
			Body: strings.NewReader("A's secret"), Size: 10})
		return err
	})
	w.step("A opens the case on a new device, not admitted yet", func() error {
		link, err := k.med.Reentry(ctx, k.caseID, k.id["partyA"], time.Hour)
		if err != nil {
			return err
		}
		c := client.New(k.n.URL, "")
		if _, err := c.Join(ctx, link.Link); err != nil {
			return err
		}
		newRegisteredDevice(t, c, k.id["partyA"])
		return nil
	})
	t.Logf("%d steps watched; %v in all", w.steps, time.Since(start).Round(time.Millisecond))
}

// aroundFirstDifference is a and b from a little before where they first
// differ, up to 400 bytes each.
func aroundFirstDifference(a, b string) (string, string) {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	from := max(0, i-80)
	cut := func(s string) string {
		s = s[min(from, len(s)):]
		if len(s) > 400 {
			s = s[:400] + "…"
		}
		if from > 0 {
			s = "…" + s
		}
		return s
	}
	return cut(a), cut(b)
}

func frameText(f api.ServerFrame) string {
	b, _ := json.Marshal(f)
	return fmt.Sprintf("%.600s", b)
}
