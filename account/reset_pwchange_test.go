package account

import (
	"context"
	"testing"

	"github.com/parley-mediation/parley/internal/hashcost"
	"github.com/parley-mediation/parley/objstore"
)

// TestResetDecisionsOverAChangedPasswordThatLandedAreDone: a password
// change no longer withdraws a waiting reset, so the approval or decline
// of a request may be written over a password changed since the request
// (or since the decline read the account). Such a write that landed
// though the store answered 412 (a conditional PUT retried after it
// landed) is still answered as done: the approval by the temporary
// password it wrote, the decline by the password it wrote over. Before,
// the decline read itself as landed only with the password it had first
// read, and answered a decline that stood "no reset is waiting".
func TestResetDecisionsOverAChangedPasswordThatLandedAreDone(t *testing.T) {
	hashcost.UseTestCost()
	const addr = "192.0.2.7"
	t.Run("approval", func(t *testing.T) {
		var f *landsThenFails
		svc := newServiceOver(t, t.TempDir(), func(obj objstore.Store) objstore.Store { f = &landsThenFails{Store: obj, precondition: true}; return f })
		ctx := t.Context()
		first := createAdmin(t, svc, "first@example.org", nil)
		second := createAdmin(t, svc, "second@example.org", nil)
		med := createMediator(t, svc, "med@example.org")
		if _, err := svc.RequestReset(ctx, med.ID, first.ID, nil); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := svc.ChangePassword(ctx, med.ID, testPassword, otherPassword, addr, nil); err != nil {
			t.Fatalf("changing the password while the reset waits: %v", err)
		}
		f.armed.Store(true)
		approved, pw, err := svc.ApproveReset(ctx, med.ID, first.ID, second.ID, nil)
		if err != nil || pw == "" {
			t.Fatalf("an approval over a changed password that landed, answered 412: %q %v", pw, err)
		}
		if ok, err := checkPassword(approved.PasswordHash, pw); err != nil || !ok {
			t.Fatalf("the answered password is not the account's: %v", err)
		}
		if ok, _ := checkPassword(mustGet(t, svc, med.ID).PasswordHash, otherPassword); ok {
			t.Fatal("the password chosen while the reset waited survived the approval")
		}
	})
	t.Run("decline", func(t *testing.T) {
		// The change lands between the decline's read and its write; the
		// decline's write, run again after that conflict, lands and is
		// answered 412.
		var lands *landsThenFails
		races := &racesOnce{}
		svc := newServiceOver(t, t.TempDir(), func(obj objstore.Store) objstore.Store {
			lands = &landsThenFails{Store: obj, precondition: true}
			races.Store = lands
			return races
		})
		ctx := t.Context()
		first := createAdmin(t, svc, "first@example.org", nil)
		med := createMediator(t, svc, "med@example.org")
		if _, err := svc.RequestReset(ctx, med.ID, first.ID, nil); err != nil {
			t.Fatal(err)
		}
		race := func() {
			if _, _, _, err := svc.ChangePassword(ctx, med.ID, testPassword, otherPassword, addr, nil); err != nil {
				t.Errorf("the password change: %v", err)
			}
			lands.armed.Store(true)
		}
		races.race.Store(&race)
		audited := 0
		got, err := svc.DeclineReset(ctx, med.ID, func(context.Context, Account) error { audited++; return nil })
		if err != nil || got.PendingReset != nil || audited != 1 {
			t.Fatalf("a decline over a changed password that landed, answered 412: %+v %v (%d entries)", got.PendingReset, err, audited)
		}
		if lands.armed.Load() {
			t.Fatal("the decline's write was never answered 412")
		}
		stored := mustGet(t, svc, med.ID)
		if ok, _ := checkPassword(stored.PasswordHash, otherPassword); !ok || stored.PendingReset != nil {
			t.Fatalf("after the decline: request %+v, the changed password standing %v", stored.PendingReset, ok)
		}
	})
}
