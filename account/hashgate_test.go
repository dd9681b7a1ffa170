package account

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/fault"
)

// Many sign-ins at once run at most the gate's slots of Argon2id
// computations at a time (each takes 19 MiB at the production cost); the
// sign-ins past them wait a bounded time and are refused with the busy
// answer (503), never left hanging. Before the gate, 30 sign-ins at once
// ran 30 hashes at once (571 MiB of heap at the production cost).
func TestSignInsShareBoundedHashSlots(t *testing.T) {
	s, _ := newService(t)
	ctx := t.Context()
	const slots, logins = 2, 10
	old := gate
	gate = newHashGate(slots, 300*time.Millisecond)
	// Every hash is held until the refused ones have been answered, so
	// that "at once" does not depend on how fast the machine hashes.
	hold := make(chan struct{})
	argonTestHook = func() { <-hold }
	argonPeak.Store(0)
	t.Cleanup(func() { gate, argonTestHook = old, nil })

	var wg sync.WaitGroup
	errs := make(chan error, logins)
	for i := range logins {
		wg.Go(func() {
			// Distinct emails and addresses: no attempt limit is reached.
			_, _, _, err := s.Login(ctx, fmt.Sprintf("nobody%d@example.org", i), testPassword, fmt.Sprintf("192.0.2.%d", i+1))
			errs <- err
		})
	}
	// The refused answer within the bounded wait, while the hashes hold.
	busy := 0
	deadline := time.After(10 * time.Second)
	for busy < logins-slots {
		select {
		case err := <-errs:
			be, ok := fault.AsBusy(err)
			if !ok || be.RetryAfter <= 0 || be.Detail != "Too many people are signing in right now. Try again in a few seconds." {
				close(hold)
				t.Fatalf("a sign-in past the %d slots answered %v, want the busy answer", slots, err)
			}
			busy++
		case <-deadline:
			close(hold)
			t.Fatalf("after 10s only %d of %d sign-ins past the slots were refused (peak %d hashes at once)", busy, logins-slots, argonPeak.Load())
		}
	}
	close(hold)
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrBadCredentials) {
			t.Errorf("a sign-in given a slot answered %v, want wrong credentials", err)
		}
	}
	if p := argonPeak.Load(); p > slots {
		t.Fatalf("%d Argon2id computations ran at once, want at most %d", p, slots)
	}
}

// The node's gate has GOMAXPROCS slots, at least 2.
func TestHashSlotsDefault(t *testing.T) {
	if want := max(2, runtime.GOMAXPROCS(0)); cap(gate.slots) != want || HashSlots != want {
		t.Fatalf("gate has %d slots (HashSlots %d), want %d", cap(gate.slots), HashSlots, want)
	}
}
