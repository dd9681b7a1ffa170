package floor_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/policy"
)

// seats is the key directory's answer about a case's signed membership
// as a test sets it (cases.MembershipReader).
type seats struct {
	mu     sync.Mutex
	seated []string
}

func (s *seats) SeatedMediators(context.Context, string) ([]string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seated), s.seated != nil, nil
}

func (s *seats) set(mediators ...string) {
	s.mu.Lock()
	s.seated = mediators
	s.mu.Unlock()
}

// TestUnconfirmedMediatorControlsNoRoom: a co-mediator on the record whom
// no seated mediator has confirmed sets no timer, gives and takes back no
// floor, lowers no hand, and sees no hand, timer or turn; each refusal is
// audited as access.denied naming the rule, in words that name no rule,
// and a room that does not exist is refused the same way. Once admitted,
// they do all of it.
func TestUnconfirmedMediatorControlsNoRoom(t *testing.T) {
	ctx := t.Context()
	_, meta, log, _, cs, fl := newWorld(t)
	m := &seats{}
	cs.Membership = m
	mia := account.Account{ID: ids.New("u"), Name: "Mia", Role: policy.RoleMediator}
	max := account.Account{ID: ids.New("u"), Name: "Max", Role: policy.RoleMediator}
	tara := account.Account{ID: ids.New("u"), Name: "Tara", Role: policy.RoleParticipant}
	c, err := cs.Create(ctx, mia, cases.NewCase{Title: "Hands", Type: "tenancy", SideLabels: []string{"Tenant", "Landlord"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := metastore.Update(ctx, meta, "cases/"+c.ID+"/case", func(k *cases.Case) error {
		k.Mediators = append(k.Mediators, cases.Mediator{AccountID: max.ID, Name: max.Name})
		k.Participants = append(k.Participants, cases.Participant{AccountID: tara.ID, Name: tara.Name, Role: cases.RoleParty, Side: c.Sides[0].ID})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := fl.RaiseHand(ctx, tara, c.ID, "joint"); err != nil {
		t.Fatal(err)
	}
	if _, err := fl.SetTimer(ctx, mia, c.ID, "joint", api.TimerRequest{Minutes: 10}); err != nil {
		t.Fatalf("the opener sets a timer: %v", err)
	}
	refused := func(what string, err error, rule string) {
		t.Helper()
		if !errors.Is(err, cases.ErrUnconfirmed) || !errors.Is(err, fault.ErrForbidden) {
			t.Fatalf("%s: %v; want the refusal of an unconfirmed co-mediator", what, err)
		}
		if strings.Contains(err.Error(), "unconfirmed-mediators") {
			t.Fatalf("%s: the words name a rule: %v", what, err)
		}
		ev, err := log.Entry(ctx, log.Size()-1)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type != "access.denied" || ev.Actor != max.ID || ev.Case != c.ID || ev.Attrs["rule"] != rule || ev.Attrs["room"] != "" {
			t.Fatalf("%s audited as %+v", what, ev)
		}
	}
	try := func(stage string) {
		t.Helper()
		_, err := fl.SetTimer(ctx, max, c.ID, "joint", api.TimerRequest{Minutes: 5})
		refused(stage+": timer", err, cases.RuleUnconfirmedRooms)
		_, err = fl.SetTimer(ctx, max, c.ID, "room:abcdefgh23", api.TimerRequest{Minutes: 5})
		refused(stage+": timer of a room that does not exist", err, cases.RuleUnconfirmedRooms)
		err = fl.ClearTimer(ctx, max, c.ID, "joint")
		refused(stage+": clearing the timer", err, cases.RuleUnconfirmedRooms)
		_, err = fl.GiveFloor(ctx, max, c.ID, "joint", api.FloorRequest{Side: c.Sides[0].ID, Minutes: 3})
		refused(stage+": giving the floor", err, cases.RuleUnconfirmedRooms)
		err = fl.TakeFloor(ctx, max, c.ID, "joint")
		refused(stage+": taking it back", err, cases.RuleUnconfirmedRooms)
		err = fl.LowerHand(ctx, max, c.ID, "joint", tara.ID)
		refused(stage+": lowering Tara's hand", err, cases.RuleUnconfirmedRooms)
		_, err = fl.View(ctx, max, c.ID)
		refused(stage+": the view", err, cases.RuleUnconfirmedHands)
		if _, _, err := fl.Pushed(ctx, max, c.ID); !errors.Is(err, cases.ErrUnconfirmed) {
			t.Fatalf("%s: a connection's view: %v", stage, err)
		}
	}
	try("no statement")
	m.set(mia.ID)
	cs.ForgetSeats(c.ID)
	try("a statement seating Mia alone")
	if v, err := fl.View(ctx, mia, c.ID); err != nil || len(v.Hands) != 1 || len(v.Timers) != 1 {
		t.Fatalf("the seated mediator's view: %+v, %v", v, err)
	}

	m.set(mia.ID, max.ID)
	cs.ForgetSeats(c.ID)
	if v, err := fl.View(ctx, max, c.ID); err != nil || !v.Mediator || len(v.Hands) != 1 || len(v.Timers) != 1 {
		t.Fatalf("the admitted co-mediator's view: %+v, %v", v, err)
	}
	if err := fl.LowerHand(ctx, max, c.ID, "joint", tara.ID); err != nil {
		t.Fatalf("the admitted co-mediator lowers Tara's hand: %v", err)
	}
}
