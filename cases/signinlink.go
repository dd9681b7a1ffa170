package cases

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/workers"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/policy"
)

// SignInLinkTTL is how long an emailed sign-in link works.
const SignInLinkTTL = 15 * time.Minute

// signInLinkParallel is how many records IssueSignInLink reads at a time.
const signInLinkParallel = 16

// firstError keeps the first error of parallel reads. Its lock guards
// only the error: no I/O is done under it.
type firstError struct {
	mu  sync.Mutex
	err error
}

func (f *firstError) set(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = err
	}
}

func (f *firstError) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

func (f *firstError) failed() bool { return f.get() != nil }

// SignInLinkAnswer is what a request for a sign-in link by email comes
// to (IssueSignInLink). The person asking is told the same in every case.
type SignInLinkAnswer int

const (
	// SignInNone: nothing is mailed (no participant confirmed the
	// address, or none with an open case).
	SignInNone SignInLinkAnswer = iota
	// SignInLinkMade: a link was made, to be mailed to the address.
	SignInLinkMade
	// SignInShared: the address is on file for more than one seat in
	// cases not yet disposed of; no link is made, and the address is told
	// to ask a mediator (no names, no case).
	SignInShared
)

// IssueSignInLink makes the link a participant asked for by email
// ("Email me a link to sign in"): a re-entry link (Reentry.Self) to their
// own account, for SignInLinkTTL, into their open case. Only enabled
// participant accounts that confirmed the address (SignInLinkCandidates:
// staff keep password sign-in only) are considered, and only when the
// address is on file for exactly one seat in the cases not yet disposed
// of: every invitation to the address (pending, claimed, used or expired:
// invitations go with their case), and every participant, present or
// removed, of every case, open or closed, whose account (enabled or not)
// has it, confirmed or not, and any staff account (any role but
// participant, enabled or not) with it (account.StaffHasEmail). The
// holder's own invitation and account are their one seat; any other
// makes the address shared, so a party whose address is also the other
// side's (invited or joined), their lawyer's, a mediator's, or anyone's
// in another case, gets no link (SignInShared: the caller
// mails the address to ask their mediator) and
// nobody signs in as someone else. An address of no confirmed account,
// or of one with no open case, gets SignInNone and nothing is made. The
// caller answers the same either way and sends mail only to the address
// asked for (IssuedReentry.Email). Issuing is audited as a re-entry link
// made by the participant themselves (via "email"). Like a mailed link
// back in (Reentry.AddressAlone), the link is refused at redemption once
// another seat of its case has the address (ErrLinkShared).
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
	// Every seat with the address in a case not yet disposed of: each
	// invitation (pending, claimed, used or expired: they go with their
	// case), and each participant, present or removed, of an open or
	// closed case whose account has it. A seat is its account, or, for an
	// invitation nobody claimed, the invitation itself.
	seats := map[string]bool{}
	// A staff account with the address (a mediator's, an administrator's
	// or a records clerk's, enabled or not) is another seat: whoever reads
	// that mailbox is not to sign in as the participant.
	if staffHas, err := s.accounts.StaffHasEmail(ctx, email); err != nil {
		return IssuedReentry{}, SignInNone, err
	} else if staffHas {
		seats["staff"] = true
	}
	// With the index of seats by address complete (seatindex.go), only
	// the address's entries and the records they name are read; before it
	// is, every invitation and case.
	indexed, err := s.seatIndexComplete(ctx)
	if err != nil {
		return IssuedReentry{}, SignInNone, err
	}
	find := s.scannedSeats
	if indexed {
		find = s.indexedSeats
	}
	found, open, err := find(ctx, email, byID)
	if err != nil {
		return IssuedReentry{}, SignInNone, err
	}
	for seat := range found {
		seats[seat] = true
	}
	// A link goes only into an open case where the confirmed holder is a
	// participant now (in listing order, as before: the first such case
	// for the shared mail, the last the holder may read for the link).
	var best *Case
	var who account.Account
	candCase := ""
	for _, c := range open {
		for _, p := range c.Participants {
			a, ok := byID[p.AccountID]
			if !ok {
				continue
			}
			if candCase == "" {
				candCase = c.ID
			}
			if s.policy.Decide(a.Principal(), policy.CaseRead, c.Facts()).Allowed {
				best, who = c, a
			}
		}
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
	// Made only for an address no other seat has (above), so it is judged
	// again at redemption as a mailed link back in is: refused once
	// another seat of its case has the address (ErrLinkShared).
	r := Reentry{CaseID: best.ID, AccountID: who.ID, Created: now, CreatedBy: who.ID, Expires: now.Add(SignInLinkTTL), Self: true,
		AddressAlone: true}
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

// scannedSeats finds the seats holding email (trimmed, lower-cased) by
// reading every invitation record, every case record and the accounts of
// their participants, present and removed: what IssueSignInLink does
// until the index of seats by address is complete. It returns the seats
// (an account id, or an unclaimed invitation's key) and, in listing
// order, the open cases where an account of byID is a participant.
func (s *Service) scannedSeats(ctx context.Context, email string, byID map[string]account.Account) (map[string]bool, []*Case, error) {
	same := func(addr string) bool { return seatAddress(addr) == email }
	seats := map[string]bool{}
	// The records are listed, then read in parallel (signInLinkParallel
	// at a time): a program with many thousands of invitations and cases
	// fits the worker's time. A record disposed of between the listing and
	// the read is skipped; any other error ends the request with no link.
	var invKeys []string
	if err := s.meta.List(ctx, "invites/", func(key string) error {
		invKeys = append(invKeys, key)
		return nil
	}); err != nil {
		return nil, nil, err
	}
	var fail firstError
	invSeat := make([]string, len(invKeys)) // the seat an invitation to the address is, or ""
	workers.Run(len(invKeys), signInLinkParallel, func(i int) {
		if fail.failed() {
			return
		}
		var inv Invite
		if _, err := s.meta.Get(ctx, invKeys[i], &inv); err != nil {
			if !errors.Is(err, metastore.ErrNotFound) { // else disposed of meanwhile
				fail.set(err)
			}
			return
		}
		switch {
		case !same(inv.Email):
		case inv.ClaimedBy != "":
			invSeat[i] = inv.ClaimedBy
		default:
			invSeat[i] = invKeys[i]
		}
	})
	if err := fail.get(); err != nil {
		return nil, nil, err
	}
	for _, seat := range invSeat {
		if seat != "" {
			seats[seat] = true
		}
	}

	var caseIDs []string
	if err := s.meta.List(ctx, "cases/", func(key string) error {
		if id, ok := strings.CutSuffix(strings.TrimPrefix(key, "cases/"), "/case"); ok {
			caseIDs = append(caseIDs, id)
		}
		return nil
	}); err != nil {
		return nil, nil, err
	}
	// Of each case, only what the answer needs: the accounts holding a
	// seat (present or removed participants), and the case itself when it
	// is open and a confirmed holder sits in it.
	type caseSeats struct {
		held []string
		open *Case
	}
	loaded := make([]caseSeats, len(caseIDs))
	workers.Run(len(caseIDs), signInLinkParallel, func(i int) {
		if fail.failed() {
			return
		}
		c, err := s.load(ctx, caseIDs[i])
		if err != nil {
			if !errors.Is(err, fault.ErrNotFound) { // else disposed of meanwhile
				fail.set(err)
			}
			return
		}
		held := make([]string, 0, len(c.Participants)+len(c.Removed))
		for _, p := range c.Participants {
			held = append(held, p.AccountID)
		}
		for _, p := range c.Removed {
			held = append(held, p.AccountID)
		}
		loaded[i].held = held
		if c.Closed == nil && slices.ContainsFunc(c.Participants, func(p Participant) bool { _, ok := byID[p.AccountID]; return ok }) {
			loaded[i].open = c
		}
	})
	if err := fail.get(); err != nil {
		return nil, nil, err
	}
	// Every other account holding a seat is read once.
	var others []string
	seen := map[string]bool{}
	for _, l := range loaded {
		for _, id := range l.held {
			if seen[id] {
				continue
			}
			seen[id] = true
			if _, ok := byID[id]; ok {
				seats[id] = true
				continue
			}
			others = append(others, id)
		}
	}
	if err := s.markSeatsWithAddress(ctx, others, same, seats); err != nil {
		return nil, nil, err
	}
	var open []*Case
	for _, l := range loaded {
		if l.open != nil {
			open = append(open, l.open)
		}
	}
	return seats, open, nil
}

// markSeatsWithAddress reads the accounts others (participants of the
// cases read, not yet known to hold the address), 16 at a time, and marks
// in seats each whose address same accepts — disabled or not: it is
// someone's seat. An account no longer on file is skipped; any other
// error ends the reading.
func (s *Service) markSeatsWithAddress(ctx context.Context, others []string, same func(string) bool, seats map[string]bool) error {
	var fail firstError
	hasIt := make([]bool, len(others))
	workers.Run(len(others), signInLinkParallel, func(i int) {
		if fail.failed() {
			return
		}
		other, err := s.accounts.Get(ctx, others[i])
		if err != nil {
			if !errors.Is(err, fault.ErrNotFound) {
				fail.set(err)
			}
			return
		}
		hasIt[i] = same(other.Email)
	})
	if err := fail.get(); err != nil {
		return err
	}
	for i, id := range others {
		if hasIt[i] {
			seats[id] = true
		}
	}
	return nil
}
