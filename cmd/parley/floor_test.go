package main

import (
	"strings"
	"testing"

	"github.com/parley-mediation/parley/internal/nodetest"
)

// TestFloorVerbs: the room-control verbs, end to end on a node: a timer
// its room's members see (and the other side does not), a raised hand the
// mediator lists with where and how long, the floor given and taken back,
// a notice broadcast to every room (encrypted) — rooms the mediator
// defined included, a closed one left out — and one-line refusals.
func TestFloorVerbs(t *testing.T) {
	n := nodetest.Embedded(t)
	k, med, join := cliCase(t, n, "floor-med@example.org", "CLI floor", "tenancy", []string{"Tenant", "Landlord"})
	a, b := join("A", "Avery"), join("B", "Blake")
	must := func(u cliUser, want string, args ...string) string {
		t.Helper()
		code, out := u.run(t, "", args...)
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("%v: exit %d, want %q in:\n%s", args, code, want, out)
		}
		return out
	}
	must(med, "ends at", "room", "timer", k.ID, "--room", "caucus:A", "--minutes", "12")
	must(a, "the Tenant caucus ends in 12 min", "floor", "show", k.ID)
	if out := must(b, "", "floor", "show", k.ID); strings.Contains(out, "Tenant caucus") {
		t.Fatalf("side B sees side A's timer:\n%s", out)
	}
	if code, _ := a.run(t, "", "room", "timer", k.ID, "--room", "caucus:A", "--minutes", "5"); code != 1 {
		t.Fatalf("a party sets a timer: exit %d, want 1", code)
	}
	must(a, "only the mediators see that you asked", "hand", "raise", k.ID, "--room", "caucus:A")
	must(med, "Avery waits in the Tenant caucus for less than a minute", "hand", "list", k.ID)
	if out := must(b, "", "floor", "show", k.ID); strings.Contains(out, "raised") {
		t.Fatalf("a party sees the hands count:\n%s", out)
	}
	must(med, "lowered", "hand", "lower", k.ID, "--room", "caucus:A", "--account", a.id)
	must(med, "nobody is waiting", "hand", "list", k.ID)
	must(med, "side B has the floor in joint", "floor", "give", k.ID, "--side", "B", "--minutes", "5")
	must(a, "the Landlord side has the floor for 5 more min", "floor", "show", k.ID)
	must(med, "you have the floor back", "floor", "take", k.ID)

	for _, u := range []cliUser{med, a, b} {
		must(u, "registered", "keys", "init")
	}
	must(med, "This goes to: the joint session, the Tenant caucus, the Landlord caucus", "broadcast", k.ID, "Back in five minutes")
	must(b, "NOTICE from", "chat", "read", k.ID, "--room", "caucus:B")
	must(a, "Back in five minutes", "chat", "read", k.ID, "--room", "joint")
	if code, _ := a.run(t, "", "broadcast", k.ID, "I am not a mediator"); code != 1 {
		t.Fatalf("a party broadcasts: exit %d, want 1", code)
	}

	// Rooms the mediator defined: an open one gets the notice, a closed
	// one is left out and does not stop the others.
	openRoom := func(name, who string) string {
		out := must(med, "Opened", "room", "open", k.ID, "--name", name, "--with", who)
		return strings.Fields(strings.TrimPrefix(out, "Opened "))[0]
	}
	avery, blake := openRoom("Avery alone", "Avery"), openRoom("Blake alone", "Blake")
	must(med, "Closed", "room", "close", k.ID, avery, "--yes")
	out := must(med, "notice sent to 4 rooms", "broadcast", k.ID, "Lunch until one")
	if !strings.Contains(out, "This goes to: the joint session, the Tenant caucus, the Landlord caucus, the “Blake alone” room (") ||
		strings.Contains(out, "Avery alone") || strings.Contains(out, "room:") {
		t.Fatalf("broadcast after closing a room:\n%s", out)
	}
	must(b, "Lunch until one", "chat", "read", k.ID, "--room", blake)
	if out := must(a, "", "chat", "read", k.ID, "--room", avery); strings.Contains(out, "Lunch until one") {
		t.Fatalf("the notice was written in the closed room:\n%s", out)
	}
}
