package api

import "time"

// Mediator-defined rooms (issue 23): a mediator opens a room of chosen
// people, names it and closes it. Its room name is RoomDefined + id, or
// RoomCross + id when the mediator declared it cross-side (people of
// different sides read each other's words in it). The name is what the
// mediator's device signs in the membership statement; the human name
// (Label) is shown beside it.
const (
	RoomDefined = "room:"
	RoomCross   = "cross:"
	// MaxRoomLabel bounds a defined room's human name, in characters.
	MaxRoomLabel = 60
)

// OpenRoomRequest opens a room (POST /api/v1/cases/{caseID}/defined-rooms,
// a mediator of the case). Members are account ids and must include at
// least one mediator; who may be put together is the policy's
// (defined-rooms.cedar), and a refusal says why in words.
type OpenRoomRequest struct {
	// ID is the room's id, chosen by the opening mediator's device: the
	// one its sealed opening entry's salt gives (e2ee.RoomIDFor, 32
	// lowercase hex digits). The server refuses an id the case already
	// has; without one it picks an id no device can seal.
	ID        string   `json:"id,omitempty"`
	Label     string   `json:"label"`
	Members   []string `json:"members"`
	CrossSide bool     `json:"crossSide,omitempty"`
}

func (OpenRoomRequest) wire() {}

// DefinedRoom is a room a mediator opened, as its members see it (GET
// /api/v1/cases/{caseID}/defined-rooms lists the ones the caller is in).
type DefinedRoom struct {
	ID        string     `json:"id"`
	Room      string     `json:"room"` // the room name: RoomDefined or RoomCross + ID
	Label     string     `json:"label"`
	Members   []string   `json:"members"`
	CrossSide bool       `json:"crossSide,omitempty"`
	Opened    time.Time  `json:"opened"`
	OpenedBy  string     `json:"openedBy"`
	Closed    *time.Time `json:"closed,omitempty"`
	ClosedBy  string     `json:"closedBy,omitempty"`
	// Entries are the room's sealed entries (e2ee.RoomEntry: the opening,
	// then the closing), which the case's signed membership commits to
	// without naming the room; only its members are given them. A
	// member's client adds them to its verified chain (base64 in JSON).
	Entries [][]byte `json:"entries,omitempty"`
}

func (DefinedRoom) wire() {}

// MaxRoomEntry bounds a sealed room entry (e2ee.MaxRoomEntry).
const MaxRoomEntry = 16 << 10
