package cases

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/workers"
	"github.com/parley-mediation/parley/metastore"
)

// The index of seats by address: where IssueSignInLink finds every seat
// an address has (docs/security.md, "The emailed sign-in link") without
// reading every invitation and case.
//
//	seat-index/<keyed hash of the address>/<keyed hash of the entry>
//
// One sealed entry (seatEntry) per seat that holds or held the address:
// an invitation to it, or a participant account with it in a case. The
// address is only in the keyed hash (metastore.IndexKey under the records
// key), lower-cased and trimmed as IssueSignInLink compares addresses;
// the case and the invitation or account are only in the sealed record.
//
// The rule the index keeps is that it never misses a seat: an entry is
// written before the record that makes the seat hold the address — the
// invitation record (CreateInvite), the case's participant (Join; a
// participant account's address never changes) — and a failed write
// stops the change. A crash between the two leaves an entry no record
// backs: IssueSignInLink checks every entry against the records and
// ignores it (as it does an entry whose invitation or case was disposed
// of, or whose account is no longer the case's). Entries are not deleted
// by requests: they go, every stored version, with their case's record,
// after it and its participants' accounts (package retention reads their
// CaseID): a closed case's seats count as long as its record is stored.
// One written while the case was being disposed of is found by the
// apply's second listing of the index, or later by the retention sweep
// (residue orphaned-seat-index: no case record backs it).
//
// Records written before the index existed are indexed once
// (BackfillSeatIndex), and only then is the marker written that makes
// IssueSignInLink use the index; until then it reads every record.
const SeatIndexPrefix = "seat-index/"

// seatIndexCompleteKey is the marker BackfillSeatIndex writes once every
// seat stored before the index existed has its entry.
const seatIndexCompleteKey = "seat-index.complete"

// seatEntry is one index entry: the seat's case, and its invitation
// record's key or its account.
type seatEntry struct {
	CaseID    string `json:"caseId"`
	Invite    string `json:"invite,omitempty"`
	AccountID string `json:"accountId,omitempty"`
}

type seatIndexComplete struct {
	Completed time.Time `json:"completed"`
}

// seatAddress is an address as the seats are compared: trimmed and
// lower-cased.
func seatAddress(addr string) string { return strings.ToLower(strings.TrimSpace(addr)) }

// seatAddressPrefix is where the seats of addr are indexed.
func (s *Service) seatAddressPrefix(addr string) string {
	return SeatIndexPrefix + s.meta.IndexKey("seat-address", seatAddress(addr)) + "/"
}

// indexSeat writes the entry of a seat holding addr (nothing for no
// address). Idempotent: an entry already there is kept.
func (s *Service) indexSeat(ctx context.Context, addr string, e seatEntry) error {
	if seatAddress(addr) == "" {
		return nil
	}
	key := s.seatAddressPrefix(addr) + s.meta.IndexKey("seat", e.CaseID, e.Invite, e.AccountID)
	if _, err := s.meta.Create(ctx, key, e); err != nil && !errors.Is(err, metastore.ErrExists) {
		return err
	}
	return nil
}

// SeatIndexComplete reports whether the marker says every seat is
// indexed, so that a request for an emailed sign-in link reads the index
// of seats by address rather than every record.
func (s *Service) SeatIndexComplete(ctx context.Context) (bool, error) {
	return s.seatIndexComplete(ctx)
}

// seatIndexComplete reports whether the marker says every seat is
// indexed.
func (s *Service) seatIndexComplete(ctx context.Context) (bool, error) {
	_, err := s.meta.Stat(ctx, seatIndexCompleteKey)
	if errors.Is(err, metastore.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// BackfillSeatIndex indexes every seat stored before the index of seats
// by address existed — each invitation with an address, and each
// participant and removed participant of each case — and then writes the
// marker that makes IssueSignInLink use the index. Done once: with the
// marker there it reads nothing more. Idempotent and safe to run on
// several nodes at once or again after a failure (an entry already there
// is kept; the marker is written only after every entry). A seat made
// while it runs is indexed by the code that makes it — by a node of this
// release: one of an earlier release makes seats without entries, so it
// must run only once no such node does. In embedded mode (a data
// directory one process owns) the web server's sign-in link worker runs
// it when it starts; in scale mode the operator does, with `parley admin
// seat-index`, once every node runs this release (docs/operations.md).
func (s *Service) BackfillSeatIndex(ctx context.Context) error {
	if done, err := s.seatIndexComplete(ctx); err != nil || done {
		return err
	}
	var invKeys []string
	if err := s.meta.List(ctx, "invites/", func(key string) error {
		invKeys = append(invKeys, key)
		return nil
	}); err != nil {
		return err
	}
	var fail firstError
	workers.Run(len(invKeys), signInLinkParallel, func(i int) {
		if fail.failed() {
			return
		}
		var inv Invite
		if _, err := s.meta.Get(ctx, invKeys[i], &inv); err != nil {
			if !errors.Is(err, metastore.ErrNotFound) {
				fail.set(err)
			}
			return
		}
		if err := s.indexSeat(ctx, inv.Email, seatEntry{CaseID: inv.CaseID, Invite: invKeys[i]}); err != nil {
			fail.set(err)
		}
	})
	if err := fail.get(); err != nil {
		return err
	}
	var caseIDs []string
	if err := s.meta.List(ctx, "cases/", func(key string) error {
		if id, ok := strings.CutSuffix(strings.TrimPrefix(key, "cases/"), "/case"); ok {
			caseIDs = append(caseIDs, id)
		}
		return nil
	}); err != nil {
		return err
	}
	type seat struct{ caseID, accountID string }
	held := make([][]seat, len(caseIDs))
	workers.Run(len(caseIDs), signInLinkParallel, func(i int) {
		if fail.failed() {
			return
		}
		c, err := s.reload(ctx, caseIDs[i])
		if err != nil {
			if !errors.Is(err, fault.ErrNotFound) {
				fail.set(err)
			}
			return
		}
		for _, p := range c.Participants {
			held[i] = append(held[i], seat{c.ID, p.AccountID})
		}
		for _, p := range c.Removed {
			held[i] = append(held[i], seat{c.ID, p.AccountID})
		}
	})
	if err := fail.get(); err != nil {
		return err
	}
	var seats []seat
	for _, h := range held {
		seats = append(seats, h...)
	}
	workers.Run(len(seats), signInLinkParallel, func(i int) {
		if fail.failed() {
			return
		}
		a, err := s.accounts.Get(ctx, seats[i].accountID)
		if err != nil {
			if !errors.Is(err, fault.ErrNotFound) {
				fail.set(err)
			}
			return
		}
		if err := s.indexSeat(ctx, a.Email, seatEntry{CaseID: seats[i].caseID, AccountID: a.ID}); err != nil {
			fail.set(err)
		}
	})
	if err := fail.get(); err != nil {
		return err
	}
	if _, err := s.meta.Create(ctx, seatIndexCompleteKey, seatIndexComplete{Completed: s.now().UTC()}); err != nil && !errors.Is(err, metastore.ErrExists) {
		return err
	}
	return nil
}

// indexedSeats is scannedSeats from the index of seats by address: it
// reads the address's entries, and checks each against the records it
// names — the invitation still there with the address (its seat is the
// account that claimed it, or the invitation), or the account still a
// participant or removed participant of the case, which is still there,
// and with the address. An entry no record backs (a crash between the
// entry and its record, a disposal) is ignored. The open cases where an
// account of byID is a participant are those of byID's entries, in case
// id order.
func (s *Service) indexedSeats(ctx context.Context, email string, byID map[string]account.Account) (map[string]bool, []*Case, error) {
	same := func(addr string) bool { return seatAddress(addr) == email }
	var keys []string
	if err := s.meta.List(ctx, s.seatAddressPrefix(email), func(key string) error {
		keys = append(keys, key)
		return nil
	}); err != nil {
		return nil, nil, err
	}
	var fail firstError
	entries := make([]seatEntry, len(keys))
	workers.Run(len(keys), signInLinkParallel, func(i int) {
		if fail.failed() {
			return
		}
		if _, err := s.meta.Get(ctx, keys[i], &entries[i]); err != nil && !errors.Is(err, metastore.ErrNotFound) {
			fail.set(err)
		}
	})
	if err := fail.get(); err != nil {
		return nil, nil, err
	}
	var invKeys []string
	caseAccounts := map[string][]string{} // case → accounts its entries name
	for _, e := range entries {
		switch {
		case e.Invite != "":
			if !slices.Contains(invKeys, e.Invite) {
				invKeys = append(invKeys, e.Invite)
			}
		case e.CaseID != "" && e.AccountID != "":
			if !slices.Contains(caseAccounts[e.CaseID], e.AccountID) {
				caseAccounts[e.CaseID] = append(caseAccounts[e.CaseID], e.AccountID)
			}
		}
	}
	invSeat := make([]string, len(invKeys))
	workers.Run(len(invKeys), signInLinkParallel, func(i int) {
		if fail.failed() {
			return
		}
		var inv Invite
		if _, err := s.meta.Get(ctx, invKeys[i], &inv); err != nil {
			if !errors.Is(err, metastore.ErrNotFound) { // else swept or disposed of
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
	caseIDs := slices.Sorted(maps.Keys(caseAccounts))
	loaded := make([]*Case, len(caseIDs))
	workers.Run(len(caseIDs), signInLinkParallel, func(i int) {
		if fail.failed() {
			return
		}
		c, err := s.load(ctx, caseIDs[i])
		if err != nil {
			if !errors.Is(err, fault.ErrNotFound) { // else disposed of
				fail.set(err)
			}
			return
		}
		loaded[i] = c
	})
	if err := fail.get(); err != nil {
		return nil, nil, err
	}
	seats := map[string]bool{}
	for _, seat := range invSeat {
		if seat != "" {
			seats[seat] = true
		}
	}
	var open []*Case
	var others []string
	for i, c := range loaded {
		if c == nil {
			continue
		}
		holds := func(id string) bool {
			_, in := c.Participant(id)
			return in || slices.ContainsFunc(c.Removed, func(r RemovedParticipant) bool { return r.AccountID == id })
		}
		for _, id := range caseAccounts[caseIDs[i]] {
			if !holds(id) {
				continue // a join that stopped before the case named them
			}
			if _, ok := byID[id]; ok {
				seats[id] = true
			} else if !slices.Contains(others, id) {
				others = append(others, id)
			}
		}
		if c.Closed == nil && slices.ContainsFunc(c.Participants, func(p Participant) bool { _, ok := byID[p.AccountID]; return ok }) {
			open = append(open, c)
		}
	}
	if err := s.markSeatsWithAddress(ctx, others, same, seats); err != nil {
		return nil, nil, err
	}
	return seats, open, nil
}
