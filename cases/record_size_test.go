package cases

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/policy"
)

// TestLoneAdminCannotFillTheCaseRecord: one administrator proposing and
// withdrawing recusals with the longest reasons allowed, each character
// one that JSON escapes to six bytes ('<' is \u003c), cannot grow the case
// record past what it may hold: the mediator's next change still works.
// Before, the decided proposals kept (up to MaxProposals, 100) outgrew
// metastore.MaxRecordSize, and from then on every change to the case
// failed (500).
func TestLoneAdminCannotFillTheCaseRecord(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	med := e.stored(t, policy.RoleMediator, "med-full@example.org", nil)
	admin := e.stored(t, policy.RoleAdmin, "admin-full@example.org", nil)
	c := e.newCase(t, med, "full")
	reason := strings.Repeat("<", MaxTextLen)
	// 50 rounds: before, the record outgrew MaxRecordSize at the 43rd.
	for i := range 50 {
		p, err := e.svc.ProposeRecusal(ctx, admin, c.ID, med.ID, reason)
		if err != nil {
			t.Fatalf("proposal %d: %v", i, err)
		}
		if _, err := e.svc.DeclineProposal(ctx, admin, c.ID, p.ID); err != nil {
			t.Fatalf("withdrawal %d: %v", i, err)
		}
	}
	if _, err := e.svc.SetTerms(ctx, med, c.ID, "These are the terms of this mediation."); err != nil {
		t.Fatalf("the mediator's next change: %v", err)
	}
	if got := e.raw(t, c.ID); decided(got.Proposals) > MaxDecidedProposals {
		t.Fatalf("%d decided proposals kept, at most %d", decided(got.Proposals), MaxDecidedProposals)
	}
}

// TestTooLargeCaseIsAPlainConflict: a change the case record cannot hold
// is refused as a conflict in plain words, not an internal error naming
// the storage key.
func TestTooLargeCaseIsAPlainConflict(t *testing.T) {
	err := caseWriteError(fmt.Errorf("cases/c_x/case: %w", metastore.ErrTooLarge))
	if !errors.Is(err, fault.ErrConflict) || !errors.Is(err, ErrCaseFull) || strings.Contains(err.Error(), "metastore") || strings.Contains(err.Error(), "cases/") {
		t.Fatalf("too large: %v", err)
	}
}
