package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/e2ee"
)

// TestErrWordsUpgradeStoppedPartWay: `parley doc upgrade` over several
// documents, stopped by a key-directory answer that breaks a pin after
// earlier documents were upgraded, says which document it stopped at,
// how many versions were upgraded before it and that nothing more was
// sent — not "Nothing was sent", which is untrue once some were. Stopped
// at the first, it still says nothing was sent.
func TestErrWordsUpgradeStoppedPartWay(t *testing.T) {
	fork := fmt.Errorf("key directory: %w", e2ee.ErrDeviceFork)
	got := errWords(upgradeStopped("d_2", 3, fork))
	for _, w := range []string{"d_2: ", "Nothing more was sent", "3 versions were upgraded before it", "program's administration"} {
		if !strings.Contains(got, w) {
			t.Errorf("stopped after 3 versions: %q lacks %q", got, w)
		}
	}
	if strings.Contains(got, "Nothing was sent") {
		t.Errorf("stopped after 3 versions, says nothing was sent: %q", got)
	}
	if got := errWords(upgradeStopped("d_1", 0, fork)); !strings.Contains(got, "Nothing was sent") || !strings.HasPrefix(got, "d_1: ") {
		t.Errorf("stopped at the first: %q", got)
	}
	// Any other error keeps its words and the count.
	if got := errWords(upgradeStopped("d_2", 3, fmt.Errorf("connection refused"))); got != "d_2: connection refused (3 versions upgraded before it)" {
		t.Errorf("other error: %q", got)
	}
}
