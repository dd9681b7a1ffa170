package web

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-mediation/parley/cases"
)

// A connection caches its right to post per room (no store read per
// message). Retention's disposal fence (cases.BeginDisposal) is announced
// on the case's topic, and every connection that hears it asks again and
// is refused; but an announcement is at most once (Redis flushed, the
// publish lost), and a connection that missed it would otherwise go on
// taking posts until its fallback check, up to 66 s later — posts
// acknowledged and then destroyed with the case. So each node also checks
// every case its open connections are to, itself: one check per case per
// node every fenceCheck (less often past fenceRate checks a second),
// whatever the number of connections (a Stat of the
// case record, and a read only when it changed: cases.CheckFence), and
// when a check first finds a case fenced (or gone), or finds its fence
// lifted, every connection to it re-checks its rooms, as on the
// announcement. The checking goroutine runs
// only while some connection is open.

// fenceCheck is how often a node checks the cases its connections are to
// for a fence they were not told of; fenceRate caps the checks a node
// makes a second (each a request to the object store), so a node with
// more than fenceCheck×fenceRate cases open checks each less often: with
// 100 cases open, every 10 s.
const (
	fenceCheck = 2 * time.Second
	fenceRate  = 10
)

// fenceInterval is the wait before the next pass after one of n cases.
func fenceInterval(every time.Duration, n int) time.Duration {
	return max(every, time.Duration(n)*time.Second/fenceRate)
}

// fenceCheckers is how many cases one pass checks at once; fenceTimeout
// bounds one case's check.
const (
	fenceCheckers = 8
	fenceTimeout  = 5 * time.Second
)

// fenceWatch is a node's checker of the cases its connections are to.
type fenceWatch struct {
	ctx   context.Context // ends with the node's sockets (API.CloseSockets)
	every time.Duration
	check func(ctx context.Context, caseID string, seen cases.FenceSeen) (cases.FenceSeen, error)
	log   *slog.Logger

	mu      sync.Mutex
	cases   map[string]*fenceCase
	running bool           // a checking goroutine runs (and will see cases before it ends)
	wg      sync.WaitGroup // the checking goroutine, waited for by wait
}

// fenceCase is one case watched: the connections to it, and what the
// last check saw.
type fenceCase struct {
	subs map[*fenceSub]struct{}
	seen cases.FenceSeen
}

// fenceSub is one connection's registration: kick makes it re-check.
type fenceSub struct{ kick func() }

func newFenceWatch(ctx context.Context, every time.Duration, log *slog.Logger,
	check func(context.Context, string, cases.FenceSeen) (cases.FenceSeen, error)) *fenceWatch {
	return &fenceWatch{ctx: ctx, every: every, check: check, log: log, cases: map[string]*fenceCase{}}
}

// add watches caseID for one connection until the returned func is
// called; kick is called (on the checking goroutine, so it must not
// block) when the case is found fenced or gone. The connection's every
// decision about the case must come after add: a check that read the
// record before the fence then finds it on its next pass, and one that
// read it after has kicked every connection added before its kick.
func (w *fenceWatch) add(caseID string, kick func()) (remove func()) {
	sub := &fenceSub{kick: kick}
	w.mu.Lock()
	fc := w.cases[caseID]
	if fc == nil {
		fc = &fenceCase{subs: map[*fenceSub]struct{}{}}
		w.cases[caseID] = fc
	}
	fc.subs[sub] = struct{}{}
	if !w.running && w.ctx.Err() == nil {
		w.running = true
		w.wg.Go(w.run)
	}
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		delete(fc.subs, sub)
		if len(fc.subs) == 0 && w.cases[caseID] == fc {
			delete(w.cases, caseID)
		}
	}
}

// wait waits for the checking goroutine to end, once the context has
// ended and no connection is added any more.
func (w *fenceWatch) wait() { w.wg.Wait() }

// run checks the watched cases every w.every until none is watched or the
// context ends.
func (w *fenceWatch) run() {
	t := time.NewTimer(w.every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-w.ctx.Done():
			w.mu.Lock()
			w.running = false
			w.mu.Unlock()
			return
		}
		todo, ok := w.snapshot()
		if !ok {
			return
		}
		w.pass(todo)
		t.Reset(fenceInterval(w.every, len(todo)))
	}
}

// watched is one case to check and what its last check saw.
type watched struct {
	id   string
	seen cases.FenceSeen
}

// snapshot lists the cases to check; with none, it marks the goroutine
// gone (ok false), so that the next connection starts another.
func (w *fenceWatch) snapshot() (todo []watched, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.cases) == 0 {
		w.running = false
		return nil, false
	}
	todo = make([]watched, 0, len(w.cases))
	for id, fc := range w.cases {
		todo = append(todo, watched{id, fc.seen})
	}
	return todo, true
}

// pass checks every case of todo, fenceCheckers at a time, and waits for
// them. Failed checks are logged once a pass.
func (w *fenceWatch) pass(todo []watched) {
	next := make(chan watched)
	var checkers sync.WaitGroup
	var failed atomic.Int64
	var lastErr atomic.Value
	for range min(fenceCheckers, len(todo)) {
		checkers.Go(func() {
			for c := range next {
				if err := w.checkCase(c); err != nil {
					failed.Add(1)
					lastErr.Store(err.Error())
				}
			}
		})
	}
	for _, c := range todo {
		next <- c
	}
	close(next)
	checkers.Wait()
	if n := failed.Load(); n > 0 && w.ctx.Err() == nil {
		// Decided nothing: the next pass (or the connections' fallback
		// check) asks again.
		w.log.Warn("disposal fence check failed", slog.Int64("cases", n), slog.Any("error", lastErr.Load()))
	}
}

// checkCase checks one case (no lock held meanwhile) and kicks its
// connections when the case is found newly fenced or gone.
func (w *fenceWatch) checkCase(c watched) error {
	ctx, cancel := context.WithTimeout(w.ctx, fenceTimeout)
	now, err := w.check(ctx, c.id, c.seen)
	cancel()
	if err != nil {
		return err
	}
	var kicks []func()
	w.mu.Lock()
	if fc := w.cases[c.id]; fc != nil {
		// Kicked on every new fenced state, not only on a change from
		// unfenced: a fence lifted and set again between two passes is
		// a new fence, and a connection may have been allowed between.
		// And on a lift (fenced, then not): a connection refused while
		// the fence stood takes posts again at once, not at its
		// fallback check, when it missed the lift's announcement too.
		if (now.Fenced && now != fc.seen) || (!now.Fenced && fc.seen.Fenced) {
			for sub := range fc.subs {
				kicks = append(kicks, sub.kick)
			}
		}
		fc.seen = now
	}
	w.mu.Unlock()
	for _, kick := range kicks {
		kick()
	}
	return nil
}
