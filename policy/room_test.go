package policy

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestRoomMatrix: who may join, post and page history in each room of a
// case with sides A and B. The table is the specification.
func TestRoomMatrix(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	c := &Case{
		ID: "case1", Mediators: []string{"m1", "m2", "m3"}, Recused: []string{"m2"}, Unconfirmed: []string{"m3"},
		Parties: []string{"pA", "pB"}, Counsel: []string{"cA", "cB"}, Observers: []string{"o1"},
		SideMembers: map[string][]string{"A": {"pA", "cA"}, "B": {"pB", "cB"}},
	}
	rooms := map[string]Room{
		"joint":     {Case: c, Kind: RoomJoint},
		"caucus:A":  {Case: c, Kind: RoomCaucus, Side: "A"},
		"caucus:B":  {Case: c, Kind: RoomCaucus, Side: "B"},
		"mediators": {Case: c, Kind: RoomMediators},
	}
	users := map[string]User{
		"mediator": {ID: "m1", Role: RoleMediator}, "recused": {ID: "m2", Role: RoleMediator},
		"partyA": {ID: "pA", Role: RoleParticipant}, "counselA": {ID: "cA", Role: RoleParticipant},
		"partyB": {ID: "pB", Role: RoleParticipant}, "counselB": {ID: "cB", Role: RoleParticipant},
		"observer": {ID: "o1", Role: RoleParticipant}, "outsider": {ID: "x", Role: RoleParticipant},
		"admin": {ID: "a1", Role: RoleAdmin}, "records": {ID: "r1", Role: RoleRecords},
		"other-mediator": {ID: "m9", Role: RoleMediator},
		// m3 is on the record, but no seated mediator has confirmed them.
		"unconfirmed-mediator": {ID: "m3", Role: RoleMediator},
	}
	// allowed lists "who room action" triples; everything else is denied.
	all := func(who, room string) []string {
		return []string{who + " " + room + " room.join", who + " " + room + " room.post", who + " " + room + " room.history"}
	}
	var allowed []string
	for _, r := range []string{"joint", "caucus:A", "caucus:B", "mediators"} {
		allowed = append(allowed, all("mediator", r)...)
	}
	for _, who := range []string{"partyA", "counselA"} {
		allowed = append(allowed, all(who, "joint")...)
		allowed = append(allowed, all(who, "caucus:A")...)
	}
	for _, who := range []string{"partyB", "counselB"} {
		allowed = append(allowed, all(who, "joint")...)
		allowed = append(allowed, all(who, "caucus:B")...)
	}
	allowed = append(allowed, "observer joint room.join", "observer joint room.history")

	var wrong []string
	for who, u := range users {
		for name, r := range rooms {
			for _, a := range RoomActions() {
				key := fmt.Sprintf("%s %s %s", who, name, a)
				want := slices.Contains(allowed, key)
				if got := e.DecideRoom(u, a, r); got.Allowed != want {
					wrong = append(wrong, fmt.Sprintf("%s: got %v want %v (%v)", key, got.Allowed, want, got.Policies))
				}
			}
		}
	}
	slices.Sort(wrong)
	if len(wrong) > 0 {
		t.Fatalf("%d wrong room decisions:\n%s", len(wrong), strings.Join(wrong, "\n"))
	}
}
