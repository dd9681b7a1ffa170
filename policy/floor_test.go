package policy

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestFloorMatrix: who may run a room's controls, raise a hand in it, and
// see the case's hands. The table is the specification; a raise also
// needs room.join, which the service checks (TestRoomMatrix covers it).
func TestFloorMatrix(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	c := &Case{
		ID: "case1", Mediators: []string{"m1", "m2"}, Recused: []string{"m2"},
		Parties: []string{"pA", "pB"}, Counsel: []string{"cA", "cB"}, Observers: []string{"o1"},
		SideMembers: map[string][]string{"A": {"pA", "cA"}, "B": {"pB", "cB"}},
	}
	rooms := map[string]Room{
		"joint":     {Case: c, Kind: RoomJoint},
		"caucus:A":  {Case: c, Kind: RoomCaucus, Side: "A"},
		"mediators": {Case: c, Kind: RoomMediators},
	}
	users := map[string]User{
		"mediator": {ID: "m1", Role: RoleMediator}, "recused": {ID: "m2", Role: RoleMediator},
		"partyA": {ID: "pA", Role: RoleParticipant}, "counselB": {ID: "cB", Role: RoleParticipant},
		"observer": {ID: "o1", Role: RoleParticipant}, "outsider": {ID: "x", Role: RoleParticipant},
		"admin": {ID: "a1", Role: RoleAdmin}, "records": {ID: "r1", Role: RoleRecords},
		"other-mediator":    {ID: "m9", Role: RoleMediator},
		"disabled-mediator": {ID: "m1", Role: RoleMediator, Disabled: true},
	}
	var allowed []string
	for r := range rooms {
		allowed = append(allowed, "mediator "+r+" room.control", "partyA "+r+" room.raise_hand", "counselB "+r+" room.raise_hand")
	}
	var wrong []string
	for who, u := range users {
		for name, r := range rooms {
			for _, a := range []Action{RoomControl, RoomRaiseHand} {
				key := fmt.Sprintf("%s %s %s", who, name, a)
				want := slices.Contains(allowed, key)
				if got := e.DecideRoom(u, a, r); got.Allowed != want {
					wrong = append(wrong, fmt.Sprintf("%s: got %v want %v (%v)", key, got.Allowed, want, got.Policies))
				}
			}
		}
		want := who == "mediator"
		if got := e.Decide(u, HandsRead, c); got.Allowed != want {
			wrong = append(wrong, fmt.Sprintf("%s case.hands_read: got %v want %v", who, got.Allowed, want))
		}
	}
	slices.Sort(wrong)
	if len(wrong) > 0 {
		t.Fatalf("%d wrong floor decisions:\n%s", len(wrong), strings.Join(wrong, "\n"))
	}
	src := Source()
	for _, a := range FloorActions() {
		if !strings.Contains(src, `Action::"`+string(a)+`"`) {
			t.Errorf("action %s appears in no policy", a)
		}
	}
}
