package account

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// landsThenFails writes the next account record it is armed for, then
// answers an error (a deadline after the write): the store committed and
// the caller was told it failed.
type landsThenFails struct {
	objstore.Store
	armed atomic.Bool
	// precondition: answer as a conditional PUT retried after it landed
	// does (412), not with a deadline.
	precondition bool
}

func (f *landsThenFails) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	info, err := f.Store.Put(ctx, key, r, size, opts)
	if err == nil && strings.HasPrefix(key, "accounts/") && f.armed.CompareAndSwap(true, false) {
		if f.precondition {
			return objstore.Info{}, objstore.ErrPrecondition
		}
		return objstore.Info{}, context.DeadlineExceeded
	}
	return info, err
}

// TestChangeThatLandedDespiteA412IsDone: a conditional PUT retried after
// it landed comes back 412, and the change, run again on the record it
// wrote itself, would refuse (the request it saw is no longer waiting).
// Such a write is answered as done, its one entry standing: before, asking
// for a reset was answered "another administrator acted on it" while the
// request stood as the asker's, and an approval threw away the temporary
// password of a reset that had landed.
func TestChangeThatLandedDespiteA412IsDone(t *testing.T) {
	var f *landsThenFails
	svc := newServiceOver(t, t.TempDir(), func(obj objstore.Store) objstore.Store { f = &landsThenFails{Store: obj, precondition: true}; return f })
	ctx := t.Context()
	first := createAdmin(t, svc, "first@example.org", nil)
	second := createAdmin(t, svc, "second@example.org", nil)
	med := createMediator(t, svc, "med@example.org")
	audited := 0
	audit := func(context.Context, Account) error { audited++; return nil }
	f.armed.Store(true)
	got, err := svc.RequestReset(ctx, med.ID, first.ID, func(ctx context.Context, next Account, _ string) error { return audit(ctx, next) })
	if err != nil || audited != 1 || got.PendingReset == nil || got.PendingReset.RequestedBy != first.ID {
		t.Fatalf("a request that landed, answered 412: %+v %v (%d entries)", got.PendingReset, err, audited)
	}
	f.armed.Store(true)
	approved, pw, err := svc.ApproveReset(ctx, med.ID, first.ID, second.ID, audit)
	if err != nil || pw == "" || audited != 2 {
		t.Fatalf("an approval that landed, answered 412: %q %v (%d entries)", pw, err, audited)
	}
	if ok, err := checkPassword(approved.PasswordHash, pw); err != nil || !ok {
		t.Fatalf("the answered password is not the account's: %v", err)
	}
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

// failsAccountWrite fails the next account record write it is armed for,
// before the store is touched.
type failsAccountWrite struct {
	objstore.Store
	armed atomic.Bool
}

var errAccountWriteDown = errors.New("the store refused the account write")

func (f *failsAccountWrite) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if strings.HasPrefix(key, "accounts/") && f.armed.CompareAndSwap(true, false) {
		return objstore.Info{}, errAccountWriteDown
	}
	return f.Store.Put(ctx, key, r, size, opts)
}

// TestCreateWhoseWriteFailedFreesItsEmail: an account whose record could
// not be written (and is not there) gives its email back, so the retry
// makes it rather than answering that an account with this email exists;
// the email names the account the retry made.
func TestCreateWhoseWriteFailedFreesItsEmail(t *testing.T) {
	testenv.OnEachStore(t, func(t *testing.T, store objstore.Store) {
		f := &failsAccountWrite{Store: store}
		svc := newServiceOn(t, f)
		ctx := t.Context()
		email := ids.New("e") + "@example.org"
		n := NewAccount{Email: email, Name: "Mia Mediator", Role: policy.RoleMediator, Password: testPassword}
		f.armed.Store(true)
		if _, err := svc.Create(ctx, n); !errors.Is(err, errAccountWriteDown) {
			t.Fatalf("a create whose account write failed: %v", err)
		}
		if _, err := svc.ByEmail(ctx, email); !errors.Is(err, fault.ErrNotFound) {
			t.Fatalf("the failed create's email still names an account: %v", err)
		}
		a, err := svc.Create(ctx, n)
		if err != nil {
			t.Fatalf("the retry: %v", err)
		}
		got, err := svc.ByEmail(ctx, email)
		if err != nil || got.ID != a.ID {
			t.Fatalf("the email names %q (%v), want the retry's %s", got.ID, err, a.ID)
		}
		// A second account with that email is still refused.
		if _, err := svc.Create(ctx, n); !errors.Is(err, fault.ErrConflict) {
			t.Fatalf("a second account with a taken email: %v", err)
		}
	})
}

// landsLate cuts the next account record write it is armed for short (a
// deadline, nothing written yet) and keeps it: land writes it afterwards,
// as a request the store had already taken would.
type landsLate struct {
	objstore.Store
	armed atomic.Bool
	land  func(context.Context) error
}

func (f *landsLate) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if strings.HasPrefix(key, "accounts/") && f.armed.CompareAndSwap(true, false) {
		body, err := io.ReadAll(r)
		if err != nil {
			return objstore.Info{}, err
		}
		f.land = func(ctx context.Context) error {
			_, err := f.Store.Put(ctx, key, bytes.NewReader(body), int64(len(body)), opts)
			return err
		}
		return objstore.Info{}, context.DeadlineExceeded
	}
	return f.Store.Put(ctx, key, r, size, opts)
}

// TestCreateCutShortIsOfUnknownOutcome: a create whose account write was
// cut short (it may still land) is answered as of unknown outcome
// (ErrOutcomeUnknown: its entries are settled ".unknown", not ".failed"),
// keeps its email, and the record that lands afterwards is the account.
func TestCreateCutShortIsOfUnknownOutcome(t *testing.T) {
	var f *landsLate
	svc := newServiceOver(t, t.TempDir(), func(obj objstore.Store) objstore.Store { f = &landsLate{Store: obj}; return f })
	ctx := t.Context()
	email := "late@example.org"
	f.armed.Store(true)
	_, err := svc.Create(ctx, NewAccount{Email: email, Name: "Mia Mediator", Role: policy.RoleMediator, Password: testPassword})
	if !errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("a create cut short: %v, want ErrOutcomeUnknown", err)
	}
	if f.land == nil {
		t.Fatal("the account write was not cut short")
	}
	if err := f.land(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := svc.ByEmail(ctx, email)
	if err != nil || got.Name != "Mia Mediator" {
		t.Fatalf("the account that landed late: %+v %v", got, err)
	}
}

// racesOnce runs race once, inside the next account write it is armed
// for, before that write reaches the store: another request's change
// landing between a change's read and its conditional write.
type racesOnce struct {
	objstore.Store
	race atomic.Pointer[func()]
}

func (f *racesOnce) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if strings.HasPrefix(key, "accounts/") {
		if race := f.race.Swap(nil); race != nil {
			(*race)()
		}
	}
	return f.Store.Put(ctx, key, r, size, opts)
}

// TestDeclineLosingToAnApprovalIsRefused: a decline and an approval of the
// same waiting reset, the approval landing first, cannot both be answered
// done: the decline is refused (no request waiting), though the approval
// left the account with no request waiting too. Before, its run after the
// conflict took the cleared request for its own write, and the log held a
// decline that never happened beside the approval.
func TestDeclineLosingToAnApprovalIsRefused(t *testing.T) {
	f := &racesOnce{}
	svc := newServiceOver(t, t.TempDir(), func(obj objstore.Store) objstore.Store { f.Store = obj; return f })
	ctx := t.Context()
	first := createAdmin(t, svc, "first@example.org", nil)
	second := createAdmin(t, svc, "second@example.org", nil)
	med := createMediator(t, svc, "med@example.org")
	if _, err := svc.RequestReset(ctx, med.ID, first.ID, nil); err != nil {
		t.Fatal(err)
	}
	var pw string
	race := func() {
		var err error
		if _, pw, err = svc.ApproveReset(ctx, med.ID, first.ID, second.ID, nil); err != nil {
			t.Errorf("the approval: %v", err)
		}
	}
	f.race.Store(&race)
	if _, err := svc.DeclineReset(ctx, med.ID, nil); !errors.Is(err, ErrNoPendingReset) {
		t.Fatalf("a decline the approval beat: %v; want ErrNoPendingReset", err)
	}
	if got := mustGet(t, svc, med.ID); pw == "" || !got.PasswordChangeRequired {
		t.Fatal("the approval that landed first did not stand")
	}
}
