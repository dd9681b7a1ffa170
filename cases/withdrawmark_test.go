package cases

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// onEachStore runs f as subtests "dir" and "s3": over newEnvWith's local
// directory store, and over a fresh bucket of the test MinIO (versioned,
// as every Parley bucket; skipped without it: scripts/services.sh). f
// makes its env with newEnvWith, through base.
func onEachStore(t *testing.T, f func(t *testing.T, base func(objstore.Store) objstore.Store)) {
	t.Run("dir", func(t *testing.T) {
		f(t, func(s objstore.Store) objstore.Store { return s })
	})
	t.Run("s3", func(t *testing.T) {
		s3, err := objstore.OpenS3(t.Context(), testenv.S3(t))
		if err != nil {
			t.Fatal(err)
		}
		f(t, func(objstore.Store) objstore.Store { return s3 })
	})
}

// readHookStore is hookStore calling afterGet once a read's content is
// wholly read (S3 would otherwise read it lazily, after the hook).
type readHookStore struct {
	hookStore
	afterGet atomic.Pointer[func(key string)]
}

func (s *readHookStore) Get(ctx context.Context, key string, opts objstore.GetOptions) (io.ReadCloser, objstore.Info, error) {
	rc, info, err := s.hookStore.Get(ctx, key, opts)
	if err != nil {
		return rc, info, err
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, objstore.Info{}, err
	}
	if f := s.afterGet.Load(); f != nil {
		(*f)(key)
	}
	return io.NopCloser(bytes.NewReader(b)), info, nil
}

// markerVersions counts the stored versions (delete markers too) of the
// audit sweep's marker of case id.
func markerVersions(t *testing.T, e *env, id string) int {
	t.Helper()
	vs, err := e.meta.Objects().Versions(t.Context(), unauditedKey(id))
	if errors.Is(err, objstore.ErrNotFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return len(vs)
}

// A withdrawal writes its marker after the sweep read the case's marker
// (an older one, judged not young) and before the sweep deletes it; its
// write that withdraws comes after the sweep has read the invitations
// again, and its node dies before the append. The sweep deletes only the
// marker it read (that stored version and older ones), so the
// withdrawal's marker stays, and a later sweep audits the withdrawal.
// Before, the sweep deleted whatever marker was there, and the
// withdrawal was left to a withdrawal of it again or to retention.
func TestSweepKeepsAMarkerWrittenAfterItsRead(t *testing.T) {
	onEachStore(t, func(t *testing.T, base func(objstore.Store) objstore.Store) {
		hs := &readHookStore{}
		e := newEnvWith(t, func(s objstore.Store) objstore.Store { hs.Store = base(s); return hs })
		clk := &skewClock{}
		e.svc.SetClock(clk.now)
		ctx := t.Context()
		m := staff(policy.RoleMediator, "Mia")
		c := e.newCase(t, m, "marker written during the sweep")
		inv := e.invite(t, m, c.ID, NewInvite{Role: RoleParty, Side: "B", Name: "Pat", Email: "typo@example.com"})
		from := e.log.Size()
		key := unauditedKey(c.ID)
		// An earlier withdrawal's marker, StaleAfter old by the sweep.
		if err := e.svc.markWithdrawing(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		clk.advance(StaleAfter + time.Second)

		marked, resume := make(chan struct{}), make(chan struct{})
		release := sync.OnceFunc(func() { close(resume) })
		t.Cleanup(release) // a test that stops early leaves no withdrawal waiting
		done := make(chan any, 1)
		var markedOnce atomic.Bool
		hs.setAfterPut(func(k string) {
			switch k {
			case key: // the withdrawal's marker: written; wait for the sweep
				if markedOnce.CompareAndSwap(false, true) {
					close(marked)
					<-resume
				}
			case "invites/" + inviteID(inv): // its write that withdraws
				panic(errKilled{})
			}
		})
		var armed atomic.Bool
		afterGet := func(k string) {
			if k != key || !armed.CompareAndSwap(true, false) {
				return
			}
			// The sweep has read the marker: a withdrawal writes its own.
			go func() {
				defer func() { done <- recover() }()
				_, _ = e.svc.WithdrawInvite(ctx, m, c.ID, inviteID(inv))
			}()
			select {
			case <-marked:
			case r := <-done:
				done <- r
				t.Errorf("the withdrawal ended before writing its marker: %v", r)
			case <-time.After(10 * time.Second):
				t.Error("the withdrawal did not write its marker within 10 s")
			}
		}
		hs.afterGet.Store(&afterGet)
		armed.Store(true)
		if _, err := e.svc.SweepOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if armed.Load() {
			t.Fatal("the sweep did not read the case's marker")
		}
		// The sweep is done, having read the invitations again: the
		// withdrawal's write, and its node dies.
		release()
		select {
		case r := <-done:
			if r != (errKilled{}) {
				t.Fatalf("the withdrawal was not killed at its write: %v", r)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the withdrawal did not end within 10 s")
		}
		hs.afterGet.Store(nil)
		hs.setAfterPut(nil)

		var stored Invite
		if _, err := e.meta.Get(ctx, "invites/"+inviteID(inv), &stored); err != nil {
			t.Fatal(err)
		}
		if stored.Withdrawn == nil || !stored.WithdrawnUnaudited {
			t.Fatalf("the invitation is not withdrawn and unaudited: %+v", stored)
		}
		if !e.marked(t, c.ID) {
			t.Fatal("the sweep deleted a withdrawal's marker written after it read the marker")
		}
		clk.advance(StaleAfter + time.Second)
		if _, err := e.svc.SweepOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if n := count(e.entryTypes(t, from), "case.invite.withdrawn"); n != 1 {
			t.Fatalf("%d case.invite.withdrawn entries after the later sweep, want 1", n)
		}
		if e.marked(t, c.ID) {
			t.Fatal("the case's marker stays after the later sweep")
		}
		if n := markerVersions(t, e, c.ID); n != 0 {
			t.Fatalf("%d stored versions of the case's marker after the later sweep, want none", n)
		}
	})
}

// Every withdrawal writes the case's marker anew (a new stored version in
// a versioned bucket); once the withdrawals are audited — by their
// requests, or by the sweep for those whose append failed — and the sweep
// has dropped the marker, no stored version of it remains, nor a delete
// marker: neither these nor those an earlier release's sweep left hidden.
// Before, the sweep hid the marker behind a delete marker and every
// version stayed (a case id and a time each) for good.
func TestWithdrawalMarkersLeaveNoVersions(t *testing.T) {
	const n = 4
	onEachStore(t, func(t *testing.T, base func(objstore.Store) objstore.Store) {
		fo := &auditDown{}
		e := newEnvWith(t, func(s objstore.Store) objstore.Store { fo.Store = base(s); return fo })
		clk := &skewClock{}
		e.svc.SetClock(clk.now)
		ctx := t.Context()
		m := staff(policy.RoleMediator, "Mia")
		c := e.newCase(t, m, "many withdrawals")
		// A marker an earlier release's sweep hid (a delete marker over it).
		if err := e.svc.markWithdrawing(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.meta.Delete(ctx, unauditedKey(c.ID)); err != nil {
			t.Fatal(err)
		}
		from := e.log.Size()
		for i := range n {
			inv := e.invite(t, m, c.ID, NewInvite{Role: RoleParty, Side: "B", Name: fmt.Sprint("Pat ", i), Email: fmt.Sprintf("pat%d@example.com", i)})
			fo.down.Store(i%2 == 1) // every other append fails: the sweep's
			_, err := e.svc.WithdrawInvite(ctx, m, c.ID, inviteID(inv))
			fo.down.Store(false)
			if (err != nil) != (i%2 == 1) {
				t.Fatalf("withdrawal %d: %v", i, err)
			}
		}
		if v := markerVersions(t, e, c.ID); v < n+2 {
			t.Fatalf("%d stored versions of the marker after %d withdrawals and a hidden one, want one each and two", v, n)
		}
		clk.advance(StaleAfter + time.Second)
		if _, err := e.svc.SweepOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if got := count(e.entryTypes(t, from), "case.invite.withdrawn"); got != n {
			t.Fatalf("%d case.invite.withdrawn entries, want %d", got, n)
		}
		if e.marked(t, c.ID) {
			t.Fatal("the case's marker stays after the sweep")
		}
		if v := markerVersions(t, e, c.ID); v != 0 {
			t.Fatalf("%d stored versions of the case's marker after the sweep, want none", v)
		}
	})
}

// The marker of a case that is gone (its record destroyed by retention,
// which does not reach cases/unaudited/) goes in every stored version
// when the sweep comes to it. Before, the sweep hid it behind a delete
// marker, and its versions stayed for good.
func TestSweepDeletesTheMarkerOfAGoneCaseInEveryVersion(t *testing.T) {
	onEachStore(t, func(t *testing.T, base func(objstore.Store) objstore.Store) {
		e := newEnvWith(t, base)
		ctx := t.Context()
		m := staff(policy.RoleMediator, "Mia")
		c := e.newCase(t, m, "disposed of")
		for range 2 {
			if err := e.svc.markWithdrawing(ctx, c.ID); err != nil {
				t.Fatal(err)
			}
		}
		if err := deleteEveryVersion(ctx, e.meta.Objects(), caseKey(c.ID)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.SweepOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if v := markerVersions(t, e, c.ID); v != 0 {
			t.Fatalf("%d stored versions of a gone case's marker after the sweep, want none", v)
		}
	})
}
