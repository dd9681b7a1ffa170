package cases

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/policy"
)

// MembershipReader tells which mediators a case's signed membership seats
// (the key directory: keydir.Service.SeatedMediators).
type MembershipReader interface {
	// SeatedMediators returns the mediators of the latest membership
	// statement of case caseID that its chain, as clients accept it,
	// reaches, and whether the case has any statement stored.
	SeatedMediators(ctx context.Context, caseID string) (mediators []string, signed bool, err error)
}

// ruleUnadmitted is the policy rule that keeps a mediator the signed
// membership does not seat from adding anyone to the case.
const ruleUnadmitted = "unadmitted-mediators-add-nobody"

// ErrNotConfirmed: a mediator on the case record whom the case's signed
// membership does not seat asked to invite someone or make a link back in
// (its text is the refusal's detail).
var ErrNotConfirmed = errors.New("you can invite people or make links back in once a mediator already in this case has confirmed you as a co-mediator (they check your safety number with you, then admit you)")

// ErrNotOpenYet: the same, in a case with more than one mediator whose
// conversation nobody has opened yet, so no one is seated.
var ErrNotOpenYet = errors.New("you can invite people or make links back in once this case's conversation is open and you are in it: the mediator who created the case (or, if they are no longer one of its mediators, the one longest on it) opens it, and then confirms the others")

// ErrNotOpener: a mediator who may not sign a case's first membership
// statement asked to (Opener; its text is the refusal's detail).
var ErrNotOpener = errors.New("another mediator opens this case's conversation: the mediator who created the case, or, if they are no longer one of its mediators, the one longest on it. Once it is open, they check your safety number with you and confirm you")

// Opener returns the one mediator who may sign case c's first membership
// statement, or "" when any mediator of it may (api.Opener states the
// rule; the Go and browser clients apply the same one before signing).
func Opener(c *Case) string { return api.Opener(c.CreatedBy, c.Mediators) }

// unadmitted lists the mediators on c's record whom the case's signed
// membership does not seat, and whether the case has a statement. With a
// statement, that is every mediator the latest one the chain reaches
// does not name as a mediator. Without one, no membership exists yet for
// anyone to be signed into, and only a case with a single mediator who
// is not recused has someone who may add people: in a case with more,
// every mediator is unadmitted until the case's opener (Opener) opens
// the conversation (whose first statement seats its signer alone) — otherwise a
// co-mediator nobody will confirm could invite people now whom the
// first statement would sign in. With no MembershipReader (a service
// without a key directory), the case is taken to have no statement.
// The statements are read before any decision and under no lock.
func (s *Service) unadmitted(ctx context.Context, c *Case) (out []string, signed bool, err error) {
	var seated []string
	if s.Membership != nil {
		if seated, signed, err = s.Membership.SeatedMediators(ctx, c.ID); err != nil {
			return nil, false, err
		}
	}
	active := 0
	for _, m := range c.Mediators {
		if m.Recused == nil {
			active++
		}
	}
	for _, m := range c.Mediators {
		if signed && !slices.Contains(seated, m.AccountID) || !signed && active > 1 {
			out = append(out, m.AccountID)
		}
	}
	return out, signed, nil
}

// authorizeAdding is authorize for an action that adds someone to case c
// (an invitation, a link back in): policy decides it with the fact of
// who the signed membership leaves out (policy.Case.Unadmitted). A
// refusal by that rule alone is audited naming it, and says in words
// what the mediator waits for.
func (s *Service) authorizeAdding(ctx context.Context, actor account.Account, a policy.Action, c *Case) error {
	if err := s.authorize(ctx, actor, a, c); err != nil {
		return err
	}
	un, signed, err := s.unadmitted(ctx, c)
	if err != nil {
		return err
	}
	facts := c.Facts()
	facts.Unadmitted = un
	d := s.policy.Decide(actor.Principal(), a, facts)
	if d.Allowed {
		return nil
	}
	if !slices.Contains(d.Policies, ruleUnadmitted) {
		return s.refuse(ctx, actor, a, c)
	}
	s.record(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Case: c.ID,
		Attrs: map[string]string{"action": string(a), "rule": ruleUnadmitted}})
	if signed {
		return fmt.Errorf("%w: %w", ErrNotConfirmed, fault.ErrForbidden)
	}
	return fmt.Errorf("%w: %w", ErrNotOpenYet, fault.ErrForbidden)
}
