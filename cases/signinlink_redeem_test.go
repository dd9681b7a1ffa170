package cases

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/policy"
)

// TestSignInLinkRefusedOnceAddressShared: the emailed sign-in link is
// made only for an address nobody else in the cases has. If, within its
// 15 minutes, another seat of the case is given that address (side B
// invited at it, so its invitation is held back), the link is refused at
// redemption as a mailed link back in is (ErrLinkShared, plain words),
// every try alike and without spending it, and the refusal is audited
// once (case.link.refused: the case, the participant, the token's keyed
// hash, reason address-shared, via email). A sign-in link to an address
// that stays alone works.
func TestSignInLinkRefusedOnceAddressShared(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	med := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, med, "Flat 3")
	const family = "family@example.test"
	a := e.joinAs(t, med, c.ID, RoleParty, "A", "Pat", family)
	e.confirm(t, a, c.ID)
	link, ans, err := e.svc.IssueSignInLink(ctx, family)
	if err != nil || ans != SignInLinkMade || link.Token == "" {
		t.Fatalf("sign-in link to Pat's own address: answer %v, %v", ans, err)
	}
	if inv := e.invite(t, med, c.ID, NewInvite{Role: RoleParty, Side: "B", Name: "Sam", Email: family}); !inv.SharedAddress {
		t.Fatal("side B's invitation at Pat's address was not taken as shared")
	}
	from := e.log.Size()
	for range 2 { // not spent: every try says the same
		_, err := e.svc.Join(ctx, link.Token)
		if !errors.Is(err, ErrLinkShared) || !strings.Contains(err.Error(), "ask your mediator") {
			t.Fatalf("sign-in link after its address became shared: %v", err)
		}
	}
	types := e.entryTypes(t, from)
	if count(types, "case.link.refused") != 1 || count(types, "case.reentry.redeemed") != 0 {
		t.Fatalf("audit entries after two refused tries: %v; want one case.link.refused and no redemption", types)
	}
	var ev audit.Event
	for i := from; i < e.log.Size(); i++ {
		if got, err := e.log.Entry(ctx, i); err == nil && got.Type == "case.link.refused" {
			ev = got
		}
	}
	if ev.Case != c.ID || !slices.Equal(ev.Objects, []string{a.ID}) ||
		!slices.Equal(ev.Hashes, []string{e.meta.IndexKey("reentry", link.Token)}) ||
		ev.Attrs["reason"] != "address-shared" || ev.Attrs["via"] != "email" || ev.Attrs["link"] != "reentry" {
		t.Fatalf("refusal entry %+v", ev)
	}

	// An address nobody else has: the link works.
	const own = "olu@example.test"
	o := e.joinAs(t, med, c.ID, RoleParty, "A", "Olu", own)
	e.confirm(t, o, c.ID)
	ok, ans, err := e.svc.IssueSignInLink(ctx, own)
	if err != nil || ans != SignInLinkMade {
		t.Fatalf("sign-in link to Olu's own address: answer %v, %v", ans, err)
	}
	if j, err := e.svc.Join(ctx, ok.Token); err != nil || j.Account.ID != o.ID {
		t.Fatalf("sign-in link to an address nobody else has: %v", err)
	}
}
