package cases

import (
	"context"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/policy"
)

// countedSeats is seatedIn counting the key directory's reads.
type countedSeats struct {
	seated []string
	reads  *atomic.Int64
}

func (m countedSeats) SeatedMediators(context.Context, string) ([]string, bool, error) {
	m.reads.Add(1)
	return m.seated, true, nil
}

// TestUnconfirmedMediatorListsTheRosterOnly: in the case list and the
// case summary, a co-mediator on the record whom no seated mediator has
// confirmed gets what the roster view gives (ViewFor): the title, type,
// reference, stage and its history without notes, how many sides and
// participants, the dates — not the outcome (its sessions and hours, nor
// its result, which the roster view withholds too). Every field of the
// row is checked: a field added to api.Summary or api.Listed fails the
// test until it is decided here. The seated mediator's row and summary
// have the outcome, and so have the co-mediator's once admitted; only the
// waiting co-mediator's row is marked Waiting. The key
// directory is read only for a case with more than one mediator not
// recused.
func TestUnconfirmedMediatorListsTheRosterOnly(t *testing.T) {
	if n := reflect.TypeOf(api.Summary{}).NumField(); n != 10 {
		t.Fatalf("api.Summary has %d fields: decide what a co-mediator nobody confirmed gets of a new one (cases.Case.RosterView), then count it here", n)
	}
	if n := reflect.TypeOf(api.Listed{}).NumField(); n != 4 {
		t.Fatalf("api.Listed has %d fields: decide what a co-mediator nobody confirmed gets of a new one, then count it here", n)
	}
	e := newEnv(t)
	ctx := t.Context()
	reads := &atomic.Int64{}
	mia := e.stored(t, policy.RoleMediator, "mia@example.org", nil)
	max := e.stored(t, policy.RoleMediator, "max@example.org", nil)
	c := e.newCase(t, mia, "Flat 11")
	e.join(t, mia, c.ID, RoleParty, "A", "Pat")
	// One mediator: nobody waits, and the key directory is not asked.
	e.svc.Membership = countedSeats{seated: []string{mia.ID}, reads: reads}
	if l, err := e.svc.List(ctx, mia); err != nil || len(l) != 1 || l[0].Title != "Flat 11" {
		t.Fatalf("Mia's list, one mediator: %+v, %v", l, err)
	}
	if n := reads.Load(); n != 0 {
		t.Fatalf("the list of a case with one mediator read the key directory %d times", n)
	}
	e.svc.Membership = nil // no statement: Mia, who created the case, opens it
	if _, err := e.svc.AddMediator(ctx, mia, c.ID, max.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetStage(ctx, mia, c.ID, StageClosure, "side A walked out twice"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.RecordOutcome(ctx, mia, c.ID, api.FullAgreement, 3, 7.5); err != nil {
		t.Fatal(err)
	}
	stored, err := e.svc.Load(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := api.Summary{ID: c.ID, Reference: stored.Reference, Type: stored.Type, Stage: StageClosure, Sides: 2, Participants: 1,
		Created: stored.Created, Closed: stored.Closed, StageHistory: []StageChange{}}
	for _, h := range stored.StageHistory {
		h.Note = ""
		want.StageHistory = append(want.StageHistory, h)
	}
	if len(want.StageHistory) < 2 || stored.StageHistory[len(stored.StageHistory)-1].Note == "" {
		t.Fatalf("the stored stage history: %+v", stored.StageHistory)
	}
	// Marked Waiting: the desk then claims no outcome missing (UX review 379 leftovers: it said "outcome not recorded yet").
	wantRow := api.Listed{Summary: want, Title: "Flat 11", Relation: "mediator", Waiting: true}
	full := func(what string, who account.Account) {
		t.Helper()
		l, err := e.svc.List(ctx, who)
		if err != nil || len(l) != 1 || l[0].Outcome == nil || l[0].Outcome.Sessions != 3 || l[0].Outcome.Hours != 7.5 || l[0].Title != "Flat 11" || l[0].Waiting {
			t.Fatalf("%s: list %+v, %v", what, l, err)
		}
		s, err := e.svc.Summary(ctx, who, c.ID)
		if err != nil || s.Outcome == nil || s.Outcome.Sessions != 3 {
			t.Fatalf("%s: summary %+v, %v", what, s, err)
		}
	}
	waiting := func(what string) {
		t.Helper()
		l, err := e.svc.List(ctx, max)
		if err != nil || len(l) != 1 || !reflect.DeepEqual(l[0], wantRow) {
			t.Fatalf("%s: Max's list %+v, %v; want %+v", what, l, err, wantRow)
		}
		s, err := e.svc.Summary(ctx, max, c.ID)
		if err != nil || !reflect.DeepEqual(s, want) {
			t.Fatalf("%s: Max's summary %+v, %v; want %+v", what, s, err, want)
		}
		full(what+": Mia", mia)
	}
	waiting("no statement")
	e.svc.Membership = countedSeats{seated: []string{mia.ID}, reads: reads}
	e.svc.ForgetSeats(c.ID)
	waiting("not admitted")
	if reads.Load() == 0 {
		t.Fatal("the key directory was not read for a case with two mediators")
	}

	e.svc.Membership = seatedIn{mia.ID, max.ID}
	e.svc.ForgetSeats(c.ID)
	full("the admitted co-mediator", max)
}
