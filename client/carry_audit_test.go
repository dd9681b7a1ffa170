package client_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/keydir"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/server"
)

// auditDown fails every write under audit/ while down is set: the audit
// log is briefly unwritable, the records are not.
type auditDown struct {
	objstore.Store
	down atomic.Bool
}

func (f *auditDown) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if f.down.Load() && strings.HasPrefix(key, "audit/") {
		return objstore.Info{}, errors.New("injected: audit store down")
	}
	return f.Store.Put(ctx, key, r, size, opts)
}

// TestCarryAuditedWhenTheAuditStoreFails: a carry proposal that cannot be
// audited does not stand (before, its record stayed with no entry, and a
// retry made a second one); a consent that cannot be audited stands with
// its event pending in the carry record, and the author's next decision
// appends it ahead of its own.
func TestCarryAuditedWhenTheAuditStoreFails(t *testing.T) {
	t.Parallel()
	fo := &auditDown{}
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(), WrapStore: func(s objstore.Store) objstore.Store { fo.Store = s; return fo }})
	tc := seedE2EE(t, n)
	ctx := context.Background()
	med := open(t, tc.med, tc.caseID, client.SecureOptions{})
	a := open(t, tc.a, tc.caseID, client.SecureOptions{})
	orig := send(t, a, "caucus:A", "we would settle for the deposit")
	expect(t, med, "caucus:A")
	before := n.Audit.Size()
	prefix := "keydir/carries/" + tc.caseID + "/"
	carries := func() int {
		c := 0
		if err := n.Meta.List(ctx, prefix, func(string) error { c++; return nil }); err != nil {
			t.Fatal(err)
		}
		return c
	}

	fo.down.Store(true)
	if _, err := med.ProposeCarry(ctx, "caucus:A", orig.Pos(), "may I share this?"); err == nil {
		t.Fatal("a proposal succeeded with the audit log unwritable")
	}
	fo.down.Store(false)
	if c := carries(); c != 0 {
		t.Fatalf("%d unaudited carry proposal(s) stand", c)
	}
	id, err := med.ProposeCarry(ctx, "caucus:A", orig.Pos(), "may I share this?")
	if err != nil {
		t.Fatal(err)
	}
	proposal := expect(t, a, "caucus:A")
	for proposal.Kind != e2ee.KindCarryProposal {
		proposal = expect(t, a, "caucus:A")
	}

	fo.down.Store(true)
	if _, err := a.ApproveCarry(ctx, proposal); err == nil {
		t.Fatal("a consent succeeded with the audit log unwritable")
	}
	fo.down.Store(false)
	var raw keydir.Carry
	if _, err := n.Meta.Get(ctx, prefix+id, &raw); err != nil {
		t.Fatal(err)
	}
	if raw.Consented == nil || len(raw.Unaudited) != 1 || raw.Unaudited[0].Event.Type != "e2ee.carry.consented" {
		t.Fatalf("stored carry: consented %v, pending %+v; want the consent and its event, one write", raw.Consented, raw.Unaudited)
	}
	if v := raw.View(); v.ID != id || v.Consented == nil {
		t.Fatalf("view %+v", v)
	}
	if _, err := a.ApproveCarry(ctx, proposal); err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := before; i < n.Audit.Size(); i++ {
		ev, err := n.Audit.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(ev.Type, "e2ee.carry.") {
			if ev.Objects[0] != id {
				t.Fatalf("an entry about carry %s, not %s: %+v", ev.Objects[0], id, ev)
			}
			got = append(got, ev.Type)
		}
	}
	if want := "e2ee.carry.proposed e2ee.carry.consented e2ee.carry.consented"; strings.Join(got, " ") != want {
		t.Fatalf("carry entries = %v, want %s", got, want)
	}
	raw = keydir.Carry{}
	if _, err := n.Meta.Get(ctx, prefix+id, &raw); err != nil || len(raw.Unaudited) != 0 {
		t.Fatalf("still pending: %+v, %v", raw.Unaudited, err)
	}
}
