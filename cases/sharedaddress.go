package cases

import (
	"context"
	"errors"
	"strings"

	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/workers"
	"github.com/parley-mediation/parley/metastore"
)

// NormalAddress is an email address as seats are compared by it: trimmed
// and lower-cased, as the sign-in link compares it (IssueSignInLink).
func NormalAddress(addr string) string { return strings.ToLower(strings.TrimSpace(addr)) }

// Seat is one seat of a case with an address on file: a participant
// account, present or removed (not yet disposed of), or an invitation
// nobody has claimed, whatever its state (pending or expired). An
// invitation someone claimed is the claiming account's seat, not
// another: within one case, one account is one person, and two seats
// with one address are two people unless they are the same account (a
// person removed and invited again has a new account, so two seats).
type Seat struct {
	// Key tells seats apart: the account id, or for an unclaimed
	// invitation "invite:" and its keyed token hash.
	Key       string
	AccountID string // "" for an unclaimed invitation
	Name      string
	Role      ParticipantRole
	Side      string
	Removed   bool
	Address   string // NormalAddress of the address on file
}

// Invitation reports whether the seat is an invitation nobody claimed.
func (s Seat) Invitation() bool { return s.AccountID == "" }

// Seats lists every seat of case c that has an address on file: its
// participants and removed participants whose accounts have one, and its
// invitations (the case's invitation markers, caseInvitesPrefix; an
// invitation made before the markers existed is not seen) that nobody
// claimed. An account or invitation disposed of meanwhile is skipped.
// Reads are done signInLinkParallel at a time, under no lock.
func (s *Service) Seats(ctx context.Context, c *Case) ([]Seat, error) {
	var people []Seat
	for _, p := range c.Participants {
		people = append(people, Seat{Key: p.AccountID, AccountID: p.AccountID, Name: p.Name, Role: p.Role, Side: p.Side})
	}
	for _, p := range c.Removed {
		people = append(people, Seat{Key: p.AccountID, AccountID: p.AccountID, Name: p.Name, Role: p.Role, Side: p.Side, Removed: true})
	}
	var fail firstError
	workers.Run(len(people), signInLinkParallel, func(i int) {
		if fail.failed() {
			return
		}
		a, err := s.accounts.Get(ctx, people[i].AccountID)
		if err != nil {
			if !errors.Is(err, fault.ErrNotFound) {
				fail.set(err)
			}
			return
		}
		people[i].Address = NormalAddress(a.Email)
	})
	if err := fail.get(); err != nil {
		return nil, err
	}
	prefix := caseInvitesPrefix(c.ID)
	var names []string
	if err := s.meta.List(ctx, prefix, func(key string) error {
		names = append(names, strings.TrimPrefix(key, prefix))
		return nil
	}); err != nil {
		return nil, err
	}
	invs := make([]Seat, len(names))
	workers.Run(len(names), signInLinkParallel, func(i int) {
		if fail.failed() {
			return
		}
		var inv Invite
		if _, err := s.meta.Get(ctx, "invites/"+names[i], &inv); err != nil {
			if !errors.Is(err, metastore.ErrNotFound) {
				fail.set(err)
			}
			return
		}
		if inv.CaseID != c.ID || inv.ClaimedBy != "" {
			return // a claimed invitation is its account's seat
		}
		// A withdrawn invitation still counts, as an expired one does,
		// until it is swept: it went to that address, and nobody can
		// tell whose the address is (as for emailed sign-in links).
		invs[i] = Seat{Key: inviteSeatPrefix + names[i], Name: inv.Name, Role: inv.Role, Side: inv.Side, Address: NormalAddress(inv.Email)}
	})
	if err := fail.get(); err != nil {
		return nil, err
	}
	var out []Seat
	seen := map[string]bool{}
	for _, st := range append(people, invs...) {
		if st.Address == "" || seen[st.Key] {
			continue
		}
		seen[st.Key] = true
		out = append(out, st)
	}
	return out, nil
}

// SharedWith returns the seats, other than the seat self (a Seat.Key:
// an account id), that have address addr on file: an address is shared
// within a case when another seat of it has the same address. Whoever
// reads a shared mailbox may be any of them, so mail meant for one seat
// only (a link that signs in as it, word of a session others are not
// expected at) does not go there. An empty address is shared with nobody.
func SharedWith(seats []Seat, addr, self string) []Seat {
	addr = NormalAddress(addr)
	if addr == "" {
		return nil
	}
	var out []Seat
	for _, st := range seats {
		if st.Key != self && st.Address == addr {
			out = append(out, st)
		}
	}
	return out
}

// inviteSeatPrefix begins the Seat.Key of an invitation nobody claimed.
const inviteSeatPrefix = "invite:"

// LinkAddressShared reports whether addr, where a link for seat self of
// case c is to be mailed, is now shared as the link's maker judged it
// when the link was made: with any other seat of the case, of either
// side — for a re-entry link (self: the participant's account id,
// CreateReentry) as for an invitation (self: IssuedInvite.Seat,
// CreateInvite; the account that claimed it is its own seat, not
// another).
// The outbox asks it just before sending such a link (schedule.Current):
// a seat invited or joined at the address after the link was queued,
// whose reader could open the link first, keeps it from being sent. An
// invitation no longer on file works no more, and shares nothing. Any
// read that fails is returned: the caller does not send on it.
func (s *Service) LinkAddressShared(ctx context.Context, c *Case, self, addr string) (bool, error) {
	if NormalAddress(addr) == "" || self == "" {
		return false, nil
	}
	hash, invitation := strings.CutPrefix(self, inviteSeatPrefix)
	var inv Invite
	if invitation {
		if hash == "" || strings.ContainsAny(hash, "/.") {
			return false, nil
		}
		if _, err := s.meta.Get(ctx, "invites/"+hash, &inv); err != nil {
			if errors.Is(err, metastore.ErrNotFound) {
				return false, nil
			}
			return false, err
		}
		if inv.CaseID != c.ID {
			return false, nil
		}
	}
	seats, err := s.Seats(ctx, c)
	if err != nil {
		return false, err
	}
	for _, st := range SharedWith(seats, addr, self) {
		if invitation && sameInvitee(st, inv.Name, inv.Role, inv.Side) {
			continue
		}
		if !invitation || inv.ClaimedBy == "" || st.AccountID != inv.ClaimedBy {
			return true, nil
		}
	}
	return false, nil
}

// sameInvitee reports whether seat st is another invitation nobody
// claimed for the same person as an invitation of name, role and side
// (the same name as the mediator wrote it, role and side): an
// invitation made again at the same address (the first expired, was
// withdrawn, or its mail was lost) is not a second person at that
// address. Whoever reads that mailbox could redeem the first one
// already; the second gives them nothing more, so it is mailed as the
// first was. A name spelled otherwise counts as another person.
func sameInvitee(st Seat, name string, role ParticipantRole, side string) bool {
	return st.Invitation() && name != "" && st.Name == name && st.Role == role && st.Side == side
}

// errAlreadyMarked: a link's SharedRefused is set already (another try
// audited its refusal first); nothing more to write.
var errAlreadyMarked = errors.New("link already marked refused")

// linkRefusedShared audits the first refusal of a link (an invitation or
// a link back in, the emailed sign-in link among them) for its address
// having become shared (ErrLinkShared): case.link.refused, reason
// address-shared, with ev's case, the participant (a link back in), the
// token's keyed hash and which link. Once the entry is in the log, mark
// sets the link's SharedRefused, so later tries are refused without a new
// entry; an entry that could not be appended leaves the link unmarked,
// for the next try to audit (two tries at once may both append: an entry
// may appear twice, never be missing). The link stays refused either
// way: it returns ErrLinkShared.
func (s *Service) linkRefusedShared(ctx context.Context, ev audit.Event, mark func(context.Context) error) error {
	ev.Type = "case.link.refused"
	ev.Attrs["reason"] = "address-shared"
	if err := s.record(ctx, ev); err != nil {
		s.logger().WarnContext(ctx, "refusal of a link whose address became shared not audited; its next try will be", "case", ev.Case, "error", err)
		return ErrLinkShared
	}
	if err := mark(ctx); err != nil && !errors.Is(err, errAlreadyMarked) {
		s.logger().WarnContext(ctx, "refused link not marked as audited; its next try is audited again", "case", ev.Case, "error", err)
	}
	return ErrLinkShared
}
