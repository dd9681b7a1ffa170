package policy

import (
	cedar "github.com/cedar-policy/cedar-go"
)

// Room actions.
const (
	RoomJoin    Action = "room.join"
	RoomPost    Action = "room.post"
	RoomHistory Action = "room.history"
)

// RoomActions lists the room actions, for tables and tests.
func RoomActions() []Action { return []Action{RoomJoin, RoomPost, RoomHistory} }

// RoomKind is what a room is for.
type RoomKind string

// The room kinds.
const (
	RoomJoint     RoomKind = "joint"
	RoomCaucus    RoomKind = "caucus"
	RoomMediators RoomKind = "mediators"
	// RoomDefined is a room a mediator opened with chosen people
	// (defined-rooms.cedar).
	RoomDefined RoomKind = "defined"
)

// Room is a room of a case, as policy sees it.
type Room struct {
	Case *Case
	Kind RoomKind
	Side string // for a caucus
	// A defined room's people, whether it is declared cross-side, and
	// whether it was closed.
	Members   []string
	CrossSide bool
	Closed    bool
}

// DecideRoom answers whether u may do a in room r.
func (e *Engine) DecideRoom(u User, a Action, r Room) Decision {
	entities := cedar.EntityMap{}
	principal := e.addPrincipal(entities, u, r.Case)
	caseUID := e.addCase(entities, r.Case)
	room := cedar.NewEntityUID("Room", cedar.String(r.Case.ID+"/"+string(r.Kind)+"/"+r.Side))
	attrs := cedar.RecordMap{
		"kind": cedar.String(r.Kind),
		"case": caseUID,
	}
	if r.Kind == RoomCaucus {
		side := sideUID(r.Case.ID, r.Side)
		attrs["side"] = side
		entities[side] = cedar.Entity{UID: side}
	}
	if r.Kind == RoomDefined {
		definedAttrs(attrs, r)
	}
	entities[room] = cedar.Entity{UID: room, Attributes: cedar.NewRecord(attrs)}
	return e.evaluate(entities, principal, a, room)
}
