package cases

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/policy"
)

// reentryCase is the world the re-entry tests start from: mediator Mia's
// case "Flat 3", which party Pat (side A) joined by invite.
type reentryCase struct {
	med, pat account.Account
	c        *Case
}

func (e *env) reentryCase(t *testing.T) reentryCase {
	t.Helper()
	med := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, med, "Flat 3")
	return reentryCase{med: med, pat: e.join(t, med, c.ID, RoleParty, "A", "Pat"), c: c}
}

// reentry is Mia's re-entry link for Pat, valid for ttl (0: the default).
func (e *env) reentry(t *testing.T, w reentryCase, ttl time.Duration) IssuedReentry {
	t.Helper()
	r, err := e.svc.CreateReentry(t.Context(), w.med, w.c.ID, w.pat.ID, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestReentryBoundToAccount: a re-entry link signs the participant in as
// the account they already have (never a new one), works once, and is
// audited.
func TestReentryBoundToAccount(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	w := e.reentryCase(t)
	med, pat, c := w.med, w.pat, w.c
	r := e.reentry(t, w, 0)
	if ev := e.lastEntry(t); ev.Type != "case.reentry.created" || ev.Actor != med.ID || len(ev.Objects) != 1 || ev.Objects[0] != pat.ID {
		t.Fatalf("audit entry %+v", ev)
	}
	j, err := e.svc.Join(ctx, r.Token)
	if err != nil {
		t.Fatal(err)
	}
	if j.Account.ID != pat.ID || !j.Reentry || j.CaseID != c.ID {
		t.Fatalf("re-entry gave account %s (reentry %v, case %s), want the original %s", j.Account.ID, j.Reentry, j.CaseID, pat.ID)
	}
	if acct, _, err := e.accounts.Authenticate(ctx, j.Token); err != nil || acct.ID != pat.ID {
		t.Fatalf("the re-entry session is %v, %v; want %s", acct.ID, err, pat.ID)
	}
	got, err := e.svc.Get(ctx, pat, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Participants) != 1 {
		t.Fatalf("case has %d participants after re-entry, want 1", len(got.Participants))
	}
	if ev := e.lastEntry(t); ev.Type != "case.reentry.redeemed" || ev.Actor != pat.ID {
		t.Fatalf("audit entry %+v", ev)
	}
	// A second use is refused, by anyone not signed in as Pat.
	if _, err := e.svc.Join(ctx, r.Token); !errors.Is(err, ErrInviteGone) {
		t.Fatalf("second use: err = %v, want ErrInviteGone", err)
	}
	other := staff(policy.RoleParticipant, "Sam")
	if _, err := e.svc.JoinAs(ctx, r.Token, &other); !errors.Is(err, ErrInviteGone) {
		t.Fatalf("second use by another account: err = %v, want ErrInviteGone", err)
	}
	// Pat, still signed in, opening it again goes to the case: no session.
	again, err := e.svc.JoinAs(ctx, r.Token, &pat)
	if err != nil || !again.Already || again.Token != "" || again.CaseID != c.ID {
		t.Fatalf("Pat opening the used link: %+v, %v", again, err)
	}
}

func TestReentryConcurrentOnlyOneWins(t *testing.T) {
	e := newEnv(t)
	r := e.reentry(t, e.reentryCase(t), 0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.svc.Join(t.Context(), r.Token); err == nil {
				mu.Lock()
				won++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d redemptions succeeded, want exactly 1", won)
	}
}

func TestReentryExpires(t *testing.T) {
	e := newEnv(t)
	w := e.reentryCase(t)
	at := time.Now()
	e.svc.SetClock(func() time.Time { return at })
	r := e.reentry(t, w, time.Hour)
	at = at.Add(time.Hour)
	if _, err := e.svc.Join(t.Context(), r.Token); !errors.Is(err, ErrInviteGone) {
		t.Fatalf("expired link: err = %v, want ErrInviteGone", err)
	}
}

// TestReentryWho: only the case's mediator may issue one, only for a
// participant of that case; a removed participant's link stops working.
func TestReentryWho(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	w := e.reentryCase(t)
	med, pat, c := w.med, w.pat, w.c
	if _, err := e.svc.CreateReentry(ctx, pat, c.ID, pat.ID, 0); !errors.Is(err, fault.ErrForbidden) {
		t.Fatalf("party issuing a re-entry link: err = %v, want forbidden", err)
	}
	if _, err := e.svc.CreateReentry(ctx, staff(policy.RoleMediator, "Other"), c.ID, pat.ID, 0); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("another case's mediator: err = %v, want not found", err)
	}
	_, err := e.svc.CreateReentry(ctx, med, c.ID, med.ID, 0)
	wantInvalid(t, err, "accountId")
	r := e.reentry(t, w, 0)
	if _, err := e.svc.RemoveParticipant(ctx, med, c.ID, pat.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Join(ctx, r.Token); !errors.Is(err, ErrInviteGone) {
		t.Fatalf("link of a removed participant: err = %v, want ErrInviteGone", err)
	}
}

// TestReinviteOffersReentry: inviting someone already in the case (same
// side and role, same name or email) makes no second person.
func TestReinviteOffersReentry(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	med := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, med, "Flat 3")
	inv := e.invite(t, med, c.ID, NewInvite{Role: RoleParty, Side: "A", Name: "Pat Doe", Email: "pat@example.org"})
	j, err := e.svc.Join(ctx, inv.Token)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []NewInvite{
		{Role: RoleParty, Side: "A", Name: " pat doe "},
		{Role: RoleParty, Side: "A", Name: "Patricia Doe", Email: "PAT@example.org"},
	} {
		_, err := e.svc.CreateInvite(ctx, med, c.ID, n)
		var dup *AlreadyParticipantError
		if !errors.As(err, &dup) || dup.AccountID != j.Account.ID || !errors.Is(err, fault.ErrConflict) {
			t.Fatalf("re-inviting %+v: err = %v, want AlreadyParticipantError for %s", n, err, j.Account.ID)
		}
	}
	// The same name on the other side, or as counsel, is another person.
	e.invite(t, med, c.ID, NewInvite{Role: RoleParty, Side: "B", Name: "Pat Doe"})
	e.invite(t, med, c.ID, NewInvite{Role: RoleCounsel, Side: "A", Name: "Pat Doe"})
}

// TestRemoveParticipant: the removed person's sessions end, policy and
// the membership change drop them, and the record keeps them as removed.
func TestRemoveParticipant(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	med := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, med, "Flat 3")
	inv := e.invite(t, med, c.ID, NewInvite{Role: RoleParty, Side: "A", Name: "Pat"})
	j, err := e.svc.Join(ctx, inv.Token)
	if err != nil {
		t.Fatal(err)
	}
	pat := j.Account
	var changes []MembershipChange
	e.svc.OnMembership = func(_ context.Context, _ string, ch MembershipChange) { changes = append(changes, ch) }
	if _, err := e.svc.RemoveParticipant(ctx, pat, c.ID, pat.ID); !errors.Is(err, fault.ErrForbidden) {
		t.Fatalf("a party removing: err = %v, want forbidden", err)
	}
	got, err := e.svc.RemoveParticipant(ctx, med, c.ID, pat.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.Participant(pat.ID); ok || len(got.Removed) != 1 || got.Removed[0].AccountID != pat.ID {
		t.Fatalf("after removal: participants %+v, removed %+v", got.Participants, got.Removed)
	}
	if f := got.Facts(); len(f.Parties) != 0 || len(f.SideMembers["A"]) != 0 {
		t.Fatalf("policy facts still count the removed party: %+v", f)
	}
	if ev := e.lastEntry(t); ev.Type != "case.participant.removed" || ev.Objects[0] != pat.ID {
		t.Fatalf("audit entry %+v", ev)
	}
	if len(changes) != 1 || changes[0].Kind != "participant.removed" || changes[0].Account != pat.ID || changes[0].Side != "A" {
		t.Fatalf("membership changes %+v", changes)
	}
	if _, _, err := e.accounts.Authenticate(ctx, j.Token); !errors.Is(err, fault.ErrUnauthenticated) {
		t.Fatalf("removed participant's session: err = %v, want ErrUnauthenticated", err)
	}
	if _, err := e.svc.Get(ctx, pat, c.ID); err == nil {
		t.Fatal("removed participant still reads the case")
	}
	// Replacing: the same name may now be invited afresh (a new account).
	e.invite(t, med, c.ID, NewInvite{Role: RoleParty, Side: "A", Name: "Pat"})
}

// TestDuplicateJoinMakesNoAccount: two invitations made for one person
// before either was used; the second is refused when opened, and makes
// no account (one would hold a name and email in no case, which
// retention could never dispose of).
func TestDuplicateJoinMakesNoAccount(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	med := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, med, "Flat 4")
	first := e.invite(t, med, c.ID, NewInvite{Role: RoleParty, Side: "A", Name: "Pat Doe"})
	second := e.invite(t, med, c.ID, NewInvite{Role: RoleParty, Side: "A", Name: "Pat Doe"})
	if _, err := e.svc.Join(ctx, first.Token); err != nil {
		t.Fatal(err)
	}
	before, err := e.accounts.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Join(ctx, second.Token); !errors.Is(err, ErrAlreadyJoined) {
		t.Fatalf("second join: err = %v, want ErrAlreadyJoined", err)
	}
	after, err := e.accounts.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Fatalf("the refused join made an account: %d accounts before, %d after", len(before), len(after))
	}
}

// TestReentrySessionRecordsMediatorLink: a session opened by a re-entry
// link a mediator made is marked so (account.Session.ByMediatorLink: its
// holder may be the mediator, and the key directory refuses it the
// account's first device); one opened by an invitation's join or by a
// sign-in link the participant had emailed to their confirmed address is
// not.
func TestReentrySessionRecordsMediatorLink(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	med := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, med, "Flat 3")
	inv := e.invite(t, med, c.ID, NewInvite{Role: RoleParty, Side: "A", Name: "Pat", Email: "pat@example.test"})
	joined, err := e.svc.Join(ctx, inv.Token)
	if err != nil {
		t.Fatal(err)
	}
	pat := joined.Account
	marked := func(what, token string, want bool) {
		t.Helper()
		acct, sess, err := e.accounts.Authenticate(ctx, token)
		if err != nil || acct.ID != pat.ID || sess.ByMediatorLink != want {
			t.Fatalf("%s: session of %s marked %v (%v), want %v", what, acct.ID, sess.ByMediatorLink, err, want)
		}
	}
	marked("the invitation's join", joined.Token, false)
	r, err := e.svc.CreateReentry(ctx, med, c.ID, pat.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	j, err := e.svc.Join(ctx, r.Token)
	if err != nil {
		t.Fatal(err)
	}
	marked("the mediator's re-entry link", j.Token, true)
	e.confirm(t, pat, c.ID)
	s, ans, err := e.svc.IssueSignInLink(ctx, "pat@example.test")
	if err != nil || ans != SignInLinkMade {
		t.Fatalf("the emailed sign-in link: %v %v", ans, err)
	}
	j, err = e.svc.Join(ctx, s.Token)
	if err != nil {
		t.Fatal(err)
	}
	marked("the emailed sign-in link", j.Token, false)
}
