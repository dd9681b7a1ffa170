package cases

import (
	"context"
	"errors"
	"testing"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/policy"
)

// Counsel who withdraws after the case closed is taken out as from an
// open case: out of the record's people and policy's facts, their
// sessions end, the rooms they were in are sealed (membership change),
// and the removal is audited. Before, a closed case refused the removal,
// and they read the caucus history and documents until disposal.
func TestRemoveParticipantFromClosedCase(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	med := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, med, "Flat 9")
	inv := e.invite(t, med, c.ID, NewInvite{Role: RoleCounsel, Side: "A", Name: "Lee Counsel"})
	j, err := e.svc.Join(ctx, inv.Token)
	if err != nil {
		t.Fatal(err)
	}
	lawyer := j.Account
	if _, err := e.svc.SetStage(ctx, med, c.ID, StageClosure, ""); err != nil {
		t.Fatal(err)
	}
	var changes []MembershipChange
	e.svc.OnMembership = func(_ context.Context, _ string, ch MembershipChange) { changes = append(changes, ch) }
	got, err := e.svc.RemoveParticipant(ctx, med, c.ID, lawyer.ID)
	if err != nil {
		t.Fatalf("removing counsel from the closed case: %v", err)
	}
	if _, ok := got.Participant(lawyer.ID); ok || len(got.Removed) != 1 || got.Removed[0].AccountID != lawyer.ID || got.Closed == nil {
		t.Fatalf("after removal: participants %+v, removed %+v, closed %v", got.Participants, got.Removed, got.Closed)
	}
	if f := got.Facts(); len(f.SideMembers["A"]) != 0 {
		t.Fatalf("policy facts still count the removed counsel: %+v", f)
	}
	if ev := e.lastEntry(t); ev.Type != "case.participant.removed" || ev.Objects[0] != lawyer.ID {
		t.Fatalf("audit entry %+v", ev)
	}
	if len(changes) != 1 || changes[0].Kind != "participant.removed" || changes[0].Account != lawyer.ID || changes[0].Side != "A" {
		t.Fatalf("membership changes %+v", changes)
	}
	if _, _, err := e.accounts.Authenticate(ctx, j.Token); !errors.Is(err, fault.ErrUnauthenticated) {
		t.Fatalf("removed counsel's session: err = %v, want ErrUnauthenticated", err)
	}
	if _, err := e.svc.Get(ctx, lawyer, c.ID); err == nil {
		t.Fatal("removed counsel still reads the closed case")
	}
}

// A re-entry link made while the case was open is refused once the case
// is closed, as making one is (CreateReentry), and is not spent: every
// try says the same, and no session is opened.
func TestReentryRefusedOnceClosed(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	med := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, med, "Flat 10")
	pat := e.join(t, med, c.ID, RoleParty, "A", "Pat")
	r, err := e.svc.CreateReentry(ctx, med, c.ID, pat.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetStage(ctx, med, c.ID, StageClosure, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateReentry(ctx, med, c.ID, pat.ID, 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("making a re-entry link to a closed case: %v, want ErrClosed", err)
	}
	for range 2 {
		j, err := e.svc.Join(ctx, r.Token)
		if !errors.Is(err, ErrClosed) || j.Token != "" {
			t.Fatalf("re-entry into the closed case: %+v, %v; want ErrClosed", j, err)
		}
	}
	if ev := e.lastEntry(t); ev.Type == "case.reentry.redeemed" {
		t.Fatalf("a redemption was audited: %+v", ev)
	}
}
