package main

import (
	"context"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/metastore"
)

// TestRoomVerbs: a mediator opens a room with one party by name; the party
// lists it and writes in it, the other party sees nothing of it; a room
// mixing sides without --cross-side is refused in one line saying why;
// closing asks --yes, then the room takes no more messages.
func TestRoomVerbs(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	k, med, join := cliCase(t, n, "cli-rooms@example.org", "CLI rooms", "family", []string{"A", "B"})
	a, b := join("A", "Avery"), join("B", "Blake")
	for _, u := range []cliUser{med, a, b} {
		if code, out := u.run(t, "", "keys", "init"); code != 0 {
			t.Fatalf("keys init: %d %s", code, out)
		}
	}
	if code, _ := med.run(t, "", "room", "open", k.ID, "--name", "Both parties", "--with", "Avery", "--with", "Blake"); code != 1 {
		t.Fatalf("a room mixing sides without --cross-side: exit %d", code)
	}
	code, out := med.run(t, "", "room", "open", k.ID, "--name", "Avery alone", "--with", "avery")
	if code != 0 || !strings.Contains(out, "Avery alone") || !strings.Contains(out, "Avery") {
		t.Fatalf("room open: %d %s", code, out)
	}
	room := strings.Fields(strings.TrimPrefix(out, "Opened "))[0]
	if !strings.HasPrefix(room, "room:") {
		t.Fatalf("room name %q", room)
	}
	if code, out := a.run(t, "", "room", "list", k.ID); code != 0 || !strings.Contains(out, room) || !strings.Contains(out, "Avery alone") {
		t.Fatalf("A's room list: %d %s", code, out)
	}
	if code, out := b.run(t, "", "room", "list", k.ID); code != 0 || strings.Contains(out, room) || strings.Contains(out, "Avery alone") {
		t.Fatalf("B's room list: %d %s", code, out)
	}
	// The chat's banner names every person in the room.
	if code, out := a.run(t, "/quit\n", "chat", k.ID, "--room", room); code != 0 || !strings.Contains(out, "Only the people in this room: ") ||
		!strings.Contains(out, "Avery") || strings.Contains(out, "Blake") || strings.Contains(out, "Cross-side") {
		t.Fatalf("A's chat in the room: %d %s", code, out)
	}
	code, out = med.run(t, "", "room", "open", k.ID, "--name", "Both parties", "--with", "Avery", "--with", "Blake", "--cross-side")
	if code != 0 {
		t.Fatalf("cross-side room open: %d %s", code, out)
	}
	cross := strings.Fields(strings.TrimPrefix(out, "Opened "))[0]
	for _, u := range []cliUser{a, b} {
		code, out := u.run(t, "/quit\n", "chat", k.ID, "--room", cross)
		if code != 0 || !strings.Contains(out, "Cross-side room: people of both sides read each other's words here.") ||
			!strings.Contains(out, "Avery") || !strings.Contains(out, "Blake") {
			t.Fatalf("%s's chat in the cross-side room: %d %s", u.id, code, out)
		}
	}
	if code, out := a.run(t, "", "chat", "send", k.ID, "--room", room, "just to the mediator"); code != 0 {
		t.Fatalf("A writes in the room: %d %s", code, out)
	}
	if code, out := med.run(t, "", "chat", "read", k.ID, "--room", room); code != 0 || !strings.Contains(out, "just to the mediator") {
		t.Fatalf("mediator reads the room: %d %s", code, out)
	}
	if code, _ := b.run(t, "", "chat", "read", k.ID, "--room", room); code != 1 {
		t.Fatalf("B read the room: exit %d", code)
	}
	if code, _ := med.run(t, "", "room", "close", k.ID, room); code != 2 {
		t.Fatalf("close without --yes: exit %d", code)
	}
	if code, out := med.run(t, "", "room", "close", k.ID, room, "--yes"); code != 0 || !strings.Contains(out, "Closed") {
		t.Fatalf("room close: %d %s", code, out)
	}
	if code, out := a.run(t, "", "room", "list", k.ID); code != 0 || !strings.Contains(out, "closed") {
		t.Fatalf("A's room list after closing: %d %s", code, out)
	}
	if code, _ := a.run(t, "", "chat", "send", k.ID, "--room", room, "--wait", "2s", "too late"); code != 1 {
		t.Fatalf("A wrote in a closed room: exit %d", code)
	}
	// The server writes B into the room's record and flips it to
	// cross-side: A's list still names the signed people, one side.
	if _, err := metastore.Update(ctx, n.Meta, "cases/"+k.ID+"/case", func(c *cases.Case) error {
		c.Rooms[0].Members = append(c.Rooms[0].Members, b.id)
		c.Rooms[0].CrossSide = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	code, out = a.run(t, "", "room", "list", k.ID)
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, room+" ") {
			line = l
		}
	}
	if code != 0 || !strings.Contains(line, "Avery alone") || strings.Contains(line, "Blake") || strings.Contains(line, "cross-side") {
		t.Fatalf("A's room list takes the server's word: %d %s", code, out)
	}
}
