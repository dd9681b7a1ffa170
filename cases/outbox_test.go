package cases

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// auditDown fails every write under audit/ while down is set: the audit
// log's store is briefly unavailable, the case records' is not.
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

// entryTypes returns the types of the audit entries from index from on.
func (e *env) entryTypes(t *testing.T, from int64) []string {
	t.Helper()
	var out []string
	for i := from; i < e.log.Size(); i++ {
		ev, err := e.log.Entry(t.Context(), i)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev.Type)
	}
	return out
}

func count(types []string, typ string) int {
	n := 0
	for _, x := range types {
		if x == typ {
			n++
		}
	}
	return n
}

// A disclosure whose audit entry cannot be written when it is made stands
// (the request fails), and its entry reaches the log once the store is
// back: exactly once, ahead of the case's next change. Before the outbox
// the disclosure stood with no entry, ever.
func TestDisclosureAuditedAfterAuditStoreRecovers(t *testing.T) {
	fo := &auditDown{}
	e := newEnvWith(t, func(s objstore.Store) objstore.Store { fo.Store = s; return fo })
	med := staff(policy.RoleMediator, "M")
	c := e.newCase(t, med, "Lee v. Park")
	before := e.log.Size()

	fo.down.Store(true)
	if _, err := e.svc.Disclose(t.Context(), med, c.ID, "I once worked with Lee"); err == nil {
		t.Fatal("Disclose succeeded with the audit store down")
	}
	fo.down.Store(false)

	if _, err := e.svc.AddObjective(t.Context(), med, c.ID, KindObjective, "agree on repairs"); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.Get(t.Context(), med, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Disclosures) != 1 {
		t.Fatalf("disclosures = %d, want 1", len(got.Disclosures))
	}
	types := e.entryTypes(t, before)
	if n := count(types, "case.disclosure"); n != 1 {
		t.Fatalf("entries since the case opened = %v: %d case.disclosure, want exactly 1", types, n)
	}
	d, o := -1, -1
	for i, typ := range types {
		switch typ {
		case "case.disclosure":
			d = i
		case "case.objective":
			o = i
		}
	}
	if o < 0 || d > o {
		t.Fatalf("entries = %v: want case.disclosure ahead of case.objective", types)
	}
}

// The pending event is in the record with the change while the log is
// down, no one is shown it, the case takes no new change meanwhile, and a
// plain read flushes it once the log is back (once: a second read appends
// nothing).
func TestPendingAuditEventFlushedByRead(t *testing.T) {
	fo := &auditDown{}
	e := newEnvWith(t, func(s objstore.Store) objstore.Store { fo.Store = s; return fo })
	med := staff(policy.RoleMediator, "M")
	c := e.newCase(t, med, "Lee v. Park")
	before := e.log.Size()

	fo.down.Store(true)
	if _, err := e.svc.Disclose(t.Context(), med, c.ID, "I once worked with Lee"); err == nil {
		t.Fatal("Disclose succeeded with the audit store down")
	}
	var raw Case
	if _, err := e.meta.Get(t.Context(), caseKey(c.ID), &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw.Disclosures) != 1 || len(raw.Unaudited) != 1 || raw.Unaudited[0].Event.Type != "case.disclosure" || raw.Unaudited[0].Nonce == "" {
		t.Fatalf("stored case: %d disclosures, pending %+v; want the disclosure and its event, one write", len(raw.Disclosures), raw.Unaudited)
	}
	got, err := e.svc.Get(t.Context(), med, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Unaudited != nil || got.Redacted().Unaudited != nil {
		t.Fatal("Get hands out the pending audit events")
	}
	objectives := len(got.Objectives)
	if _, err := e.svc.AddObjective(t.Context(), med, c.ID, KindObjective, "agree on repairs"); !errors.Is(err, fault.ErrUnavailable) {
		t.Fatalf("a change while events are pending: err = %v, want ErrUnavailable", err)
	}
	fo.down.Store(false)

	for range 2 {
		got, err := e.svc.Get(t.Context(), med, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Objectives) != objectives {
			t.Fatalf("the refused change stands: %+v", got.Objectives)
		}
	}
	if types := e.entryTypes(t, before); count(types, "case.disclosure") != 1 {
		t.Fatalf("entries = %v, want exactly one case.disclosure", types)
	}
	raw = Case{}
	if _, err := e.meta.Get(t.Context(), caseKey(c.ID), &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw.Unaudited) != 0 {
		t.Fatalf("still pending after the flush: %+v", raw.Unaudited)
	}
}
