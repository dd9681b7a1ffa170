package cases

import (
	"context"
	"strings"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/policy"
)

// SignInLinkTTL is how long an emailed sign-in link works.
const SignInLinkTTL = 15 * time.Minute

// IssueSignInLink makes the link a participant asked for by email
// ("Email me a link to sign in"): a re-entry link (Reentry.Self) to their
// own account, for SignInLinkTTL, into the newest open case they can read.
// Only enabled participant accounts with that contact email are
// considered (staff keep password sign-in only); an address of no such
// account, or of one with no open case, gets ok false and nothing is
// made. The caller answers the same either way and sends the link only to
// the address asked for (IssuedReentry.Email). Issuing is audited as a
// re-entry link made by the participant themselves (via "email").
func (s *Service) IssueSignInLink(ctx context.Context, email string) (IssuedReentry, bool, error) {
	accts, err := s.accounts.SignInLinkCandidates(ctx, email)
	if err != nil || len(accts) == 0 {
		return IssuedReentry{}, false, err
	}
	byID := make(map[string]account.Account, len(accts))
	for _, a := range accts {
		byID[a.ID] = a
	}
	var best *Case
	var who account.Account
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
			a, ok := byID[p.AccountID]
			if !ok || !s.policy.Decide(a.Principal(), policy.CaseRead, c.Facts()).Allowed {
				continue
			}
			if best == nil || c.Created.After(best.Created) {
				best, who = c, a
			}
		}
		return nil
	})
	if err != nil || best == nil {
		return IssuedReentry{}, false, err
	}
	p, _ := best.Participant(who.ID)
	now := s.now().UTC()
	token := ids.Token()
	r := Reentry{CaseID: best.ID, AccountID: who.ID, Created: now, CreatedBy: who.ID, Expires: now.Add(SignInLinkTTL), Self: true}
	if _, err := s.meta.Create(ctx, s.reentryKey(token), r); err != nil {
		return IssuedReentry{}, false, err
	}
	if err := s.record(ctx, audit.Event{Type: "case.reentry.created", Actor: who.ID, Case: best.ID,
		Objects: []string{who.ID}, Hashes: []string{s.meta.IndexKey("reentry", token)},
		Attrs: map[string]string{"role": string(p.Role), "side": p.Side, "via": "email"}}); err != nil {
		return IssuedReentry{}, false, err
	}
	return IssuedReentry{CaseID: best.ID, Token: token, Expires: r.Expires, AccountID: who.ID, Name: p.Name, Email: who.Email}, true, nil
}
