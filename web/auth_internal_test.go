package web

import "testing"

// TestIsCaseSocket: only a case's WebSocket route is answered with a
// close (4001) rather than a 401 when its session is missing.
func TestIsCaseSocket(t *testing.T) {
	for path, want := range map[string]bool{
		"/api/v1/cases/c_abc/ws":        true,
		"/api/v1/cases//ws":             false,
		"/api/v1/cases/c_abc/rooms/ws":  false,
		"/api/v1/cases/c_abc/ws/x":      false,
		"/api/v1/ws":                    false,
		"/api/v1/me/ws":                 false,
		"/api/v1/cases/c_abc/documents": false,
		"/x/api/v1/cases/c_abc/ws":      false,
	} {
		if got := isCaseSocket(path); got != want {
			t.Errorf("isCaseSocket(%q) = %v, want %v", path, got, want)
		}
	}
}
