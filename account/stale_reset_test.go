package account

import (
	"errors"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/fault"
)

// TestStaleResetRequestCannotBeApproved: a waiting password reset request
// older than ResetRequestLifetime is refused at approval
// (ErrResetRequestStale, a conflict that is also ErrNoPendingReset) and
// the password is left as it was; one a minute younger is approved. A new
// request replaces the stale one (its requester and time), and that one
// is approved. Time moves by the service's clock.
func TestStaleResetRequestCannotBeApproved(t *testing.T) {
	svc, _ := newService(t)
	ctx := t.Context()
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	svc.SetClock(func() time.Time { return at })
	first := createAdmin(t, svc, "first@example.org", nil)
	second := createAdmin(t, svc, "second@example.org", nil)
	med := createMediator(t, svc, "med@example.org")

	if _, err := svc.RequestReset(ctx, med.ID, first.ID, nil); err != nil {
		t.Fatal(err)
	}
	at = at.Add(ResetRequestLifetime + time.Minute)
	if !svc.ResetRequestStale(mustGet(t, svc, med.ID).PendingReset) {
		t.Fatal("a request a week and a minute old is not stale")
	}
	_, pw, err := svc.ApproveReset(ctx, med.ID, first.ID, second.ID, nil)
	if !errors.Is(err, ErrResetRequestStale) || !errors.Is(err, ErrNoPendingReset) || !errors.Is(err, fault.ErrConflict) || pw != "" {
		t.Fatalf("approving a request a week and a minute old: %q, %v; want ErrResetRequestStale, a conflict", pw, err)
	}
	if got := mustGet(t, svc, med.ID); got.PasswordHash != med.PasswordHash || got.PasswordChangeRequired {
		t.Fatal("the refused approval changed the password")
	}

	// Asked for again: the new request replaces the stale one.
	again, err := svc.RequestReset(ctx, med.ID, second.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := again.PendingReset; p == nil || p.RequestedBy != second.ID || !p.Requested.Equal(at) {
		t.Fatalf("the request made again: %+v, want %s's at %s", p, second.ID, at)
	}
	// A minute short of the lifetime it still stands.
	at = at.Add(ResetRequestLifetime - time.Minute)
	if _, pw, err := svc.ApproveReset(ctx, med.ID, second.ID, first.ID, nil); err != nil || pw == "" {
		t.Fatalf("approving a request a minute short of a week old: %v", err)
	}
}

func mustGet(t *testing.T, svc *Service, id string) Account {
	t.Helper()
	a, err := svc.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestListingSaysStale: the listing (what the People screen shows) says
// whether a waiting reset request is stale by the service's clock, with
// the rule approval applies, so that a page need not trust its device's
// clock: not at five days old, stale at eight.
func TestListingSaysStale(t *testing.T) {
	svc, _ := newService(t)
	ctx := t.Context()
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	svc.SetClock(func() time.Time { return at })
	first := createAdmin(t, svc, "first@example.org", nil)
	med := createMediator(t, svc, "med@example.org")
	if _, err := svc.RequestReset(ctx, med.ID, first.ID, nil); err != nil {
		t.Fatal(err)
	}
	listed := func() bool {
		t.Helper()
		list, err := svc.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range list {
			if a.ID == med.ID {
				if a.PendingReset == nil {
					t.Fatal("the listing lost the waiting request")
				}
				return a.PendingReset.Stale
			}
		}
		t.Fatal("the mediator is not listed")
		return false
	}
	at = at.Add(5 * 24 * time.Hour)
	if listed() {
		t.Fatal("a request five days old is listed as stale")
	}
	at = at.Add(3 * 24 * time.Hour)
	if !listed() {
		t.Fatal("a request eight days old is not listed as stale")
	}
	if v := svc.View(mustGet(t, svc, med.ID)); v.PendingReset == nil || !v.PendingReset.Stale {
		t.Fatalf("View of an eight-day-old request: %+v, want stale", v.PendingReset)
	}
}
