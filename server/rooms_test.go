package server_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/policy"
)

// people is a case with a mediator and a party on each side, each signed
// in (through whichever node URL they were given).
type people struct {
	caseID              string
	med, partyA, partyB *client.Client
	medID, medEmail     string
}

func seedCase(t *testing.T, n *nodetest.Node, urls ...string) people {
	t.Helper()
	ctx := context.Background()
	medEmail := fmt.Sprintf("med-%d@example.org", time.Now().UnixNano())
	medAcct, med := n.Staff(t, policy.RoleMediator, medEmail)
	c, err := med.CreateCase(ctx, "Rooms test", "family", "", []string{"Parent 1", "Parent 2"})
	if err != nil {
		t.Fatal(err)
	}
	join := func(side, name, url string) *client.Client {
		inv, err := med.Invite(ctx, c.ID, "party", side, name, "", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		pc := client.New(url, "")
		if _, err := pc.Join(ctx, inv.Link); err != nil {
			t.Fatal(err)
		}
		return pc
	}
	ua, ub := n.URL, n.URL
	if len(urls) == 2 {
		ua, ub = urls[0], urls[1]
	}
	return people{caseID: c.ID, med: med, medID: medAcct.ID, medEmail: medEmail, partyA: join("A", "Avery", ua), partyB: join("B", "Blake", ub)}
}

// next waits (bounded) for the next message event in room, skipping
// presence and seals.
func next(t *testing.T, ch *client.Chat, room string) messaging.Message {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-ch.Events():
			if !ok {
				t.Fatalf("chat closed while waiting in %s", room)
			}
			if ev.Msg != nil && ev.Room == room {
				return *ev.Msg
			}
		case <-deadline:
			t.Fatalf("no message in %s within 10s", room)
		}
	}
}

// quiet asserts that no message arrives in room for d.
func quiet(t *testing.T, ch *client.Chat, room string, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case ev := <-ch.Events():
			if ev.Msg != nil && ev.Room == room {
				t.Fatalf("unexpected message in %s: %+v", room, ev.Msg)
			}
		case <-deadline:
			return
		}
	}
}

func testRooms(t *testing.T, a, b *nodetest.Node) {
	ctx := context.Background()
	p := seedCase(t, a, a.URL, b.URL)
	medChat, err := client.New(a.URL, p.med.Token).Chat(ctx, p.caseID, map[string]*messaging.Position{"joint": nil, "caucus:A": nil, "caucus:B": nil})
	if err != nil {
		t.Fatal(err)
	}
	defer medChat.Close()
	aChat, err := client.New(b.URL, p.partyA.Token).Chat(ctx, p.caseID, map[string]*messaging.Position{"joint": nil, "caucus:A": nil})
	if err != nil {
		t.Fatal(err)
	}
	defer aChat.Close()
	bChat, err := client.New(b.URL, p.partyB.Token).Chat(ctx, p.caseID, map[string]*messaging.Position{"joint": nil, "caucus:A": nil})
	if err != nil {
		t.Fatal(err)
	}
	defer bChat.Close()
	if _, ok := bChat.Position("caucus:A"); ok {
		t.Fatal("party B's subscription to caucus A was not refused")
	}
	if _, ok := aChat.Position("caucus:A"); !ok {
		t.Fatal("party A's subscription to caucus A was refused")
	}

	// Joint traffic reaches everyone, across nodes.
	if _, err := medChat.Send(ctx, "joint", "m1", []byte("opaque-joint-1")); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []*client.Chat{medChat, aChat, bChat} {
		if m := next(t, ch, "joint"); string(m.Body) != "opaque-joint-1" || m.From != p.medID {
			t.Fatalf("joint message: %+v", m)
		}
	}
	// Caucus A traffic reaches A and the mediator, never B.
	if _, err := aChat.Send(ctx, "caucus:A", "a1", []byte("opaque-caucus-A")); err != nil {
		t.Fatal(err)
	}
	if m := next(t, medChat, "caucus:A"); string(m.Body) != "opaque-caucus-A" {
		t.Fatalf("mediator got %+v", m)
	}
	if m := next(t, aChat, "caucus:A"); string(m.Body) != "opaque-caucus-A" {
		t.Fatalf("party A got %+v", m)
	}
	quiet(t, bChat, "caucus:A", 500*time.Millisecond)
	// B cannot post to A's caucus.
	sendCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := bChat.Send(sendCtx, "caucus:A", "b-bad", []byte("x")); err == nil {
		t.Fatal("party B posted to caucus A")
	}
	// B cannot page A's caucus history: it is "not found" to B, as a room
	// that does not exist is.
	var page any
	err = p.partyB.Do(ctx, http.MethodGet, "/api/v1/cases/"+p.caseID+"/rooms/caucus:A/messages", nil, &page)
	if ce, ok := err.(*client.Error); !ok || ce.Status != http.StatusNotFound {
		t.Fatalf("B paging A's caucus: %v", err)
	}
	// A can.
	var hp struct {
		Messages []messaging.Message `json:"messages"`
	}
	if err := p.partyA.Do(ctx, http.MethodGet, "/api/v1/cases/"+p.caseID+"/rooms/caucus:A/messages", nil, &hp); err != nil || len(hp.Messages) != 1 {
		t.Fatalf("A paging own caucus: %v %d", err, len(hp.Messages))
	}
	// B's room list shows joint and caucus:B only.
	var rooms []struct {
		Name     string `json:"name"`
		Audience string `json:"audience"`
	}
	if err := p.partyB.Do(ctx, http.MethodGet, "/api/v1/cases/"+p.caseID+"/rooms", nil, &rooms); err != nil {
		t.Fatal(err)
	}
	if len(rooms) != 2 || rooms[0].Name != "joint" || rooms[1].Name != "caucus:B" || rooms[1].Audience == "" {
		t.Fatalf("party B's rooms: %+v", rooms)
	}

	// Recusal closes the mediator's socket on the other node when the
	// case's announcement arrives, not at the socket's one-minute
	// re-check: within a second on an idle machine; the bound allows for
	// a loaded one (it ran out at 2.4 s once beside make test's other
	// stages), still far below the minute.
	start := time.Now()
	if _, err := p.med.CaseAction(ctx, p.caseID, "recusals", map[string]string{"reason": "conflict found"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for closed := false; !closed; {
		select {
		case _, ok := <-medChat.Events():
			closed = !ok
		case <-deadline:
			t.Fatalf("recused mediator's socket still open after %v", time.Since(start))
		}
	}
}

func TestRoomsEmbedded(t *testing.T) {
	n := nodetest.Embedded(t)
	testRooms(t, n, n)
}

func TestRoomsTwoNodes(t *testing.T) {
	cfg := nodetest.Scale(t)
	testRooms(t, nodetest.Start(t, cfg), nodetest.Start(t, cfg))
}
