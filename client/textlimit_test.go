package client

import (
	"strings"
	"testing"
)

// TestSendRefusesOverlongText: SecureChat refuses a text over 40 KiB (or
// not UTF-8) before keying or posting anything: readers could not decrypt
// it. The chat here has no server and no rooms: reaching either would
// fail differently.
func TestSendRefusesOverlongText(t *testing.T) {
	t.Parallel()
	s := &SecureChat{}
	for name, text := range map[string]string{"40 KiB and one byte": strings.Repeat("x", 40<<10+1), "not UTF-8": "\xff"} {
		_, err := s.Send(t.Context(), "joint", text)
		if err == nil || strings.Contains(err.Error(), "not open") {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if _, err := s.Send(t.Context(), "joint", strings.Repeat("x", 40<<10+1)); !strings.Contains(err.Error(), "at most 40960") {
		t.Fatalf("over 40 KiB: %v", err)
	}
}

// TestBroadcastRefusesOverlongTextFirst: a notice over 40 KiB is refused
// once, before the case is read, rather than by every room in turn.
func TestBroadcastRefusesOverlongTextFirst(t *testing.T) {
	t.Parallel()
	s := &SecureChat{}
	if _, err := s.Broadcast(t.Context(), strings.Repeat("x", 40<<10+1)); err == nil || !strings.Contains(err.Error(), "at most 40960") {
		t.Fatalf("over 40 KiB: %v", err)
	}
}
