package cases

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// refusedJoin is a join (of invitation x) that the case's update refuses:
// once it has made its account, someone of the same name and side joins
// by another invitation (dup, the duplicate's account). state is 2 from
// then on; a test's hook moves it to 3 when it steps in.
type refusedJoin struct {
	e     *env
	hs    *readHookStore
	m     account.Account
	c     *Case
	x, y  IssuedInvite
	dup   string
	state atomic.Int32
}

func newRefusedJoin(t *testing.T, base func(objstore.Store) objstore.Store) *refusedJoin {
	t.Helper()
	r := &refusedJoin{hs: &readHookStore{}}
	r.e = newEnvWith(t, func(s objstore.Store) objstore.Store { r.hs.Store = base(s); return r.hs })
	r.m = staff(policy.RoleMediator, "Mia")
	r.c = r.e.newCase(t, r.m, "a refused join")
	r.x = r.e.invite(t, r.m, r.c.ID, NewInvite{Role: RoleParty, Side: "B", Name: "Pat", Email: "pat@example.com"})
	r.y = r.e.invite(t, r.m, r.c.ID, NewInvite{Role: RoleParty, Side: "B", Name: "Pat", Email: "pat.other@example.com"})
	r.hs.setAfterPut(r.joinDuplicate(t))
	return r
}

// joinDuplicate is an afterPut hook: once the join of x has made its
// account, the duplicate joins by y.
func (r *refusedJoin) joinDuplicate(t *testing.T) func(string) {
	return func(k string) {
		if strings.HasPrefix(k, "accounts/") && r.state.CompareAndSwap(0, 1) {
			j, err := r.e.svc.Join(t.Context(), r.y.Token)
			if err != nil {
				t.Error(err)
			}
			r.dup = j.Account.ID
			r.state.Store(2)
		}
	}
}

// reopen is the link opened again once the duplicate has left and the
// refused join's claim is older than its lease.
func (r *refusedJoin) reopen(t *testing.T) (Joined, error) {
	t.Helper()
	if _, err := r.e.svc.RemoveParticipant(t.Context(), r.m, r.c.ID, r.dup); err != nil {
		t.Error(err)
	}
	r.e.svc.SetClock(func() time.Time { return time.Now().Add(claimLease + time.Second) })
	return r.e.svc.Join(t.Context(), r.x.Token)
}

// A join refused at the case's update deletes the account it made, but
// not once a later open of the same link — the duplicate gone, the claim
// older than its lease taken over — has seated that account: here
// between the refused join's read of the case on its way to deleting the
// account and the deletion. The refused join first marks the account
// refused in the case record, by a conditional write as the seating is:
// it meets the seating, finds the account in the case, and deletes
// nothing. Before, it read the case and deleted: the person was seated
// with no account.
func TestRefusedJoinKeepsTheAccountOfALaterSeating(t *testing.T) {
	onEachStore(t, func(t *testing.T, base func(objstore.Store) objstore.Store) {
		r := newRefusedJoin(t, base)
		var reads atomic.Int32
		var later Joined
		var laterErr error
		f := func(k string) {
			// The refused join's second read of the case: its update's,
			// then its deletion's.
			if k != caseKey(r.c.ID) || r.state.Load() != 2 || reads.Add(1) != 2 {
				return
			}
			r.state.Store(3)
			later, laterErr = r.reopen(t)
		}
		r.hs.afterGet.Store(&f)
		_, err := r.e.svc.Join(t.Context(), r.x.Token)
		r.hs.afterGet.Store(nil)
		if r.state.Load() != 3 {
			t.Fatalf("the link was not opened again during the refused join (state %d)", r.state.Load())
		}
		wantIs(t, err, ErrAlreadyJoined)
		if laterErr != nil {
			t.Fatalf("the link opened again once the duplicate left: %v", laterErr)
		}
		a := claimedBy(t, r.e, r.x.Token)
		if later.Account.ID != a {
			t.Fatalf("the later open seated %q, the claim's account is %q", later.Account.ID, a)
		}
		if cs := r.e.raw(t, r.c.ID); !isParticipant(&cs, a) {
			t.Fatal("the later open's participant is not in the case")
		}
		if _, err := r.e.accounts.Get(t.Context(), a); err != nil {
			t.Fatalf("the participant a later open of the link seated lost their account: %v", err)
		}
	})
}

// Once a refused join has marked its account refused in the case record,
// no open of its link seats that account any more, though the refusal is
// undone (the duplicate gone): it is refused as an expired link would be,
// and the account is deleted. Here the link is opened again between the
// mark and the deletion.
func TestRefusedJoinsAccountIsSeatedNoMore(t *testing.T) {
	onEachStore(t, func(t *testing.T, base func(objstore.Store) objstore.Store) {
		r := newRefusedJoin(t, base)
		var laterErr error
		dup := r.joinDuplicate(t)
		r.hs.setAfterPut(func(k string) {
			dup(k)
			if k == caseKey(r.c.ID) && r.state.CompareAndSwap(2, 3) {
				// The refused join's mark (its only write of the case).
				_, laterErr = r.reopen(t)
			}
		})
		_, err := r.e.svc.Join(t.Context(), r.x.Token)
		r.hs.setAfterPut(nil)
		if r.state.Load() != 3 {
			t.Fatalf("the refused join wrote no mark in the case (state %d)", r.state.Load())
		}
		wantIs(t, err, ErrAlreadyJoined)
		wantIs(t, laterErr, ErrInviteGone)
		a := claimedBy(t, r.e, r.x.Token)
		if cs := r.e.raw(t, r.c.ID); isParticipant(&cs, a) {
			t.Fatal("an account marked refused was seated")
		}
		if vs, err := r.e.meta.Objects().Versions(t.Context(), "accounts/"+a); !errors.Is(err, objstore.ErrNotFound) {
			t.Fatalf("the refused join's account is still stored: %d versions, %v", len(vs), err)
		}
	})
}

func isParticipant(c *Case, accountID string) bool {
	_, ok := c.Participant(accountID)
	return ok
}

// A join whose update the case's disposal fence refused, the fence lifted
// before the refusal marks the account (the disposal paused: a storage
// hold, or a plan that keeps the case), keeps its account and marks
// nothing: the fence's refusal is undone, and the link's next open seats
// that account. Before (review 258), the mark was written once the fence
// was gone, and the link was refused for good.
func TestJoinRefusedByALiftedFenceKeepsItsAccount(t *testing.T) {
	onEachStore(t, func(t *testing.T, base func(objstore.Store) objstore.Store) {
		hs := &readHookStore{}
		e := newEnvWith(t, func(s objstore.Store) objstore.Store { hs.Store = base(s); return hs })
		ctx := t.Context()
		m := staff(policy.RoleMediator, "Mia")
		c := e.newCase(t, m, "a fence lifted")
		x := e.invite(t, m, c.ID, NewInvite{Role: RoleParty, Side: "B", Name: "Pat", Email: "pat@example.com"})
		var state atomic.Int32
		var acct string
		// Once the join has made its account, the case is fenced for a
		// disposal: the join's update refuses it.
		hs.setAfterPut(func(k string) {
			if strings.HasPrefix(k, "accounts/") && state.CompareAndSwap(0, 1) {
				acct = strings.TrimPrefix(k, "accounts/")
				if _, err := e.svc.BeginDisposal(ctx, c.ID, "plan-x"); err != nil {
					t.Error(err)
				}
				state.Store(2)
			}
		})
		// The refusal then looks the account up; the disposal pauses
		// before it reads the case.
		f := func(k string) {
			if strings.HasPrefix(k, "accounts/") && state.CompareAndSwap(2, 3) {
				if _, err := e.svc.PauseDisposal(ctx, c.ID, "plan-x"); err != nil {
					t.Error(err)
				}
			}
		}
		hs.afterGet.Store(&f)
		_, err := e.svc.Join(ctx, x.Token)
		hs.afterGet.Store(nil)
		hs.setAfterPut(nil)
		if state.Load() != 3 {
			t.Fatalf("the fence was not set and lifted during the join (state %d)", state.Load())
		}
		wantIs(t, err, ErrDisposing)
		if cs := e.raw(t, c.ID); len(cs.RefusedAccounts) != 0 || cs.Disposing != nil {
			t.Fatalf("after the fence was lifted: refused accounts %v, fence %v; want none", cs.RefusedAccounts, cs.Disposing)
		}
		if _, err := e.accounts.Get(ctx, claimedBy(t, e, x.Token)); err != nil {
			t.Fatalf("the account of a join refused by a lifted fence was deleted: %v", err)
		}
		e.svc.SetClock(func() time.Time { return time.Now().Add(claimLease + time.Second) })
		j, err := e.svc.Join(ctx, x.Token)
		if err != nil {
			t.Fatalf("the link opened again after the fence was lifted: %v", err)
		}
		if j.Account.ID != claimedBy(t, e, x.Token) {
			t.Fatalf("seated %q, the claim's account is %q (made %q)", j.Account.ID, claimedBy(t, e, x.Token), acct)
		}
	})
}

// A join refused before it made its account (the case closed when the
// link is opened) writes nothing to the case: there is no account to
// mark or delete (review 258: every open of a link to a closed case added
// a mark and a version of its record).
func TestJoinRefusedBeforeItsAccountWritesNoMark(t *testing.T) {
	onEachStore(t, func(t *testing.T, base func(objstore.Store) objstore.Store) {
		e := newEnvWith(t, base)
		ctx := t.Context()
		m := staff(policy.RoleMediator, "Mia")
		c := e.newCase(t, m, "closed before the link is opened")
		x := e.invite(t, m, c.ID, NewInvite{Role: RoleParty, Side: "B", Name: "Pat", Email: "pat@example.com"})
		if _, err := metastore.Update(ctx, e.meta, caseKey(c.ID), func(cs *Case) error {
			now := time.Now().UTC()
			cs.Closed = &now
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		before, err := e.meta.Objects().Versions(ctx, caseKey(c.ID))
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Join(ctx, x.Token)
		wantIs(t, err, ErrClosed)
		after, err := e.meta.Objects().Versions(ctx, caseKey(c.ID))
		if err != nil {
			t.Fatal(err)
		}
		if len(after) != len(before) {
			t.Fatalf("a join refused before its account was made wrote the case: %d versions, was %d", len(after), len(before))
		}
		if cs := e.raw(t, c.ID); len(cs.RefusedAccounts) != 0 {
			t.Fatalf("refused accounts %v; want none", cs.RefusedAccounts)
		}
	})
}

// An invitation whose join was refused and its account marked is no
// longer listed as waiting: its link can never be used (review 258: it
// was listed, looking usable, until it expired).
func TestRefusedJoinsInvitationNotPending(t *testing.T) {
	onEachStore(t, func(t *testing.T, base func(objstore.Store) objstore.Store) {
		r := newRefusedJoin(t, base)
		_, err := r.e.svc.Join(t.Context(), r.x.Token)
		wantIs(t, err, ErrAlreadyJoined)
		if cs := r.e.raw(t, r.c.ID); len(cs.RefusedAccounts) != 1 {
			t.Fatalf("refused accounts %v; want the refused join's", cs.RefusedAccounts)
		}
		list, err := r.e.svc.PendingInvites(t.Context(), r.m, r.c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 0 {
			t.Fatalf("%d invitations listed as waiting (%+v); want none: one is used, the other refused for good", len(list), list)
		}
	})
}
