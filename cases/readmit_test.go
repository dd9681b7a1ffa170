package cases

import (
	"testing"
	"time"

	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/policy"
)

// TestRemovedAccountNotReadmitted (review F4): a join interrupted after
// the person was added to the case but before the invite was marked used
// can be finished later under the same account id. If a mediator removed
// the person meanwhile, finishing it must not bring that account back:
// the removed account would still be in the defined rooms' signed
// members (pruning drops only people a signed statement leaves out), so
// the next epochs' keys would reach it. A removed account never comes
// back into the case; a new invite makes a new account, in no room.
func TestRemovedAccountNotReadmitted(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	med := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, med, "Flat 3")
	inv := e.invite(t, med, c.ID, NewInvite{Role: RoleParty, Side: "A", Name: "Pat"})
	j, err := e.svc.Join(ctx, inv.Token)
	if err != nil {
		t.Fatal(err)
	}
	// The join was interrupted before completing: claimed long ago.
	long := time.Now().Add(-2 * claimLease)
	if _, err := metastore.Update(ctx, e.svc.meta, e.svc.inviteKey(inv.Token), func(i *Invite) error {
		i.Completed, i.Claimed = false, &long
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RemoveParticipant(ctx, med, c.ID, j.Account.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Join(ctx, inv.Token); err == nil {
		t.Fatal("finishing the interrupted join readmitted the removed account")
	}
	got, err := e.svc.load(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.Participant(j.Account.ID); ok {
		t.Fatal("the removed account is back in the case")
	}
}
