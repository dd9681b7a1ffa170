package cases

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// checkpointDown fails the audit log's checkpoint writes on demand: an
// append then writes its entry and answers its index with an error.
type checkpointDown struct {
	objstore.Store
	down atomic.Bool
}

func (f *checkpointDown) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if f.down.Load() && strings.HasPrefix(key, "audit/checkpoint") {
		return objstore.Info{}, errors.New("injected: checkpoint not written")
	}
	return f.Store.Put(ctx, key, r, size, opts)
}

// TestWrittenEntryWithCheckpointDownCounts: an append that wrote its
// entry but could not publish the checkpoint (its index with an error)
// counts as audited: the case is opened and the invitation made, so the
// log never holds case.created or case.invite.created for something never
// stored with no entry following it. Before, the error alone was read:
// the case was not stored, its reference was given back, and the entry
// stood uncorrected.
func TestWrittenEntryWithCheckpointDownCounts(t *testing.T) {
	onEachStore(t, func(t *testing.T, base func(objstore.Store) objstore.Store) {
		fo := &checkpointDown{}
		e := newEnvWith(t, func(s objstore.Store) objstore.Store { fo.Store = base(s); return fo })
		ctx := t.Context()
		m := staff(policy.RoleMediator, "Morgan Reyes")
		e.storeStaff(t, m)
		from := e.log.Size()
		fo.down.Store(true)
		c, err := e.svc.Create(ctx, m, NewCase{Title: "Deposit dispute", Type: "tenancy", SideLabels: []string{"Tenant", "Landlord"}, Reference: "2026-CV-0142"})
		if err != nil {
			t.Fatalf("opening a case whose entry was written: %v (entries %v)", err, e.entryTypes(t, from))
		}
		if list, err := e.svc.List(ctx, m); err != nil || len(list) != 1 || list[0].ID != c.ID {
			t.Fatalf("cases listed: %+v (%v)", list, err)
		}
		if _, err := e.svc.CreateInvite(ctx, m, c.ID, NewInvite{Role: RoleParty, Side: "A", Name: "Alex Tenant", Email: "alex@example.test"}); err != nil {
			t.Fatalf("inviting with its entry written: %v", err)
		}
		if pending, err := e.svc.PendingInvites(ctx, m, c.ID); err != nil || len(pending) != 1 {
			t.Fatalf("%d invitations listed (%v)", len(pending), err)
		}
		types := e.entryTypes(t, from)
		if count(types, "case.created") != 1 || count(types, "case.invite.created") != 1 || count(types, "case.created.failed") != 0 || count(types, "case.invite.created.failed") != 0 {
			t.Fatalf("entries: %v", types)
		}
	})
}
