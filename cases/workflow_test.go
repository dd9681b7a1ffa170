package cases

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/policy"
)

func TestCreateCase(t *testing.T) {
	e := newEnv(t)
	m := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, m, "  Flat 3 deposit  ")
	if c.Title != "Flat 3 deposit" || c.Stage != StagePreparation || c.Closed != nil {
		t.Fatalf("new case: %+v", c)
	}
	if len(c.Sides) != 2 || c.Sides[0].ID != "A" || c.Sides[1].ID != "B" || c.Sides[1].Label != "Landlord" {
		t.Fatalf("sides: %+v", c.Sides)
	}
	if len(c.Mediators) != 1 || c.Mediators[0].AccountID != m.ID {
		t.Fatalf("mediators: %+v", c.Mediators)
	}
	if len(c.StageHistory) != 1 || c.StageHistory[0].To != StagePreparation {
		t.Fatalf("history: %+v", c.StageHistory)
	}
	if ev := e.lastEntry(t); ev.Type != "case.created" || ev.Case != c.ID || ev.Actor != m.ID {
		t.Fatalf("audit: %+v", ev)
	}
	got, err := e.svc.Get(t.Context(), m, c.ID)
	if err != nil || got.Title != c.Title {
		t.Fatalf("Get: %+v, %v", got, err)
	}
}

func TestCreateCaseValidatesAndAuthorizes(t *testing.T) {
	e := newEnv(t)
	m := staff(policy.RoleMediator, "Mia")
	ctx := t.Context()
	for _, tc := range []struct {
		n     NewCase
		field string
	}{
		{NewCase{Title: " ", Type: "t", SideLabels: []string{"a", "b"}}, "title"},
		{NewCase{Title: strings.Repeat("x", MaxTitleLen+1), Type: "t", SideLabels: []string{"a", "b"}}, "title"},
		{NewCase{Title: "x", Type: "", SideLabels: []string{"a", "b"}}, "type"},
		{NewCase{Title: "x", Type: "t", SideLabels: []string{"a"}}, "sides"},
		{NewCase{Title: "x", Type: "t", SideLabels: make([]string, MaxSides+1)}, "sides"},
		{NewCase{Title: "x", Type: "t", SideLabels: []string{"a", " "}}, "sides[1]"},
	} {
		_, err := e.svc.Create(ctx, m, tc.n)
		wantInvalid(t, err, tc.field)
	}
	for _, role := range []policy.Role{policy.RoleAdmin, policy.RoleRecords, policy.RoleParticipant} {
		_, err := e.svc.Create(ctx, staff(role, "x"), NewCase{Title: "x", Type: "t", SideLabels: []string{"a", "b"}})
		wantIs(t, err, fault.ErrForbidden)
	}
	disabled := staff(policy.RoleMediator, "Dis")
	disabled.Disabled = true
	_, err := e.svc.Create(ctx, disabled, NewCase{Title: "x", Type: "t", SideLabels: []string{"a", "b"}})
	wantIs(t, err, fault.ErrForbidden)
	list, err := e.svc.List(ctx, staff(policy.RoleRecords, "r"))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Fatalf("refused Creates left %d cases", len(list))
	}
}

func TestStageRules(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	m := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, m, "Stage rules")

	// Skipping a stage is refused, and nothing changes.
	_, err := e.svc.SetStage(ctx, m, c.ID, StageIssues, "")
	wantInvalid(t, err, "stage")
	_, err = e.svc.SetStage(ctx, m, c.ID, StageNegotiation, "")
	wantInvalid(t, err, "stage")
	_, err = e.svc.SetStage(ctx, m, c.ID, "bogus", "")
	wantInvalid(t, err, "stage")
	_, err = e.svc.SetStage(ctx, m, c.ID, StagePreparation, "")
	wantIs(t, err, fault.ErrConflict) // already there

	// Forward one step at a time.
	got, err := e.svc.SetStage(ctx, m, c.ID, StageOpening, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.Stage != StageOpening || len(got.StageHistory) != 2 {
		t.Fatalf("after opening: stage %s, history %+v", got.Stage, got.StageHistory)
	}
	if h := got.StageHistory[1]; h.From != StagePreparation || h.To != StageOpening || h.By != m.ID {
		t.Fatalf("history entry: %+v", h)
	}
	if ev := e.lastEntry(t); ev.Type != "case.stage" || ev.Attrs["from"] != "preparation" || ev.Attrs["to"] != "opening" {
		t.Fatalf("audit: %+v", ev)
	}
	if _, err := e.svc.SetStage(ctx, m, c.ID, StageIssues, ""); err != nil {
		t.Fatal(err)
	}

	// Back needs a note.
	_, err = e.svc.SetStage(ctx, m, c.ID, StagePreparation, "")
	wantInvalid(t, err, "note")
	_, err = e.svc.SetStage(ctx, m, c.ID, StageOpening, "   ")
	wantInvalid(t, err, "note")
	const note = "parties asked to revisit the ground rules"
	got, err = e.svc.SetStage(ctx, m, c.ID, StageOpening, "  "+note+"  ")
	if err != nil {
		t.Fatalf("back with a note: %v", err)
	}
	if got.Stage != StageOpening {
		t.Fatalf("stage = %s, want opening", got.Stage)
	}
	last := got.StageHistory[len(got.StageHistory)-1]
	if last.Note != note || last.From != StageIssues {
		t.Fatalf("history entry: %+v", last)
	}
	// Summaries drop notes.
	sum, err := e.svc.Summary(ctx, staff(policy.RoleRecords, "r"), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(sum); strings.Contains(string(b), note) {
		t.Fatal("summary contains a stage note")
	}
	if got.Closed != nil {
		t.Fatal("case closed early")
	}

	// Closure from here, then nothing moves.
	got, err = e.svc.SetStage(ctx, m, c.ID, StageClosure, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.Stage != StageClosure || got.Closed == nil {
		t.Fatalf("after closure: stage %s, closed %v", got.Stage, got.Closed)
	}
	for _, to := range Stages {
		_, err := e.svc.SetStage(ctx, m, c.ID, to, "reopening for a reason")
		wantIs(t, err, ErrClosed)
		wantIs(t, err, fault.ErrConflict)
	}
	_, err = e.svc.AddObjective(ctx, m, c.ID, KindObjective, "more")
	wantIs(t, err, ErrClosed)
	_, err = e.svc.CreateInvite(ctx, m, c.ID, NewInvite{Role: RoleObserver, Name: "Olly"})
	wantIs(t, err, ErrClosed)
	final, err := e.svc.Get(ctx, m, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if final.Stage != StageClosure || !final.Closed.Equal(*got.Closed) {
		t.Fatalf("closed case changed: %+v", final)
	}
}

func TestClosureFromAnyStage(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	m := staff(policy.RoleMediator, "Mia")
	for i, stage := range Stages[:len(Stages)-1] {
		c := e.newCase(t, m, "closure case")
		for _, step := range Stages[1 : i+1] {
			if _, err := e.svc.SetStage(ctx, m, c.ID, step, ""); err != nil {
				t.Fatalf("to %s: %v", step, err)
			}
		}
		got, err := e.svc.SetStage(ctx, m, c.ID, StageClosure, "")
		if err != nil {
			t.Fatalf("closure from %s: %v", stage, err)
		}
		if got.Closed == nil || got.Stage != StageClosure {
			t.Fatalf("closure from %s: %+v", stage, got)
		}
		if h := got.StageHistory[len(got.StageHistory)-1]; h.From != stage || h.To != StageClosure {
			t.Fatalf("closure from %s: history %+v", stage, h)
		}
	}
}

func TestObjectivesAndDisclosures(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	m := staff(policy.RoleMediator, "Mia")
	c := e.newCase(t, m, "objectives")
	if len(c.Objectives) != 2 {
		t.Fatalf("seeded objectives: %d", len(c.Objectives))
	}
	_, err := e.svc.AddObjective(ctx, m, c.ID, "wish", "text")
	wantInvalid(t, err, "kind")
	_, err = e.svc.AddObjective(ctx, m, c.ID, KindObjective, " ")
	wantInvalid(t, err, "text")
	_, err = e.svc.AddObjective(ctx, m, c.ID, KindObjective, strings.Repeat("x", MaxTextLen+1))
	wantInvalid(t, err, "text")
	got, err := e.svc.AddObjective(ctx, m, c.ID, KindCriterion, "deposit returned within 14 days")
	if err != nil {
		t.Fatal(err)
	}
	if o := got.Objectives[len(got.Objectives)-1]; o.Kind != KindCriterion || o.Text != "deposit returned within 14 days" || o.By != m.ID {
		t.Fatalf("objective: %+v", o)
	}

	got, err = e.svc.Disclose(ctx, m, c.ID, "I once rented from the landlord's agency")
	if err != nil {
		t.Fatal(err)
	}
	d := got.Disclosures[0]
	if d.Mediator != m.ID || len(d.Acks) != 0 {
		t.Fatalf("disclosure: %+v", d)
	}
	party := e.join(t, m, c.ID, RoleParty, "A", "Pat")
	observer := e.join(t, m, c.ID, RoleObserver, "", "Olly")
	for range 2 { // twice: acknowledging again is harmless
		got, err = e.svc.Acknowledge(ctx, party, c.ID, d.ID)
		if err != nil {
			t.Fatal(err)
		}
	}
	if acks := got.Disclosures[0].Acks; len(acks) != 1 || acks[0].AccountID != party.ID {
		t.Fatalf("acks: %+v", acks)
	}
	_, err = e.svc.Acknowledge(ctx, party, c.ID, "d_nosuch")
	wantIs(t, err, fault.ErrNotFound)
	_, err = e.svc.Acknowledge(ctx, observer, c.ID, d.ID)
	wantIs(t, err, fault.ErrForbidden)
	_, err = e.svc.Acknowledge(ctx, m, c.ID, d.ID)
	wantIs(t, err, fault.ErrForbidden)
}
