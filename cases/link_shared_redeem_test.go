package cases

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/policy"
)

// TestLinkRefusedOnceAddressShared: a link back in for A, and an
// invitation for side A, made while their address was nobody else's (so
// they were mailed), stop working once another seat has that address —
// of side B, or, for the invitation, of side A too: whoever reads the
// mailbox may be that other person. The refusal is in plain words and
// does not spend the link. A link made when the address was already
// shared (given by hand, never mailed) still works, as does a link to an
// address nobody else has.
func TestLinkRefusedOnceAddressShared(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	med := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, med, "Flat 3")
	const family = "family@example.test"
	a := e.joinAs(t, med, c.ID, RoleParty, "A", "Pat", family)
	re, err := e.svc.CreateReentry(ctx, med, c.ID, a.ID, time.Hour)
	if err != nil || re.SharedAddress {
		t.Fatalf("re-entry: shared %v, %v", re.SharedAddress, err)
	}
	invA := e.invite(t, med, c.ID, NewInvite{Role: RoleCounsel, Side: "A", Name: "Ari", Email: "ari@example.test"})
	invOwn := e.invite(t, med, c.ID, NewInvite{Role: RoleObserver, Name: "Olu", Email: "olu@example.test"})
	if invA.SharedAddress || invOwn.SharedAddress {
		t.Fatal("an address nobody else has was taken as shared")
	}
	// Side B is invited at the family address, and a party of side A at
	// its lawyer's: held back, given by hand.
	invB := e.invite(t, med, c.ID, NewInvite{Role: RoleParty, Side: "B", Name: "Sam", Email: family})
	if !invB.SharedAddress {
		t.Fatal("side B's invitation at side A's address was not taken as shared")
	}
	invA2 := e.invite(t, med, c.ID, NewInvite{Role: RoleParty, Side: "A", Name: "Ada", Email: "ari@example.test"})
	if !invA2.SharedAddress {
		t.Fatal("a party's invitation at their side's lawyer's address was not taken as shared")
	}
	from := e.log.Size()
	for what, tok := range map[string]string{"A's link back in": re.Token, "side A's invitation": invA.Token} {
		for range 2 { // not spent: every try says the same
			_, err := e.svc.Join(ctx, tok)
			if !errors.Is(err, ErrLinkShared) || !strings.Contains(err.Error(), "ask your mediator") {
				t.Fatalf("%s after its address became shared: %v", what, err)
			}
		}
	}
	// Each link's refusal is audited once, whatever the number of tries.
	refused := map[string]audit.Event{}
	for i := from; i < e.log.Size(); i++ {
		if ev, err := e.log.Entry(ctx, i); err == nil && ev.Type == "case.link.refused" {
			refused[ev.Attrs["link"]] = ev
		}
	}
	if got := count(e.entryTypes(t, from), "case.link.refused"); got != 2 || len(refused) != 2 {
		t.Fatalf("%d case.link.refused entries (%v) for two links refused twice each; want one a link", got, refused)
	}
	if ev := refused["reentry"]; ev.Case != c.ID || !slices.Equal(ev.Objects, []string{a.ID}) || ev.Attrs["reason"] != "address-shared" ||
		!slices.Equal(ev.Hashes, []string{e.meta.IndexKey("reentry", re.Token)}) {
		t.Fatalf("link back in's refusal: %+v", ev)
	}
	if ev := refused["invite"]; ev.Case != c.ID || len(ev.Objects) != 0 || ev.Attrs["reason"] != "address-shared" ||
		!slices.Equal(ev.Hashes, []string{e.meta.IndexKey("invite", invA.Token)}) {
		t.Fatalf("invitation's refusal: %+v", ev)
	}
	if _, err := e.svc.Join(ctx, invOwn.Token); err != nil {
		t.Fatalf("invitation to an address nobody else has: %v", err)
	}
	if _, err := e.svc.Join(ctx, invB.Token); err != nil {
		t.Fatalf("side B's invitation, given by hand: %v", err)
	}
	if _, err := e.svc.Join(ctx, invA2.Token); err != nil {
		t.Fatalf("side A's party's invitation, given by hand: %v", err)
	}
	// A new link back in for A, made now the address is shared, is given
	// by hand and works.
	re2, err := e.svc.CreateReentry(ctx, med, c.ID, a.ID, time.Hour)
	if err != nil || !re2.SharedAddress {
		t.Fatalf("second re-entry: shared %v, %v", re2.SharedAddress, err)
	}
	if j, err := e.svc.Join(ctx, re2.Token); err != nil || j.Account.ID != a.ID {
		t.Fatalf("link back in given by hand: %v", err)
	}
}
