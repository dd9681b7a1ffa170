package e2ee

import (
	"slices"
	"strings"
)

// Mediator-defined rooms (docs/protocol.md, "Mediator-defined rooms").
//
// Besides the rooms every case has, a mediator may open rooms of chosen
// people: "room:<id>" holds one side's people (and mediators), and
// "cross:<id>" is declared cross-side — people of different sides read
// each other's words in it. The declaration is the room's name, and the
// name is inside what the mediator's device signs, so a server cannot flip
// a room to cross-side: a flipped name is another room, which only a
// mediator's deliberate opening brings into a statement.
const (
	definedPrefix = "room:"
	crossPrefix   = "cross:"
)

// DefinedRoomName is the room name of a mediator-defined room with this id.
func DefinedRoomName(id string, crossSide bool) string {
	if crossSide {
		return crossPrefix + id
	}
	return definedPrefix + id
}

// DefinedRoom reports whether name is a mediator-defined room, its id and
// whether it is declared cross-side.
func DefinedRoom(name string) (id string, crossSide, ok bool) {
	if id, ok := strings.CutPrefix(name, definedPrefix); ok && id != "" {
		return id, false, true
	}
	if id, ok := strings.CutPrefix(name, crossPrefix); ok && id != "" {
		return id, true, true
	}
	return "", false, false
}

// checkDefined is the rule of a defined room within one statement: never
// an observer, and people of one side only unless it is declared
// cross-side. (That a room opens with a mediator in it, and that its
// people never grow, are chain rules: see [Chain.Extend].)
func checkDefined(r RoomMembers, people map[string]Person, cross bool) error {
	sides := map[string]bool{}
	for _, m := range r.Members {
		p := people[m]
		switch p.Role {
		case RoleObserver:
			return errMembership("defined room rule: observer %s may not be in %s", m, r.Name)
		case RoleParty, RoleCounsel:
			sides[p.Side] = true
		}
	}
	if len(sides) > 1 && !cross {
		return errMembership("defined room rule: %s holds people of %d sides but is not declared cross-side", r.Name, len(sides))
	}
	return nil
}

// checkDefinedChain is what a statement may do to the defined rooms of
// the one before it: a room new to the chain opens with a mediator in it;
// a room already in it never gains a member (people leave it when they
// leave the case; nobody is added after the mediator opened it).
func checkDefinedChain(prev, next *Statement) error {
	for _, r := range next.Rooms {
		if _, _, ok := DefinedRoom(r.Name); !ok {
			continue
		}
		var before RoomMembers
		existed := false
		if prev != nil {
			before, existed = prev.Room(r.Name)
		}
		if !existed {
			hasMediator := slices.ContainsFunc(r.Members, func(m string) bool {
				p, _ := next.Person(m)
				return p.Role == RoleMediator
			})
			if !hasMediator {
				return errMembership("statement %d: room %s opens without a mediator in it", next.Seq, r.Name)
			}
			continue
		}
		for _, m := range r.Members {
			if !slices.Contains(before.Members, m) {
				return errMembership("statement %d: room %s gained member %s: a mediator-defined room's people are fixed when it opens", next.Seq, r.Name, m)
			}
		}
	}
	return nil
}

// CarryDefined returns the defined rooms of prev as the next statement
// keeps them: the same names in the same order, each member still among
// people, at the epoch in epochs when it is newer. Sealed slots are kept
// as they are (no members), at the epoch epochs gives their room when
// prev places it (this device holds its entry), or the slot's own name.
// A mediator's device builds the defined rooms of every statement it
// signs this way — never from the server's description — so what the
// server says a defined room holds cannot add anyone to it.
func CarryDefined(prev *Statement, people []Person, epochs map[string]int64) []RoomMembers {
	if prev == nil {
		return nil
	}
	in := map[string]bool{}
	for _, p := range people {
		in[p.Account] = true
	}
	slotEpoch := map[string]int64{}
	for _, v := range prev.sealed {
		slotEpoch[v.slot] = epochs[v.Name]
	}
	var out []RoomMembers
	for _, r := range prev.Rooms {
		if IsSealedSlot(r.Name) {
			out = append(out, RoomMembers{Name: r.Name, Epoch: max(r.Epoch, epochs[r.Name], slotEpoch[r.Name]), Members: []string{}})
			continue
		}
		if _, _, ok := DefinedRoom(r.Name); !ok {
			continue
		}
		n := RoomMembers{Name: r.Name, Epoch: max(r.Epoch, epochs[r.Name]), Members: []string{}}
		for _, m := range r.Members {
			if in[m] {
				n.Members = append(n.Members, m)
			}
		}
		out = append(out, n)
	}
	return out
}
