package web

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/objstore"
)

// hangingPresence is the in-process broker whose presence calls, once
// armed, wait until their context ends (or the test ends), as against a
// Redis that hangs.
type hangingPresence struct {
	*messaging.Memory
	armed   atomic.Bool
	waiting atomic.Int32
	release chan struct{}
}

func (b *hangingPresence) hang(ctx context.Context) {
	if !b.armed.Load() {
		return
	}
	b.waiting.Add(1)
	defer b.waiting.Add(-1)
	select {
	case <-ctx.Done():
	case <-b.release:
	}
}

func (b *hangingPresence) SetPresence(ctx context.Context, room, conn, user string, ttl time.Duration) {
	b.hang(ctx)
	b.Memory.SetPresence(ctx, room, conn, user, ttl)
}

func (b *hangingPresence) PresentConns(ctx context.Context, room string) (map[string]string, error) {
	b.hang(ctx)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return b.Memory.PresentConns(ctx, room)
}

// refusingRedecider resolves every room name to a room of its own and,
// once refusing is set, decides every one again as forbidden.
type refusingRedecider struct {
	refusing atomic.Bool
}

func (a *refusingRedecider) Resolve(_ context.Context, name, _ string) (messaging.Room, error) {
	if a.refusing.Load() {
		return messaging.Room{}, messaging.ErrForbidden
	}
	return messaging.Room{ID: "c_bound/" + strings.ReplaceAll(name, ":", "-"), Name: name}, nil
}

func (*refusingRedecider) Invalidate() {}

func (a *refusingRedecider) Redecide(ctx context.Context, names []string) []error {
	errs := make([]error, len(names))
	for i := range names {
		if a.refusing.Load() {
			errs[i] = messaging.ErrForbidden
		}
	}
	return errs
}

// TestRecheckDroppingRoomsIsBounded: a re-check that drops the rooms it
// finds forbidden ends within the round's read bound even when the
// broker hangs: leaving a room (its presence entry's removal, the read of
// who is left) is done with the round's bounded context. Before, each
// leave ran on context.Background(), so a round against a hanging Redis
// waited as long as the broker's own timeouts, and every later check (the
// session's among them) with it.
func TestRecheckDroppingRoomsIsBounded(t *testing.T) {
	dir, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	broker := &hangingPresence{Memory: messaging.NewMemory(), release: make(chan struct{})}
	svc := messaging.NewService(messaging.NewLog(dir), broker, messaging.Options{})
	t.Cleanup(svc.Close)
	auth := &refusingRedecider{}
	const budget = 400 * time.Millisecond // the round's reads: budget/2
	var rechecks atomic.Int32
	ws := optionsSocket(t, svc, socketOptions{User: "u_a", Auth: auth, Watch: "case:c_bound", UnreadBudget: budget,
		rechecked: func() { rechecks.Add(1) }})
	t.Cleanup(func() { close(broker.release) }) // runs first: nothing stays blocked past the test
	rooms := []string{"joint", "caucus:A", "mediators"}
	for _, r := range rooms {
		sendFrame(t, ws, api.ClientFrame{Type: api.FrameSub, Room: r})
		// Its join's presence write is done once the join is announced.
		nextFrame(t, ws, func(f api.ServerFrame) bool { return f.Type == api.FramePresence && f.Room == r && f.Here })
	}
	broker.armed.Store(true)
	auth.refusing.Store(true)
	began := time.Now()
	if err := svc.Announce(t.Context(), "case:c_bound", []byte(`{"change":"member.removed"}`)); err != nil {
		t.Fatal(err)
	}
	frames, _ := framesOf(ws)
	dropped := map[string]bool{}
	deadline := time.After(5 * time.Second)
	for rechecks.Load() == 0 || len(dropped) < len(rooms) {
		select {
		case f := <-frames:
			if f.Type == api.FrameError && f.Code == api.CodeForbidden {
				dropped[f.Room] = true
			}
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatalf("after 5 s the re-check had not ended (rooms dropped: %v; presence calls waiting: %d)", dropped, broker.waiting.Load())
		}
	}
	if took := time.Since(began); took > budget {
		t.Fatalf("the re-check that dropped %d rooms took %v, want within the round's bound (%v)", len(rooms), took, budget/2)
	}
}

// ctxBroker is the in-process broker failing, as a Redis client does,
// every presence call and publish whose context has ended.
type ctxBroker struct{ *messaging.Memory }

func (b ctxBroker) SetPresence(ctx context.Context, room, conn, user string, ttl time.Duration) {
	if ctx.Err() == nil {
		b.Memory.SetPresence(ctx, room, conn, user, ttl)
	}
}

func (b ctxBroker) PresentConns(ctx context.Context, room string) (map[string]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return b.Memory.PresentConns(ctx, room)
}

func (b ctxBroker) Publish(ctx context.Context, topic string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.Memory.Publish(ctx, topic, data)
}

// lateRefusingRedecider refuses, once refusing is set, only when the
// round's bound has run out: its reads took the whole bound.
type lateRefusingRedecider struct{ refusingRedecider }

func (a *lateRefusingRedecider) Redecide(ctx context.Context, names []string) []error {
	if a.refusing.Load() {
		<-ctx.Done()
	}
	return a.refusingRedecider.Redecide(ctx, names)
}

// TestRecheckLeaveIsAnnouncedAfterSlowReads: a room a re-check drops is
// left, and the others in it are told, even when the round's reads used
// up its bound. Before, the leave ran on what the round's context had
// left (nothing): no "left" went out, and nothing sent it later.
func TestRecheckLeaveIsAnnouncedAfterSlowReads(t *testing.T) {
	dir, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc := messaging.NewService(messaging.NewLog(dir), ctxBroker{messaging.NewMemory()}, messaging.Options{})
	t.Cleanup(svc.Close)
	auth := &lateRefusingRedecider{}
	a := optionsSocket(t, svc, socketOptions{User: "u_a", Auth: auth, Watch: "case:c_bound", UnreadBudget: 400 * time.Millisecond})
	b := optionsSocket(t, svc, socketOptions{User: "u_b", Auth: &refusingRedecider{}})
	sendFrame(t, b, api.ClientFrame{Type: api.FrameSub, Room: "joint"})
	nextFrame(t, b, func(f api.ServerFrame) bool { return f.Type == api.FramePresence && f.User == "u_b" && f.Here })
	sendFrame(t, a, api.ClientFrame{Type: api.FrameSub, Room: "joint"})
	nextFrame(t, b, func(f api.ServerFrame) bool { return f.Type == api.FramePresence && f.User == "u_a" && f.Here })
	auth.refusing.Store(true)
	if err := svc.Announce(t.Context(), "case:c_bound", []byte(`{"change":"member.removed"}`)); err != nil {
		t.Fatal(err)
	}
	nextFrame(t, a, func(f api.ServerFrame) bool {
		return f.Type == api.FrameError && f.Code == api.CodeForbidden && f.Room == "joint"
	})
	nextFrame(t, b, func(f api.ServerFrame) bool { return f.Type == api.FramePresence && f.User == "u_a" && !f.Here })
}
