package retention

import (
	"context"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/objstore"
)

type orderStore struct {
	*outboxStore
	after func(key string)
}

func (o *orderStore) DeleteVersions(ctx context.Context, vs []objstore.Info) []error {
	errs := make([]error, len(vs))
	for i, v := range vs { // as objstore.Dir.DeleteVersions does: one at a time, in the order given
		errs[i] = o.outboxStore.DeleteVersions(ctx, []objstore.Info{v})[0]
		if o.after != nil {
			o.after(v.Key)
		}
	}
	return errs
}

func TestDisposalNeverExposesOlderCaseState(t *testing.T) {
	t.Parallel()
	e, st, tc := outboxWorld(t)
	ctx := t.Context()
	p := e.planClosed(t, tc)
	os := &orderStore{outboxStore: st}
	e.ret.store = os
	seen := 0
	os.after = func(key string) {
		if !strings.HasSuffix(key, tc.id+"/case") {
			return
		}
		if c, err := e.cases.Load(context.Background(), tc.id); err == nil {
			seen++
			t.Logf("current again: disposing=%v closed=%v", c.Disposing, c.Closed)
		}
	}
	if pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err != nil || !pr.Done {
		t.Fatalf("apply: %v %+v", err, pr)
	}
	if seen > 0 {
		t.Fatalf("an older (unfenced) state of the case record was current %d times during its deletion", seen)
	}
}

func TestDisposalChangeDuringRecordDeletionRefused(t *testing.T) {
	t.Parallel()
	e, st, tc := outboxWorld(t)
	ctx := t.Context()
	p := e.planClosed(t, tc)
	os := &orderStore{outboxStore: st}
	e.ret.store = os
	done := false
	var changeErr error
	os.after = func(key string) {
		if done || !strings.HasSuffix(key, tc.id+"/case") {
			return
		}
		done = true
		st.down.Store(true)
		_, changeErr = e.cases.Disclose(context.Background(), e.mediator, tc.id, "I once advised the employer")
		st.down.Store(false)
	}
	if pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err != nil || !pr.Done {
		t.Fatalf("apply: %v %+v", err, pr)
	}
	n := e.versionsOf(t, "cases/"+tc.id+"/case")
	if changeErr == nil && n > 0 {
		t.Fatalf("case record survives its certified destruction (%d versions), holding a change accepted during the deletion", n)
	}
}
