package web

// SocketPlacesHeld says how many sessions and accounts hold a place for
// an open case socket on this node (socketGate), for tests of package
// web_test.
func (a *API) SocketPlacesHeld() (sessions, accounts int) {
	g := &a.socketGate
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.bySession), len(g.byAccount)
}
