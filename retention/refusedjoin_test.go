package retention

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/vault"
)

// A mediator invites someone and closes the case before they open the
// link: once the case is disposed of, with its certificate, no account
// of theirs is left (the refused join made none: cases.JoinAs).
func TestDisposalAfterARefusedJoinLeavesNoAccount(t *testing.T) {
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
		iss, err := e.cases.CreateInvite(ctx, e.mediator, tc.id, cases.NewInvite{Role: cases.RoleParty, Side: "B", Name: "Late Lou", Email: "late.lou@example.test"})
		if err != nil {
			t.Fatal(err)
		}
		e.close(t, tc)
		if _, err := e.cases.Join(ctx, iss.Token); !errors.Is(err, cases.ErrClosed) {
			t.Fatalf("join into a closed case: %v, want %v", err, cases.ErrClosed)
		}
		e.clock = e.clock.Add(month)
		p, err := e.ret.MakePlan(ctx, e.records, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.approve(ctx, e.records2, p.ID); err != nil {
			t.Fatal(err)
		}
		if pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err != nil || !pr.Done {
			t.Fatalf("apply: %v %+v", err, pr)
		}
		var left []string
		if err := e.meta.List(ctx, "accounts/", func(key string) error {
			var a account.Account
			if _, err := e.meta.Get(ctx, key, &a); err != nil {
				return err
			}
			if a.Role == policy.RoleParticipant {
				left = append(left, a.Name+" <"+a.Email+">")
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(left) > 0 {
			t.Fatalf("after the certified disposal of the only case, participant accounts remain: %s", strings.Join(left, ", "))
		}
	})
}
