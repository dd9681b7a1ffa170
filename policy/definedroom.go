package policy

import (
	"fmt"
	"slices"
	"sort"

	cedar "github.com/cedar-policy/cedar-go"
)

// Actions about the rooms a mediator defines (defined-rooms.cedar).
const (
	RoomOpen  Action = "room.open"
	RoomClose Action = "room.close"
	// RoomSign: handing the server a room's sealed entry (its signed
	// membership or signed closing) to keep for its members.
	RoomSign Action = "room.sign"
	// RoomPlace is asked once per person put in a room being opened.
	RoomPlace Action = "room.place"
)

// definedAttrs adds a defined room's facts to its entity's attributes.
func definedAttrs(attrs cedar.RecordMap, r Room) {
	attrs["members"] = userSet(r.Members)
	attrs["crossSide"] = cedar.Boolean(r.CrossSide)
	attrs["closed"] = cedar.Boolean(r.Closed)
	attrs["sideCount"] = cedar.Long(len(sidesOf(r.Case, r.Members)))
}

// sideOf returns the side of a party or counsel of c ("" for anyone else).
func sideOf(c *Case, account string) string {
	for side, members := range c.SideMembers {
		if slices.Contains(members, account) {
			return side
		}
	}
	return ""
}

// sidesOf lists the sides the parties and counsel among members are on.
func sidesOf(c *Case, members []string) []string {
	set := map[string]bool{}
	for _, m := range members {
		if s := sideOf(c, m); s != "" {
			set[s] = true
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// OpenDecision is the answer about opening a room: Room is the opener's
// room.open; Refused names each person who may not be put in it, with the
// decision that says why.
type OpenDecision struct {
	Room    Decision
	Refused map[string]Decision
}

// Composition reports whether the opening was refused for who would be in
// the room (rules of defined-rooms.cedar a mediator can act on), not for
// who is asking.
func (d OpenDecision) Composition() bool {
	if d.Room.Allowed {
		return len(d.Refused) > 0
	}
	if len(d.Room.Policies) == 0 {
		return false
	}
	for _, p := range d.Room.Policies {
		if _, ok := compositionRules[p]; !ok {
			return false
		}
	}
	return true
}

// compositionRules are the room.open rules about a room's people.
var compositionRules = map[string]bool{
	"defined-room-has-a-mediator": true, "defined-room-has-a-participant": true,
	"mixing-sides-is-declared": true, "cross-side-holds-two-sides": true,
}

// Allowed reports whether the room may open as proposed.
func (d OpenDecision) Allowed() bool { return d.Room.Allowed && len(d.Refused) == 0 }

// DecideRoomOpen answers whether opener may open a room of r.Members
// (r.Kind must be RoomDefined), asking room.open for the opener and
// room.place for each member.
func (e *Engine) DecideRoomOpen(opener User, r Room) OpenDecision {
	r.Kind = RoomDefined
	out := OpenDecision{Room: e.DecideRoom(opener, RoomOpen, r), Refused: map[string]Decision{}}
	for _, m := range r.Members {
		u := User{ID: m, Role: RoleParticipant}
		if slices.Contains(r.Case.Mediators, m) {
			u.Role = RoleMediator
		}
		if d := e.decidePlace(u, r); !d.Allowed {
			out.Refused[m] = d
		}
	}
	return out
}

// decidePlace asks room.place for u in r, with the context facts about
// counsel relative to u's side.
func (e *Engine) decidePlace(u User, r Room) Decision {
	entities := cedar.EntityMap{}
	principal := e.addPrincipal(entities, u, r.Case)
	caseUID := e.addCase(entities, r.Case)
	room := cedar.NewEntityUID("Room", cedar.String(r.Case.ID+"/defined/proposed"))
	attrs := cedar.RecordMap{"kind": cedar.String(RoomDefined), "case": caseUID}
	definedAttrs(attrs, r)
	entities[room] = cedar.Entity{UID: room, Attributes: cedar.NewRecord(attrs)}
	mine := sideOf(r.Case, u.ID)
	own, other := false, false
	for _, m := range r.Members {
		if m == u.ID || !slices.Contains(r.Case.Counsel, m) {
			continue
		}
		if s := sideOf(r.Case, m); s == mine {
			own = true
		} else {
			other = true
		}
	}
	ctx := cedar.NewRecord(cedar.RecordMap{"ownCounsel": cedar.Boolean(own), "otherCounsel": cedar.Boolean(other)})
	return e.evaluateCtx(entities, principal, RoomPlace, room, ctx)
}

// Explain says in words why a refused opening was refused, policy by
// policy, for an error message.
func (d OpenDecision) Explain(name func(account string) string) []string {
	var out []string
	if !d.Room.Allowed {
		out = append(out, reasonText("", d.Room.Policies))
	}
	ids := make([]string, 0, len(d.Refused))
	for id := range d.Refused {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		out = append(out, reasonText(name(id), d.Refused[id].Policies))
	}
	return out
}

// reasons are the plain words for the rules of defined-rooms.cedar.
var reasons = map[string]string{
	"defined-room-has-a-mediator":                     "a room needs a mediator in it",
	"defined-room-has-a-participant":                  "a room needs at least one party or lawyer in it (the mediators have their own room)",
	"mixing-sides-is-declared":                        "the people chosen are on different sides: declare the room cross-side, so everyone in it is told",
	"cross-side-holds-two-sides":                      "a cross-side room needs people of at least two sides",
	"party-meets-other-counsel-only-with-own-counsel": "a party may be with the other side's lawyer only if their own lawyer is in the room too",
	"observers-never-in-defined-rooms":                "observers are never put in a room",
	"recused-mediators-leave-every-room":              "a recused mediator is out of every room",
	"unconfirmed-mediators-in-no-room":                "a co-mediator nobody has confirmed yet is put in no room until a mediator already in the case admits them",
}

func reasonText(who string, policies []string) string {
	why := "only the case's active mediators open rooms, and only its parties, lawyers and mediators are put in them"
	for _, p := range policies {
		if r, ok := reasons[p]; ok {
			why = r
			break
		}
	}
	if who == "" {
		return why
	}
	return fmt.Sprintf("%s: %s", who, why)
}
