package messaging

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/parley-mediation/parley/api"
)

// WebSocket close codes Parley uses (see package api).
const (
	CloseSessionEnded = api.CloseSessionEnded
	CloseAccessLost   = api.CloseAccessLost
	CloseTooSlow      = api.CloseTooSlow
)

// maxRoomName bounds a room name in a frame.
const maxRoomName = api.MaxRoomName

// DecodeClientFrame parses and checks one client frame. Every limit is
// enforced here, so nothing oversized or malformed goes further.
func DecodeClientFrame(data []byte) (*api.ClientFrame, error) {
	if len(data) > MaxFrame {
		return nil, fmt.Errorf("frame over %d bytes", MaxFrame)
	}
	var f api.ClientFrame
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("malformed frame: %v", err)
	}
	if f.Room == "" || len(f.Room) > maxRoomName || !utf8.ValidString(f.Room) {
		return nil, fmt.Errorf("room: required, at most %d bytes", maxRoomName)
	}
	switch f.Type {
	case api.FrameSub:
		if f.From != nil && (f.From.Epoch < 0 || f.From.Offset < 0) {
			return nil, fmt.Errorf("from: negative position")
		}
	case api.FrameUnsub:
	case api.FramePub:
		if f.ID == "" || len(f.ID) > MaxClientID {
			return nil, fmt.Errorf("id: required, at most %d bytes", MaxClientID)
		}
		if len(f.Body) == 0 || len(f.Body) > MaxBody {
			return nil, fmt.Errorf("body: required, at most %d bytes", MaxBody)
		}
	default:
		return nil, fmt.Errorf("t: unknown frame type %q", f.Type)
	}
	return &f, nil
}

func encodeFrame(f api.ServerFrame) []byte {
	b, _ := json.Marshal(f)
	return b
}
