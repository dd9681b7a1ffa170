package policy

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
)

func definedCase() *Case {
	return &Case{
		ID: "case1", Mediators: []string{"m1", "m2", "m3"}, Recused: []string{"m2"},
		Parties: []string{"pA", "pB", "pC"}, Counsel: []string{"cA", "cB"}, Observers: []string{"o1"},
		SideMembers: map[string][]string{"A": {"pA", "cA"}, "B": {"pB", "cB"}, "C": {"pC"}},
	}
}

// TestDefinedRoomOpenRules: who may be put together in a room a mediator
// opens. The table is the specification; "refused" lists the policies
// that refuse, as "who:policy" ("room" for the opening itself).
func TestDefinedRoomOpenRules(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	med := User{ID: "m1", Role: RoleMediator}
	for _, tc := range []struct {
		name    string
		opener  User
		members string
		cross   bool
		refused string
	}{
		{"mediator and a party, without their lawyer", med, "m1 pA", false, ""},
		{"a party and their lawyer", med, "m1 pA cA", false, ""},
		{"a lawyer alone with the mediator", med, "m1 cB", false, ""},
		{"two co-mediators and a side", med, "m1 m3 pB cB", false, ""},
		{"both lawyers, not declared", med, "m1 cA cB", false, "room:mixing-sides-is-declared"},
		{"both lawyers, declared cross-side", med, "m1 cA cB", true, ""},
		{"a party with only the other side's lawyer", med, "m1 pA cB", true, "pA:party-meets-other-counsel-only-with-own-counsel"},
		{"a party with the other lawyer and their own", med, "m1 pA cA cB", true, ""},
		{"both parties without lawyers", med, "m1 pA pB", true, ""},
		{"both sides in full", med, "m1 pA cA pB cB", true, ""},
		{"an unrepresented party with a lawyer", med, "m1 pC cA", true, "pC:party-meets-other-counsel-only-with-own-counsel"},
		{"both parties and one lawyer", med, "m1 pA pB cB", true, "pA:party-meets-other-counsel-only-with-own-counsel"},
		{"no mediator in it", med, "pA cA", false, "room:defined-room-has-a-mediator"},
		{"mediators only", med, "m1 m3", false, "room:defined-room-has-a-participant"},
		{"cross-side with one side", med, "m1 pA cA", true, "room:cross-side-holds-two-sides"},
		{"an observer", med, "m1 pA o1", false, "o1:observers-never-in-defined-rooms"},
		{"a recused mediator", med, "m1 m2 pA", false, "m2:recused-mediators-leave-every-room"},
		{"a stranger", med, "m1 pA x9", false, "x9:"},
		{"opened by a recused mediator", User{ID: "m2", Role: RoleMediator}, "m1 pA", false, "room:recused-mediators-leave-every-room"},
		{"opened by a party", User{ID: "pA", Role: RoleParticipant}, "m1 pA", false, "room:"},
		{"opened by another case's mediator", User{ID: "m9", Role: RoleMediator}, "m1 pA", false, "room:"},
		{"opened by an admin", User{ID: "a1", Role: RoleAdmin}, "m1 pA", false, "room:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := e.DecideRoomOpen(tc.opener, Room{Case: definedCase(), Members: strings.Fields(tc.members), CrossSide: tc.cross})
			var got []string
			if !d.Room.Allowed {
				got = append(got, "room:"+strings.Join(d.Room.Policies, ","))
			}
			for who, dec := range d.Refused {
				got = append(got, who+":"+strings.Join(dec.Policies, ","))
			}
			sort.Strings(got)
			if strings.Join(got, " ") != tc.refused {
				t.Fatalf("refused %q, want %q", strings.Join(got, " "), tc.refused)
			}
			if d.Allowed() != (tc.refused == "") {
				t.Fatalf("Allowed() = %v", d.Allowed())
			}
		})
	}
}

// TestDefinedRoomAccess: a defined room is its members' only (not the
// case's other mediators', never an observer's); closed, it keeps its
// history and takes no post; a mediator in it closes it.
func TestDefinedRoomAccess(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	c := definedCase()
	users := map[string]User{
		"m1": {ID: "m1", Role: RoleMediator}, "m2": {ID: "m2", Role: RoleMediator}, "m3": {ID: "m3", Role: RoleMediator},
		"pA": {ID: "pA", Role: RoleParticipant}, "cA": {ID: "cA", Role: RoleParticipant},
		"pB": {ID: "pB", Role: RoleParticipant}, "cB": {ID: "cB", Role: RoleParticipant},
		"o1": {ID: "o1", Role: RoleParticipant}, "a1": {ID: "a1", Role: RoleAdmin},
	}
	// m2 (recused) and o1 (observer) are listed as members as a server
	// that wrote them in would: policy still keeps them out.
	open := Room{Case: c, Kind: RoomDefined, Members: []string{"m1", "m2", "pA", "o1"}}
	closed := open
	closed.Closed = true
	var allowed []string
	for _, who := range []string{"m1", "pA"} {
		allowed = append(allowed, who+" open room.join", who+" open room.post", who+" open room.history",
			who+" closed room.join", who+" closed room.history")
	}
	allowed = append(allowed, "m1 open room.close", "m1 closed room.close")
	var wrong []string
	for who, u := range users {
		for name, r := range map[string]Room{"open": open, "closed": closed} {
			for _, a := range append(RoomActions(), RoomClose) {
				key := fmt.Sprintf("%s %s %s", who, name, a)
				if got := e.DecideRoom(u, a, r); got.Allowed != slices.Contains(allowed, key) {
					wrong = append(wrong, fmt.Sprintf("%s: got %v (%v)", key, got.Allowed, got.Policies))
				}
			}
		}
	}
	slices.Sort(wrong)
	if len(wrong) > 0 {
		t.Fatalf("%d wrong decisions:\n%s", len(wrong), strings.Join(wrong, "\n"))
	}
}

func TestDefinedRoomRulesArePrinted(t *testing.T) {
	src := Source()
	for _, id := range []string{"party-meets-other-counsel-only-with-own-counsel", "mixing-sides-is-declared", "observers-never-in-defined-rooms", "defined-room-has-a-mediator"} {
		if !strings.Contains(src, `@id("`+id+`")`) {
			t.Errorf("parley policy show does not print %s", id)
		}
	}
}
