package schedule

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/parley-mediation/parley/mail"
)

// MailInvite queues an invitation link to the address the mediator gave
// with the invite. The message carries the link and when it expires,
// nothing else: not the case's title, not who else is in it. It reports
// whether the message goes to a mail server (false for the development
// outbox, which only shows it to the mediator). seat is the invitation's
// cases.IssuedInvite.Seat, kept as the message's Ref: the outbox asks
// again just before sending whether the address has become another
// side's (Current, cases.LinkAddressShared).
func (s *Service) MailInvite(ctx context.Context, caseID, seat, to, link string, expires time.Time) (bool, error) {
	if s.cfg.Outbox == nil || to == "" {
		return false, nil
	}
	h := sha256.Sum256([]byte(link))
	err := s.cfg.Outbox.Enqueue(ctx, mail.Message{
		ID: mailID("join", caseID, hex.EncodeToString(h[:8])), CaseID: caseID, Kind: mail.KindJoin, To: to, Ref: seat,
		Subject: "Your invitation to a mediation",
		Text: fmt.Sprintf("You are invited to take part in a mediation in Parley. Open this link to join (it works once, until %s UTC):\n\n%s%s",
			expires.UTC().Format("Mon 2 January 2006 15:04"), link, mailFooter),
	})
	if err != nil {
		return false, err
	}
	return !s.Development(), nil
}

// CancelInviteMail cancels the invitation's mail (seat: its
// cases.WithdrawnInvite.Seat) if it is still waiting in the outbox, for a
// withdrawn invitation. A message a sender has already claimed is left to
// it: it asks Current just before sending, which refuses a withdrawn
// invitation's mail (joinLinkCurrent).
func (s *Service) CancelInviteMail(ctx context.Context, caseID, seat string) error {
	if s.cfg.Outbox == nil || seat == "" {
		return nil
	}
	return s.cfg.Outbox.CancelRef(ctx, caseID, seat, func(m *mail.Message) bool { return m.Kind != mail.KindJoin })
}
