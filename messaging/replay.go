package messaging

import "time"

// replayWindow remembers the forwarded requests a node has served within
// a window, to refuse one replayed through the broker. Entries are kept in
// arrival order, so forgetting the expired ones looks only at those (the
// oldest first), never at the whole set. Not safe for concurrent use: its
// owner (Service.fwdMu) serialises it.
type replayWindow struct {
	keep  time.Duration
	ids   map[string]struct{}
	order []seenReq // arrival order; order[head:] is live
	head  int
	// examined counts entries looked at while forgetting (for tests).
	examined int
}

type seenReq struct {
	id string
	at time.Time
}

func newReplayWindow(keep time.Duration) *replayWindow {
	return &replayWindow{keep: keep, ids: map[string]struct{}{}}
}

// firstTime forgets the entries older than the window, then reports
// whether id is new, remembering it if so.
func (w *replayWindow) firstTime(id string, now time.Time) bool {
	for w.head < len(w.order) {
		w.examined++
		e := w.order[w.head]
		if now.Sub(e.at) <= w.keep {
			break
		}
		delete(w.ids, e.id)
		w.order[w.head] = seenReq{}
		w.head++
	}
	if w.head > 0 && w.head*2 >= len(w.order) {
		w.order = append(w.order[:0], w.order[w.head:]...)
		w.head = 0
	}
	if _, seen := w.ids[id]; seen {
		return false
	}
	w.ids[id] = struct{}{}
	w.order = append(w.order, seenReq{id: id, at: now})
	return true
}

// len is how many requests the window remembers.
func (w *replayWindow) len() int { return len(w.ids) }
