package cases

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/policy"
)

// ErrClosed: the case is closed and takes no more changes of this kind.
var ErrClosed = fmt.Errorf("case is closed: %w", fault.ErrConflict)

// SetStage moves the case to another stage. The rules, chosen to match how
// mediations really run:
//   - forward one stage at a time (no skipping the opening session);
//   - back to any earlier stage, with a note saying why (talks often return
//     from negotiation to issue identification);
//   - to closure from any stage (agreement, impasse, withdrawal), and
//     closure is final: it starts the retention clock, and (OnClosed)
//     the case's sessions still to come are cancelled (again on a
//     closing of the case already closed: see below).
func (s *Service) SetStage(ctx context.Context, actor account.Account, id string, to Stage, note string) (*Case, error) {
	if to.Index() < 0 {
		return nil, fault.Invalid("stage", "one of preparation, opening, issues, negotiation, closure")
	}
	if note != "" {
		if err := checkText("note", note, MaxTextLen); err != nil {
			return nil, err
		}
	}
	c, err := s.mutateConfirmed(ctx, actor, id, policy.CaseUpdate, "change this case's stage", func(c *Case, ev *audit.Event) error {
		from := c.Stage
		switch {
		case c.Stage == StageClosure:
			return ErrClosed
		case to == from:
			return fmt.Errorf("the case is already at the stage “%s”: %w", to.Title(), fault.ErrConflict)
		case to == StageClosure:
		case to.Index() == from.Index()+1:
			if to == StageOpening {
				if err := s.openingRefusal(c); err != nil {
					return err
				}
			}
		case to.Index() < from.Index():
			if strings.TrimSpace(note) == "" {
				return fault.Invalid("note", "required when returning to an earlier stage")
			}
		default:
			return fault.Invalid("stage", fmt.Sprintf("a case moves forward one stage at a time: after “%s” comes “%s”", from.Title(), Stages[from.Index()+1].Title()))
		}
		now := s.now().UTC()
		c.Stage = to
		c.StageHistory = append(c.StageHistory, StageChange{From: from, To: to, At: now, By: actor.ID, Note: strings.TrimSpace(note)})
		if n := len(c.StageHistory) - MaxStageHistory; n > 0 {
			// The oldest make room (the audit log keeps every change; its
			// note only as a keyed hash): notes of up to MaxTextLen
			// characters, back and forth without end, would outgrow the
			// record.
			c.StageHistory = slices.Delete(c.StageHistory, 0, n)
		}
		if to == StageClosure {
			c.Closed = &now
		}
		ev.Type = "case.stage"
		ev.Attrs = map[string]string{"from": string(from), "to": string(to)}
		return nil
	})
	// Also when the case was closed already (ErrClosed, returned only to
	// those allowed the change): a closing whose write landed but
	// answered an error, or whose node stopped before OnClosed was done,
	// is finished by closing again. OnClosed leaves cancelled and started
	// sessions as they are, and queues nothing twice.
	if (err == nil || errors.Is(err, ErrClosed)) && to == StageClosure && s.OnClosed != nil {
		s.OnClosed(ctx, id, actor.ID)
	}
	return c, err
}

// AddObjective records an objective or success criterion.
func (s *Service) AddObjective(ctx context.Context, actor account.Account, id string, kind ObjectiveKind, text string) (*Case, error) {
	if kind != KindObjective && kind != KindCriterion {
		return nil, fault.Invalid("kind", "objective or success-criterion")
	}
	if err := checkText("text", text, MaxTextLen); err != nil {
		return nil, err
	}
	return s.mutateConfirmed(ctx, actor, id, policy.CaseUpdate, "add this case's objectives", func(c *Case, ev *audit.Event) error {
		if c.Closed != nil {
			return ErrClosed
		}
		if len(c.Objectives) >= MaxObjectives {
			return fault.Invalid("text", fmt.Sprintf("a case holds at most %d objectives", MaxObjectives))
		}
		o := Objective{ID: ids.New("o"), Kind: kind, Text: strings.TrimSpace(text), Added: s.now().UTC(), By: actor.ID}
		c.Objectives = append(c.Objectives, o)
		ev.Type = "case.objective"
		ev.Objects = []string{o.ID}
		ev.Hashes = []string{s.commit(o.Text)}
		ev.Attrs = map[string]string{"kind": string(kind)}
		return nil
	})
}

// Disclose records a conflict-of-interest disclosure by the acting mediator.
// Parties and counsel then acknowledge it. A mediator no seated mediator
// has confirmed (Admission) makes none: the parties would read it and be
// asked to acknowledge it, so whoever holds such an account could put text
// in front of them (unconfirmed-mediators-read-the-roster-only).
func (s *Service) Disclose(ctx context.Context, actor account.Account, id, text string) (*Case, error) {
	if err := checkText("text", text, MaxTextLen); err != nil {
		return nil, err
	}
	return s.mutateConfirmed(ctx, actor, id, policy.CaseDisclose, "make a disclosure in this case", func(c *Case, ev *audit.Event) error {
		if len(c.Disclosures) >= MaxDisclosures {
			return fault.Invalid("text", fmt.Sprintf("a case holds at most %d disclosures", MaxDisclosures))
		}
		d := Disclosure{ID: ids.New("d"), Mediator: actor.ID, Text: strings.TrimSpace(text), At: s.now().UTC(), Acks: []Ack{}}
		c.Disclosures = append(c.Disclosures, d)
		ev.Type = "case.disclosure"
		ev.Objects = []string{d.ID}
		ev.Hashes = []string{s.commit(d.Text)}
		return nil
	})
}

// Acknowledge records that the acting party or counsel has read a
// disclosure. Acknowledging twice is harmless.
func (s *Service) Acknowledge(ctx context.Context, actor account.Account, id, disclosureID string) (*Case, error) {
	return s.acknowledge(ctx, actor, id, disclosureID, nil)
}

// acknowledge records an acknowledgement, signed (consent.go) or not. A
// signed one replaces an unsigned one of the same person.
func (s *Service) acknowledge(ctx context.Context, actor account.Account, id, disclosureID string, signed *api.Consent) (*Case, error) {
	return s.mutate(ctx, actor, id, policy.CaseAcknowledge, func(c *Case, ev *audit.Event) error {
		i := slices.IndexFunc(c.Disclosures, func(d Disclosure) bool { return d.ID == disclosureID })
		if i < 0 {
			return fmt.Errorf("disclosure %s: %w", disclosureID, fault.ErrNotFound)
		}
		d := &c.Disclosures[i]
		j := slices.IndexFunc(d.Acks, func(a Ack) bool { return a.AccountID == actor.ID })
		switch {
		case j < 0:
			d.Acks = append(d.Acks, Ack{AccountID: actor.ID, At: s.now().UTC(), Signed: signed})
		case signed != nil && d.Acks[j].Signed == nil:
			d.Acks[j].Signed = signed
		}
		ev.Type = "case.disclosure.ack"
		ev.Objects = []string{d.ID}
		if signed != nil {
			ev.Objects = append(ev.Objects, signed.Device)
			ev.Hashes = []string{s.commit(d.Text)}
		}
		return nil
	})
}

// Recuse removes a mediator from the case for good. A mediator may recuse
// themselves, or, once confirmed (Admission), a co-mediator; the program
// recuses one only through a proposal a second person approves
// (ProposeRecusal, ApproveProposal). The recused mediator loses all access to the case from this write on (policy's
// forbid rule); open connections are closed by the rooms layer, which
// watches for this event.
func (s *Service) Recuse(ctx context.Context, actor account.Account, id, mediatorID, reason string) (*Case, error) {
	if err := checkText("reason", reason, MaxTextLen); err != nil {
		return nil, err
	}
	if mediatorID == "" {
		mediatorID = actor.ID
	}
	if mediatorID != actor.ID {
		// Recusing someone else takes a confirmed mediator (seated.go):
		// otherwise a co-mediator nobody confirmed could recuse the only
		// seated one, and nobody could sign the membership any more.
		// Withdrawing oneself is always open.
		c, err := s.loadFor(ctx, actor, id, policy.CaseRecuse)
		if err != nil {
			return nil, err
		}
		if err := s.authorizeConfirmed(ctx, actor, policy.CaseRecuse, c); err != nil {
			return nil, err
		}
	}
	var left []string
	c, err := s.mutate(ctx, actor, id, policy.CaseRecuse, func(c *Case, ev *audit.Event) error {
		m, ok := c.Mediator(mediatorID)
		if !ok {
			return fmt.Errorf("mediator %s: %w", mediatorID, fault.ErrNotFound)
		}
		if m.Recused != nil {
			return fmt.Errorf("mediator %s already recused: %w", mediatorID, fault.ErrConflict)
		}
		now := s.now().UTC()
		m.Recused = &now
		m.RecusalReason = strings.TrimSpace(reason)
		left = c.leaveRooms(mediatorID)
		ev.Type = "case.recusal"
		ev.Objects = []string{mediatorID}
		ev.Hashes = []string{s.commit(m.RecusalReason)}
		return nil
	})
	// mutate succeeds once the recusal is written, its audit event pending
	// in the record if the log cannot take it yet (outbox.go): the rooms
	// hear of every recusal that stands.
	if err == nil {
		s.membership(ctx, id, MembershipChange{Kind: "mediator.recused", Account: mediatorID, Rooms: left, By: actor.ID})
	}
	return c, err
}

// AddMediator assigns another mediator account to the case. A mediator who
// recused cannot be re-added: recusal is final for that case.
// The account is looked up only once the actor may add mediators, so the
// answer tells no one else which account ids exist or are mediators.
//
// The colleague must be independent of the adder (policy
// `co-mediator-independent-of-adder`), weighed on control (account.Control:
// every account that created or reset either, transitively): not an
// account the adder, or whoever holds the adder's account, could sign in
// as, and not one of unknown lineage. Otherwise one person holding an
// administrator account and a mediator account it made would, once a
// co-mediator, add another account of theirs and keep the case after
// their recusal. A refusal is audited with the colleague's id.
func (s *Service) AddMediator(ctx context.Context, actor account.Account, id, mediatorID string) (*Case, error) {
	c, err := s.loadFor(ctx, actor, id, policy.CaseAddMediator)
	if err != nil {
		return nil, err
	}
	// Only a confirmed mediator adds one (seated.go).
	if err := s.authorizeConfirmed(ctx, actor, policy.CaseAddMediator, c); err != nil {
		return nil, err
	}
	m, err := s.accounts.Get(ctx, mediatorID)
	if err != nil {
		return nil, fault.Invalid("accountId", "no such account")
	}
	if m.Role != policy.RoleMediator {
		return nil, fault.Invalid("accountId", "not a mediator account")
	}
	if _, ok := c.Mediator(m.ID); ok {
		return nil, fmt.Errorf("mediator already assigned (or recused): %w", fault.ErrConflict)
	}
	adder, err := s.accounts.Control(ctx, actor)
	if err != nil {
		return nil, fmt.Errorf("your account: %w", err)
	}
	colleague, err := s.accounts.Control(ctx, m)
	if err != nil {
		return nil, fmt.Errorf("the mediator's account: %w", err)
	}
	independent := func(c *Case) policy.Decision {
		return s.policy.DecideProposal(adder.Principal(), policy.CaseAddMediator, proposalFacts(c, adder, colleague))
	}
	if d := independent(c); !d.Allowed {
		const rule = "co-mediator-independent-of-adder"
		if !slices.Contains(d.Policies, rule) {
			return nil, s.refuse(ctx, actor, policy.CaseAddMediator, c)
		}
		s.record(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Case: c.ID, Objects: []string{m.ID},
			Attrs: map[string]string{"action": string(policy.CaseAddMediator), "rule": rule}})
		return nil, fmt.Errorf("%w: %w", ErrNotIndependent, fault.ErrForbidden)
	}
	c, err = s.mutateBy(ctx, actor, id, policy.CaseAddMediator, func(c *Case) policy.Decision {
		if d := s.policy.Decide(actor.Principal(), policy.CaseAddMediator, c.Facts()); !d.Allowed {
			return d
		}
		return independent(c)
	}, func(c *Case, ev *audit.Event) error {
		if _, ok := c.Mediator(m.ID); ok {
			return fmt.Errorf("mediator already assigned (or recused): %w", fault.ErrConflict)
		}
		if c.Closed != nil {
			return ErrClosed
		}
		c.Mediators = append(c.Mediators, Mediator{AccountID: m.ID, Name: m.Name, Added: s.now().UTC()})
		ev.Type = "case.mediator.added"
		ev.Objects = []string{m.ID}
		ev.Attrs = map[string]string{"via": "mediator"}
		return nil
	})
	if err == nil {
		s.membership(ctx, id, MembershipChange{Kind: "mediator.added", Account: m.ID, By: actor.ID})
	}
	return c, err
}

// ErrNotIndependent: the mediator account to add could be held by the
// person adding it (AddMediator). Its text is the refusal's detail.
var ErrNotIndependent = errors.New("you cannot add this mediator: one person could hold both their account and yours (the same person made or reset both, or their account dates from before that was recorded); a co-mediator independent of them can add them")
