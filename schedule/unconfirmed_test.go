package schedule

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/cases"
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
	return append([]string(nil), s.seated...), s.seated != nil, nil
}

// TestUnconfirmedMediatorSeesNoSession: a co-mediator no seated mediator
// has confirmed lists no session of the case (each side's caucus sessions
// among them) and reads no outbox, told so in words and audited naming
// the rule; once a statement seats them, they do.
func TestUnconfirmedMediatorSeesNoSession(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	m := &seats{}
	e.cases.Membership = m
	co, err := e.accounts.Create(ctx, account.NewAccount{Email: "cole@program.test", Name: "Cole Co", Role: policy.RoleMediator, Password: "Cole-password-123456"})
	if err != nil {
		t.Fatal(err)
	}
	adder := e.mediator
	adder.Origin = account.OriginOperator
	if _, err := e.cases.AddMediator(ctx, adder, e.c.ID, co.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.List(ctx, e.mediator, e.c.ID); err != nil {
		t.Fatalf("the opener's list before any statement: %v", err)
	}
	for _, stage := range []string{"no statement", "a statement seating the opener alone"} {
		if stage != "no statement" {
			m.mu.Lock()
			m.seated = []string{e.mediator.ID}
			m.mu.Unlock()
			e.cases.ForgetSeats(e.c.ID)
		}
		_, err := e.svc.List(ctx, co, e.c.ID)
		if !errors.Is(err, cases.ErrUnconfirmed) {
			t.Fatalf("%s: the unconfirmed co-mediator's list: %v", stage, err)
		}
		n := e.log.Size()
		ev, err := e.log.Entry(ctx, n-1)
		if err != nil || ev.Type != "access.denied" || ev.Actor != co.ID || ev.Attrs["rule"] != cases.RuleUnconfirmedSessions {
			t.Fatalf("%s: audited as %+v, %v", stage, ev, err)
		}
	}
	m.mu.Lock()
	m.seated = []string{e.mediator.ID, co.ID}
	m.mu.Unlock()
	e.cases.ForgetSeats(e.c.ID)
	if _, err := e.svc.List(ctx, co, e.c.ID); err != nil {
		t.Fatalf("the admitted co-mediator's list: %v", err)
	}
}
