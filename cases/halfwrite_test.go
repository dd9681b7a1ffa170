package cases

import (
	"context"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// auditDownEnv is an env over base's store (onEachStore) whose audit
// store fails on demand.
func auditDownEnv(t *testing.T, base func(objstore.Store) objstore.Store) (*env, *auditDown) {
	fo := &auditDown{}
	e := newEnvWith(t, func(s objstore.Store) objstore.Store { fo.Store = base(s); return fo })
	return e, fo
}

// TestCaseWithAuditDownIsNotOpened: a case whose case.created entry the
// log cannot take is not opened: the request fails, no case is listed,
// and its reference is free for the retry, which opens one case. Before,
// the case was stored first and stayed listed with no entry, and the
// retry made a second case or was refused the reference.
func TestCaseWithAuditDownIsNotOpened(t *testing.T) {
	onEachStore(t, testCaseWithAuditDownIsNotOpened)
}

func testCaseWithAuditDownIsNotOpened(t *testing.T, base func(objstore.Store) objstore.Store) {
	e, fo := auditDownEnv(t, base)
	ctx := t.Context()
	m := staff(policy.RoleMediator, "Morgan Reyes")
	e.storeStaff(t, m)
	n := NewCase{Title: "Deposit dispute", Type: "tenancy", SideLabels: []string{"Tenant", "Landlord"}, Reference: "2026-CV-0142"}
	fo.down.Store(true)
	c, err := e.svc.Create(ctx, m, n)
	if err == nil {
		t.Fatalf("case %s opened with the audit log unwritable", c.ID)
	}
	fo.down.Store(false)
	if list, err := e.svc.List(ctx, m); err != nil || len(list) != 0 {
		t.Fatalf("%d cases listed after a failed open (%v)", len(list), err)
	}
	wantIs(t, err, fault.ErrUnavailable) // try again shortly
	from := e.log.Size()
	c, err = e.svc.Create(ctx, m, n)
	if err != nil {
		t.Fatalf("opening again once the log is back: %v", err)
	}
	if list, err := e.svc.List(ctx, m); err != nil || len(list) != 1 || list[0].ID != c.ID {
		t.Fatalf("cases listed after the retry: %+v (%v)", list, err)
	}
	if types := e.entryTypes(t, from); count(types, "case.created") != 1 {
		t.Fatalf("entries after the retry: %v", types)
	}
}

// TestInviteWithAuditDownIsNotListed: an invitation whose
// case.invite.created entry the log cannot take is not made: the request
// fails and the case lists no invitation waiting, so the desk never shows
// "Invited, not joined yet" for a link nobody was shown. Before, the entry
// came after the invitation and its list marker.
func TestInviteWithAuditDownIsNotListed(t *testing.T) {
	onEachStore(t, testInviteWithAuditDownIsNotListed)
}

func testInviteWithAuditDownIsNotListed(t *testing.T, base func(objstore.Store) objstore.Store) {
	e, fo := auditDownEnv(t, base)
	ctx := t.Context()
	m := staff(policy.RoleMediator, "Morgan Reyes")
	c := e.newCase(t, m, "Deposit dispute")
	n := NewInvite{Role: RoleParty, Side: "A", Name: "Alex Tenant", Email: "alex@example.test"}
	fo.down.Store(true)
	_, err := e.svc.CreateInvite(ctx, m, c.ID, n)
	if err == nil {
		t.Fatal("an invitation was made with the audit log unwritable")
	}
	fo.down.Store(false)
	if pending, perr := e.svc.PendingInvites(ctx, m, c.ID); perr != nil || len(pending) != 0 {
		t.Fatalf("%d invitations listed after a failed invite (%v)", len(pending), perr)
	}
	wantIs(t, err, fault.ErrUnavailable)
	inv, err := e.svc.CreateInvite(ctx, m, c.ID, n)
	if err != nil {
		t.Fatalf("inviting again once the log is back: %v", err)
	}
	if pending, err := e.svc.PendingInvites(ctx, m, c.ID); err != nil || len(pending) != 1 {
		t.Fatalf("%d invitations listed after the retry (%v)", len(pending), err)
	}
	if _, err := e.svc.Join(ctx, inv.Token); err != nil {
		t.Fatalf("joining by the retry's link: %v", err)
	}
}

// landedWrite answers the first write under prefix with ErrPrecondition
// although it went through: a retried PUT whose first attempt landed.
type landedWrite struct {
	objstore.Store
	prefix atomic.Pointer[string]
}

func (f *landedWrite) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	p := f.prefix.Load()
	if p == nil || !strings.HasPrefix(key, *p) || !f.prefix.CompareAndSwap(p, nil) {
		return f.Store.Put(ctx, key, r, size, opts)
	}
	if _, err := f.Store.Put(ctx, key, r, size, opts); err != nil {
		return objstore.Info{}, err
	}
	return objstore.Info{}, objstore.ErrPrecondition
}

// TestInviteLandedDespiteItsErrorIsListed: an invitation record or list
// marker whose write landed but answered an error is listed and its link
// answered; nothing follows its entry. Before, the request failed with the record
// stored and unlisted: its link nobody had, the desk could not withdraw
// it, and it counted as a seat for its address.
func TestInviteLandedDespiteItsErrorIsListed(t *testing.T) {
	for _, what := range []string{"record", "marker"} {
		t.Run(what, func(t *testing.T) { testInviteLandedDespiteItsErrorIsListed(t, what) })
	}
}

func testInviteLandedDespiteItsErrorIsListed(t *testing.T, what string) {
	onEachStore(t, func(t *testing.T, base func(objstore.Store) objstore.Store) {
		lw := &landedWrite{}
		e := newEnvWith(t, func(s objstore.Store) objstore.Store { lw.Store = base(s); return lw })
		ctx := t.Context()
		m := staff(policy.RoleMediator, "Morgan Reyes")
		c := e.newCase(t, m, "Deposit dispute")
		from := e.log.Size()
		p := "invites/"
		if what == "marker" {
			p = caseInvitesPrefix(c.ID)
		}
		lw.prefix.Store(&p)
		inv, err := e.svc.CreateInvite(ctx, m, c.ID, NewInvite{Role: RoleParty, Side: "A", Name: "Alex Tenant", Email: "alex@example.test"})
		if err != nil {
			t.Fatalf("an invitation stored despite its write's error: %v (entries %v)", err, e.entryTypes(t, from))
		}
		if pending, err := e.svc.PendingInvites(ctx, m, c.ID); err != nil || len(pending) != 1 {
			t.Fatalf("%d invitations listed (%v)", len(pending), err)
		}
		if types := e.entryTypes(t, from); count(types, "case.invite.created") != 1 || len(types) != 1 {
			t.Fatalf("entries: %v", types)
		}
		if _, err := e.svc.Join(ctx, inv.Token); err != nil {
			t.Fatalf("joining by its link: %v", err)
		}
	})
}

// cancelledAsWritten performs the first write under prefix, then cancels
// the request (cancel) and answers context.Canceled: a client gone as its
// invitation's record landed.
type cancelledAsWritten struct {
	objstore.Store
	prefix string
	once   sync.Once
	cancel context.CancelFunc
}

func (f *cancelledAsWritten) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	hit := false
	if strings.HasPrefix(key, f.prefix) {
		f.once.Do(func() { hit = true })
	}
	if !hit {
		return f.Store.Put(ctx, key, r, size, opts)
	}
	if _, err := f.Store.Put(ctx, key, r, size, opts); err != nil {
		return objstore.Info{}, err
	}
	f.cancel()
	return objstore.Info{}, context.Canceled
}

// TestInviteCancelledAsItLandedIsListed: an invitation whose record landed
// as its request was cancelled (found by the read back) is listed: its
// marker is written on a context that outlives the caller. Before, the
// marker's write failed at once on the cancelled context and the
// invitation stayed stored and unlisted (review 293).
func TestInviteCancelledAsItLandedIsListed(t *testing.T) {
	onEachStore(t, func(t *testing.T, base func(objstore.Store) objstore.Store) {
		cw := &cancelledAsWritten{prefix: "invites/"}
		e := newEnvWith(t, func(s objstore.Store) objstore.Store { cw.Store = base(s); return cw })
		m := staff(policy.RoleMediator, "Morgan Reyes")
		c := e.newCase(t, m, "Deposit dispute")
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		cw.cancel = cancel
		e.svc.CreateInvite(ctx, m, c.ID, NewInvite{Role: RoleParty, Side: "A", Name: "Alex Tenant", Email: "alex@example.test"})
		if pending, err := e.svc.PendingInvites(t.Context(), m, c.ID); err != nil || len(pending) != 1 {
			t.Fatalf("%d invitations listed after a request cancelled as its record landed (%v)", len(pending), err)
		}
	})
}
