package cases

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/policy"
)

// SignInLinkTTL is how long an emailed sign-in link works.
const SignInLinkTTL = 15 * time.Minute

// SignInLinkAnswer is what a request for a sign-in link by email comes
// to (IssueSignInLink). The person asking is told the same in every case.
type SignInLinkAnswer int

const (
	// SignInNone: nothing is mailed (no participant confirmed the
	// address, or none with an open case).
	SignInNone SignInLinkAnswer = iota
	// SignInLinkMade: a link was made, to be mailed to the address.
	SignInLinkMade
	// SignInShared: the address is on file for more than one person in
	// open cases; no link is made, and the address is told to ask a
	// mediator (no names, no case).
	SignInShared
)

// IssueSignInLink makes the link a participant asked for by email
// ("Email me a link to sign in"): a re-entry link (Reentry.Self) to their
// own account, for SignInLinkTTL, into their open case. Only enabled
// participant accounts that confirmed the address (SignInLinkCandidates:
// staff keep password sign-in only) are considered, and only when the
// address is on file for exactly one seat in open cases: every
// participant of every open case whose account (enabled) has the address
// counts, confirmed or not, so a party whose address is also the other
// side's, their lawyer's, or anyone's in another case, gets no link
// (SignInShared: the caller mails the address to ask their mediator) and
// nobody signs in as someone else. An address of no confirmed account,
// or of one with no open case, gets SignInNone and nothing is made. The
// caller answers the same either way and sends mail only to the address
// asked for (IssuedReentry.Email). Issuing is audited as a re-entry link
// made by the participant themselves (via "email").
func (s *Service) IssueSignInLink(ctx context.Context, email string) (IssuedReentry, SignInLinkAnswer, error) {
	accts, err := s.accounts.SignInLinkCandidates(ctx, email)
	if err != nil || len(accts) == 0 {
		return IssuedReentry{}, SignInNone, err
	}
	email = accts[0].SignInEmail()
	byID := make(map[string]account.Account, len(accts))
	for _, a := range accts {
		byID[a.ID] = a
	}
	// Every seat in an open case whose account has the address; accounts
	// read once each.
	seen := map[string]bool{}
	var seats []string
	var best *Case
	var who account.Account
	candCase := "" // an open case where a confirmed holder sits
	err = s.meta.List(ctx, "cases/", func(key string) error {
		if !strings.HasSuffix(key, "/case") {
			return nil
		}
		id := strings.TrimSuffix(strings.TrimPrefix(key, "cases/"), "/case")
		c, err := s.load(ctx, id)
		if err != nil || c.Closed != nil {
			return err
		}
		for _, p := range c.Participants {
			if seen[p.AccountID] {
				continue
			}
			seen[p.AccountID] = true
			a, ok := byID[p.AccountID]
			if !ok {
				other, err := s.accounts.Get(ctx, p.AccountID)
				if errors.Is(err, fault.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				if !other.Disabled && strings.ToLower(strings.TrimSpace(other.Email)) == email {
					seats = append(seats, p.AccountID)
				}
				continue
			}
			seats = append(seats, p.AccountID)
			if candCase == "" {
				candCase = c.ID
			}
			if s.policy.Decide(a.Principal(), policy.CaseRead, c.Facts()).Allowed {
				best, who = c, a
			}
		}
		return nil
	})
	if err != nil {
		return IssuedReentry{}, SignInNone, err
	}
	if candCase == "" {
		return IssuedReentry{}, SignInNone, nil
	}
	if len(seats) > 1 {
		// The mail needs a case for the outbox: one where a confirmed
		// holder of the address sits (the mail names none).
		return IssuedReentry{CaseID: candCase, Email: email}, SignInShared, nil
	}
	if best == nil {
		return IssuedReentry{}, SignInNone, nil
	}
	p, _ := best.Participant(who.ID)
	now := s.now().UTC()
	token := ids.Token()
	r := Reentry{CaseID: best.ID, AccountID: who.ID, Created: now, CreatedBy: who.ID, Expires: now.Add(SignInLinkTTL), Self: true}
	if _, err := s.meta.Create(ctx, s.reentryKey(token), r); err != nil {
		return IssuedReentry{}, SignInNone, err
	}
	if err := s.record(ctx, audit.Event{Type: "case.reentry.created", Actor: who.ID, Case: best.ID,
		Objects: []string{who.ID}, Hashes: []string{s.meta.IndexKey("reentry", token)},
		Attrs: map[string]string{"role": string(p.Role), "side": p.Side, "via": "email"}}); err != nil {
		return IssuedReentry{}, SignInNone, err
	}
	return IssuedReentry{CaseID: best.ID, Token: token, Expires: r.Expires, AccountID: who.ID, Name: p.Name, Email: who.Email}, SignInLinkMade, nil
}
