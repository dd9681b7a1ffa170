package cases

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// joinAs invites and joins a party (or lawyer) of side with addr, and
// returns their account.
func (e *env) joinAs(t testing.TB, med account.Account, caseID string, role ParticipantRole, side, name, addr string) account.Account {
	t.Helper()
	inv := e.invite(t, med, caseID, NewInvite{Role: role, Side: side, Name: name, Email: addr})
	j, err := e.svc.Join(t.Context(), inv.Token)
	if err != nil {
		t.Fatal(err)
	}
	return j.Account
}

// confirm has participant a ask for and use a confirmation of their
// address, as in the app.
func (e *env) confirm(t testing.TB, a account.Account, caseID string) {
	t.Helper()
	c, err := e.svc.RequestEmailConfirmation(t.Context(), a, caseID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ConfirmEmail(t.Context(), c.Token, a); err != nil {
		t.Fatal(err)
	}
}

// TestSignInLinkSharedAddress: two parties on opposite sides with one
// address (a family mailbox). Whoever asks, and even once both confirmed
// it, no link is made: the answer is SignInShared (the caller mails the
// address to ask the mediator), so nobody signs in as the other side. The
// same for a party and their lawyer, and for one address in two cases.
func TestSignInLinkSharedAddress(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	med := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, med, "Flat 3")
	const family = "family@example.test"
	a := e.joinAs(t, med, c.ID, RoleParty, "A", "Pat", family)
	b := e.joinAs(t, med, c.ID, RoleParty, "B", "Sam", family)
	e.confirm(t, a, c.ID)
	check := func(what, addr string) {
		t.Helper()
		r, ans, err := e.svc.IssueSignInLink(ctx, addr)
		if err != nil || ans != SignInShared || r.Token != "" || r.Email != addr || r.CaseID != c.ID {
			t.Fatalf("%s: answer %v, link %q to %q in %q, %v; want SignInShared and no link", what, ans, r.Token, r.Email, r.CaseID, err)
		}
		if ev := e.lastEntry(t); ev.Type == "case.reentry.created" {
			t.Fatalf("%s: a link was made (%+v)", what, ev)
		}
	}
	check("one of two confirmed", family)
	e.confirm(t, b, c.ID)
	check("both confirmed", family)

	// A party and their lawyer.
	const firm = "firm@example.test"
	p := e.joinAs(t, med, c.ID, RoleParty, "A", "Kim", firm)
	e.joinAs(t, med, c.ID, RoleCounsel, "A", "Lee", firm)
	e.confirm(t, p, c.ID)
	check("party and lawyer", firm)

	// One address in two cases (one account per case).
	other := e.newCase(t, med, "Flat 9")
	const two = "two@example.test"
	x := e.joinAs(t, med, c.ID, RoleParty, "B", "Ola", two)
	e.joinAs(t, med, other.ID, RoleParty, "A", "Ola", two)
	e.confirm(t, x, c.ID)
	check("two cases", two)
}

// TestSignInLinkNeedsConfirmedAddress: the address a mediator typed is
// not a way in until the participant, signed in, confirmed it. Asking for
// an unconfirmed address makes nothing; a confirmation link works only
// for the account that asked (another account's session is refused and
// does not spend it), once, for 24 hours; after it the address gets a
// link. Staff have no address to confirm.
func TestSignInLinkNeedsConfirmedAddress(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	med := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, med, "Flat 3")
	const addr = "pat@example.test"
	pat := e.joinAs(t, med, c.ID, RoleParty, "A", "Pat", addr)
	sam := e.joinAs(t, med, c.ID, RoleParty, "B", "Sam", "sam@example.test")
	if _, ans, err := e.svc.IssueSignInLink(ctx, addr); ans != SignInNone || err != nil {
		t.Fatalf("unconfirmed: answer %v, %v; want SignInNone", ans, err)
	}
	if _, err := e.svc.RequestEmailConfirmation(ctx, med, c.ID); !errors.Is(err, ErrNoAddressToConfirm) {
		t.Fatalf("a mediator asking: %v, want ErrNoAddressToConfirm", err)
	}
	if _, err := e.svc.RequestEmailConfirmation(ctx, pat, "c_nosuchcase"); err == nil {
		t.Fatal("a confirmation for a case Pat is not in was made")
	}
	conf, err := e.svc.RequestEmailConfirmation(ctx, pat, c.ID)
	if err != nil || conf.Email != addr || time.Until(conf.Expires) > EmailConfirmationTTL {
		t.Fatalf("Pat asks: %+v, %v", conf, err)
	}
	if ev := e.lastEntry(t); ev.Type != "account.email.confirmation.requested" || ev.Actor != pat.ID {
		t.Fatalf("audit entry %+v", ev)
	}
	// At rest: the token and the address only as keyed hashes.
	if err := e.meta.List(ctx, "email-confirmations/", func(key string) error {
		var rec map[string]any
		if _, err := e.meta.Get(ctx, key, &rec); err != nil {
			return err
		}
		b, _ := json.Marshal(rec)
		if strings.Contains(key+string(b), addr) || strings.Contains(key+string(b), conf.Token) {
			t.Fatalf("confirmation record %s carries the address or the token: %s", key, b)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Someone else signed in (the holder of a mistyped address would be
	// nobody at all; a session of another account) cannot use it.
	if _, err := e.svc.ConfirmEmail(ctx, conf.Token, sam); !errors.Is(err, ErrConfirmationNotYours) {
		t.Fatalf("Sam opens Pat's link: %v, want ErrConfirmationNotYours", err)
	}
	if _, err := e.svc.ConfirmEmail(ctx, conf.Token, account.Account{}); !errors.Is(err, ErrConfirmationNotYours) {
		t.Fatalf("opened signed out: %v, want ErrConfirmationNotYours", err)
	}
	if _, ans, _ := e.svc.IssueSignInLink(ctx, addr); ans != SignInNone {
		t.Fatalf("after others opened the link: answer %v, want SignInNone", ans)
	}
	got, err := e.svc.ConfirmEmail(ctx, conf.Token, pat)
	if err != nil || got.SignInEmail() != addr || !got.View().EmailConfirmed {
		t.Fatalf("Pat confirms: %+v, %v", got, err)
	}
	if ev := e.lastEntry(t); ev.Type != "account.email.confirmed" || ev.Actor != pat.ID {
		t.Fatalf("audit entry %+v", ev)
	}
	if _, err := e.svc.ConfirmEmail(ctx, conf.Token, pat); !errors.Is(err, ErrInviteGone) {
		t.Fatalf("the link again: %v, want ErrInviteGone", err)
	}
	r, ans, err := e.svc.IssueSignInLink(ctx, addr)
	if err != nil || ans != SignInLinkMade || r.AccountID != pat.ID || r.CaseID != c.ID {
		t.Fatalf("confirmed: answer %v, link for %s into %s, %v", ans, r.AccountID, r.CaseID, err)
	}

	// A confirmation link past 24 hours is refused.
	late, err := e.svc.RequestEmailConfirmation(ctx, sam, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	e.svc.now = func() time.Time { return time.Now().Add(EmailConfirmationTTL + time.Minute) }
	if _, err := e.svc.ConfirmEmail(ctx, late.Token, sam); !errors.Is(err, ErrInviteGone) {
		t.Fatalf("after 24 hours: %v, want ErrInviteGone", err)
	}
}

// TestSignInLinkSharedSeats: every seat of a case not yet disposed of
// counts for the address, not only participants of open cases. Pat (side
// A) joined and confirmed family@; the mediator then invited Sam (side B)
// at the same address. Sam, not yet in, asks for a link for family@: no
// link (it would sign Sam in as Pat). The same when the other seat was
// removed from the case, or is in a closed case. Pat alone, with only
// her own invitation and seat, gets one.
func TestSignInLinkSharedSeats(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	med := staff(policy.RoleMediator, "Mia")
	shared := func(what, addr string) {
		t.Helper()
		r, ans, err := e.svc.IssueSignInLink(ctx, addr)
		if err != nil || ans != SignInShared || r.Token != "" {
			t.Errorf("%s: answer %v, link %q, %v; want SignInShared and no link", what, ans, r.Token, err)
		}
	}

	c := e.newCase(t, med, "Flat 3")
	const alone = "alone@example.test"
	kim := e.joinAs(t, med, c.ID, RoleParty, "A", "Kim", alone)
	e.confirm(t, kim, c.ID)
	if r, ans, err := e.svc.IssueSignInLink(ctx, alone); err != nil || ans != SignInLinkMade || r.AccountID != kim.ID {
		t.Fatalf("one confirmed seat: answer %v for %s, %v; want a link for Kim", ans, r.AccountID, err)
	}

	// A pending invitation to the other side at the same address.
	const family = "family@example.test"
	pat := e.joinAs(t, med, c.ID, RoleParty, "A", "Pat", family)
	e.confirm(t, pat, c.ID)
	e.invite(t, med, c.ID, NewInvite{Role: RoleParty, Side: "B", Name: "Sam", Email: family})
	shared("a pending invitation to the other side", family)

	// The other seat joined, then was removed.
	const home = "home@example.test"
	lou := e.joinAs(t, med, c.ID, RoleParty, "A", "Lou", home)
	e.confirm(t, lou, c.ID)
	ada := e.joinAs(t, med, c.ID, RoleParty, "B", "Ada", home)
	if _, err := e.svc.RemoveParticipant(ctx, med, c.ID, ada.ID); err != nil {
		t.Fatal(err)
	}
	shared("the other seat removed", home)

	// The other seat is in a closed case.
	const flat = "flat@example.test"
	old := e.newCase(t, med, "Flat 1")
	e.joinAs(t, med, old.ID, RoleParty, "B", "Bo", flat)
	if _, err := e.svc.SetStage(ctx, med, old.ID, StageClosure, ""); err != nil {
		t.Fatal(err)
	}
	eve := e.joinAs(t, med, c.ID, RoleParty, "B", "Eve", flat)
	e.confirm(t, eve, c.ID)
	shared("the other seat in a closed case", flat)
}

// TestConfirmEmailClosedCase: a confirmation link asked for while the
// case was open is refused once the case is closed (as asking for one
// is), and the address stays unconfirmed.
func TestConfirmEmailClosedCase(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	med := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, med, "Flat 3")
	const addr = "pat@example.test"
	pat := e.joinAs(t, med, c.ID, RoleParty, "A", "Pat", addr)
	conf, err := e.svc.RequestEmailConfirmation(ctx, pat, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetStage(ctx, med, c.ID, StageClosure, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RequestEmailConfirmation(ctx, pat, c.ID); !errors.Is(err, ErrClosed) {
		t.Fatalf("asking in a closed case: %v, want ErrClosed", err)
	}
	if _, err := e.svc.ConfirmEmail(ctx, conf.Token, pat); !errors.Is(err, ErrClosed) {
		t.Fatalf("confirming in a closed case: %v, want ErrClosed", err)
	}
	got, err := e.accounts.Get(ctx, pat.ID)
	if err != nil || got.View().EmailConfirmed {
		t.Fatalf("after the refusal: confirmed %v, %v", got.View().EmailConfirmed, err)
	}
}

// vanishOnList is a store whose listing deletes the records vanish picks
// just before handing out their keys: a case or invitation disposed of
// between the listing and the read.
type vanishOnList struct {
	objstore.Store
	vanish atomic.Pointer[func(key string) bool]
}

func (v *vanishOnList) List(ctx context.Context, prefix string, fn func(objstore.Info) error) error {
	return v.Store.List(ctx, prefix, func(info objstore.Info) error {
		if f := v.vanish.Load(); f != nil && (*f)(info.Key) {
			if err := v.Store.Delete(ctx, info.Key, ""); err != nil {
				return err
			}
		}
		return fn(info)
	})
}

// TestSignInLinkSkipsDisposed: a case or an invitation disposed of
// between the worker's listing and its read is skipped; the request goes
// on and the one confirmed seat gets its link.
func TestSignInLinkSkipsDisposed(t *testing.T) {
	v := &vanishOnList{}
	e := newEnvWith(t, func(s objstore.Store) objstore.Store { v.Store = s; return v })
	ctx := t.Context()
	med := staff(policy.RoleMediator, "Mia")
	gone := e.newCase(t, med, "Flat 1")
	e.joinAs(t, med, gone.ID, RoleParty, "A", "Bo", "bo@example.test")
	c := e.newCase(t, med, "Flat 3")
	const addr = "pat@example.test"
	pat := e.joinAs(t, med, c.ID, RoleParty, "A", "Pat", addr)
	e.confirm(t, pat, c.ID)
	vanish := func(key string) bool { return key == "cases/"+gone.ID+"/case" || strings.HasPrefix(key, "invites/") }
	v.vanish.Store(&vanish)
	if r, ans, err := e.svc.IssueSignInLink(ctx, addr); err != nil || ans != SignInLinkMade || r.AccountID != pat.ID {
		t.Fatalf("answer %v for %s, %v; want Pat's link", ans, r.AccountID, err)
	}
}

// TestSignInLinkStaffAddress: a staff account's address is a seat too. A
// lawyer who confirms an office address that is also a mediator's
// account address gets no link (SignInShared): whoever reads that mailbox
// would otherwise sign in as the lawyer.
func TestSignInLinkStaffAddress(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	med := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, med, "Flat 3")
	const office = "office@example.test"
	lee := e.joinAs(t, med, c.ID, RoleCounsel, "A", "Lee", office)
	e.confirm(t, lee, c.ID)
	if r, ans, err := e.svc.IssueSignInLink(ctx, office); err != nil || ans != SignInLinkMade || r.AccountID != lee.ID {
		t.Fatalf("no staff account yet: answer %v for %s, %v; want Lee's link", ans, r.AccountID, err)
	}
	if _, err := e.accounts.Create(ctx, account.NewAccount{Email: " Office@Example.test", Name: "Max",
		Role: policy.RoleMediator, Password: "correct horse battery"}); err != nil {
		t.Fatal(err)
	}
	before := e.log.Size()
	r, ans, err := e.svc.IssueSignInLink(ctx, office)
	if err != nil || ans != SignInShared || r.Token != "" || r.Email != office || r.CaseID != c.ID {
		t.Fatalf("a mediator's address: answer %v, link %q to %q in %q, %v; want SignInShared and no link", ans, r.Token, r.Email, r.CaseID, err)
	}
	if n := e.log.Size(); n != before {
		t.Fatalf("%d audit entries written; want none (no link made)", n-before)
	}
}
