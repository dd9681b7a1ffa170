package cases

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/policy"
)

// TestProgramRecusalHoldsUnconfirmedCoMediator: a co-mediator whom no
// mediator let in (the signed membership does not seat Max, or, before
// the first statement, Mia opens the conversation) reads nothing when
// the program recuses Mia, the last mediator who could have let them in:
// they are held back for the notice period, as a mediator the program
// assigns — off the record's mediators, pending, no document or room
// action allowed — everyone in the case is told, it is audited, and
// after the period they are a mediator of the case who reads it. Until
// then (review 378's residual) Max read the whole case at once.
func TestProgramRecusalHoldsUnconfirmedCoMediator(t *testing.T) {
	for _, signed := range []bool{true, false} {
		name := "signed"
		if !signed {
			name = "before the first statement"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			ctx := t.Context()
			now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
			var mu sync.Mutex
			e.svc.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
			advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
			log := &membershipLog{}
			e.svc.OnMembership = log.add

			mia := e.stored(t, policy.RoleMediator, "mia@example.org", nil)
			max := e.stored(t, policy.RoleMediator, "max@example.org", nil)
			a1 := e.stored(t, policy.RoleAdmin, "a1@example.org", nil)
			a2 := e.stored(t, policy.RoleAdmin, "a2@example.org", nil)
			c := e.newCase(t, mia, "Flat 9")
			pat := e.join(t, mia, c.ID, RoleParty, "A", "Pat")
			if _, err := e.svc.AddMediator(ctx, mia, c.ID, max.ID); err != nil {
				t.Fatal(err)
			}
			if signed {
				e.svc.Membership = seatedIn{mia.ID}
			}
			// readsDocuments: may Max list the joint documents, decided as
			// the vault decides it (with Admission's fact)?
			readsDocuments := func() bool {
				t.Helper()
				got, err := e.svc.Load(ctx, c.ID)
				if err != nil {
					t.Fatal(err)
				}
				if err := e.svc.Admission(ctx, got); err != nil {
					t.Fatal(err)
				}
				return e.svc.policy.DecideDocument(max.Principal(), policy.DocList, policy.Document{Case: got.Facts(), Audience: policy.AudienceJoint}).Allowed
			}
			if readsDocuments() {
				t.Fatal("Max, unconfirmed, lists the documents before the recusal")
			}

			r, err := e.svc.ProposeRecusal(ctx, a1, c.ID, mia.ID, "conflict of interest")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.ApproveProposal(ctx, a2, c.ID, r.ID, ProposeRecusal); err != nil {
				t.Fatal(err)
			}
			e.svc.ForgetSeats(c.ID)
			if readsDocuments() {
				t.Fatal("Max lists the documents right after the program's recusal")
			}
			_, err = e.svc.Get(ctx, max, c.ID)
			wantIs(t, err, fault.ErrNotFound) // no place in the case meanwhile, as a nominee
			got, err := e.svc.Get(ctx, pat, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			from := now.Add(DefaultReassignmentNotice)
			if len(got.Notices) != 2 || got.Notices[0].Kind != NoticeRecused || got.Notices[1].Kind != NoticeHeld ||
				got.Notices[1].Mediator != max.ID || got.Notices[1].ReadsFrom == nil || !got.Notices[1].ReadsFrom.Equal(from) ||
				got.Notices[1].Text != "A mediator of the case added Person max@example.org as a co-mediator, and no mediator of the case had let them in yet; after this recusal none is left who could. They can read the case from 5 Dec 2026 09:00 UTC." {
				t.Fatalf("notices: %+v", got.Notices)
			}
			if len(got.PendingMediators) != 1 || got.PendingMediators[0].AccountID != max.ID || !got.PendingMediators[0].Held ||
				got.PendingMediators[0].Proposal != r.ID || !got.PendingMediators[0].ReadsFrom.Equal(from) {
				t.Fatalf("pending: %+v", got.PendingMediators)
			}
			if slices.Contains(got.Facts().Mediators, max.ID) {
				t.Fatalf("the held co-mediator is in the facts: %+v", got.Facts())
			}
			if !slices.ContainsFunc(log.changes(), func(ch MembershipChange) bool {
				return ch.Kind == "mediator.held" && ch.Account == max.ID && ch.By == a2.ID
			}) {
				t.Fatalf("no membership change for the hold: %+v", log.changes())
			}
			if ps, err := e.svc.Proposals(ctx, a1, c.ID); err != nil || ps[0].Status != ProposalApproved {
				t.Fatalf("the recusal: %+v, %v", ps, err)
			}
			held := false
			for i := range e.log.Size() {
				ev, err := e.log.Entry(ctx, i)
				if err != nil {
					t.Fatal(err)
				}
				if ev.Type == "case.comediator.held" {
					held = ev.Actor == a2.ID && slices.Equal(ev.Objects, []string{max.ID, r.ID}) && ev.Attrs["readsFrom"] == "2026-12-05T09:00:00Z"
				}
			}
			if !held {
				t.Fatal("the hold is not audited as case.comediator.held by the approver")
			}

			advance(DefaultReassignmentNotice - time.Minute)
			_, err = e.svc.Get(ctx, max, c.ID)
			wantIs(t, err, fault.ErrNotFound)
			advance(time.Minute)
			if _, err := e.svc.Get(ctx, pat, c.ID); err != nil {
				t.Fatal(err)
			}
			e.svc.ForgetSeats(c.ID)
			if !readsDocuments() {
				t.Fatal("Max does not list the documents after the notice period")
			}
			if _, err := e.svc.Get(ctx, max, c.ID); err != nil {
				t.Fatalf("Max after the notice period: %v", err)
			}
			if ev := e.lastEntry(t); ev.Type != "case.mediator.added" || ev.Objects[0] != max.ID || ev.Actor != SystemActor {
				t.Fatalf("activation audit: %+v", ev)
			}
			// Who recused Mia never approves a reset of Max's password.
			if acct, err := e.accounts.Get(ctx, max.ID); err != nil || !slices.Contains(acct.AssignedBy, a1.ID) || !slices.Contains(acct.AssignedBy, a2.ID) {
				t.Fatalf("Max's account does not record the recusal's proposer and approver: %+v, %v", acct.AssignedBy, err)
			}
		})
	}
}

// TestHeldCoMediatorLapsesWhenTheProgramHoldsThem: the held co-mediator is
// weighed against the recusal's proposer and approver when the notice
// period ends, as a nominee is: administrator A1 made Max's account, so
// A1's proposal to recuse Mia, approved by A2, does not hand Max (that
// is, A1) the case. Max stays out, the recusal stands, everyone is told,
// it is audited, and the case is orphaned for the program's assignment.
func TestHeldCoMediatorLapsesWhenTheProgramHoldsThem(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	e.svc.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	mia := e.stored(t, policy.RoleMediator, "mia@example.org", nil)
	a1 := e.stored(t, policy.RoleAdmin, "a1@example.org", nil)
	a2 := e.stored(t, policy.RoleAdmin, "a2@example.org", nil)
	max := e.stored(t, policy.RoleMediator, "max@example.org", &a1)
	c := e.newCase(t, mia, "Flat 10")
	pat := e.join(t, mia, c.ID, RoleParty, "A", "Pat")
	if _, err := e.svc.AddMediator(ctx, mia, c.ID, max.ID); err != nil {
		t.Fatal(err)
	}
	e.svc.Membership = seatedIn{mia.ID}
	r, err := e.svc.ProposeRecusal(ctx, a1, c.ID, mia.ID, "unreachable")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ApproveProposal(ctx, a2, c.ID, r.ID, ""); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(DefaultReassignmentNotice)
	mu.Unlock()
	got, err := e.svc.Get(ctx, pat, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ev := e.lastEntry(t); ev.Type != "case.comediator.lapsed" || ev.Actor != SystemActor || ev.Objects[0] != max.ID || ev.Attrs["reason"] != "controlled" {
		t.Fatalf("lapse audit: %+v", ev)
	}
	_, err = e.svc.Get(ctx, max, c.ID)
	wantIs(t, err, fault.ErrNotFound)
	last := got.Notices[len(got.Notices)-1]
	if len(got.PendingMediators) != 0 || slices.Contains(got.Facts().Mediators, max.ID) || last.Kind != NoticeLapsed ||
		!strings.Contains(last.Text, "did not become a mediator of the case") || strings.Contains(last.Text, "assignment") {
		t.Fatalf("the lapse: pending %+v, notices %+v", got.PendingMediators, got.Notices)
	}
	if ps, err := e.svc.Proposals(ctx, a1, c.ID); err != nil || ps[0].ID != r.ID || ps[0].Status != ProposalApproved {
		t.Fatalf("the recusal no longer stands: %+v, %v", ps, err)
	}
	nominee := e.stored(t, policy.RoleMediator, "n@example.org", nil)
	if _, err := e.svc.ProposeAssignment(ctx, a2, c.ID, nominee.ID, ""); err != nil {
		t.Fatalf("the case is not orphaned after the lapse: %v", err)
	}
}

// TestNoOneHeldWhileAConfirmedMediatorStays: the program's recusal holds
// nobody back while a mediator who reads the case stays (Max, seated,
// keeps reading; Zoe, unconfirmed, waits for a seated mediator as
// before), and a mediator's own withdrawal keeps today's behaviour (the
// co-mediator left reads at once: TestAdmissionOnceTheSeatedMediatorsLeft).
func TestNoOneHeldWhileAConfirmedMediatorStays(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	mia := e.stored(t, policy.RoleMediator, "mia@example.org", nil)
	max := e.stored(t, policy.RoleMediator, "max@example.org", nil)
	zoe := e.stored(t, policy.RoleMediator, "zoe@example.org", nil)
	a1 := e.stored(t, policy.RoleAdmin, "a1@example.org", nil)
	a2 := e.stored(t, policy.RoleAdmin, "a2@example.org", nil)
	c := e.newCase(t, mia, "Flat 11")
	for _, m := range []string{max.ID, zoe.ID} {
		if _, err := e.svc.AddMediator(ctx, mia, c.ID, m); err != nil {
			t.Fatal(err)
		}
	}
	e.svc.Membership = seatedIn{mia.ID, max.ID}
	r, err := e.svc.ProposeRecusal(ctx, a1, c.ID, mia.ID, "unreachable")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ApproveProposal(ctx, a2, c.ID, r.ID, ""); err != nil {
		t.Fatal(err)
	}
	e.svc.ForgetSeats(c.ID)
	got, err := e.svc.Load(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Admission(ctx, got); err != nil {
		t.Fatal(err)
	}
	if len(got.PendingMediators) != 0 || len(got.Notices) != 1 || !slices.Equal(got.Facts().Unconfirmed, []string{zoe.ID}) {
		t.Fatalf("held with a confirmed mediator left: pending %+v, notices %+v, unconfirmed %v", got.PendingMediators, got.Notices, got.Facts().Unconfirmed)
	}
}

// TestHeldCoMediatorRecusedIsRecusedForGood: the program recuses Max
// while the recusal of Mia holds him back; that recusal is final as any
// other. The program cannot assign Max to the case again, and a mediator
// it assigns later cannot add him back (he would read everything said
// while he was out at once, the case's seated mediators being gone).
// Until review 403, Max was only dropped from the pending list: both
// were accepted, and the recused-mediators rules did not name him.
func TestHeldCoMediatorRecusedIsRecusedForGood(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	e.svc.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	mia := e.stored(t, policy.RoleMediator, "mia@example.org", nil)
	max := e.stored(t, policy.RoleMediator, "max@example.org", nil)
	a1 := e.stored(t, policy.RoleAdmin, "a1@example.org", nil)
	a2 := e.stored(t, policy.RoleAdmin, "a2@example.org", nil)
	c := e.newCase(t, mia, "Flat 12")
	pat := e.join(t, mia, c.ID, RoleParty, "A", "Pat")
	if _, err := e.svc.AddMediator(ctx, mia, c.ID, max.ID); err != nil {
		t.Fatal(err)
	}
	e.svc.Membership = seatedIn{mia.ID}
	recuse := func(who string) {
		t.Helper()
		r, err := e.svc.ProposeRecusal(ctx, a1, c.ID, who, "conflict of interest")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.ApproveProposal(ctx, a2, c.ID, r.ID, ProposeRecusal); err != nil {
			t.Fatal(err)
		}
	}
	recuse(mia.ID)
	got, err := e.svc.Load(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.PendingMediators) != 1 || !got.PendingMediators[0].Held {
		t.Fatalf("Max is not held: %+v", got.PendingMediators)
	}
	recuse(max.ID)
	got, err = e.svc.Get(ctx, pat, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.PendingMediators) != 0 || !slices.Contains(got.Facts().Recused, max.ID) {
		t.Fatalf("Max after his recusal: pending %+v, recused %v", got.PendingMediators, got.Facts().Recused)
	}
	if _, err := e.svc.ProposeAssignment(ctx, a1, c.ID, max.ID, ""); !errors.Is(err, fault.ErrConflict) {
		t.Fatalf("the program proposes Max again: %v", err)
	}
	nominee := e.stored(t, policy.RoleMediator, "n@example.org", nil)
	p, err := e.svc.ProposeAssignment(ctx, a1, c.ID, nominee.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ApproveProposal(ctx, a2, c.ID, p.ID, ProposeAssignment); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(DefaultReassignmentNotice)
	mu.Unlock()
	if _, err := e.svc.Get(ctx, nominee, c.ID); err != nil {
		t.Fatalf("the assigned mediator after the notice: %v", err)
	}
	if _, err := e.svc.AddMediator(ctx, nominee, c.ID, max.ID); !errors.Is(err, fault.ErrConflict) {
		t.Fatalf("the assigned mediator adds Max back: %v", err)
	}
	_, err = e.svc.Get(ctx, max, c.ID)
	wantIs(t, err, fault.ErrForbidden) // a recused mediator of the case
}
