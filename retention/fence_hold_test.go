package retention

import (
	"errors"
	"testing"

	"github.com/parley-mediation/parley/internal/fault"
)

func TestFenceLiftedWhenHeldAfterCrash(t *testing.T) {
	t.Parallel()
	e, _, tc := outboxWorld(t)
	ctx := t.Context()
	p := e.planClosed(t, tc)
	crashed := false
	e.ret.hook = func(step string) error {
		if step == "case-journal" && !crashed {
			crashed = true
			return errors.New("injected crash")
		}
		return nil
	}
	if _, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err == nil {
		t.Fatal("want the injected crash")
	}
	e.ret.hook = nil
	if _, err := e.ret.PlaceHold(ctx, e.records, NewHold{Case: tc.id, Reason: "Court order", Authority: "Order 7"}); err != nil {
		t.Fatal(err)
	}
	pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil)
	if err != nil || !pr.Done {
		t.Fatalf("apply: %v %+v", err, pr)
	}
	if _, err := e.cases.Disclose(ctx, e.mediator, tc.id, "I once advised the employer"); errors.Is(err, fault.ErrGone) {
		t.Fatalf("held, kept case still fenced: every change refused: %v", err)
	}
}
