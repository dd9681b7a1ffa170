package messaging

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
)

// presenceOf is every presence frame s holds about user, in order.
func (s *sink) presenceOf(user string) []bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []bool
	for _, f := range s.frames {
		if f.Type == api.FramePresence && f.User == user {
			out = append(out, f.Here)
		}
	}
	return out
}

// TestPresenceLeavesWithTheLastConnection: a user with two connections to
// a room on this node (two tabs, a phone and a laptop) who closes one is
// still there; the room is told they left only when the last one closes.
// Before, closing either told the room here:false, and the browser (which
// keeps presence from these frames alone) showed them gone while they
// were still in the room. Whether the first close announced anything is
// read after a marker: another user's leaving, announced through the same
// path after it.
func TestPresenceLeavesWithTheLastConnection(t *testing.T) {
	s := NewService(NewLog(stores(t)["dir"](t)), NewMemory(), Options{})
	defer s.Close()
	room := Room{ID: fmt.Sprintf("c_here%d/joint", time.Now().UnixNano()), Name: "joint"}
	watcher := &sink{}
	if _, err := s.Subscribe(t.Context(), room, "watcher", "w1", nil, watcher); err != nil {
		t.Fatal(err)
	}
	tab1, err := s.Subscribe(t.Context(), room, "ada", "ada-1", nil, &sink{})
	if err != nil {
		t.Fatal(err)
	}
	tab2, err := s.Subscribe(t.Context(), room, "ada", "ada-2", nil, &sink{})
	if err != nil {
		t.Fatal(err)
	}
	marker := func(conn string) {
		t.Helper()
		before := len(watcher.presenceOf("marker"))
		m, err := s.Subscribe(t.Context(), room, "marker", conn, nil, &sink{})
		if err != nil {
			t.Fatal(err)
		}
		m.Unsubscribe(t.Context())
		if !pollUntil(func() bool {
			got := watcher.presenceOf("marker")
			return len(got) >= before+2 && !got[len(got)-1]
		}) {
			t.Fatalf("the marker's leaving never arrived: %v", watcher.presenceOf("marker"))
		}
	}

	tab1.Unsubscribe(t.Context())
	marker("m1")
	if got := watcher.presenceOf("ada"); len(got) == 0 || !got[len(got)-1] {
		t.Fatalf("after one of two connections closed, the room was told %v about ada; want her still here", got)
	}
	if users, err := s.broker.Presence(t.Context(), room.ID); err != nil || !slices.Contains(users, "ada") {
		t.Fatalf("presence after one close: %v %v", users, err)
	}

	tab2.Unsubscribe(t.Context())
	if !pollUntil(func() bool {
		got := watcher.presenceOf("ada")
		return len(got) > 0 && !got[len(got)-1]
	}) {
		t.Fatalf("after her last connection closed, the room was told %v about ada; want here:false last", watcher.presenceOf("ada"))
	}
	// Closing the same connection again announces nothing more.
	n := len(watcher.presenceOf("ada"))
	tab2.Unsubscribe(t.Context())
	marker("m2")
	if got := watcher.presenceOf("ada"); len(got) != n {
		t.Fatalf("a second Unsubscribe announced again: %v", got)
	}
}
