package retention

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// outboxStore fails every write under audit/ while down is set (the audit
// log briefly unavailable, the records' store fine), and runs beforeList
// once, just before the first listing of stored versions under
// listPrefix begins.
type outboxStore struct {
	objstore.Store
	down       atomic.Bool
	mu         sync.Mutex
	listPrefix string
	beforeList func()
}

func (o *outboxStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if o.down.Load() && strings.HasPrefix(key, "audit/") {
		return objstore.Info{}, errors.New("injected: audit store down")
	}
	return o.Store.Put(ctx, key, r, size, opts)
}

func (o *outboxStore) VersionsUnder(ctx context.Context, prefix string, fn func(objstore.Version) error) error {
	o.mu.Lock()
	var f func()
	if prefix == o.listPrefix {
		f, o.beforeList = o.beforeList, nil
	}
	o.mu.Unlock()
	if f != nil {
		f()
	}
	return o.Store.VersionsUnder(ctx, prefix, fn)
}

// outboxWorld is one closed case with every class due, planned and
// approved: its next apply disposes of all of it, case record included.
func outboxWorld(t *testing.T) (*env, *outboxStore, *testCase) {
	t.Helper()
	dir, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := &outboxStore{Store: dir}
	e := newEnv(t, st)
	ctx := t.Context()
	for _, class := range policy.CaseClasses() {
		if _, err := e.setRule(ctx, policy.RetentionRule{Class: class, Trigger: policy.TriggerCaseClosed, Days: 30}); err != nil {
			t.Fatal(err)
		}
	}
	tc := e.newCase(t, nil)
	return e, st, tc
}

// planClosed closes tc, moves the clock past its periods, and plans and approves.
func (e *env) planClosed(t *testing.T, tc *testCase) Plan {
	t.Helper()
	ctx := t.Context()
	e.close(t, tc)
	e.clock = e.clock.Add(month)
	p, err := e.ret.MakePlan(ctx, e.records, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.approve(ctx, e.records2, p.ID); err != nil {
		t.Fatal(err)
	}
	return p
}

// entriesOf counts the audit entries of one type about one case.
func (e *env) entriesOf(t *testing.T, typ, caseID string) int {
	t.Helper()
	n := 0
	for i := range e.log.Size() {
		ev, err := e.log.Entry(t.Context(), i)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == typ && ev.Case == caseID {
			n++
		}
	}
	return n
}

// Review M1: a closed case still takes changes (a disclosure, an
// acknowledgement, a recusal, the outcome, a room closed, a mediator
// activated by a read). Before, retention checked the case's outbox and
// only later deleted the record: a disclosure made in between, answered
// as done while the audit log refused its entry, went with the record and
// never reached the log. Now the case is fenced (one conditional write)
// before the check: the change is refused (410) or its event is appended
// before the record is deleted.
func TestChangeDuringDisposalIsNotLost(t *testing.T) {
	t.Parallel()
	e, st, tc := outboxWorld(t)
	ctx := t.Context()
	p := e.planClosed(t, tc)
	reached := false
	var changeErr error
	e.ret.hook = func(step string) error {
		// Between the check of the case's outbox and the deletion of
		// its record, a disclosure whose own append fails.
		if step == "case-journal" && !reached {
			reached = true
			st.down.Store(true)
			_, changeErr = e.cases.Disclose(ctx, e.mediator, tc.id, "I once advised the employer")
			st.down.Store(false)
		}
		return nil
	}
	pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil)
	if !reached {
		t.Fatal("the apply never reached the case record's journal")
	}
	if err != nil || !pr.Done {
		t.Fatalf("apply: %v %+v", err, pr)
	}
	if n := e.versionsOf(t, "cases/"+tc.id+"/case"); n != 0 {
		t.Fatalf("the case record has %d stored versions left", n)
	}
	switch n := e.entriesOf(t, "case.disclosure", tc.id); {
	case changeErr == nil && n == 0:
		t.Fatal("a disclosure answered as done during the case's disposal has no audit entry: its event was deleted with the case record")
	case changeErr != nil && !errors.Is(changeErr, fault.ErrGone):
		t.Fatalf("the disclosure during disposal: %v, want it refused as gone (410: the case is being disposed of)", changeErr)
	}
}

// A carry decision that lands after retention checked the case's carries
// (keydir reads the case's fence before it writes, not atomically with
// it), and whose own append fails: before, the carry record was deleted
// with its event, which never reached the log. Now what a deletion
// destroys is audited first (auditListed).
func TestCarryDecidedDuringDisposalIsAudited(t *testing.T) {
	t.Parallel()
	e, st, tc := outboxWorld(t)
	ctx := t.Context()
	type carry struct {
		ID        string               `json:"id"`
		Case      string               `json:"case"`
		Unaudited []cases.PendingEvent `json:"unaudited,omitempty"`
	}
	crID := ids.New("cr")
	key := "keydir/carries/" + tc.id + "/" + crID
	if _, err := e.meta.Create(ctx, key, carry{ID: crID, Case: tc.id}); err != nil {
		t.Fatal(err)
	}
	p := e.planClosed(t, tc)
	st.mu.Lock()
	st.listPrefix = "keydir/carries/" + tc.id + "/"
	st.beforeList = func() {
		now := time.Now().UTC()
		if _, err := metastore.Update(ctx, e.meta, key, func(c *carry) error {
			c.Unaudited = append(c.Unaudited, cases.PendingEvent{Nonce: ids.Token(), Queued: now,
				Event: audit.Event{Type: "e2ee.carry.consented", Actor: tc.party, Case: tc.id, Objects: []string{crID}, Time: now}})
			return nil
		}); err != nil {
			t.Error(err)
		}
	}
	st.mu.Unlock()
	pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil)
	if err != nil || !pr.Done {
		t.Fatalf("apply: %v %+v", err, pr)
	}
	st.mu.Lock()
	fired := st.beforeList == nil
	st.mu.Unlock()
	if !fired {
		t.Fatal("the apply never listed the case's carries")
	}
	if n := e.versionsOf(t, key); n != 0 {
		t.Fatalf("the carry record has %d stored versions left", n)
	}
	if n := e.entriesOf(t, "e2ee.carry.consented", tc.id); n != 1 {
		t.Fatalf("%d e2ee.carry.consented entries, want 1: the consent pending in the carry record was deleted with it", n)
	}
}
