package messaging

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// ClientFrame is what a client sends over the WebSocket (JSON text frames).
//
//	{"t":"sub","room":"joint","from":{"epoch":1,"offset":41}}  resume after a position
//	{"t":"sub","room":"joint"}                                 live from now
//	{"t":"unsub","room":"joint"}
//	{"t":"pub","room":"joint","id":"c-17","body":"<base64>"}   body is opaque (ciphertext)
type ClientFrame struct {
	T    string    `json:"t"`
	Room string    `json:"room"`
	From *Position `json:"from,omitempty"`
	ID   string    `json:"id,omitempty"`
	Body []byte    `json:"body,omitempty"`
}

// ServerFrame is what the server sends.
//
//	{"t":"subscribed","room":R,"head":P}   subscription live; head = last message now
//	{"t":"msgs","room":R,"ms":[Message…]}  consecutive messages, in order
//	{"t":"seal","room":R,"epoch":E,"seal":Seal}  epoch E ended; next is E+1
//	{"t":"ack","room":R,"id":ID,"m":{epoch,offset,at}}  your message is durable
//	{"t":"reload","room":R,"from":P}       gap too old: page history over HTTP from P
//	{"t":"presence","room":R,"user":U,"here":bool}
//	{"t":"error","room":R,"id":ID,"code":C,"detail":D}
type ServerFrame struct {
	T      string    `json:"t"`
	Room   string    `json:"room,omitempty"`
	Head   *Position `json:"head,omitempty"`
	M      *Message  `json:"m,omitempty"`
	Ms     []Message `json:"ms,omitempty"`
	Epoch  int64     `json:"epoch,omitempty"`
	Seal   *Seal     `json:"seal,omitempty"`
	ID     string    `json:"id,omitempty"`
	From   *Position `json:"from,omitempty"`
	User   string    `json:"user,omitempty"`
	Here   bool      `json:"here,omitempty"`
	Code   string    `json:"code,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// WebSocket close codes Parley uses (4000–4999 are for applications).
const (
	CloseSessionEnded = 4001 // signed out, session expired or revoked
	CloseAccessLost   = 4003 // removed from the case (e.g. recused)
	CloseTooSlow      = 4008 // fell behind: the send queue overflowed; reconnect and resume
)

// maxRoomName bounds a room name in a frame.
const maxRoomName = 64

// DecodeClientFrame parses and checks one client frame. Every limit is
// enforced here, so nothing oversized or malformed goes further.
func DecodeClientFrame(data []byte) (*ClientFrame, error) {
	if len(data) > MaxFrame {
		return nil, fmt.Errorf("frame over %d bytes", MaxFrame)
	}
	var f ClientFrame
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("malformed frame: %v", err)
	}
	if f.Room == "" || len(f.Room) > maxRoomName || !utf8.ValidString(f.Room) {
		return nil, fmt.Errorf("room: required, at most %d bytes", maxRoomName)
	}
	switch f.T {
	case "sub":
		if f.From != nil && (f.From.Epoch < 0 || f.From.Offset < 0) {
			return nil, fmt.Errorf("from: negative position")
		}
	case "unsub":
	case "pub":
		if f.ID == "" || len(f.ID) > MaxClientID {
			return nil, fmt.Errorf("id: required, at most %d bytes", MaxClientID)
		}
		if len(f.Body) == 0 || len(f.Body) > MaxBody {
			return nil, fmt.Errorf("body: required, at most %d bytes", MaxBody)
		}
	default:
		return nil, fmt.Errorf("t: unknown frame type %q", f.T)
	}
	return &f, nil
}

func encodeFrame(f ServerFrame) []byte {
	b, _ := json.Marshal(f)
	return b
}
