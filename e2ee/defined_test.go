package e2ee

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// definedPeople is the world's people plus side B's counsel and an
// observer.
func definedPeople(w *world) []Person {
	return append(slices.Clone(w.people()),
		Person{Account: "u_counselb", Role: RoleCounsel, Side: "B"},
		Person{Account: "u_obs", Role: RoleObserver})
}

// withRooms is the next statement of w's chain for people at epoch 1 with
// extra rooms added.
func withRooms(w *world, people []Person, extra ...RoomMembers) *Statement {
	st := w.next(people, epochs(1))
	st.Rooms = append(st.Rooms, extra...)
	return st
}

func TestDefinedRoomRules(t *testing.T) {
	for _, tc := range []struct {
		name    string
		room    RoomMembers
		refused string // "" = signed and accepted
	}{
		{"mediator and one party", RoomMembers{Name: "room:r1", Epoch: 1, Members: []string{"u_med", "u_partya"}}, ""},
		{"a side without its party", RoomMembers{Name: "room:r1", Epoch: 1, Members: []string{"u_med", "u_counsela"}}, ""},
		{"two sides, not declared", RoomMembers{Name: "room:r1", Epoch: 1, Members: []string{"u_med", "u_counsela", "u_counselb"}}, "not declared cross-side"},
		{"two sides, declared", RoomMembers{Name: "cross:r1", Epoch: 1, Members: []string{"u_med", "u_counsela", "u_counselb"}}, ""},
		{"an observer", RoomMembers{Name: "room:r1", Epoch: 1, Members: []string{"u_med", "u_obs"}}, "observer"},
		{"an observer, cross-side", RoomMembers{Name: "cross:r1", Epoch: 1, Members: []string{"u_med", "u_partya", "u_partyb", "u_obs"}}, "observer"},
		{"no mediator", RoomMembers{Name: "room:r1", Epoch: 1, Members: []string{"u_partya", "u_counsela"}}, "without a mediator"},
		{"someone not in the case", RoomMembers{Name: "room:r1", Epoch: 1, Members: []string{"u_med", "u_stranger"}}, "not in the case"},
		{"an unknown kind of room", RoomMembers{Name: "side:r1", Epoch: 1, Members: []string{"u_med"}}, "unknown room"},
		{"a defined room with no id", RoomMembers{Name: "room:", Epoch: 1, Members: []string{"u_med"}}, "unknown room"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.genesis(t, w.med, definedPeople(w), epochs(1))
			st := withRooms(w, definedPeople(w), tc.room)
			raw, err := st.Sign(w.med)
			if err == nil {
				var dec *Statement
				if dec, err = DecodeStatement(raw); err == nil {
					err = w.chain.Extend(dec, w.dir)
				}
			}
			switch {
			case tc.refused == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.refused != "" && (!errors.Is(err, ErrMembership) || !strings.Contains(err.Error(), tc.refused)):
				t.Fatalf("got %v, want a refusal naming %q", err, tc.refused)
			}
		})
	}
}

// TestDefinedRoomChainRules: once open, a defined room keeps its people
// (it may lose those who leave the case, never gain anyone) and its name,
// so neither an added member nor a flipped cross-side declaration is
// accepted in a later statement, even one a mediator's device signed.
func TestDefinedRoomChainRules(t *testing.T) {
	w := newWorld(t)
	people := definedPeople(w)
	w.genesis(t, w.med, people, epochs(1))
	room := RoomMembers{Name: "room:r1", Epoch: 1, Members: []string{"u_med", "u_partya"}}
	first := withRooms(w, people, room)
	raw, err := first.Sign(w.med)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := DecodeStatement(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.chain.Extend(dec, w.dir); err != nil {
		t.Fatal(err)
	}

	// A member added later, even of the same side.
	grown := withRooms(w, people, RoomMembers{Name: "room:r1", Epoch: 2, Members: []string{"u_med", "u_partya", "u_counsela"}})
	mustRefuse(t, w, grown, w.med, "gained member u_counsela")
	// The room flipped to cross-side with B's party in it: the old name
	// disappears (refused) …
	flipped := withRooms(w, people, RoomMembers{Name: "cross:r1", Epoch: 1, Members: []string{"u_med", "u_partya", "u_partyb"}})
	mustRefuse(t, w, flipped, w.med, "room:r1 disappeared")
	// … and kept beside it, the flipped room is a new room (which only a
	// mediator's deliberate opening signs; a signer carrying the chain
	// forward never adds it: see CarryDefined below).
	if got := CarryDefined(w.chain.Latest(), people, map[string]int64{"cross:r1": 1}); len(got) != 1 || got[0].Name != "room:r1" {
		t.Fatalf("CarryDefined: %+v", got)
	}

	// Someone leaving the case leaves the room; the epoch follows the
	// server's seal; the statement is accepted.
	left := slices.DeleteFunc(slices.Clone(people), func(p Person) bool { return p.Account == "u_partya" })
	carried := CarryDefined(w.chain.Latest(), left, map[string]int64{"room:r1": 3})
	if len(carried) != 1 || carried[0].Epoch != 3 || !slices.Equal(carried[0].Members, []string{"u_med"}) {
		t.Fatalf("CarryDefined after a departure: %+v", carried)
	}
	next := withRooms(w, left, carried...)
	raw, err = next.Sign(w.med)
	if err != nil {
		t.Fatal(err)
	}
	if dec, err = DecodeStatement(raw); err != nil {
		t.Fatal(err)
	}
	if err := w.chain.Extend(dec, w.dir); err != nil {
		t.Fatalf("a departure from a defined room refused: %v", err)
	}
}

// TestDefinedRoomKeys: a defined room's keys go to its members only; what
// a non-member sends there is refused.
func TestDefinedRoomKeys(t *testing.T) {
	w := newWorld(t)
	w.genesis(t, w.med, w.people(), epochs(1))
	st := withRooms(w, w.people(), RoomMembers{Name: "room:r1", Epoch: 1, Members: []string{"u_med", "u_partya"}})
	raw, err := st.Sign(w.med)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := DecodeStatement(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.chain.Extend(dec, w.dir); err != nil {
		t.Fatal(err)
	}
	posts := send(t, w.session(w.a1), "room:r1", 1, "just between us")
	if texts, errs := deliver(w.session(w.med), "room:r1", 1, posts); !slices.Equal(texts, []string{"just between us"}) {
		t.Fatalf("mediator: %v %v", texts, errs)
	}
	if texts, _ := deliver(w.session(w.counselA), "room:r1", 1, posts); len(texts) != 0 {
		t.Fatalf("A's counsel, not in the room, read %v", texts)
	}
	if _, err := w.session(w.counselA).Prepare("room:r1", 1); !errors.Is(err, ErrNotMember) {
		t.Fatalf("A's counsel prepared to send in a room they are not in: %v", err)
	}
}
