package caucus

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/policy"
)

// seats is the key directory's answer about a case's signed membership
// as a test sets it (cases.MembershipReader).
type seats struct {
	mu        sync.Mutex
	seated    []string
	statement bool
}

func (s *seats) SeatedMediators(context.Context, string) ([]string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seated), s.statement, nil
}

func (s *seats) set(mediators ...string) {
	s.mu.Lock()
	s.seated, s.statement = mediators, true
	s.mu.Unlock()
}

// TestUnconfirmedMediatorInNoRoom: a co-mediator on the case record whom
// no seated mediator has confirmed pages no caucus's history, joins no
// room on a connection and is listed in no room, nor named as a member of
// one; a refusal over HTTP is audited as access.denied naming the rule and
// says in words, naming no rule, what they wait for. Once a statement
// seats them, all of it works. The case's opener, before any statement,
// is in every room.
func TestUnconfirmedMediatorInNoRoom(t *testing.T) {
	e := newRoomsEnv(t)
	ctx := t.Context()
	m := &seats{}
	e.cases.Membership = m
	med := account.Account{ID: ids.New("u"), Name: "Mia Mediator", Role: policy.RoleMediator}
	co := account.Account{ID: ids.New("u"), Name: "Cole Comediator", Role: policy.RoleMediator}
	c := e.tenancyCase(t, med, func(k *cases.Case) {
		k.Mediators = append(k.Mediators, cases.Mediator{AccountID: co.ID, Name: co.Name, Added: time.Now().UTC()})
	})
	caucusA := CaucusName("A")

	// The opener, before any statement.
	if _, _, err := e.rooms.History(ctx, med, c.ID, caucusA, messaging.Position{}, 10); err != nil {
		t.Fatalf("the opener's caucus history before any statement: %v", err)
	}
	if _, err := e.rooms.Authorizer(med, c.ID).Resolve(ctx, caucusA, "join"); err != nil {
		t.Fatalf("the opener joins the caucus before any statement: %v", err)
	}

	try := func(stage string) {
		t.Helper()
		_, _, err := e.rooms.History(ctx, co, c.ID, caucusA, messaging.Position{}, 10)
		if !errors.Is(err, cases.ErrUnconfirmed) || !errors.Is(err, fault.ErrForbidden) {
			t.Fatalf("%s: caucus history: %v; want the refusal of an unconfirmed co-mediator", stage, err)
		}
		if strings.Contains(err.Error(), "unconfirmed-mediators") || !strings.Contains(err.Error(), "rooms") {
			t.Fatalf("%s: words %q", stage, err)
		}
		ev, err2 := e.log.Entry(ctx, e.log.Size()-1)
		if err2 != nil {
			t.Fatal(err2)
		}
		if ev.Type != "access.denied" || ev.Actor != co.ID || ev.Attrs["rule"] != cases.RuleUnconfirmedRooms || ev.Attrs["room"] != caucusA {
			t.Fatalf("%s: audited as %+v", stage, ev)
		}
		for _, name := range []string{JointName, caucusA, CaucusName("B"), MediatorsName} {
			if _, err := e.rooms.Authorizer(co, c.ID).Resolve(ctx, name, "join"); !errors.Is(err, messaging.ErrForbidden) {
				t.Fatalf("%s: joins %s on a connection: %v", stage, name, err)
			}
		}
		views, err := e.rooms.Rooms(ctx, co, c.ID)
		if err != nil || len(views) != 0 {
			t.Fatalf("%s: lists rooms %v, %v", stage, views, err)
		}
		views, err = e.rooms.Rooms(ctx, med, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range views {
			if slices.Contains(v.Members, co.ID) {
				t.Fatalf("%s: %s names the unconfirmed co-mediator as a member", stage, v.Name)
			}
		}
	}
	try("no statement")
	m.set(med.ID)
	e.cases.ForgetSeats(c.ID)
	try("a statement seating the opener alone")

	m.set(med.ID, co.ID)
	e.cases.ForgetSeats(c.ID)
	if _, _, err := e.rooms.History(ctx, co, c.ID, caucusA, messaging.Position{}, 10); err != nil {
		t.Fatalf("the admitted co-mediator's caucus history: %v", err)
	}
	if _, err := e.rooms.Authorizer(co, c.ID).Resolve(ctx, caucusA, "join"); err != nil {
		t.Fatalf("the admitted co-mediator joins the caucus: %v", err)
	}
	views, err := e.rooms.Rooms(ctx, co, c.ID)
	if err != nil || len(views) != 4 {
		t.Fatalf("the admitted co-mediator lists %d rooms, %v", len(views), err)
	}
}
