package mail

import (
	"fmt"
	"testing"
	"time"
)

// TestFailuresMapMakesRoomForNewOnes: the per-node memory of final
// messages whose versions could not be deleted forgets, once full, the
// entries nothing came back for (their retry long past: another node
// retired the message, or it went with its case), so a new failure is
// tracked — backed off, then given up on — instead of being retried on
// every poll for good. Entries still waiting for their retry stay.
func TestFailuresMapMakesRoomForNewOnes(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	o := &Outbox{cfg: Config{MaxBackoff: time.Hour}, failing: map[string]retireFailure{}}
	for i := range maxFailing - 10 {
		o.failing[fmt.Sprintf("c/stale%d", i)] = retireFailure{n: 1, next: now.Add(-2 * time.Hour)}
	}
	for i := range 10 {
		o.failing[fmt.Sprintf("c/waiting%d", i)] = retireFailure{n: 2, next: now.Add(time.Minute)}
	}
	o.mu.Lock()
	o.dropStaleFailures(now)
	n := len(o.failing)
	o.mu.Unlock()
	if n != 10 {
		t.Fatalf("%d failures kept, want the 10 still waiting", n)
	}
	for i := range 10 {
		if _, ok := o.failing[fmt.Sprintf("c/waiting%d", i)]; !ok {
			t.Fatalf("waiting failure %d forgotten", i)
		}
	}
}
