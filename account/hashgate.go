package account

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/parley-mediation/parley/internal/fault"
)

// Every Argon2id computation (a sign-in's check, a password change's
// check and new hash, an administrator's reset or new password) takes
// argonMemoryKiB (19 MiB) while it runs. Unbounded, about 50 sign-ins
// at once — within one address's budget — need more memory than the pod
// has (docs/operations.md, "Limits"). hashGate lets at most
// HashSlots run at once on this node; the others wait up to HashWait for
// a slot, then are refused with ErrHashBusy (503 with Retry-After),
// never queued without end.
var (
	// HashSlots: how many Argon2id computations run at once on a node
	// (GOMAXPROCS, at least 2): more would not finish sooner on as many
	// cores, only hold more memory.
	HashSlots = max(2, runtime.GOMAXPROCS(0))
	// HashWait: how long a password check or hash waits for a slot.
	HashWait = 3 * time.Second
)

// ErrHashBusy: every slot was taken for HashWait; nothing was checked.
var ErrHashBusy = &fault.BusyError{RetryAfter: 5 * time.Second,
	Detail: "Too many people are signing in right now. Try again in a few seconds."}

type hashGate struct {
	slots chan struct{}
	wait  time.Duration
}

func newHashGate(slots int, wait time.Duration) *hashGate {
	return &hashGate{slots: make(chan struct{}, slots), wait: wait}
}

// gate is the node's: one process is one node.
var gate = newHashGate(HashSlots, HashWait)

// acquire takes a slot, waiting at most g.wait and never past ctx's end.
func (g *hashGate) acquire(ctx context.Context) (release func(), err error) {
	release = func() { <-g.slots }
	select {
	case g.slots <- struct{}{}:
		return release, nil
	default:
	}
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return release, nil
	case <-t.C:
		return nil, ErrHashBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// argonRunning counts the Argon2id computations running now, argonPeak
// the most seen at once (tests read it).
var argonRunning, argonPeak atomic.Int64

// argonTestHook, when a test sets it, runs inside every Argon2id
// computation (while it counts as running).
var argonTestHook func()

func argonStarted() func() {
	n := argonRunning.Add(1)
	for {
		p := argonPeak.Load()
		if n <= p || argonPeak.CompareAndSwap(p, n) {
			break
		}
	}
	if argonTestHook != nil {
		argonTestHook()
	}
	return func() { argonRunning.Add(-1) }
}

// hashPasswordGated is hashPassword within a slot of the node's gate.
func hashPasswordGated(ctx context.Context, password string) (string, error) {
	release, err := gate.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return hashPassword(password), nil
}

// checkPasswordGated is checkPassword within a slot of the node's gate.
func checkPasswordGated(ctx context.Context, phc, password string) (bool, error) {
	release, err := gate.acquire(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	return checkPassword(phc, password)
}
