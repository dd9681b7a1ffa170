package schedule

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/mail"
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

// TestUnconfirmedMediatorIsNotMailed: a session's invitation and
// reminders go to the people expected at it from the case record, but
// not to a co-mediator no seated mediator has confirmed yet (who sees
// none of its sessions); a message queued for them before they were
// unseated is no longer current (Current). Once admitted, the next change
// mails them.
func TestUnconfirmedMediatorIsNotMailed(t *testing.T) {
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
	to := func() map[string]int {
		t.Helper()
		msgs, err := e.outbox.List(ctx, e.c.ID)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int{}
		for _, msg := range msgs {
			if msg.Kind != mail.KindJoin {
				out[msg.ToAccount]++
			}
		}
		return out
	}
	start := e.clock.Now().Add(72 * time.Hour)
	s, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(start, "UTC"), TimeZone: "UTC", Minutes: 60})
	if err != nil {
		t.Fatal(err)
	}
	if got := to(); got[co.ID] != 0 || got[e.tenant.ID] == 0 {
		t.Fatalf("no statement: mail to %v; none for the unconfirmed co-mediator %s", got, co.ID)
	}

	m.mu.Lock()
	m.seated = []string{e.mediator.ID, co.ID}
	m.mu.Unlock()
	e.cases.ForgetSeats(e.c.ID)
	if _, err := e.svc.Move(ctx, e.mediator, e.c.ID, s.ID, local(start.Add(time.Hour), "UTC"), "", 0, "room unavailable"); err != nil {
		t.Fatal(err)
	}
	var theirs []mail.Message
	msgs, err := e.outbox.List(ctx, e.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range msgs {
		if msg.ToAccount == co.ID {
			theirs = append(theirs, msg)
		}
	}
	if len(theirs) == 0 {
		t.Fatal("the admitted co-mediator was not mailed the moved session")
	}
	for _, msg := range theirs {
		if ok, err := e.svc.Current(ctx, &msg); err != nil || !ok {
			t.Fatalf("admitted: %s not current: %v", msg.ID, err)
		}
	}
	// A later statement no longer seats them: what was queued for them
	// does not go.
	m.mu.Lock()
	m.seated = []string{e.mediator.ID}
	m.mu.Unlock()
	e.cases.ForgetSeats(e.c.ID)
	for _, msg := range theirs {
		if ok, err := e.svc.Current(ctx, &msg); err != nil || ok {
			t.Fatalf("unseated: %s still current (%v)", msg.ID, err)
		}
	}
}
