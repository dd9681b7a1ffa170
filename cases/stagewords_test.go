package cases

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/policy"
)

// TestStageRefusalsNameStagesInWords (UX review 379 LOW, raw stage codes):
// a refusal about a case's stage, which a mediator's desk shows as the
// server words it, names the stage as the desk does ("Negotiation and
// issue resolution"), never by its code word ("negotiation").
func TestStageRefusalsNameStagesInWords(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	m := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, m, "Stage words")
	codes := regexp.MustCompile(`\b(preparation|opening|issues|negotiation|closure)\b`)
	plain := func(what string, err error, want ...string) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: not refused", what)
		}
		detail := err.Error()
		var inv *fault.InvalidError
		if errors.As(err, &inv) {
			detail = inv.Detail
		}
		detail = strings.TrimSuffix(detail, ": "+fault.ErrConflict.Error())
		if codes.MatchString(detail) {
			t.Errorf("%s: the refusal names a stage by its code word: %q", what, detail)
		}
		for _, w := range want {
			if !strings.Contains(detail, w) {
				t.Errorf("%s: the refusal %q does not say %q", what, detail, w)
			}
		}
	}
	_, err := e.svc.SetStage(ctx, m, c.ID, StagePreparation, "")
	wantIs(t, err, fault.ErrConflict)
	plain("moving to the stage it is at", err, "“Preparation and case assessment”")
	_, err = e.svc.SetStage(ctx, m, c.ID, StageIssues, "")
	plain("skipping a stage", err, "“Preparation and case assessment”", "“Opening session and ground rules”")
	_, _, err = e.svc.RecordOutcome(ctx, m, c.ID, FullAgreement, 1, 1)
	wantIs(t, err, fault.ErrConflict)
	plain("an outcome before closure", err, "once the case is closed", "“Preparation and case assessment”")
}
