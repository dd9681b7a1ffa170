package api

// Room controls: a caucus timer, a raised hand, the floor in a room
// (package floor). Every time here is unix milliseconds, server time.

// Limits on room controls.
const (
	// MaxTimerMinutes bounds a timer's length and an extension.
	MaxTimerMinutes = 8 * 60
	// MaxFloorMinutes bounds one speaking turn.
	MaxFloorMinutes = 120
	// MaxFloorTurns is how many past turns a case keeps per room (the
	// oldest go first); clients mark out-of-turn messages from them.
	MaxFloorTurns = 200
)

// MessageKindNotice marks a mediator's broadcast notice. It travels inside
// the encrypted payload (the server never sees it); a client shows it as a
// notice only when its sender is a mediator of the case.
const MessageKindNotice = "notice"

// TimerRequest sets, extends or moves a room's timer
// (PUT /api/v1/cases/{caseID}/rooms/{room}/timer). Exactly one of Minutes
// (ends that many minutes from now), EndsAt (an instant, in the next
// MaxTimerMinutes) or Extend (adds minutes to the running timer) is given.
type TimerRequest struct {
	Minutes int   `json:"minutes,omitempty"`
	EndsAt  int64 `json:"endsAt,omitempty"`
	Extend  int   `json:"extend,omitempty"`
}

// RoomTimer is a room's end time as its members see it.
type RoomTimer struct {
	Room   string `json:"room"`
	EndsAt int64  `json:"endsAt"`
	SetBy  string `json:"setBy"`
	SetAt  int64  `json:"setAt"`
}

// FloorRequest gives the floor of a room to one side for Minutes
// (PUT /api/v1/cases/{caseID}/rooms/{room}/floor).
type FloorRequest struct {
	Side    string `json:"side"`
	Minutes int    `json:"minutes"`
}

// FloorTurn is one side's turn to speak in a room: from From until Until,
// or until Ended when the mediator took the floor back earlier (0 while
// it runs or when it ran its full time).
type FloorTurn struct {
	Room    string `json:"room"`
	Side    string `json:"side"`
	From    int64  `json:"from"`
	Until   int64  `json:"until"`
	Ended   int64  `json:"ended,omitempty"`
	GivenBy string `json:"givenBy"`
}

// Hand is a participant asking for the mediator from a room, since Since.
type Hand struct {
	Account string `json:"account"`
	Room    string `json:"room"`
	Since   int64  `json:"since"`
}

// FloorView is what one person sees of a case's room controls
// (GET /api/v1/cases/{caseID}/floor, and the WebSocket's "floor" frame):
// the timers and turns of the rooms they are in, and the raised hands —
// every hand for a mediator, only their own for anyone else.
type FloorView struct {
	// Now is the server's clock when the view was made (it carries no
	// case-wide version or change count: that would tell one side when
	// the other side's controls change).
	Case   string      `json:"case"`
	Now    int64       `json:"now"`
	Timers []RoomTimer `json:"timers"`
	Turns  []FloorTurn `json:"turns"`
	Hands  []Hand      `json:"hands"`
	// Mediator: the viewer sees every hand of the case.
	Mediator bool `json:"mediator"`
}

func (RoomTimer) wire() {}
func (FloorTurn) wire() {}
func (Hand) wire()      {}
func (FloorView) wire() {}
