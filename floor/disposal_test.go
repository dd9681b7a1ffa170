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
