package policy

// The actions on a room's controls (policy/floor.cedar): its timer, the
// floor, the raised hands. Seeing a room's timer and turns needs room.join
// on that room, decided as for its messages. The forbids of rooms.cedar
// and base.cedar (recused mediators, disabled accounts) apply to them.
const (
	// RoomControl: set, extend or clear a room's timer; give the floor or
	// take it back; lower anyone's hand in the room.
	RoomControl Action = "room.control"
	// RoomRaiseHand: ask for the mediator from a room. The caller also
	// needs room.join on that room, so only its members can.
	RoomRaiseHand Action = "room.raise_hand"
	// HandsRead: see every raised hand of a case (who waits where).
	HandsRead Action = "case.hands_read"
)

// FloorActions lists the room-control actions.
func FloorActions() []Action { return []Action{RoomControl, RoomRaiseHand, HandsRead} }
