package schedule

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/parley-mediation/parley/mail"
)

// MailReentry queues a re-entry link to a participant's own address. Like
// an invitation it carries only the link and its expiry (in the case's time
// zone and UTC, untilText). It reports whether
// the message goes to a mail server (false for the development outbox).
// accountID, the participant it signs in as, is kept as the message's
// ToAccount: the outbox asks again just before sending whether the
// address has become another seat's (Current, cases.LinkAddressShared).
func (s *Service) MailReentry(ctx context.Context, caseID, accountID, to, link string, expires time.Time) (bool, error) {
	if s.cfg.Outbox == nil || to == "" {
		return false, nil
	}
	h := sha256.Sum256([]byte(link))
	err := s.cfg.Outbox.Enqueue(ctx, mail.Message{
		ID: mailID("reentry", caseID, hex.EncodeToString(h[:8])), CaseID: caseID, Kind: mail.KindJoin, To: to, ToAccount: accountID,
		Subject: "Your link back into your mediation",
		Text: fmt.Sprintf("Your mediator sent you a link back into your mediation in Parley. It signs you in as yourself. On a phone or computer you have not used for this mediation before, earlier messages and end-to-end encrypted documents cannot be opened until you link it from one you used before (Your devices, in the app). It works once, until %s:\n\n%s%s",
			s.untilText(ctx, caseID, expires), link, mailFooter),
	})
	if err != nil {
		return false, err
	}
	return !s.Development(), nil
}

// MailSignInLink queues the sign-in link a participant asked for
// ("Email me a link to sign in") to the address they typed, which is the
// address they confirmed on their account. Like a re-entry link's mail it
// carries only the link and its expiry; its body is shown to nobody in
// the case's mail list (mail.KindSignIn). It reports whether the message
// goes to a mail server (false for the development outbox, or with no
// outbox).
func (s *Service) MailSignInLink(ctx context.Context, caseID, to, link string, expires time.Time) (bool, error) {
	if s.cfg.Outbox == nil || to == "" {
		return false, nil
	}
	h := sha256.Sum256([]byte(link))
	err := s.cfg.Outbox.Enqueue(ctx, mail.Message{
		ID: mailID("signin", caseID, hex.EncodeToString(h[:8])), CaseID: caseID, Kind: mail.KindSignIn, To: to,
		Subject: "Your link to sign in to your mediation",
		Text: fmt.Sprintf("You asked for a link to sign in to your mediation in Parley. It signs you in as yourself. It works once, until %s:\n\n%s\n\nOn a phone or computer you have not used for this mediation before, earlier messages and end-to-end encrypted documents cannot be opened until you link it from one you used before (Your devices, in the app).\n\nIf you did not ask for it, you can ignore this message: nobody can use the link without this mailbox.%s",
			s.untilText(ctx, caseID, expires), link, mailFooter),
	})
	if err != nil {
		return false, err
	}
	return !s.Development(), nil
}

// SignInSharedText is the mail sent, instead of a sign-in link, to an
// address that more than one person in a mediation has on file.
const SignInSharedText = "You asked for a link to sign in to a mediation in Parley. This address is used by more than one person in a mediation, so we cannot tell who is asking, and we have not sent a link. Please ask your mediator for a link back in.\n\nIf you did not ask, you can ignore this message."

// MailSignInShared queues, instead of a sign-in link, word to an address
// that more than one seat has on file (cases.SignInShared): ask your
// mediator for a link back in. It names nobody and no case. It is filed
// under the case's sign-in outbox (mail.SignInOutbox), not the case's
// own, so the case's mail list does not show its mediators who asked;
// caseID only ties it to the case for disposal. Its id is random: each
// request is its own message (a retried request is a new one anyway, asked
// at another time). Before, it was an unkeyed hash of the address and the
// time asked, in the object's key, so whoever could list the bucket could
// confirm an address by trying the times around the object's date.
func (s *Service) MailSignInShared(ctx context.Context, caseID, to string) (bool, error) {
	if s.cfg.Outbox == nil || to == "" {
		return false, nil
	}
	var r [16]byte
	rand.Read(r[:])
	err := s.cfg.Outbox.Enqueue(ctx, mail.Message{
		ID: mailID("signin-shared", caseID, hex.EncodeToString(r[:])), CaseID: mail.SignInOutbox(caseID), Kind: mail.KindSignIn, To: to,
		Subject: "About your request to sign in to your mediation",
		Text:    SignInSharedText + mailFooter,
	})
	if err != nil {
		return false, err
	}
	return !s.Development(), nil
}

// MailEmailConfirmation queues the link a participant asked for, signed
// in, to confirm their address for sign-in links; it goes to the address
// on their account only. Its body is shown to nobody in the case's mail
// list (mail.KindEmailConfirm).
func (s *Service) MailEmailConfirmation(ctx context.Context, caseID, to, link string, expires time.Time) (bool, error) {
	if s.cfg.Outbox == nil || to == "" {
		return false, nil
	}
	h := sha256.Sum256([]byte(link))
	err := s.cfg.Outbox.Enqueue(ctx, mail.Message{
		ID: mailID("confirm", caseID, hex.EncodeToString(h[:8])), CaseID: caseID, Kind: mail.KindEmailConfirm, To: to,
		Subject: "Confirm your address for signing in to your mediation",
		Text: fmt.Sprintf("You asked to sign in to your mediation in Parley by a link sent to this address. To confirm that this address is yours, open this link in the browser where you are signed in to your mediation. It works once, until %s:\n\n%s\n\nIf you did not ask for this, do not open the link, and tell your mediator: somebody may have your address wrong.%s",
			s.untilText(ctx, caseID, expires), link, mailFooter),
	})
	if err != nil {
		return false, err
	}
	return !s.Development(), nil
}
