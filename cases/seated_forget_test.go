package cases

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// gatedSeats answers SeatedMediators with what seated holds when the call
// began; while gate is set, a call first says it began (on began) and waits
// for gate.
type gatedSeats struct {
	mu     sync.Mutex
	seated []string
	gate   chan struct{}
	began  chan struct{}
}

func (g *gatedSeats) SeatedMediators(context.Context, string) ([]string, bool, error) {
	g.mu.Lock()
	seated, gate := g.seated, g.gate
	g.mu.Unlock()
	if gate != nil {
		g.began <- struct{}{}
		<-gate
	}
	return seated, true, nil
}

func (g *gatedSeats) set(seated []string, gate chan struct{}) {
	g.mu.Lock()
	g.seated, g.gate = seated, gate
	g.mu.Unlock()
}

// TestForgetSeatsDuringARead: a read of a case's seats that began before
// a statement was stored (and so may answer from before it) and ends
// after ForgetSeats does not put its answer back in the cache: the next
// decision reads the seats afresh and no longer seats the mediator the
// statement left out. Before, that read stored its older answer, served
// as fresh for SeatTTL (review 395). The reads in flight leave nothing
// behind once they end.
func TestForgetSeatsDuringARead(t *testing.T) {
	e := newEnv(t)
	g := &gatedSeats{began: make(chan struct{})}
	e.svc.Membership = g
	gate := make(chan struct{})
	g.set([]string{"u_mia", "u_max"}, gate)
	type answer struct {
		seated []string
		err    error
	}
	old := make(chan answer, 1)
	go func() {
		seated, _, err := e.svc.seated(context.Background(), "c_1")
		old <- answer{seated, err}
	}()
	select {
	case <-g.began:
	case <-time.After(10 * time.Second):
		t.Fatal("the read did not begin within 10 s")
	}
	// The statement leaving Max out is stored while that read is in flight.
	g.set([]string{"u_mia"}, nil)
	e.svc.ForgetSeats("c_1")
	close(gate)
	var a answer
	select {
	case a = <-old:
	case <-time.After(10 * time.Second):
		t.Fatal("the read did not end within 10 s")
	}
	if a.err != nil || !slices.Equal(a.seated, []string{"u_mia", "u_max"}) {
		t.Fatalf("the read in flight answered %v, %v", a.seated, a.err)
	}
	seated, _, err := e.svc.seated(context.Background(), "c_1")
	if err != nil || !slices.Equal(seated, []string{"u_mia"}) {
		t.Fatalf("after ForgetSeats the seats are %v (%v); want [u_mia]: the read begun before was cached", seated, err)
	}
	e.svc.seatsMu.Lock()
	defer e.svc.seatsMu.Unlock()
	if len(e.svc.seatReads) != 0 || len(e.svc.seats) != 1 {
		t.Fatalf("%d cases' reads still tracked, %d cached; want 0 and 1", len(e.svc.seatReads), len(e.svc.seats))
	}
}
