package messaging

import "testing"

// TestPassiveNodeRecoversNoJournal: a passive service (a CLI command's
// node, Options.Passive) runs no sweeper, so it never fences another
// node's journal — not even when, reaching the store without the
// deployment's broker, it sees every serving node as gone. The serving
// node here keeps committing after the passive one has come and gone.
func TestPassiveNodeRecoversNoJournal(t *testing.T) {
	store := stores(t)["dir"](t)
	a := newService(NewLog(store), NewMemory(), Options{}, neverCompact)
	t.Cleanup(a.Close)
	room := "c_passive/joint"
	publishN(t, a, room, "a", 3)

	// Its own broker: no one answers its pings, as a command run
	// without --redis-url would find.
	cmd := NewService(NewLog(store), NewMemory(), Options{Passive: true})
	if cmd.sweeping {
		t.Error("a passive service runs the sweeper, which fences the journals of nodes it cannot reach")
	}
	cmd.Close() // waits for its background work, a sweeper's included

	seqs, err := cmd.log.journalSeqs(t.Context(), a.current().id)
	if err != nil {
		t.Fatal(err)
	}
	if ended, _ := cmd.ended(t.Context(), a.current().id, seqs); ended {
		t.Fatal("the serving node's journal was fenced by the passive node")
	}
	if after := publishN(t, a, room, "b", 1); after[0].Offset != 4 {
		t.Fatalf("the serving node's next message went to %d, want 4", after[0].Offset)
	}
}
