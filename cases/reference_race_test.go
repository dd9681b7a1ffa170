package cases

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// TestSlowCreateKeepsItsReferenceOrFails: a Create held up for more than
// referenceGrace between claiming its reference and writing its case
// (here once its claim is written: the clock moves 61 s and a second
// Create of the same reference runs, taking the claim over) does not
// write a case with that reference: only one case ends up with it.
// Before, the first wrote its case anyway and two cases shared it. (The
// hook is the claim's write, not the audit append after it: a Create run
// inside the audit log's writer would wait for that writer.)
func TestSlowCreateKeepsItsReferenceOrFails(t *testing.T) {
	onEachStore(t, func(t *testing.T, base func(objstore.Store) objstore.Store) {
		hs := &readHookStore{}
		e := newEnvWith(t, func(s objstore.Store) objstore.Store { hs.Store = base(s); return hs })
		clk := &skewClock{}
		e.svc.SetClock(clk.now)
		ctx := t.Context()
		m := staff(policy.RoleMediator, "Morgan Reyes")
		e.storeStaff(t, m)
		n := NewCase{Title: "Deposit dispute", Type: "tenancy", SideLabels: []string{"Tenant", "Landlord"}, Reference: "2026-CV-0142"}
		var armed atomic.Bool
		armed.Store(true)
		var second *Case
		var secondErr error
		hs.setAfterPut(func(key string) {
			if !strings.HasPrefix(key, "case-references/") || !armed.CompareAndSwap(true, false) {
				return
			}
			clk.advance(referenceGrace + time.Second)
			second, secondErr = e.svc.Create(ctx, m, n)
		})
		first, firstErr := e.svc.Create(ctx, m, n)
		hs.setAfterPut(nil)
		if armed.Load() {
			t.Fatal("the hook did not run")
		}
		list, err := e.svc.List(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		with := 0
		for _, c := range list {
			if c.Reference == "2026-CV-0142" {
				with++
			}
		}
		if with != 1 {
			t.Fatalf("%d cases with the reference (first %v: %v, second %v: %v)", with, first != nil, firstErr, second != nil, secondErr)
		}
		var held referenceRecord
		if _, err := e.meta.Get(ctx, e.svc.referenceKey("2026-CV-0142"), &held); err != nil {
			t.Fatal(err)
		}
		for _, c := range list {
			if c.Reference == "2026-CV-0142" && c.ID != held.Case {
				t.Fatalf("the claim names %s, the case with the reference is %s", held.Case, c.ID)
			}
		}
	})
}

// TestReleasedReferenceKeepsAClaimTakenOver: a Create whose entry the
// log cannot take gives its reference back, deleting only the claim it
// read: a claim written over it meanwhile (a takeover) stays. Before,
// the claim was read, then deleted whatever it had become.
func TestReleasedReferenceKeepsAClaimTakenOver(t *testing.T) {
	onEachStore(t, func(t *testing.T, base func(objstore.Store) objstore.Store) {
		ad := &auditDown{}
		hs := &readHookStore{}
		e := newEnvWith(t, func(s objstore.Store) objstore.Store { ad.Store = base(s); hs.Store = ad; return hs })
		ctx := t.Context()
		m := staff(policy.RoleMediator, "Morgan Reyes")
		e.storeStaff(t, m)
		key := e.svc.referenceKey("2026-CV-0142")
		var armed atomic.Bool
		armed.Store(true)
		other := "c-taken-over"
		hook := func(k string) {
			if k != key || !armed.CompareAndSwap(true, false) {
				return
			}
			var held referenceRecord
			etag, err := e.meta.Get(ctx, key, &held)
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := e.meta.Replace(ctx, key, referenceRecord{Case: other, At: time.Now().UTC()}, etag); err != nil {
				t.Error(err)
			}
		}
		hs.afterGet.Store(&hook)
		ad.down.Store(true)
		if _, err := e.svc.Create(ctx, m, NewCase{Title: "Deposit dispute", Type: "tenancy", SideLabels: []string{"Tenant", "Landlord"}, Reference: "2026-CV-0142"}); err == nil {
			t.Fatal("a case opened with the audit log down")
		}
		ad.down.Store(false)
		hs.afterGet.Store(nil)
		if armed.Load() {
			t.Fatal("the claim was not read back")
		}
		var held referenceRecord
		if _, err := e.meta.Get(ctx, key, &held); err != nil || held.Case != other {
			t.Fatalf("the claim taken over: %+v, %v", held, err)
		}
	})
}

// lateCaseWrite answers the first case record write, once armed, with
// context.DeadlineExceeded before it lands; land lands it.
type lateCaseWrite struct {
	objstore.Store
	armed   atomic.Bool
	pending atomic.Pointer[func() error]
}

func (f *lateCaseWrite) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if !strings.HasPrefix(key, "cases/") || !strings.HasSuffix(key, "/case") || !f.armed.CompareAndSwap(true, false) {
		return f.Store.Put(ctx, key, r, size, opts)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return objstore.Info{}, err
	}
	land := func() error {
		_, err := f.Store.Put(context.Background(), key, bytes.NewReader(b), int64(len(b)), opts)
		return err
	}
	f.pending.Store(&land)
	return objstore.Info{}, context.DeadlineExceeded
}

// TestCutShortCaseWriteKeepsItsReference: a case write cut short (a
// timeout) that lands after its read-back keeps its reference, and no
// case.created.failed is logged for it. Before, the read-back found no
// case, gave the reference back and logged .failed; then the case landed
// with a reference no longer its.
func TestCutShortCaseWriteKeepsItsReference(t *testing.T) {
	onEachStore(t, func(t *testing.T, base func(objstore.Store) objstore.Store) {
		lw := &lateCaseWrite{}
		e := newEnvWith(t, func(s objstore.Store) objstore.Store { lw.Store = base(s); return lw })
		ctx := t.Context()
		m := staff(policy.RoleMediator, "Morgan Reyes")
		e.storeStaff(t, m)
		from := e.log.Size()
		lw.armed.Store(true)
		if _, err := e.svc.Create(ctx, m, NewCase{Title: "Deposit dispute", Type: "tenancy", SideLabels: []string{"Tenant", "Landlord"}, Reference: "2026-CV-0142"}); err == nil {
			t.Fatal("a cut-short case write answered success")
		}
		land := lw.pending.Load()
		if land == nil {
			t.Fatal("no case write held back")
		}
		if err := (*land)(); err != nil {
			t.Fatal(err)
		}
		list, err := e.svc.List(ctx, m)
		if err != nil || len(list) != 1 {
			t.Fatalf("cases: %+v, %v", list, err)
		}
		var held referenceRecord
		if _, err := e.meta.Get(ctx, e.svc.referenceKey("2026-CV-0142"), &held); err != nil || held.Case != list[0].ID {
			t.Fatalf("the landed case's claim: %+v, %v", held, err)
		}
		if types := e.entryTypes(t, from); count(types, "case.created.failed") != 0 {
			t.Fatalf("entries: %v", types)
		}
	})
}
