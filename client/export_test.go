package client

import (
	"context"
	"time"

	"github.com/parley-mediation/parley/api"
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

// SendStaleForTest sends text in room with its first encryption made for
// epoch, whatever s knows of the room's seals since: the race in which a
// device encrypts for an epoch that a seal ends before the server commits
// the payload, made deterministic.
func SendStaleForTest(ctx context.Context, s *SecureChat, room string, epoch int64, text string) (api.Message, error) {
	s.mu.Lock()
	if s.pinned == nil {
		s.pinned = map[string]int64{}
	}
	s.pinned[room] = epoch
	s.mu.Unlock()
	return s.Send(ctx, room, text)
}

// SendRefreshForTest is how old a chat's last fetch of the chain and
// devices may be before a send fetches them again.
const SendRefreshForTest = sendRefresh

// AdvanceRefreshClockForTest moves s's refresh clock on by d, as if d had
// passed since its last fetch of the chain and devices, without a test
// sleeping for it.
func AdvanceRefreshClockForTest(s *SecureChat, d time.Duration) {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	s.ahead += d
}

// SendCarryProposalForTest posts a carry proposal in room naming ref and
// refHash under carryID, without registering anything with the server, as
// a second mediator's (or a modified) client could.
func SendCarryProposalForTest(ctx context.Context, s *SecureChat, room, carryID string, ref api.Position, refHash [32]byte) error {
	_, err := s.send(ctx, room, &e2ee.Plaintext{Kind: e2ee.KindCarryProposal, CarryID: carryID, Room: api.RoomJoint,
		Ref: e2ee.Position{Epoch: ref.Epoch, Offset: ref.Offset}, RefHash: refHash}, nil)
	return err
}

// CheckPinsForTest checks d against the pins in x's directory, as every
// key-directory answer is.
func CheckPinsForTest(x *E2EE, d *e2ee.Devices) error { return x.checkPins(d) }

// SetMaxSharedChainsForTest lowers how many chains one pairing hands over.
func SetMaxSharedChainsForTest(n int) func() {
	old := maxSharedChains
	maxSharedChains = n
	return func() { maxSharedChains = old }
}
