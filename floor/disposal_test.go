package floor_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// floorVersions counts every stored version of a case's room controls.
func floorVersions(t *testing.T, store objstore.Store, caseID string) int {
	t.Helper()
	vs, err := store.Versions(t.Context(), "cases/"+caseID+"/floor")
	if errors.Is(err, objstore.ErrNotFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return len(vs)
}

// A case retention fenced for disposal takes no change of its room
// controls (410, as an upload or a message): a change stalled across the
// deletion would create cases/<case>/floor after the disposal's last
// listing, and it would stay for ever.
func TestRoomControlsRefusedOnceFencedForDisposal(t *testing.T) {
	ctx := t.Context()
	store, _, _, _, cs, fl := newWorld(t)
	med := account.Account{ID: ids.New("u"), Name: "Mia", Role: policy.RoleMediator}
	c, err := cs.Create(ctx, med, cases.NewCase{Title: "Fenced", Type: "tenancy", SideLabels: []string{"Tenant", "Landlord"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.BeginDisposal(ctx, c.ID, "p_test"); err != nil {
		t.Fatal(err)
	}
	if _, err := fl.SetTimer(ctx, med, c.ID, "joint", api.TimerRequest{Minutes: 10}); !errors.Is(err, fault.ErrGone) {
		t.Fatalf("timer set on a case fenced for disposal: %v, want gone (410)", err)
	}
	if _, err := fl.GiveFloor(ctx, med, c.ID, "joint", api.FloorRequest{Side: c.Sides[0].ID, Minutes: 5}); !errors.Is(err, fault.ErrGone) {
		t.Fatalf("floor given on a case fenced for disposal: %v, want gone (410)", err)
	}
	if n := floorVersions(t, store, c.ID); n != 0 {
		t.Fatalf("%d stored versions of the fenced case's room controls", n)
	}
}

// fenceOnFloor fences the case just before its room controls are first
// written: the fence lands after the change looked for it.
type fenceOnFloor struct {
	objstore.Store
	once  sync.Once
	fence func(context.Context)
}

func (f *fenceOnFloor) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if strings.HasSuffix(key, "/floor") && f.fence != nil {
		f.once.Do(func() { f.fence(ctx) })
	}
	return f.Store.Put(ctx, key, r, size, opts)
}

// A change of room controls the fence overtook is taken back: the case
// is looked at again once the change is visible (as an upload does),
// and every stored version of the controls deleted.
func TestRoomControlsTakenBackWhenTheFenceLandsMeanwhile(t *testing.T) {
	ctx := t.Context()
	ff := &fenceOnFloor{}
	store, _, _, _, cs, fl := newWorldWith(t, func(s objstore.Store) objstore.Store { ff.Store = s; return ff })
	med := account.Account{ID: ids.New("u"), Name: "Mia", Role: policy.RoleMediator}
	c, err := cs.Create(ctx, med, cases.NewCase{Title: "Fenced", Type: "tenancy", SideLabels: []string{"Tenant", "Landlord"}})
	if err != nil {
		t.Fatal(err)
	}
	ff.fence = func(ctx context.Context) {
		if _, err := cs.BeginDisposal(ctx, c.ID, "p_test"); err != nil {
			t.Error(err)
		}
	}
	if _, err := fl.SetTimer(ctx, med, c.ID, "joint", api.TimerRequest{Minutes: 10}); !errors.Is(err, fault.ErrGone) {
		t.Fatalf("timer set as the case was fenced: %v, want gone (410)", err)
	}
	if n := floorVersions(t, store, c.ID); n != 0 {
		t.Fatalf("%d stored versions of the fenced case's room controls", n)
	}
}

// A change that changes nothing (a hand lowered that was not raised; a
// timer cleared or extended that is not set, a floor taken that nobody
// has, alike) creates no record of room controls: on
// a case with none yet it left an empty record after the disposal had
// listed the case, and no look after it (the change failed) took it back.
func TestRoomControlsUnchangedCreateNothing(t *testing.T) {
	ctx := t.Context()
	ff := &fenceOnFloor{}
	store, meta, _, _, cs, fl := newWorldWith(t, func(s objstore.Store) objstore.Store { ff.Store = s; return ff })
	med := account.Account{ID: ids.New("u"), Name: "Mia", Role: policy.RoleMediator}
	c, err := cs.Create(ctx, med, cases.NewCase{Title: "Going", Type: "tenancy", SideLabels: []string{"Tenant", "Landlord"}})
	if err != nil {
		t.Fatal(err)
	}
	// The disposal fences and deletes the case record as the first write
	// of its room controls reaches the store.
	ff.fence = func(ctx context.Context) {
		if _, err := cs.BeginDisposal(ctx, c.ID, "p_test"); err != nil {
			t.Error(err)
		}
		if err := meta.Delete(ctx, "cases/"+c.ID+"/case"); err != nil {
			t.Error(err)
		}
	}
	if err := fl.LowerHand(ctx, med, c.ID, "joint", med.ID); err != nil && !errors.Is(err, fault.ErrGone) {
		t.Fatalf("lowering no hand: %v", err)
	}
	if n := floorVersions(t, store, c.ID); n != 0 {
		t.Fatalf("%d stored versions of room controls after changes that changed nothing", n)
	}
}

// failStatAfterFloor fails the first Stat of a case record that follows a
// write of room controls: the look after the change fails.
type failStatAfterFloor struct {
	objstore.Store
	mu     sync.Mutex
	armed  bool
	failed bool
}

func (f *failStatAfterFloor) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	info, err := f.Store.Put(ctx, key, r, size, opts)
	if strings.HasSuffix(key, "/floor") {
		f.mu.Lock()
		f.armed = !f.failed
		f.mu.Unlock()
	}
	return info, err
}

func (f *failStatAfterFloor) Stat(ctx context.Context, key string) (objstore.Info, error) {
	f.mu.Lock()
	fail := f.armed && strings.HasSuffix(key, "/case")
	if fail {
		f.armed, f.failed = false, true
	}
	f.mu.Unlock()
	if fail {
		return objstore.Info{}, errors.New("store unavailable")
	}
	return f.Store.Stat(ctx, key)
}

// A change of room controls stored, whose look at the case afterwards
// fails, is audited (and announced) as any other: before, the error was
// returned, the change kept, and nothing audited.
func TestRoomControlsKeptAreAuditedWhenTheLookFails(t *testing.T) {
	ctx := t.Context()
	fs := &failStatAfterFloor{}
	store, _, log, _, cs, fl := newWorldWith(t, func(s objstore.Store) objstore.Store { fs.Store = s; return fs })
	med := account.Account{ID: ids.New("u"), Name: "Mia", Role: policy.RoleMediator}
	c, err := cs.Create(ctx, med, cases.NewCase{Title: "Kept", Type: "tenancy", SideLabels: []string{"Tenant", "Landlord"}})
	if err != nil {
		t.Fatal(err)
	}
	_, serr := fl.SetTimer(ctx, med, c.ID, "joint", api.TimerRequest{Minutes: 10})
	if !fs.failed {
		t.Fatal("the look after the change did not fail: the test did not test")
	}
	audited := false
	for i := range log.Size() {
		ev, err := log.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == "room.timer.set" && ev.Case == c.ID {
			audited = true
		}
	}
	kept := floorVersions(t, store, c.ID) > 0
	if kept && !audited {
		t.Fatalf("the timer is kept but not audited (SetTimer: %v)", serr)
	}
}
