package floor_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/policy"
)

// TestAnotherCaseLooksLikeNoCase: a mediator of no place in a case asks
// for its room controls, raises or lowers a hand or sets a timer there,
// and does the same for a case id with no case. Each pair gets one answer
// (the same error but for the id asked) and the same audit entries.
func TestAnotherCaseLooksLikeNoCase(t *testing.T) {
	ctx := t.Context()
	_, _, log, _, cs, fl := newWorld(t)
	med := account.Account{ID: ids.New("u"), Name: "Mia", Role: policy.RoleMediator}
	outsider := account.Account{ID: ids.New("u"), Name: "Oz", Role: policy.RoleMediator}
	c, err := cs.Create(ctx, med, cases.NewCase{Title: "X", Type: "tenancy", SideLabels: []string{"A", "B"}})
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]func(caseID string) error{
		"view":  func(id string) error { _, err := fl.View(ctx, outsider, id); return err },
		"raise": func(id string) error { _, err := fl.RaiseHand(ctx, outsider, id, "joint"); return err },
		"lower": func(id string) error { return fl.LowerHand(ctx, outsider, id, "joint", "") },
		"timer": func(id string) error {
			_, err := fl.SetTimer(ctx, outsider, id, "joint", api.TimerRequest{Minutes: 5})
			return err
		},
		"clear timer": func(id string) error { return fl.ClearTimer(ctx, outsider, id, "joint") },
		"give floor": func(id string) error {
			_, err := fl.GiveFloor(ctx, outsider, id, "joint", api.FloorRequest{Side: "A", Minutes: 5})
			return err
		},
		"take floor": func(id string) error { return fl.TakeFloor(ctx, outsider, id, "joint") },
	}
	// answer is what the call says and what it audits, the id asked blanked.
	answer := func(call func(string) error, caseID string) string {
		before := log.Size()
		err := call(caseID)
		var b strings.Builder
		fmt.Fprintf(&b, "error %v;", err)
		for i := before; i < log.Size(); i++ {
			ev, err := log.Entry(context.Background(), i)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, " %s %s %s %v;", ev.Type, ev.Actor, ev.Case, ev.Attrs)
		}
		return strings.ReplaceAll(b.String(), caseID, "ID")
	}
	for what, call := range calls {
		exists, missing := answer(call, c.ID), answer(call, ids.New("c"))
		if exists != missing {
			t.Errorf("%s: another case and no case answer differently\nexists:  %s\nmissing: %s", what, exists, missing)
		}
		if !strings.Contains(exists, "not found") || !strings.Contains(exists, "access.denied") {
			t.Errorf("%s: want a not-found refusal, audited: %s", what, exists)
		}
	}
}
