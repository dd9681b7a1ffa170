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
// acknowledged and then destroyed with the case. So each node also
// watches the cases its open connections are to, itself, every
// fenceCheck: a fenced case has a fence marker (cases/fencemarks.go,
// written before the fence, deleted after it is lifted, and written anew
// once the case is destroyed, so a case fenced and destroyed between two
// passes shows a marker too), and a pass lists the markers (cases.FenceMarks: one store
// request while fewer than 1000 are stored, whatever the number of cases
// or connections) and checks the record (cases.CheckFence: a Stat, and a
// read only when it changed) of a watched case only when its marker
// appeared, was written anew or went since the case's last check, or is
// there while the last check found no fence (a fence about to be set, or
// a marker left by a crash). When a check first finds a case fenced (or
// gone), or finds its fence lifted, every connection to it re-checks its
// rooms, as on the announcement. The record's fence is the authority, the
// marker only says where to look. The checking goroutine runs only while
// some connection is open.

// fenceCheck is how often a node lists the fence markers; fenceRate caps
// the record checks a node makes a second (each a request to the object
// store), so a pass that checks more than fenceCheck×fenceRate cases (a
// disposal fencing that many cases open on the node at once) delays the
// next pass: after 100 checks, 10 s.
const (
	fenceCheck = 2 * time.Second
	fenceRate  = 10
)

// fenceInterval is the wait before the next pass after one that made n
// record checks.
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
	// marks lists the cases with a fence marker and each marker's ETag
	// (cases.FenceMarks); nil: no markers, every watched case is checked
	// every pass.
	marks func(ctx context.Context, fn func(caseID, etag string)) error
	log   *slog.Logger

	mu      sync.Mutex
	cases   map[string]*fenceCase
	running bool           // a checking goroutine runs (and will see cases before it ends)
	wg      sync.WaitGroup // the checking goroutine, waited for by wait
}

// fenceCase is one case watched: the connections to it, what the last
// check saw, and the ETag of the case's fence marker it was made after
// ("" none).
type fenceCase struct {
	subs map[*fenceSub]struct{}
	seen cases.FenceSeen
	mark string
}

// fenceSub is one connection's registration: kick makes it re-check.
type fenceSub struct{ kick func() }

func newFenceWatch(ctx context.Context, every time.Duration, log *slog.Logger,
	check func(context.Context, string, cases.FenceSeen) (cases.FenceSeen, error)) *fenceWatch {
	return &fenceWatch{ctx: ctx, every: every, check: check, log: log, cases: map[string]*fenceCase{}}
}

// newCaseFenceWatch is the node's watch: svc's fence markers listed once
// a pass, and svc's records checked where they say.
func newCaseFenceWatch(ctx context.Context, every time.Duration, log *slog.Logger, svc *cases.Service) *fenceWatch {
	w := newFenceWatch(ctx, every, log, svc.CheckFence)
	w.marks = svc.FenceMarks
	return w
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
		t.Reset(fenceInterval(w.every, w.pass(todo)))
	}
}

// watched is one case watched, what its last check saw and the marker it
// was made after, and (in a pass) the marker listed now.
type watched struct {
	id        string
	seen      cases.FenceSeen
	mark, now string
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
		todo = append(todo, watched{id: id, seen: fc.seen, mark: fc.mark})
	}
	return todo, true
}

// marked lists the fence markers and keeps of todo the cases to check:
// those whose marker appeared, was written anew or went since their last
// check, or is there while that check found no fence.
func (w *fenceWatch) marked(todo []watched) ([]watched, error) {
	listed := map[string]string{}
	ctx, cancel := context.WithTimeout(w.ctx, fenceTimeout)
	defer cancel()
	if err := w.marks(ctx, func(id, etag string) { listed[id] = etag }); err != nil {
		return nil, err
	}
	var out []watched
	for _, c := range todo {
		c.now = listed[c.id]
		if (c.now != "" && (c.now != c.mark || !c.seen.Fenced)) || (c.now == "" && c.mark != "") {
			out = append(out, c)
		}
	}
	return out, nil
}

// pass checks the cases of todo to check, fenceCheckers at a time, waits
// for them, and returns how many it checked. A failed listing, and failed
// checks, are logged once a pass.
func (w *fenceWatch) pass(todo []watched) int {
	if w.marks != nil {
		var err error
		if todo, err = w.marked(todo); err != nil {
			if w.ctx.Err() == nil {
				// Decided nothing: the next pass (or the connections'
				// fallback check) asks again.
				w.log.Warn("disposal fence markers not listed", slog.Any("error", err))
			}
			return 0
		}
	}
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
	return len(todo)
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
		fc.seen, fc.mark = now, c.now
	}
	w.mu.Unlock()
	for _, kick := range kicks {
		kick()
	}
	return nil
}
