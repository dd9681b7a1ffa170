package cases

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/policy"
)

func (e *env) stored(t *testing.T, role policy.Role, email string, creator *account.Account) account.Account {
	t.Helper()
	pw := "correct horse battery staple"
	if creator != nil && account.FirstPasswordApproved(role) {
		pw = "" // its first password waits for a second administrator
	}
	a, err := e.accounts.Create(t.Context(), account.NewAccount{Email: email, Name: "Person " + email, Role: role,
		Password: pw, Creator: creator})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// membershipLog records the service's membership changes.
type membershipLog struct {
	mu  sync.Mutex
	got []MembershipChange
}

func (l *membershipLog) add(_ context.Context, _ string, ch MembershipChange) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, ch)
}

func (l *membershipLog) changes() []MembershipChange {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]MembershipChange(nil), l.got...)
}

// Accounts made through the API record their creators, transitively.
func TestAccountLineage(t *testing.T) {
	e := newEnv(t)
	root := e.stored(t, policy.RoleAdmin, "root@example.org", nil)
	child := e.stored(t, policy.RoleAdmin, "child@example.org", &root)
	grand := e.stored(t, policy.RoleRecords, "grand@example.org", &child)
	got, err := e.accounts.Get(t.Context(), grand.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.CreatedBy != child.ID || len(got.Lineage) != 2 || got.Lineage[0] != child.ID || got.Lineage[1] != root.ID {
		t.Fatalf("lineage: %+v", got)
	}
	if len(root.Lineage) != 0 || root.CreatedBy != "" {
		t.Fatalf("the operator's account has a creator: %+v", root)
	}
}

// The whole life of a reassignment at the service: the nominee is pending
// (not in Facts, no membership change) until the notice ends; the first
// read after it activates them exactly once, however many readers race;
// a recusal proposal approved while an assignment is pending withdraws it.
func TestPendingMediatorActivation(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	e.svc.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	log := &membershipLog{}
	e.svc.OnMembership = log.add

	med := e.stored(t, policy.RoleMediator, "med@example.org", nil)
	a1 := e.stored(t, policy.RoleAdmin, "a1@example.org", nil)
	a2 := e.stored(t, policy.RoleAdmin, "a2@example.org", nil)
	n1 := e.stored(t, policy.RoleMediator, "n1@example.org", nil)
	n2 := e.stored(t, policy.RoleMediator, "n2@example.org", nil)
	c := e.newCase(t, med, "pending")
	party := e.join(t, med, c.ID, RoleParty, "A", "Pat")
	if _, err := e.svc.Recuse(ctx, med, c.ID, "", "moving away"); err != nil {
		t.Fatal(err)
	}

	// n1 proposed, approved, then withdrawn before the notice ends.
	p, err := e.svc.ProposeAssignment(ctx, a1, c.ID, n1.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ApproveProposal(ctx, a2, c.ID, p.ID, ProposeAssignment); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.Get(ctx, party, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.PendingMediators) != 1 || got.Notices[0].Text != "The program assigned a new mediator, Person n1@example.org. They can read the case from 5 Dec 2026 09:00 UTC." {
		t.Fatalf("pending: %+v %+v", got.PendingMediators, got.Notices)
	}
	if len(got.Facts().Mediators) != 1 {
		t.Fatalf("the pending mediator is in the facts: %+v", got.Facts())
	}
	w, err := e.svc.ProposeRecusal(ctx, a2, c.ID, n1.ID, "a party objected")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ApproveProposal(ctx, a1, c.ID, w.ID, ""); err != nil {
		t.Fatal(err)
	}
	advance(DefaultReassignmentNotice + time.Minute)
	_, err = e.svc.Get(ctx, n1, c.ID)
	wantIs(t, err, fault.ErrNotFound) // no place in the case: told as for a case that is not there
	if got, _ := e.svc.Get(ctx, party, c.ID); len(got.Notices) != 2 || got.Notices[1].Kind != NoticeWithdrawn || len(got.PendingMediators) != 0 {
		t.Fatalf("withdrawal: %+v", got.Notices)
	}

	// n2: the notice ends; racing readers activate them once.
	p, err = e.svc.ProposeAssignment(ctx, a2, c.ID, n2.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ApproveProposal(ctx, a1, c.ID, p.ID, ""); err != nil {
		t.Fatal(err)
	}
	before := len(log.changes())
	advance(DefaultReassignmentNotice)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.svc.Get(ctx, party, c.ID); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if _, err := e.svc.Get(ctx, n2, c.ID); err != nil {
		t.Fatalf("the new mediator after the notice: %v", err)
	}
	added := 0
	for _, ch := range log.changes()[before:] {
		if ch.Kind == "mediator.added" && ch.Account == n2.ID {
			added++
			if ch.By != "" {
				t.Errorf("the activation is made by %s; no one made it", ch.By)
			}
		}
	}
	if added != 1 {
		t.Fatalf("%d membership changes for the activation, want 1: %+v", added, log.changes())
	}
	// No one acted: the nominee is what the entry is about, not its actor.
	if ev := e.lastEntry(t); ev.Type != "case.mediator.added" || ev.Objects[0] != n2.ID || ev.Actor != SystemActor {
		t.Fatalf("activation audit: %+v", ev)
	}
	// A recusal's change names who made it: the mediator recusing
	// themselves first, then the approver of the proposal.
	for _, ch := range log.changes() {
		if ch.Kind == "mediator.recused" && ch.Account == med.ID && ch.By != med.ID {
			t.Errorf("the mediator's own recusal is made by %q", ch.By)
		}
	}
	r, err := e.svc.ProposeRecusal(ctx, a1, c.ID, n2.ID, "moved firms")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ApproveProposal(ctx, a2, c.ID, r.ID, ""); err != nil {
		t.Fatal(err)
	}
	if chs := log.changes(); chs[len(chs)-1].Kind != "mediator.recused" || chs[len(chs)-1].Account != n2.ID || chs[len(chs)-1].By != a2.ID {
		t.Fatalf("the approved recusal's change: %+v, want it made by the approver", chs[len(chs)-1])
	}
}

// Decided proposals never fill a case: one staff member proposing and
// withdrawing over and over cannot block the next real recusal.
func TestDecidedProposalsDoNotFillTheCase(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	med := e.stored(t, policy.RoleMediator, "med@example.org", nil)
	a1 := e.stored(t, policy.RoleAdmin, "a1@example.org", nil)
	a2 := e.stored(t, policy.RoleAdmin, "a2@example.org", nil)
	c := e.newCase(t, med, "full")
	for i := 0; i < MaxProposals+5; i++ {
		p, err := e.svc.ProposeRecusal(ctx, a1, c.ID, med.ID, "x")
		if err != nil {
			t.Fatalf("proposal %d: %v", i, err)
		}
		if _, err := e.svc.DeclineProposal(ctx, a1, c.ID, p.ID); err != nil {
			t.Fatalf("withdraw %d: %v", i, err)
		}
	}
	p, err := e.svc.ProposeRecusal(ctx, a1, c.ID, med.ID, "a real conflict")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ApproveProposal(ctx, a2, c.ID, p.ID, ""); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.Load(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := got.Mediator(med.ID); m.Recused == nil || len(got.Proposals) > MaxProposals {
		t.Fatalf("recused %v, proposals kept %d", m.Recused, len(got.Proposals))
	}
}

// TestApprovedAssignmentKeptUntilItsActivation: the approval of a
// mediator still in their notice period is never pushed off the case's
// record by later decided proposals (MaxDecidedProposals), since the
// activation weighs its proposer and approver again; once it took effect,
// it makes room like any other.
func TestApprovedAssignmentKeptUntilItsActivation(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	e.svc.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	med := e.stored(t, policy.RoleMediator, "med@example.org", nil)
	a1 := e.stored(t, policy.RoleAdmin, "a1@example.org", nil)
	a2 := e.stored(t, policy.RoleAdmin, "a2@example.org", nil)
	n1 := e.stored(t, policy.RoleMediator, "n1@example.org", nil)
	c := e.newCase(t, med, "kept")
	if _, err := e.svc.Recuse(ctx, med, c.ID, "", "moving away"); err != nil {
		t.Fatal(err)
	}
	p, err := e.svc.ProposeAssignment(ctx, a1, c.ID, n1.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ApproveProposal(ctx, a2, c.ID, p.ID, ""); err != nil {
		t.Fatal(err)
	}
	// More declined proposals than the record keeps decided ones.
	for range MaxDecidedProposals + 2 {
		r, err := e.svc.ProposeRecusal(ctx, a1, c.ID, n1.ID, "a party objected")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.DeclineProposal(ctx, a2, c.ID, r.ID); err != nil {
			t.Fatal(err)
		}
	}
	list, err := e.svc.Proposals(ctx, a1, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(list, func(q Proposal) bool { return q.ID == p.ID && q.Status == ProposalApproved }) {
		t.Fatalf("the approved assignment left the record before its activation: %+v", list)
	}
	advance(DefaultReassignmentNotice + time.Minute)
	if _, err := e.svc.Get(ctx, n1, c.ID); err != nil {
		t.Fatalf("the new mediator after the notice: %v", err)
	}
	if got, _ := e.svc.Get(ctx, n1, c.ID); len(got.PendingMediators) != 0 {
		t.Fatalf("still pending: %+v", got.PendingMediators)
	}
}
