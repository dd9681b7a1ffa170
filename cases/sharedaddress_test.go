package cases

import (
	"testing"
	"time"

	"github.com/parley-mediation/parley/policy"
)

// TestSharedAddressSeats: who counts as another seat of a case for
// CreateReentry's and CreateInvite's SharedAddress. A person's own claimed
// invitation and account are one seat; another participant (spelled
// otherwise), an invitation nobody claimed, and a removed participant's
// account are others; another case is not looked at. An invitation is
// shared with any other seat too, of either side (a party and their
// lawyer need not share every room).
func TestSharedAddressSeats(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	med := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, med, "Flat 3")
	shared := func(what, accountID string, want bool) {
		t.Helper()
		r, err := e.svc.CreateReentry(ctx, med, c.ID, accountID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if r.SharedAddress != want {
			t.Fatalf("%s: SharedAddress %v, want %v", what, r.SharedAddress, want)
		}
	}
	// Alone at an address: one seat (the claimed invitation is theirs).
	solo := e.joinAs(t, med, c.ID, RoleParty, "A", "Pat", "solo@example.test")
	shared("alone", solo.ID, false)
	// The same address in another case, another account: not this case's.
	other := e.newCase(t, med, "Flat 9")
	e.joinAs(t, med, other.ID, RoleParty, "B", "Pat", "solo@example.test")
	shared("another case", solo.ID, false)

	// The other side, spelled otherwise.
	a := e.joinAs(t, med, c.ID, RoleParty, "A", "Ann", "family@example.test")
	shared("before B", a.ID, false)
	e.joinAs(t, med, c.ID, RoleParty, "B", "Bo", " Family@Example.test")
	shared("with B", a.ID, true)

	// An invitation nobody claimed.
	p := e.joinAs(t, med, c.ID, RoleParty, "A", "Kim", "kim@example.test")
	if inv := e.invite(t, med, c.ID, NewInvite{Role: RoleCounsel, Side: "A", Name: "Lee", Email: "kim@example.test"}); !inv.SharedAddress {
		t.Fatal("an invitation for side A's lawyer to party A's address does not say shared")
	}
	shared("pending invitation, same side", p.ID, true)
	if inv := e.invite(t, med, c.ID, NewInvite{Role: RoleCounsel, Side: "B", Name: "Lou", Email: "kim@example.test"}); !inv.SharedAddress {
		t.Fatal("an invitation for side B to side A's address does not say shared")
	}
	if inv := e.invite(t, med, c.ID, NewInvite{Role: RoleObserver, Name: "Obi", Email: "kim@example.test"}); !inv.SharedAddress {
		t.Fatal("an observer's invitation to side A's address does not say shared")
	}

	// Removed, then invited again at the same address: a new account,
	// so two seats.
	r := e.joinAs(t, med, c.ID, RoleParty, "B", "Rae", "rae@example.test")
	if _, err := e.svc.RemoveParticipant(ctx, med, c.ID, r.ID); err != nil {
		t.Fatal(err)
	}
	r2 := e.joinAs(t, med, c.ID, RoleParty, "B", "Rae", "rae@example.test")
	shared("removed and invited again", r2.ID, true)
}

// TestInviteMadeAgainForTheSamePersonIsNotShared: an invitation made
// again at the same address for the same person (the same name, role and
// side; the first withdrawn, or still pending) is not a second person at
// that address, so it may be mailed and redeemed as the first; the same
// address for another name, role or side is still shared.
func TestInviteMadeAgainForTheSamePersonIsNotShared(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	med := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, med, "Flat 5")
	first := e.invite(t, med, c.ID, NewInvite{Role: RoleParty, Side: "B", Name: "Dee", Email: "dee@example.test"})
	if first.SharedAddress {
		t.Fatal("a first invitation to an address nobody has says shared")
	}
	if _, err := e.svc.WithdrawInvite(ctx, med, c.ID, first.ID); err != nil {
		t.Fatal(err)
	}
	again := e.invite(t, med, c.ID, NewInvite{Role: RoleParty, Side: "B", Name: " Dee ", Email: "Dee@example.test"})
	if again.SharedAddress {
		t.Fatal("an invitation made again for the same person at the same address says shared")
	}
	for _, n := range []NewInvite{
		{Role: RoleParty, Side: "B", Name: "Dee Jones", Email: "dee@example.test"},
		{Role: RoleCounsel, Side: "B", Name: "Dee", Email: "dee@example.test"},
		{Role: RoleParty, Side: "A", Name: "Dee", Email: "dee@example.test"},
	} {
		if inv := e.invite(t, med, c.ID, n); !inv.SharedAddress {
			t.Fatalf("%+v at an address another invitation has does not say shared", n)
		}
	}
	// The three above now share the address: the one made again for
	// Dee is refused at redemption like any mailed link whose address
	// another seat took since.
	cc, err := e.svc.Load(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sh, err := e.svc.LinkAddressShared(ctx, cc, again.Seat, "dee@example.test"); err != nil || !sh {
		t.Fatalf("after invitations for others at the address: shared %v, %v; want true", sh, err)
	}
}
