package retention

import (
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/vault"
)

// A withdrawal whose node died between the write that marks it withdrawn
// (and WithdrawnUnaudited) and its audit append, its marker for the audit
// sweep lost too: retention's residue sweep destroys the expired
// invitation record, and appends the withdrawal's entry first.
func TestResidueSweepAuditsAnUnauditedWithdrawal(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		ctx := t.Context()
		tc := e.newCase(t, map[string]vault.Class{})
		iss, err := e.cases.CreateInvite(ctx, e.mediator, tc.id, cases.NewInvite{Role: cases.RoleParty, Side: "B", Name: "Wanda", Email: "wanda@example.test"})
		if err != nil {
			t.Fatal(err)
		}
		key := "invites/" + e.meta.IndexKey("invite", iss.Token)
		now := time.Now().UTC()
		if _, err := metastore.Update(ctx, e.meta, key, func(inv *cases.Invite) error {
			inv.Withdrawn, inv.WithdrawnBy, inv.WithdrawnUnaudited = &now, e.mediator.ID, true
			inv.Expires = now.Add(-time.Hour)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.cases.SweepOnce(ctx); err != nil {
			t.Fatal(err)
		}
		e.clock = e.clock.Add(month + 48*time.Hour)
		e.applyWantOneWithdrawal(t, key, tc.id)
	})
}

// The same for an invitation opened and not finished (claimed, so not
// residue), then withdrawn: the disposal of its case's invitations
// appends the withdrawal's entry before it destroys the record.
func TestInvitationsDisposalAuditsAnUnauditedWithdrawal(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		ctx := t.Context()
		for _, class := range policy.CaseClasses() {
			if _, err := e.setRule(ctx, policy.RetentionRule{Class: class, Trigger: policy.TriggerCaseClosed, Days: 30}); err != nil {
				t.Fatal(err)
			}
		}
		tc := e.newCase(t, map[string]vault.Class{})
		iss, err := e.cases.CreateInvite(ctx, e.mediator, tc.id, cases.NewInvite{Role: cases.RoleParty, Side: "B", Name: "Wanda", Email: "wanda@example.test"})
		if err != nil {
			t.Fatal(err)
		}
		key := "invites/" + e.meta.IndexKey("invite", iss.Token)
		now := time.Now().UTC()
		if _, err := metastore.Update(ctx, e.meta, key, func(inv *cases.Invite) error {
			inv.ClaimedBy, inv.Claimed = "u_interruptedjoin", &now
			inv.Withdrawn, inv.WithdrawnBy, inv.WithdrawnUnaudited = &now, e.mediator.ID, true
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		e.close(t, tc)
		e.clock = e.clock.Add(month + 48*time.Hour)
		e.applyWantOneWithdrawal(t, key, tc.id)
	})
}

// applyWantOneWithdrawal makes, approves and applies a plan, then wants
// the invitation record key destroyed and one case.invite.withdrawn entry
// about case caseID in the log.
func (e *env) applyWantOneWithdrawal(t *testing.T, key, caseID string) {
	t.Helper()
	p := e.planApproved(t)
	if pr, err := e.ret.ApplyAll(t.Context(), e.records, p.ID, nil); err != nil || !pr.Done {
		t.Fatalf("apply: %v %+v", err, pr)
	}
	var inv cases.Invite
	_, gerr := e.meta.Get(t.Context(), key, &inv)
	if n := e.entriesOf(t, "case.invite.withdrawn", caseID); n != 1 || gerr == nil {
		t.Fatalf("invitation record after apply: %v; case.invite.withdrawn entries: %d, want 1", gerr, n)
	}
}
