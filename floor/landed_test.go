package floor_test

import (
	"context"
	"io"
	"sync/atomic"
	"testing"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/floor"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// landedWrite answers the next write of key with ErrPrecondition
// although it went through: a conditional PUT whose first attempt
// landed, its answer lost, and whose retry found the new version.
type landedWrite struct {
	objstore.Store
	key atomic.Pointer[string]
}

func (f *landedWrite) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	k := f.key.Load()
	if k == nil || key != *k || !f.key.CompareAndSwap(k, nil) {
		return f.Store.Put(ctx, key, r, size, opts)
	}
	if _, err := f.Store.Put(ctx, key, r, size, opts); err != nil {
		return objstore.Info{}, err
	}
	return objstore.Info{}, objstore.ErrPrecondition
}

// TestChangeLandedDespite412IsMadeOnce: a change of the room controls
// whose write landed but answered the precondition error (minio-go's
// retry of a PUT whose answer was lost) succeeds, made once, its entry
// not followed by ".failed". Before (review 373), the re-read found the
// change made, planned on it again: an extension was logged failed and
// then made a second time (10 minutes for one extension of 5), a take
// of the floor logged failed and answered 409.
func TestChangeLandedDespite412IsMadeOnce(t *testing.T) {
	ctx := t.Context()
	lw := &landedWrite{}
	_, meta, log, pol, cs, _ := newWorldWith(t, func(s objstore.Store) objstore.Store { lw.Store = s; return lw })
	fl := floor.New(floor.Config{Meta: meta, Cases: cs, Policy: pol, Audit: log, Broker: messaging.NewMemory()})
	med := account.Account{ID: ids.New("u"), Name: "Mia", Role: policy.RoleMediator}
	c, err := cs.Create(ctx, med, cases.NewCase{Title: "Landed", Type: "tenancy", SideLabels: []string{"Tenant", "Landlord"}})
	if err != nil {
		t.Fatal(err)
	}
	room := "caucus:" + c.Sides[1].ID
	timer, err := fl.SetTimer(ctx, med, c.ID, room, api.TimerRequest{Minutes: 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fl.GiveFloor(ctx, med, c.ID, "joint", api.FloorRequest{Side: c.Sides[0].ID, Minutes: 5}); err != nil {
		t.Fatal(err)
	}
	k := "cases/" + c.ID + "/floor"
	entries := func(before int64, typ string) int {
		t.Helper()
		n := 0
		for i := before; i < log.Size(); i++ {
			ev, err := log.Entry(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Type == typ {
				n++
			}
		}
		return n
	}

	t.Run("extend", func(t *testing.T) {
		before := log.Size()
		lw.key.Store(&k)
		got, err := fl.SetTimer(ctx, med, c.ID, room, api.TimerRequest{Extend: 5})
		if err != nil {
			t.Fatalf("the extension: %v", err)
		}
		if lw.key.Load() != nil {
			t.Fatal("the write was not made")
		}
		v, err := fl.View(ctx, med, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Timers) != 1 || v.Timers[0].EndsAt != timer.EndsAt+5*60*1000 || got.EndsAt != v.Timers[0].EndsAt {
			t.Fatalf("timers %+v (answered %+v) after extending %+v by 5 minutes", v.Timers, got, timer)
		}
		if n := entries(before, "room.timer.set.failed"); n != 0 {
			t.Fatalf("%d room.timer.set.failed entries for an extension made", n)
		}
		if n := entries(before, "room.timer.set"); n != 1 {
			t.Fatalf("%d room.timer.set entries, want 1", n)
		}
	})
	t.Run("take", func(t *testing.T) {
		before := log.Size()
		lw.key.Store(&k)
		if err := fl.TakeFloor(ctx, med, c.ID, "joint"); err != nil {
			t.Fatalf("taking the floor: %v", err)
		}
		if lw.key.Load() != nil {
			t.Fatal("the write was not made")
		}
		if n := entries(before, "room.floor.taken.failed"); n != 0 {
			t.Fatalf("%d room.floor.taken.failed entries for a take made", n)
		}
		if n := entries(before, "room.floor.taken"); n != 1 {
			t.Fatalf("%d room.floor.taken entries, want 1", n)
		}
	})
}
