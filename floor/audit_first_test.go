package floor_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/caucus"
	"github.com/parley-mediation/parley/floor"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// failAudit fails every write of the audit log while on is set.
type failAudit struct {
	objstore.Store
	on atomic.Bool
}

func (f *failAudit) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if f.on.Load() && strings.HasPrefix(key, "audit/") {
		return objstore.Info{}, errors.New("injected: audit store down")
	}
	return f.Store.Put(ctx, key, r, size, opts)
}

// TestChangeNeverStoredUnaudited: a change of the room controls whose
// audit entry the log does not take is not made (the request fails, the
// controls stay as they were), and its retry makes it, audited and
// announced, naming its room. Before (review 364 LOW-2), the change was
// written first: the failed append left it stored with no entry and no
// announcement, and the retry found it made — a raise answered success
// with neither, a take or a clear 409.
func TestChangeNeverStoredUnaudited(t *testing.T) {
	ctx := t.Context()
	fa := &failAudit{}
	_, meta, log, pol, cs, _ := newWorldWith(t, func(s objstore.Store) objstore.Store { fa.Store = s; return fa })
	broker := messaging.NewMemory()
	fl := floor.New(floor.Config{Meta: meta, Cases: cs, Policy: pol, Audit: log, Broker: broker})
	med := account.Account{ID: ids.New("u"), Name: "Mia", Role: policy.RoleMediator}
	lawyerB := account.Account{ID: ids.New("u"), Name: "Lee", Role: policy.RoleParticipant}
	c, err := cs.Create(ctx, med, cases.NewCase{Title: "Hands", Type: "tenancy", SideLabels: []string{"Tenant", "Landlord"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := metastore.Update(ctx, meta, "cases/"+c.ID+"/case", func(k *cases.Case) error {
		k.Participants = append(k.Participants, cases.Participant{AccountID: lawyerB.ID, Name: lawyerB.Name, Role: cases.RoleCounsel, Side: c.Sides[1].ID})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var heard []string // rooms announced
	stop := broker.Subscribe(caucus.CaseTopic(c.ID), func(data []byte) {
		if room, ok := floor.AnnouncedRoom(data); ok {
			mu.Lock()
			heard = append(heard, room)
			mu.Unlock()
		}
	})
	defer stop()
	announced := func(n int) []string {
		t.Helper()
		for range 200 { // up to 2 s
			mu.Lock()
			got := append([]string(nil), heard...)
			mu.Unlock()
			if len(got) >= n {
				return got
			}
			time.Sleep(10 * time.Millisecond)
		}
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), heard...)
	}
	view := func() api.FloorView {
		t.Helper()
		v, err := fl.View(ctx, med, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	room := "caucus:" + c.Sides[1].ID
	if _, err := fl.GiveFloor(ctx, med, c.ID, "joint", api.FloorRequest{Side: c.Sides[0].ID, Minutes: 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := fl.SetTimer(ctx, med, c.ID, room, api.TimerRequest{Minutes: 10}); err != nil {
		t.Fatal(err)
	}
	announced(2)

	for _, tc := range []struct {
		typ, room string
		change    func(context.Context) error
		made      func(api.FloorView) bool
	}{
		{"room.hand.raised", room,
			func(ctx context.Context) error { _, err := fl.RaiseHand(ctx, lawyerB, c.ID, room); return err },
			func(v api.FloorView) bool { return len(v.Hands) == 1 }},
		{"room.floor.taken", "joint",
			func(ctx context.Context) error { return fl.TakeFloor(ctx, med, c.ID, "joint") },
			func(v api.FloorView) bool { return v.Turns[len(v.Turns)-1].Ended != 0 }},
		{"room.timer.cleared", room,
			func(ctx context.Context) error { return fl.ClearTimer(ctx, med, c.ID, room) },
			func(v api.FloorView) bool { return len(v.Timers) == 0 }},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			before, nheard := log.Size(), len(announced(0))
			fa.on.Store(true)
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := tc.change(cctx)
			cancel()
			fa.on.Store(false)
			if err == nil {
				t.Fatal("the change succeeded with the audit log down")
			}
			if tc.made(view()) {
				t.Fatalf("the change is stored though its audit entry was not appended (%v)", err)
			}
			if err := tc.change(ctx); err != nil {
				t.Fatalf("the retry: %v", err)
			}
			if !tc.made(view()) {
				t.Fatal("the retry did not make the change")
			}
			entries := 0
			for i := before; i < log.Size(); i++ {
				ev, err := log.Entry(ctx, i)
				if err != nil {
					t.Fatal(err)
				}
				if ev.Type == tc.typ && ev.Attrs["room"] == tc.room {
					entries++
				}
			}
			if entries != 1 {
				t.Fatalf("%d %s entries for the change, want 1", entries, tc.typ)
			}
			if got := announced(nheard + 1); len(got) != nheard+1 || got[nheard] != tc.room {
				t.Fatalf("announced %q after %d, want one naming %s", got, nheard, tc.room)
			}
		})
	}
}
