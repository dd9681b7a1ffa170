package client

import (
	"context"

	"github.com/parley-mediation/parley/e2ee"
)

// SetEpochForTest makes s believe room is at epoch, as a server reporting
// a stale epoch would.
func SetEpochForTest(s *SecureChat, room string, epoch int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epochs[room] = epoch
}

// SendKindForTest sends a plaintext of any kind in room, as a modified
// client could (a party sending a "notice").
func SendKindForTest(ctx context.Context, s *SecureChat, room string, kind int, text string) error {
	_, err := s.send(ctx, room, &e2ee.Plaintext{Kind: kind, Text: text}, nil)
	return err
}
