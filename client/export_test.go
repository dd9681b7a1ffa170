package client

// SetEpochForTest makes s believe room is at epoch, as a server reporting
// a stale epoch would.
func SetEpochForTest(s *SecureChat, room string, epoch int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epochs[room] = epoch
}
