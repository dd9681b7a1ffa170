package api

import (
	"strings"
	"time"
)

// ValidRoomName reports whether name is of the room-name grammar: "joint",
// "mediators", CaucusRoom + a side id (one capital letter, as a case
// names its sides: "caucus:A") or RoomDefined/RoomCross + a defined
// room's id (32 lowercase hex digits, chosen by the opening device, or 10
// base32 characters the server picked: "room:k3j4h5g6m2"). Whether the
// room exists in a case is the case's to say; a name outside the grammar
// names no room at all, so the server refuses it as invalid before any
// decision, and only names of this grammar ever reach the audit log
// (never a string someone typed into a path or a frame).
func ValidRoomName(name string) bool {
	switch name {
	case RoomJoint, RoomMediators:
		return true
	}
	if side, ok := strings.CutPrefix(name, CaucusRoom); ok {
		return len(side) == 1 && side[0] >= 'A' && side[0] <= 'Z'
	}
	id, ok := strings.CutPrefix(name, RoomDefined)
	if !ok {
		id, ok = strings.CutPrefix(name, RoomCross)
	}
	return ok && ValidRoomID(id)
}

// ValidRoomID reports whether id is a defined room's id: 32 lowercase hex
// digits (e2ee.RoomIDFor) or 10 characters of lowercase base32 (one the
// server picked for a room opened without a device's id).
func ValidRoomID(id string) bool {
	switch len(id) {
	case 32:
		for i := range len(id) {
			if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
		return true
	case 10:
		for i := range len(id) {
			if c := id[i]; !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
				return false
			}
		}
		return true
	}
	return false
}

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
