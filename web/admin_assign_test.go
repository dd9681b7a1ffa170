package web_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
)

// orphanedCase is newAdminCase whose only mediator has recused: the
// program may propose a new one.
func orphanedCase(t *testing.T) *adminCase {
	t.Helper()
	k := newAdminCase(t)
	if _, err := k.medC.CaseAction(t.Context(), k.id, "recusals", map[string]string{"reason": "I know a party"}); err != nil {
		t.Fatal(err)
	}
	return k
}

// takeOver is administrator taker approving a reset of the account's
// password that requester asked for: taker holds the temporary password,
// signs in as the account and chooses its password.
func takeOver(t *testing.T, k *adminCase, requester, taker *client.Client, acct account.Account) *client.Client {
	t.Helper()
	ctx := t.Context()
	if _, err := requester.ResetPassword(ctx, acct.ID); err != nil {
		t.Fatalf("requesting a reset of %s: %v", acct.Email, err)
	}
	res, err := taker.ApproveReset(ctx, acct.ID)
	if err != nil {
		t.Fatalf("approving the reset of %s: %v", acct.Email, err)
	}
	c := client.New(k.n.URL, "")
	if _, err := c.Login(ctx, acct.Email, res.TemporaryPassword); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ChangePassword(ctx, res.TemporaryPassword, nodetest.Password); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestProposerTakesNomineeBeforeApproval (review 378): administrator A
// proposes an independent mediator N for an orphaned case, then approves
// a reset of N's password that administrator C asked for, so A holds N.
// Honest administrator B's approval of A's proposal is refused: the
// proposer is weighed against the nominee as they are at the approval,
// not as they were when A proposed. N reads nothing, a month on.
func TestProposerTakesNomineeBeforeApproval(t *testing.T) {
	k := orphanedCase(t)
	ctx := t.Context()
	_, adminA := k.n.Staff(t, policy.RoleAdmin, "a@example.org")
	_, adminB := k.n.Staff(t, policy.RoleAdmin, "b@example.org")
	_, adminC := k.n.Staff(t, policy.RoleAdmin, "c@example.org")
	nominee, _ := k.n.Staff(t, policy.RoleMediator, "n@example.org")

	p, err := proposeAssignment(ctx, adminA, k.id, nominee.ID)
	if err != nil {
		t.Fatalf("A proposing an independent mediator: %v", err)
	}
	asN := takeOver(t, k, adminC, adminA, nominee)
	if _, err := approve(ctx, adminB, k.id, p.ID); err == nil || apiErr(t, err).Status != http.StatusForbidden {
		t.Errorf("B approved A's assignment of a mediator A now holds: %v", err)
	}
	k.clock.Advance(cases.DefaultReassignmentNotice + time.Hour)
	k.readsNothing(t, "A signed in as the nominee", asN)
	k.clock.Advance(30 * 24 * time.Hour)
	k.readsNothing(t, "A signed in as the nominee, a month on", asN)
}

// TestAssignmentLapsesWhenNomineeTakenDuringNotice: the assignment was
// approved while everyone was independent; during the notice period the
// proposer (then, in a second case, the approver) takes the nominee's
// account through a reset a colleague asked for. When the period ends the
// nominee is not made a mediator: the proposal is lapsed with a note in
// plain words, every participant is told, the audit log says so, the
// nominee reads nothing, and the program may propose another mediator.
func TestAssignmentLapsesWhenNomineeTakenDuringNotice(t *testing.T) {
	for _, taker := range []string{"proposer", "approver"} {
		t.Run(taker, func(t *testing.T) {
			k := orphanedCase(t)
			ctx := t.Context()
			_, adminA := k.n.Staff(t, policy.RoleAdmin, "a@example.org")
			_, adminB := k.n.Staff(t, policy.RoleAdmin, "b@example.org")
			_, adminC := k.n.Staff(t, policy.RoleAdmin, "c@example.org")
			_, records := k.n.Staff(t, policy.RoleRecords, "r@example.org")
			nominee, _ := k.n.Staff(t, policy.RoleMediator, "n@example.org")

			p, err := proposeAssignment(ctx, adminA, k.id, nominee.ID)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := approve(ctx, adminB, k.id, p.ID); err != nil {
				t.Fatalf("independent approval: %v", err)
			}
			who := map[string]*client.Client{"proposer": adminA, "approver": adminB}[taker]
			asN := takeOver(t, k, adminC, who, nominee)
			k.readsNothing(t, "the pending nominee", asN)

			k.clock.Advance(cases.DefaultReassignmentNotice + time.Minute)
			k.readsNothing(t, "the "+taker+" signed in as the nominee after the notice", asN)
			c, err := k.party["A"].Case(ctx, k.id)
			if err != nil {
				t.Fatal(err)
			}
			if len(c.PendingMediators) != 0 || len(c.Mediators) != 1 {
				t.Fatalf("after the lapse: pending %+v, mediators %+v", c.PendingMediators, c.Mediators)
			}
			last := c.Notices[len(c.Notices)-1]
			if last.Kind != string(cases.NoticeLapsed) || !strings.Contains(last.Text, "did not take effect") ||
				!strings.Contains(last.Text, nominee.Name) || strings.Contains(last.Text, nominee.ID) {
				t.Fatalf("the participants' notice: %+v", last)
			}
			var list []api.Proposal
			if err := records.Do(ctx, http.MethodGet, "/api/v1/cases/"+k.id+"/proposals", nil, &list); err != nil {
				t.Fatal(err)
			}
			if len(list) != 1 || list[0].Status != "lapsed" || !strings.Contains(list[0].Note, "could sign in as the nominee") {
				t.Fatalf("the program's proposal list: %+v", list)
			}
			entries := auditEntries(t, records)
			if !strings.Contains(entries, `"case.assignment.lapsed"`) || strings.Contains(entries, `"notice-elapsed"`) {
				t.Fatalf("the audit log does not tell the lapse (or tells an activation): %s", entries)
			}
			// The case is orphaned again: an independent mediator is
			// proposed, approved and reads after the notice.
			other, otherC := k.n.Staff(t, policy.RoleMediator, "o@example.org")
			p2, err := proposeAssignment(ctx, adminC, k.id, other.ID)
			if err != nil {
				t.Fatalf("proposing another mediator after the lapse: %v", err)
			}
			if _, err := approve(ctx, records, k.id, p2.ID); err != nil {
				t.Fatal(err)
			}
			k.clock.Advance(cases.DefaultReassignmentNotice + time.Minute)
			k.readsAll(t, "the next mediator", otherC)
			k.readsNothing(t, "the lapsed nominee", asN)
		})
	}
}

// TestAssignerCannotApproveResetAfterActivation (review of 2026-12-07):
// A proposes mediator N for an orphaned case, B approves, and the
// assignment takes effect after the notice. Honest administrator C asked
// for a reset of N's password during the notice (a request stays
// approvable for a week). Neither A nor B may approve it: they would hold
// N's temporary password and read the case as N. Each refusal is audited.
// An independent administrator D may approve.
func TestAssignerCannotApproveResetAfterActivation(t *testing.T) {
	k := orphanedCase(t)
	ctx := t.Context()
	a, adminA := k.n.Staff(t, policy.RoleAdmin, "a@example.org")
	b, adminB := k.n.Staff(t, policy.RoleAdmin, "b@example.org")
	_, adminC := k.n.Staff(t, policy.RoleAdmin, "c@example.org")
	_, adminD := k.n.Staff(t, policy.RoleAdmin, "d@example.org")
	nominee, _ := k.n.Staff(t, policy.RoleMediator, "n@example.org")

	p, err := proposeAssignment(ctx, adminA, k.id, nominee.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := approve(ctx, adminB, k.id, p.ID); err != nil {
		t.Fatalf("independent approval: %v", err)
	}
	if _, err := adminC.ResetPassword(ctx, nominee.ID); err != nil {
		t.Fatalf("C requesting a reset of the nominee's password: %v", err)
	}
	k.clock.Advance(cases.DefaultReassignmentNotice + time.Minute)
	c, err := k.party["A"].Case(ctx, k.id)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.PendingMediators) != 0 || !slices.ContainsFunc(c.Mediators, func(m api.Mediator) bool { return m.AccountID == nominee.ID }) {
		t.Fatalf("the assignment did not take effect: pending %+v, mediators %+v", c.PendingMediators, c.Mediators)
	}
	for _, who := range []struct {
		name string
		acct account.Account
		c    *client.Client
	}{{"the proposer", a, adminA}, {"the approver", b, adminB}} {
		from := k.n.Audit.Size()
		res, err := who.c.ApproveReset(ctx, nominee.ID)
		if err == nil || apiErr(t, err).Status != http.StatusForbidden {
			t.Fatalf("%s approved a reset of the mediator they assigned (password given: %v): %v", who.name, res.TemporaryPassword != "", err)
		}
		// The refusal says why and who may approve instead (UX review 379:
		// it was the generic "forbidden").
		if p := apiErr(t, err).Problem; p.Type != api.ProblemTypeBase+string(api.ProblemResetApproverAssigned) ||
			!strings.Contains(p.Detail, "you proposed or approved assigning this person to a case") || !strings.Contains(p.Detail, "Ask another administrator, who took no part in that assignment, to approve it") {
			t.Errorf("the refusal of %s is %q: %q, not in words saying why", who.name, p.Type, p.Detail)
		}
		audited := false
		for i := from; i < k.n.Audit.Size() && !audited; i++ {
			ev, err := k.n.Audit.Entry(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			audited = ev.Type == "access.denied" && ev.Actor == who.acct.ID && slices.Contains(ev.Objects, nominee.ID)
		}
		if !audited {
			t.Errorf("the refusal of %s is not audited as access.denied", who.name)
		}
	}
	res, err := adminD.ApproveReset(ctx, nominee.ID)
	if err != nil || res.TemporaryPassword == "" {
		t.Fatalf("an independent administrator cannot approve: %v", err)
	}
}
