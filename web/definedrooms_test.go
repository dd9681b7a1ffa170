package web_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestDefinedRoomCloseLongName: a close naming a room longer than any room
// name is refused as invalid before anything is audited, so the audit log
// never holds an arbitrary string from the path.
func TestDefinedRoomCloseLongName(t *testing.T) {
	k := newIsolationCast(t)
	n := k.node
	long := "room:" + strings.Repeat("x", 4000)
	before := n.Audit.Size()
	err := k.as["partyB"].Do(t.Context(), "POST", "/api/v1/cases/"+k.caseID+"/defined-rooms/"+long+"/close", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "HTTP 400") {
		t.Fatalf("closing a 4000-character room name: want HTTP 400, got %.120v", err)
	}
	for i := before; i < n.Audit.Size(); i++ {
		ev, err := n.Audit.Entry(t.Context(), i)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(fmt.Sprint(ev), strings.Repeat("x", 100)) {
			t.Fatalf("audit entry %d holds the path's string", i)
		}
	}
}
