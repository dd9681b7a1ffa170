package schedule

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/parley-mediation/parley/mail"
)

// MailReentry queues a re-entry link to a participant's own address. Like
// an invitation it carries only the link and its expiry. It reports whether
// the message goes to a mail server (false for the development outbox).
func (s *Service) MailReentry(ctx context.Context, caseID, to, link string, expires time.Time) (bool, error) {
	if s.cfg.Outbox == nil || to == "" {
		return false, nil
	}
	h := sha256.Sum256([]byte(link))
	err := s.cfg.Outbox.Enqueue(ctx, mail.Message{
		ID: mailID("reentry", caseID, hex.EncodeToString(h[:8])), CaseID: caseID, Kind: mail.KindJoin, To: to,
		Subject: "Your link back into your mediation",
		Text: fmt.Sprintf("Your mediator sent you a link back into your mediation in Parley. It signs you in as yourself, with everything you could see before. It works once, until %s UTC:\n\n%s%s",
			expires.UTC().Format("Mon 2 January 2006 15:04"), link, mailFooter),
	})
	if err != nil {
		return false, err
	}
	return !s.Development(), nil
}

// MailSignInLink queues the sign-in link a participant asked for
// ("Email me a link to sign in") to the address they typed, which is the
// address on their account. Like a re-entry link's mail it carries only
// the link and its expiry. It reports whether the message goes to a mail
// server (false for the development outbox, or with no outbox).
func (s *Service) MailSignInLink(ctx context.Context, caseID, to, link string, expires time.Time) (bool, error) {
	if s.cfg.Outbox == nil || to == "" {
		return false, nil
	}
	h := sha256.Sum256([]byte(link))
	err := s.cfg.Outbox.Enqueue(ctx, mail.Message{
		ID: mailID("signin", caseID, hex.EncodeToString(h[:8])), CaseID: caseID, Kind: mail.KindJoin, To: to,
		Subject: "Your link to sign in to your mediation",
		Text: fmt.Sprintf("You asked for a link to sign in to your mediation in Parley. It signs you in as yourself, with everything you could see before. It works once, until %s UTC:\n\n%s\n\nIf you did not ask for it, you can ignore this message: nobody can use the link without this mailbox.%s",
			expires.UTC().Format("Mon 2 January 2006 15:04"), link, mailFooter),
	})
	if err != nil {
		return false, err
	}
	return !s.Development(), nil
}
