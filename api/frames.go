package api

// MaxBody bounds one message payload (after base64 decoding). MaxFrame
// bounds one WebSocket frame a client sends, leaving room for the envelope
// around a body: a MaxBody body is 64 KiB in base64, so the frame needs
// more than that (it was 64 KiB, and a pub with a MaxBody body closed the
// connection, which the client then sent again on every reconnect).
const (
	MaxBody  = 48 << 10
	MaxFrame = 72 << 10
	// MaxClientID bounds a client-chosen message id.
	MaxClientID = 64
	// MaxRoomName bounds a room name in a frame.
	MaxRoomName = 64
)

// Room names as clients use them. A side's caucus is CaucusRoom + side.
const (
	RoomJoint     = "joint"
	RoomMediators = "mediators"
	CaucusRoom    = "caucus:"
)

// Position is a place in a room's stream: the last message seen.
// The zero Position is "before everything".
type Position struct {
	Epoch  int64 `json:"epoch"`
	Offset int64 `json:"offset"`
}

// Before reports whether p comes before q.
func (p Position) Before(q Position) bool {
	return p.Epoch < q.Epoch || p.Epoch == q.Epoch && p.Offset < q.Offset
}

// MessageKindSystem marks a membership event (Message.Kind).
const MessageKindSystem = "system"

// Message is one message in a room.
type Message struct {
	Epoch  int64  `json:"epoch"`
	Offset int64  `json:"offset"`
	ID     string `json:"id"`             // chosen by the sender, unique per sender
	From   string `json:"from"`           // account id of the sender ("" for system events)
	At     int64  `json:"at"`             // unix milliseconds, server time at commit
	Kind   string `json:"kind,omitempty"` // "" for a participant's message, "system" for membership events
	Body   []byte `json:"body"`           // opaque: ciphertext, or a system event's JSON
}

// Pos is the message's position.
func (m Message) Pos() Position { return Position{Epoch: m.Epoch, Offset: m.Offset} }

// Seal ends an epoch: the next message is offset 1 of epoch Next.
type Seal struct {
	Next   int64  `json:"next"`
	Reason string `json:"reason"` // what changed (ids only), e.g. a system event's JSON
}

// MembershipEvent is the JSON in a Seal's Reason when a membership change
// ended the epoch: ids only.
type MembershipEvent struct {
	Change  string `json:"change"` // "participant.joined", "mediator.added", "mediator.recused", "mediator.held", …
	Account string `json:"account"`
}

// FrameType is a WebSocket frame's kind, its "t" member.
type FrameType string

// What a client sends.
const (
	FrameSub   FrameType = "sub"   // subscribe to a room, live or from a position
	FrameUnsub FrameType = "unsub" // leave a room
	FramePub   FrameType = "pub"   // publish an opaque (encrypted) body
)

// What the server sends.
const (
	FrameSubscribed FrameType = "subscribed" // subscription live; head = last message now
	FrameMsgs       FrameType = "msgs"       // consecutive messages, in order
	FrameSeal       FrameType = "seal"       // epoch ended; the next is epoch+1
	FrameAck        FrameType = "ack"        // your message is durable
	FrameReload     FrameType = "reload"     // gap too old: page history over HTTP
	FramePresence   FrameType = "presence"   // a user entered or left
	FrameError      FrameType = "error"      // a refusal or failure, with a code

	// FrameFloor: the case's room controls changed (a FloorView).
	FrameFloor FrameType = "floor"
)

// ErrorCode is an error frame's "code".
type ErrorCode string

// Error frame codes.
const (
	// CodeInvalid: the frame was malformed or over a limit.
	CodeInvalid ErrorCode = "invalid"
	// CodeForbidden: not allowed in this room (the connection stays).
	CodeForbidden ErrorCode = "forbidden"
	// CodeUnavailable: not stored or not subscribed; send again.
	CodeUnavailable ErrorCode = "unavailable"
	// CodeEpochMoved: a "pub" named the epoch its body was encrypted for,
	// and the room has moved past it (a seal committed first). Nothing was
	// stored; the frame's "epoch" is the room's current epoch. Encrypt
	// again for that epoch (with a new sender key) and send again.
	CodeEpochMoved ErrorCode = "moved"
)

// ClientFrame is what a client sends over the WebSocket (JSON text frames).
// Each field's frames tag lists the frame types that carry it ("?": may be
// absent); the TypeScript declarations make a discriminated union of them.
//
//	{"t":"sub","room":"joint","from":{"epoch":1,"offset":41}}  resume after a position
//	{"t":"sub","room":"joint"}                                 live from now
//	{"t":"unsub","room":"joint"}
//	{"t":"pub","room":"joint","id":"c-17","body":"<base64>","epoch":4}  body is opaque (ciphertext)
//
// A pub's epoch is the epoch its body was encrypted for. The server
// stores the body only if the room is still at that epoch when the body is
// committed (ordered against seals); otherwise it answers an error frame
// with code "moved" and the room's current epoch, and stores nothing. A
// body that is a room payload names its epoch in its own header, which the
// server goes by (a frame that disagrees is refused as invalid); a body
// that is none and names no epoch is stored in whatever epoch is current.
type ClientFrame struct {
	Type FrameType `json:"t"`
	Room string    `json:"room" frames:"sub,unsub,pub"`
	From *Position `json:"from,omitempty" frames:"sub?"`
	ID   string    `json:"id,omitempty" frames:"pub"`
	Body []byte    `json:"body,omitempty" frames:"pub"`
	// Epoch is the epoch a pub's body was encrypted for (0: any).
	Epoch int64 `json:"epoch,omitempty" frames:"pub?"`
}

// ServerFrame is what the server sends.
//
//	{"t":"subscribed","room":R,"head":P}   subscription live; head = last message now
//	{"t":"msgs","room":R,"ms":[Message…]}  consecutive messages, in order
//	{"t":"seal","room":R,"epoch":E,"seal":Seal}  epoch E ended; next is E+1
//	{"t":"ack","room":R,"id":ID,"m":{epoch,offset,at}}  your message is durable
//	{"t":"reload","room":R,"from":P,"head":P}  gap too old: page history over HTTP from P
//	{"t":"presence","room":R,"user":U,"here":bool}
//	{"t":"error","room":R,"id":ID,"code":C,"detail":D}
//	{"t":"error","room":R,"id":ID,"code":"moved","detail":D,"epoch":E}  not stored: the room is at epoch E
//	{"t":"error","room":R,"refused":"sub","code":C,"detail":D}  the subscribe to R was refused
//	{"t":"floor","floor":FloorView}  timers, turns and hands this person sees
type ServerFrame struct {
	Type   FrameType `json:"t"`
	Room   string    `json:"room,omitempty" frames:"subscribed,msgs,seal,ack,reload,presence,error?"`
	Head   *Position `json:"head,omitempty" frames:"subscribed,reload"`
	Msg    *Message  `json:"m,omitempty" frames:"ack"`
	Msgs   []Message `json:"ms,omitempty" frames:"msgs"`
	Epoch  int64     `json:"epoch,omitempty" frames:"seal,error?"`
	Seal   *Seal     `json:"seal,omitempty" frames:"seal"`
	ID     string    `json:"id,omitempty" frames:"ack,error?"`
	From   *Position `json:"from,omitempty" frames:"reload"`
	User   string    `json:"user,omitempty" frames:"presence"`
	Here   bool      `json:"here,omitempty" frames:"presence?"`
	Code   ErrorCode `json:"code,omitempty" frames:"error"`
	Detail string    `json:"detail,omitempty" frames:"error"`
	// Refused is the kind of client frame an error refuses, when it is
	// a subscribe ([FrameSub]: the "sub" to Room was not taken; with
	// [CodeUnavailable], the client asks again). Absent on other errors.
	Refused FrameType `json:"refused,omitempty" frames:"error?"`

	// Floor is the room controls this person sees (package floor).
	Floor *FloorView `json:"floor,omitempty" frames:"floor"`
}

// WebSocket close codes Parley uses (4000–4999 are for applications).
const (
	CloseSessionEnded = 4001 // signed out, session expired or revoked
	CloseAccessLost   = 4003 // removed from the case (e.g. recused)
	CloseTooSlow      = 4008 // fell behind: the send queue overflowed; reconnect and resume
	// CloseTooManySockets: the handshake was refused because this
	// session (browser or device) or account already has as many case
	// sockets open on the node as it may (web.DefaultSocketsPerSession,
	// web.DefaultSocketsPerAccount); close some and connect again.
	CloseTooManySockets = 4029
)

// HistoryPage is one page of a room's messages
// (GET /api/v1/cases/{case}/rooms/{room}/messages).
type HistoryPage struct {
	Messages []Message `json:"messages"`
	// Next is the position to ask from for the following page.
	Next Position `json:"next"`
}

func (HistoryPage) wire() {}

// RoomView is a room as one person sees it (GET /api/v1/cases/{case}/rooms).
type RoomView struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	Side string `json:"side,omitempty"`
	// Audience says in words who can read the room, for the banner every
	// room shows ("Visible to: you, your lawyer, the mediator").
	Audience string `json:"audience"`
	// Members are the account ids in the room now.
	Members []string `json:"members"`
	// Present are the members connected to it now.
	Present []string `json:"present"`
	// A mediator-defined room (Kind "defined", api/rooms.go): its human
	// name, whether it is declared cross-side, and whether it was closed
	// (its history stays readable; nothing more is posted).
	Label     string `json:"label,omitempty"`
	CrossSide bool   `json:"crossSide,omitempty"`
	Closed    bool   `json:"closed,omitempty"`
}

func (RoomView) wire() {}
