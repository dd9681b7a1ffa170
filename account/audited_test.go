package account

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

// landsThenFails writes the next account record it is armed for, then
// answers an error (a deadline after the write): the store committed and
// the caller was told it failed.
type landsThenFails struct {
	objstore.Store
	armed atomic.Bool
}

func (f *landsThenFails) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	info, err := f.Store.Put(ctx, key, r, size, opts)
	if err == nil && strings.HasPrefix(key, "accounts/") && f.armed.CompareAndSwap(true, false) {
		return objstore.Info{}, context.DeadlineExceeded
	}
	return info, err
}

// TestResetThatLandedDespiteAnErrorAnswersItsPassword: a reset whose
// write landed though the store answered an error is read back and
// answered as done, temporary password included (it is the account's
// password now: throwing it away would lock the person out); one refused
// before its entry (no request waiting) appends nothing.
func TestResetThatLandedDespiteAnErrorAnswersItsPassword(t *testing.T) {
	var f *landsThenFails
	svc := newServiceOver(t, t.TempDir(), func(obj objstore.Store) objstore.Store { f = &landsThenFails{Store: obj}; return f })
	ctx := t.Context()
	a, err := svc.Create(ctx, NewAccount{Email: "landed@example.org", Name: "Mia Mediator", Role: policy.RoleMediator, Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := svc.Create(ctx, NewAccount{Email: "admin@example.org", Name: "Ada Admin", Role: policy.RoleAdmin, Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	audited := 0
	audit := func(context.Context, Account) error { audited++; return nil }
	if _, _, err := svc.ApproveReset(ctx, a.ID, "u_nobody", admin.ID, audit); err == nil || audited != 0 {
		t.Fatalf("approving a reset nobody requested: %v, %d entries", err, audited)
	}
	f.armed.Store(true)
	got, pw, err := svc.ResetPassword(ctx, a.ID, admin.ID, audit)
	if err != nil || pw == "" || audited != 1 {
		t.Fatalf("a reset that landed: %q %v (%d entries)", pw, err, audited)
	}
	if ok, err := checkPassword(got.PasswordHash, pw); err != nil || !ok {
		t.Fatalf("the answered password is not the account's: %v", err)
	}
	// An audit that fails stops the change: the password stays.
	down := errors.New("audit down")
	if _, _, err := svc.ResetPassword(ctx, a.ID, admin.ID, func(context.Context, Account) error { return down }); !errors.Is(err, down) {
		t.Fatalf("a reset with the log down: %v", err)
	}
	now, err := svc.Get(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := checkPassword(now.PasswordHash, pw); !ok {
		t.Fatal("a reset the log could not hold changed the password")
	}
}
