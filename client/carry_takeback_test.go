package client_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/keydir"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/server"
)

// auditAndTakeBackDown fails the next auditFails writes under audit/ and,
// while noDelete is set, every delete under keydir/carries/: a proposal
// can be neither audited nor taken back.
type auditAndTakeBackDown struct {
	objstore.Store
	auditFails atomic.Int32
	noDelete   atomic.Bool
}

func (f *auditAndTakeBackDown) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if strings.HasPrefix(key, "audit/") && f.auditFails.Add(-1) >= 0 {
		return objstore.Info{}, errors.New("injected: audit store down")
	}
	return f.Store.Put(ctx, key, r, size, opts)
}

func (f *auditAndTakeBackDown) Delete(ctx context.Context, key, versionID string) error {
	if f.noDelete.Load() && strings.HasPrefix(key, "keydir/carries/") {
		return errors.New("injected: delete failed")
	}
	return f.Store.Delete(ctx, key, versionID)
}

// A carry proposal that can be neither audited nor taken back (review
// M3): before, its record kept the pending event and the client's retry
// used a new id, so nothing ever appended it. Now the append is tried once
// more (the proposal then stands, audited), and failing that the event
// waits in the record for keydir.FlushCarries, which retention calls
// before disposing of the case's carries.
func TestCarryProposalNotTakenBackIsFlushedLater(t *testing.T) {
	t.Parallel()
	fo := &auditAndTakeBackDown{}
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(), WrapStore: func(s objstore.Store) objstore.Store { fo.Store = s; return fo }})
	tc := seedE2EE(t, n)
	ctx := context.Background()
	med := open(t, tc.med, tc.caseID, client.SecureOptions{})
	a := open(t, tc.a, tc.caseID, client.SecureOptions{})
	orig := send(t, a, "caucus:A", "we would settle for the deposit")
	expect(t, med, "caucus:A")
	prefix := "keydir/carries/" + tc.caseID + "/"
	proposed := func(from int64) int {
		c := 0
		for i := from; i < n.Audit.Size(); i++ {
			ev, err := n.Audit.Entry(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Type == "e2ee.carry.proposed" {
				c++
			}
		}
		return c
	}
	pendingCarries := func() (ids []string) {
		if err := n.Meta.List(ctx, prefix, func(key string) error {
			var cr keydir.Carry
			if _, err := n.Meta.Get(ctx, key, &cr); err != nil {
				return err
			}
			if len(cr.Unaudited) > 0 {
				ids = append(ids, cr.ID)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return ids
	}

	// The first append fails, the take-back fails, the second append
	// succeeds: the proposal stands, audited once.
	before := n.Audit.Size()
	fo.noDelete.Store(true)
	fo.auditFails.Store(1)
	if _, err := med.ProposeCarry(ctx, "caucus:A", orig.Pos(), "may I share this?"); err != nil {
		t.Fatalf("a proposal whose second append succeeded: %v", err)
	}
	if c := proposed(before); c != 1 {
		t.Fatalf("%d e2ee.carry.proposed entries, want 1", c)
	}
	if p := pendingCarries(); len(p) != 0 {
		t.Fatalf("carries %v hold pending events", p)
	}

	// Every append fails and so does the take-back: the event waits in
	// the record, and FlushCarries appends it once the log takes writes.
	before = n.Audit.Size()
	fo.auditFails.Store(1 << 20)
	if _, err := med.ProposeCarry(ctx, "caucus:A", orig.Pos(), "may I share this?"); err == nil {
		t.Fatal("a proposal succeeded with the audit log unwritable")
	}
	fo.auditFails.Store(0)
	fo.noDelete.Store(false)
	if p := pendingCarries(); len(p) != 1 {
		t.Fatalf("carries with pending events = %v, want the one not taken back", p)
	}
	if pending, err := n.KeyDir.FlushCarries(ctx, tc.caseID); err != nil || pending != 0 {
		t.Fatalf("FlushCarries = %d, %v; want 0, nil", pending, err)
	}
	if c := proposed(before); c != 1 {
		t.Fatalf("%d e2ee.carry.proposed entries after the flush, want 1", c)
	}
	if p := pendingCarries(); len(p) != 0 {
		t.Fatalf("carries %v still hold pending events", p)
	}
}
