package retention

import (
	"context"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/vault"
)

// HoldDocument places (on) or releases a legal hold on one document, as
// the same hold model as PlaceHold and ReleaseHold: placing needs a reason
// and an authority, releasing a reason, and releases every active hold on
// the document (a hold on the whole case stays). A document held without
// a hold record (placed before holds had reasons) is released too, unless
// a hold on it is placed meanwhile (clearUncovered).
func (s *Service) HoldDocument(ctx context.Context, actor account.Account, caseID, docID string, on bool, reason, authority string) (vault.Document, error) {
	if on {
		if _, err := s.PlaceHold(ctx, actor, NewHold{Case: caseID, Doc: docID, Reason: reason, Authority: authority}); err != nil {
			return vault.Document{}, err
		}
		return s.vault.Get(ctx, actor, caseID, docID)
	}
	c, err := s.caseFor(ctx, actor, caseID)
	if err != nil {
		return vault.Document{}, err
	}
	if _, err := checkText("reason", reason, MaxReasonLen); err != nil {
		return vault.Document{}, err
	}
	holds, err := s.caseHolds(ctx, c.ID)
	if err != nil {
		return vault.Document{}, err
	}
	released := 0
	for _, h := range holds {
		if h.Doc == docID && h.Active() {
			if _, err := s.ReleaseHold(ctx, actor, c.ID, h.ID, reason); err != nil {
				return vault.Document{}, err
			}
			released++
		}
	}
	d, err := s.vault.Get(ctx, actor, c.ID, docID)
	if err != nil {
		return vault.Document{}, err
	}
	if d.Held && released == 0 {
		// Released as a hold would be (clearUncovered): a hold on the
		// document placed meanwhile — its vault hold set before it is
		// recorded, so this document read held because of it, perhaps,
		// and its own check that the vault still holds the document made
		// before this release — keeps the document held, set again if
		// this release cleared it first.
		err := s.clearUncovered(ctx, actor.ID, Hold{Case: c.ID, Doc: docID}, causeUnrecordedDoc, func(ctx context.Context) error {
			_, err := s.vault.SetHold(ctx, actor, c.ID, docID, false)
			return err
		}, func(ctx context.Context) error {
			_, err := s.vault.SetHold(ctx, actor, c.ID, docID, true)
			return err
		})
		if err != nil {
			return vault.Document{}, err
		}
		return s.vault.Get(ctx, actor, c.ID, docID)
	}
	return d, nil
}
