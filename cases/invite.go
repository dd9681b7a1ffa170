package cases

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// Invite is a single-use, expiring invitation for one person to join a case
// in one role. Only a keyed hash of its token is stored (as the record's key).
type Invite struct {
	CaseID    string          `json:"caseId"`
	Role      ParticipantRole `json:"role"`
	Side      string          `json:"side,omitempty"`
	Name      string          `json:"name"`
	Email     string          `json:"email,omitempty"`
	Created   time.Time       `json:"created"`
	CreatedBy string          `json:"createdBy"`
	Expires   time.Time       `json:"expires"`
	// Redemption happens in two writes — claim, then join — so that a
	// crash between them can be finished by the same token holder while no
	// one else can use the invite. ClaimedBy is the account the claim made.
	ClaimedBy string     `json:"claimedBy,omitempty"`
	Claimed   *time.Time `json:"claimed,omitempty"`
	Completed bool       `json:"completed,omitempty"`
	// AddressAlone: when the invitation was made, its address was on
	// file for no other seat of the case, so it may have been mailed
	// there. It is not claimed once another seat has the address
	// (ErrLinkShared).
	AddressAlone bool `json:"addressAlone,omitempty"`
	// SharedRefused: when it was first refused so, once that refusal was
	// audited (case.link.refused); later tries are refused alike but not
	// audited again.
	SharedRefused *time.Time `json:"sharedRefused,omitempty"`
	// Withdrawn: when a mediator of the case withdrew it unused
	// (WithdrawInvite), and by whom. A withdrawn invite is never claimed;
	// its record stays until the case's invitations are disposed of, like
	// a used one's.
	Withdrawn   *time.Time `json:"withdrawn,omitempty"`
	WithdrawnBy string     `json:"withdrawnBy,omitempty"`
	// WithdrawnUnaudited: the withdrawal's audit entry is not known to
	// be in the log. Set in the write that withdraws it, cleared once the
	// entry is appended; a withdrawal that finds it set (a retry after
	// the append failed) appends the entry (WithdrawInvite).
	WithdrawnUnaudited bool `json:"withdrawnUnaudited,omitempty"`
}

// NewInvite is what CreateInvite needs.
type NewInvite struct {
	Role  ParticipantRole
	Side  string
	Name  string
	Email string
	TTL   time.Duration // 0 means DefaultInviteTTL
}

// IssuedInvite is returned once, to the mediator who made the invite.
type IssuedInvite struct {
	// ID names it to its case's mediators, as PendingInvite.ID does.
	ID      string    `json:"id"`
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
	Role    ParticipantRole
	Side    string
	// SharedAddress: the invitation's address is already on file for
	// another seat of the case, of any side (SharedWith). Whoever reads
	// that mailbox may be that other person, who could redeem it and join
	// as someone else: the other side, or on the same side a seat in
	// rooms their own is not in (a lawyers' room the mediator opened), so
	// it is not to be mailed.
	SharedAddress bool `json:"-"`
	// Seat is the invitation's Seat.Key ("invite:" and its token's keyed
	// hash), for its mail to name the seat it is for (LinkAddressShared
	// judges it again when the mail is sent). It names nobody.
	Seat string `json:"-"`
}

func (s *Service) inviteKey(token string) string {
	return "invites/" + s.meta.IndexKey("invite", token)
}

// ErrInviteGone: the invite expired, was used, or never existed. The three
// are not told apart, so a guessed token learns nothing.
var ErrInviteGone = fmt.Errorf("invite link is expired, already used, or not valid: %w", fault.ErrGone)

// ErrLinkShared: the link was made, and so mailed, while its address was
// nobody else's in the case, and another seat has that address now (any
// other seat, of either side; for an invitation, not the account that
// claimed it).
// Whoever reads that mailbox may be the other person, so the link no
// longer works; a new one is given by hand.
var ErrLinkShared = fmt.Errorf("this link was emailed to an address that someone else in this mediation now also uses, so it no longer works; ask your mediator for a new link: %w", fault.ErrGone)

// ErrAlreadyJoined: the invite is for someone of the same name, side and
// role who has already joined the case (by another invite).
var ErrAlreadyJoined = fmt.Errorf("someone of this name has already joined this case with another link; ask your mediator for a link back in: %w", fault.ErrGone)

// ErrInviteBusy: another Join of the same invite is in progress (its claim
// is younger than claimLease). If that Join was interrupted, a retry after
// claimLease finishes it.
var ErrInviteBusy = fmt.Errorf("invite is being redeemed right now; try again in a minute: %w", fault.ErrConflict)

// claimLease is how long a claim on an invite excludes other Joins. A Join
// takes a few small writes, far less than this; a claim older than this is
// taken to be from a redemption that was interrupted, and is finished.
const claimLease = time.Minute

// finishGrace is how long after its expiry an invite whose redemption was
// claimed in time (and interrupted) can still be finished.
const finishGrace = 24 * time.Hour

// CreateInvite issues an invite link token for the case. It says whether
// the address given is already on file for another seat of the case
// (IssuedInvite.SharedAddress), for the caller not to mail the link.
func (s *Service) CreateInvite(ctx context.Context, actor account.Account, id string, n NewInvite) (IssuedInvite, error) {
	switch n.Role {
	case RoleParty, RoleCounsel:
		if n.Side == "" {
			return IssuedInvite{}, fault.Invalid("side", "required for a party or counsel")
		}
	case RoleObserver:
		if n.Side != "" {
			return IssuedInvite{}, fault.Invalid("side", "an observer belongs to no side")
		}
	default:
		return IssuedInvite{}, fault.Invalid("role", "one of party, counsel, observer")
	}
	if err := account.ValidateName("name", n.Name); err != nil {
		return IssuedInvite{}, err
	}
	if n.Email != "" {
		if err := account.ValidateEmail("email", n.Email); err != nil {
			return IssuedInvite{}, err
		}
	}
	if n.TTL == 0 {
		n.TTL = DefaultInviteTTL
	}
	if n.TTL < time.Minute || n.TTL > MaxInviteTTL {
		return IssuedInvite{}, fault.Invalid("ttl", fmt.Sprintf("between 1 minute and %s", MaxInviteTTL))
	}
	c, err := s.loadFor(ctx, actor, id, policy.CaseInvite)
	if err != nil {
		return IssuedInvite{}, err
	}
	if err := s.authorizeAdding(ctx, actor, policy.CaseInvite, c); err != nil {
		return IssuedInvite{}, err
	}
	if c.Closed != nil {
		return IssuedInvite{}, ErrClosed
	}
	if n.Side != "" && !c.HasSide(n.Side) {
		return IssuedInvite{}, fault.Invalid("side", "no such side in this case")
	}
	if p, dup := existingParticipant(c, n, func(id string) string {
		a, err := s.accounts.Get(ctx, id)
		if err != nil {
			return ""
		}
		return a.Email
	}); dup {
		return IssuedInvite{}, &AlreadyParticipantError{AccountID: p.AccountID, Name: p.Name}
	}
	if len(c.Participants) >= MaxParticipants {
		return IssuedInvite{}, fault.Invalid("role", fmt.Sprintf("a case holds at most %d participants", MaxParticipants))
	}
	shared := false
	if n.Email != "" {
		seats, err := s.Seats(ctx, c)
		if err != nil {
			return IssuedInvite{}, err
		}
		// Any other seat, on either side: a party and their own lawyer
		// need not share every room (a lawyers' room, a parties' room
		// the mediator opened), so neither may join as the other. Before,
		// only a seat of another side counted.
		for _, st := range SharedWith(seats, n.Email, "") {
			if !sameInvitee(st, strings.TrimSpace(n.Name), n.Role, n.Side) {
				shared = true
			}
		}
	}
	now := s.now().UTC()
	token := ids.Token()
	inv := Invite{CaseID: id, Role: n.Role, Side: n.Side, Name: strings.TrimSpace(n.Name),
		Email: strings.TrimSpace(n.Email), Created: now, CreatedBy: actor.ID, Expires: now.Add(n.TTL),
		AddressAlone: n.Email != "" && !shared}
	// Audited first, then stored (docs/security.md, "What the audit log is
	// guaranteed to hold"): an invitation whose entry the log cannot take
	// is not made (503), so no invitation is listed whose link nobody was
	// shown. Before, the entry came last, and a failed append left
	// "Invited, not joined yet" on the desk for a link no one had.
	ev := audit.Paired(audit.Event{Type: "case.invite.created", Actor: actor.ID, Case: id,
		Hashes: []string{s.meta.IndexKey("invite", token)},
		Attrs:  map[string]string{"role": string(n.Role), "side": n.Side}})
	if err := s.record(ctx, ev); err != nil {
		return IssuedInvite{}, fmt.Errorf("audit: %w: %w", err, fault.ErrUnavailable)
	}
	// A write that fails after the entry is followed by its .failed entry
	// when the invitation is surely not there (audit.Settle).
	invKey := s.inviteKey(token)
	failed := func(err error, landed func(context.Context) (bool, error)) (IssuedInvite, error) {
		audit.Settle(ctx, s.record, s.logger(), "cases", ev, ev.Type, fault.Class(err), landed)
		return IssuedInvite{}, err
	}
	stored := func(ctx context.Context) (bool, error) {
		_, err := s.meta.Stat(ctx, invKey)
		if errors.Is(err, metastore.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	// The seat's index entry first (seatindex.go): an invitation is never
	// stored without it, so an emailed sign-in link never misses it.
	if err := s.indexSeat(ctx, inv.Email, seatEntry{CaseID: id, Invite: invKey}); err != nil {
		return failed(err, nil)
	}
	// A record write that answers an error may have landed (a retried PUT
	// whose first attempt landed answers "exists"; its key is a fresh
	// token's, so a record there is this one): it is read back, and one
	// found is listed like one written. Before, the request failed with
	// the record stored and unlisted: a link nobody had, which the desk
	// could not withdraw and which counted as a seat for its address. A
	// write cut short may still land after any look (metastore.CreateOrUndo):
	// its outcome is unknown.
	if _, err := s.meta.Create(ctx, invKey, inv); err != nil {
		there := false
		short := cutShort(ctx, err)
		if _, err := failed(err, func(ctx context.Context) (bool, error) {
			ok, err := stored(ctx)
			if !ok && err == nil && short {
				return false, errMayStillLand
			}
			there = ok
			return ok, err
		}); !there {
			return IssuedInvite{}, err
		}
	}
	// Then the marker that lists it; an invitation it cannot list is
	// taken back, as its link is shown to no one. The record is stored
	// now, so the marker is written on a context that outlives the
	// caller: a request cancelled as its record landed (found by the read
	// back above) still lists it rather than leaving it unlisted.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	markerKey := caseInvitesPrefix(id) + s.meta.IndexKey("invite", token)
	if err := metastore.CreateOrUndo(ctx, s.meta, markerKey, inviteMarker{}, func(ctx context.Context) error {
		return s.meta.Delete(ctx, invKey)
	}); err != nil {
		// Read back the same way: a marker found (its key is this
		// invitation's alone) lists it, and it is answered.
		listed := false
		short := cutShort(ctx, err)
		if _, err := failed(err, func(ctx context.Context) (bool, error) {
			_, merr := s.meta.Stat(ctx, markerKey)
			switch {
			case merr == nil:
				listed = true
				return true, nil
			case !errors.Is(merr, metastore.ErrNotFound):
				return false, merr
			case short:
				return false, errMayStillLand
			}
			if ok, err := stored(ctx); ok || err != nil {
				return false, errors.Join(errors.New("an invitation unlisted was not taken back"), err)
			}
			return false, nil
		}); !listed {
			return IssuedInvite{}, err
		}
	}
	return IssuedInvite{ID: s.meta.IndexKey("invite", token), Token: token, Expires: inv.Expires, Role: n.Role, Side: n.Side, SharedAddress: shared,
		Seat: inviteSeatPrefix + s.meta.IndexKey("invite", token)}, nil
}

// mayStillMake returns the maker (createdBy) of a link of kind a to case
// caseID — an invite (policy.CaseInvite) or a re-entry link
// (policy.CaseReentry) — if they may still make it, and ErrInviteGone if
// not, or if the case or the maker's account is gone.
//
// A link is worth no more than its maker's access to the case. The maker
// must still be allowed to make it, by the policy that let them: one of
// the case's mediators, not recused (by themselves, a co-mediator or the
// program), with an enabled account. Otherwise the link is refused as a
// used one is: a mediator who recused or was disabled could else keep a
// link back in as a party, or an invite for a side, and read through it
// the case they lost. Only the maker's standing counts: links made by a
// co-mediator who is still active keep working. Nothing is revoked when a
// maker leaves; redemption asks.
func (s *Service) mayStillMake(ctx context.Context, caseID, createdBy string, a policy.Action) (account.Account, error) {
	// As stored: activating a mediator whose notice ended (load) changes
	// nothing about the maker, who was a mediator already.
	c, err := s.reload(ctx, caseID)
	if errors.Is(err, fault.ErrNotFound) {
		return account.Account{}, ErrInviteGone
	}
	if err != nil {
		return account.Account{}, err
	}
	maker, err := s.linkMaker(ctx, createdBy)
	if err != nil {
		return account.Account{}, err
	}
	if !s.makerMay(maker, a, c) {
		return account.Account{}, ErrInviteGone
	}
	return maker, nil
}

// linkMaker returns the account that made a link (its CreatedBy), or
// ErrInviteGone if there is no such account.
func (s *Service) linkMaker(ctx context.Context, createdBy string) (account.Account, error) {
	maker, err := s.accounts.Get(ctx, createdBy)
	if errors.Is(err, fault.ErrNotFound) {
		return account.Account{}, ErrInviteGone
	}
	return maker, err
}

// makerMay reports whether maker may still make a link of kind a to case
// c (see mayStillMake).
func (s *Service) makerMay(maker account.Account, a policy.Action, c *Case) bool {
	return s.policy.Decide(maker.Principal(), a, c.Facts()).Allowed
}

// Joined is the result of redeeming an invite.
type Joined struct {
	Account account.Account
	Token   string // a new session token for the participant
	Session account.Session
	CaseID  string
	// Reentry: the token was a re-entry link, and Account is the
	// participant's existing account.
	Reentry bool
	// Already: the link was used before, by the signed-in account that
	// opened it again; no session was made (Token is empty).
	Already bool
}

// Join redeems an invite token: it claims the invite (only one claim can
// win, and none while the invite's maker may no longer invite to the case:
// mayStillMake), creates the participant's account, adds them to the case,
// marks the invite completed and opens a session. A rerun after a crash
// anywhere in between finishes the same join (once claimLease has passed;
// before that it gets ErrInviteBusy); once completed, the token is gone. Of several Joins
// racing with one token, exactly one succeeds.
//
// A re-entry link (CreateReentry) is redeemed the same way: it signs its
// participant in as their existing account.
func (s *Service) Join(ctx context.Context, token string) (Joined, error) {
	return s.JoinAs(ctx, token, nil)
}

// JoinAs is Join by a caller who may already be signed in as current (nil:
// not signed in). An invite or re-entry link that current itself already
// used sends them to its case (Joined.Already) instead of failing as used.
func (s *Service) JoinAs(ctx context.Context, token string, current *account.Account) (Joined, error) {
	if len(token) != 43 {
		return Joined{}, ErrInviteGone
	}
	key := s.inviteKey(token)
	var claimedID string
	var maker account.Account
	var refused *Invite // refused for its address, not yet audited so
	inv, err := metastore.Update(ctx, s.meta, key, func(inv *Invite) error {
		refused = nil
		now := s.now().UTC()
		switch {
		case inv.Completed, inv.Withdrawn != nil:
			// Withdrawn (WithdrawInvite): refused in the words an
			// expired or used link gets, so its holder learns nothing.
			return ErrInviteGone
		case inv.ClaimedBy != "" && !now.Before(inv.Expires.Add(finishGrace)):
			// A redemption claimed in time may be finished after expiry,
			// but not indefinitely: a token is not usable for ever.
			return ErrInviteGone
		case inv.ClaimedBy != "":
			// Claimed but not completed: either another Join is redeeming
			// it right now, or one was interrupted. Only a claim older than
			// claimLease is finished, and finishing renews the claim, so
			// that concurrent Joins (finishers included) exclude each other
			// instead of all succeeding with the same token.
			if inv.Claimed != nil && now.Sub(*inv.Claimed) < claimLease {
				return ErrInviteBusy
			}
		case !now.Before(inv.Expires):
			return ErrInviteGone
		}
		// Neither claimed nor finished if its maker has lost the case
		// (mayStillMake), so that every try says the same: gone.
		var err error
		if maker, err = s.mayStillMake(ctx, inv.CaseID, inv.CreatedBy, policy.CaseInvite); err != nil {
			return err
		}
		// Mailed to an address no other seat had, which one has now:
		// not claimed (a claim already made is finished).
		if inv.ClaimedBy == "" && inv.AddressAlone {
			c, err := s.reload(ctx, inv.CaseID)
			if err != nil {
				return err
			}
			if shared, err := s.LinkAddressShared(ctx, c, inviteSeatPrefix+s.meta.IndexKey("invite", token), inv.Email); err != nil {
				return err
			} else if shared {
				if inv.SharedRefused == nil {
					refused = inv
				}
				return ErrLinkShared
			}
		}
		if inv.ClaimedBy == "" {
			// A duplicate is refused before the claim is written: a claim
			// left on a refused invitation would hide it from the pending
			// list, keep it from being withdrawn, and let its holder
			// finish it later, once the person it duplicated was removed.
			c, err := s.reload(ctx, inv.CaseID)
			if err != nil {
				return err
			}
			if _, dup := existingParticipant(c, NewInvite{Role: inv.Role, Side: inv.Side, Name: inv.Name}, nil); dup {
				// The person seated may be this link's own concurrent
				// join, seated after this read of the invitation: then
				// the link is in use or used, not a duplicate's.
				var fresh Invite
				if _, err := s.meta.Get(ctx, key, &fresh); err == nil {
					switch {
					case fresh.Completed:
						return ErrInviteGone
					case fresh.ClaimedBy != "":
						return ErrInviteBusy
					}
				}
				return ErrAlreadyJoined
			}
			inv.ClaimedBy = ids.New("u")
		}
		inv.Claimed = &now
		claimedID = inv.ClaimedBy
		return nil
	})
	if errors.Is(err, metastore.ErrNotFound) {
		return s.redeemReentry(ctx, token, current)
	}
	if errors.Is(err, ErrLinkShared) && refused != nil {
		return Joined{}, s.linkRefusedShared(ctx, audit.Event{Case: refused.CaseID,
			Hashes: []string{s.meta.IndexKey("invite", token)}, Attrs: map[string]string{"link": "invite"}},
			func(ctx context.Context) error {
				_, err := metastore.Update(ctx, s.meta, key, func(inv *Invite) error {
					if inv.SharedRefused != nil {
						return errAlreadyMarked
					}
					now := s.now().UTC()
					inv.SharedRefused = &now
					return nil
				})
				return err
			})
	}
	if errors.Is(err, ErrInviteGone) && current != nil {
		var used Invite
		if _, gerr := s.meta.Get(ctx, key, &used); gerr == nil && used.Completed && used.ClaimedBy == current.ID {
			if c, lerr := s.load(ctx, used.CaseID); lerr == nil {
				if _, ok := c.Participant(current.ID); ok {
					return Joined{Account: *current, CaseID: used.CaseID, Already: true}, nil
				}
			}
		}
	}
	if err != nil {
		return Joined{}, err
	}
	// Refuse, before making an account, every join the case's update below
	// would refuse as things stand: an account made for a refused join
	// would hold a name and email in no case, which no disposal reaches.
	// (The checks inside the update still decide when a change races this
	// one; an account made for a join refused there is deleted:
	// discardRefused.)
	if c, err := s.load(ctx, inv.CaseID); err != nil {
		return Joined{}, err
	} else if _, ok := c.Participant(claimedID); !ok {
		refusal := s.joinRefused(c, maker, inv, claimedID)
		if c.Disposing != nil {
			refusal = fmt.Errorf("case %s: %w", inv.CaseID, ErrDisposing)
		}
		if refusal != nil {
			// An earlier run of this join, interrupted after it made the
			// account, left it behind: deleted now.
			s.discardRefused(ctx, inv.CaseID, claimedID, inv.Email, errors.Is(refusal, ErrDisposing))
			return Joined{}, refusal
		}
	}
	acct, err := s.accounts.EnsureParticipant(ctx, claimedID, inv.CaseID, inv.Name, inv.Email)
	if err != nil {
		return Joined{}, err
	}
	// The participant's index entry before the case names them
	// (seatindex.go): the account's address never changes after this.
	if err := s.indexSeat(ctx, acct.Email, seatEntry{CaseID: inv.CaseID, AccountID: acct.ID}); err != nil {
		return Joined{}, err
	}
	_, err = s.commitChange(ctx, inv.CaseID, func(c *Case) error {
		// The maker's recusal, should it be written after the claim,
		// wins here.
		if !s.makerMay(maker, policy.CaseInvite, c) {
			return ErrInviteGone
		}
		if _, ok := c.Participant(acct.ID); ok {
			return nil
		}
		if err := s.joinRefused(c, maker, inv, acct.ID); err != nil {
			return err
		}
		c.Participants = append(c.Participants, Participant{AccountID: acct.ID, Name: acct.Name,
			Role: inv.Role, Side: inv.Side, Joined: s.now().UTC()})
		// The participant and the audit event are one write (outbox.go);
		// a retried Join finds the participant there and queues nothing.
		return s.queueEvent(c, audit.Event{Type: "case.invite.redeemed", Actor: acct.ID, Case: inv.CaseID,
			Hashes: []string{s.meta.IndexKey("invite", token)},
			Attrs:  map[string]string{"role": string(inv.Role), "side": inv.Side}})
	})
	if joinRefusal(err) {
		s.discardRefused(ctx, inv.CaseID, acct.ID, acct.Email, errors.Is(err, ErrDisposing))
	}
	if err != nil {
		return Joined{}, err
	}
	// Completing is the single point that decides which Join gets the
	// session: should a slow Join overlap a finisher (after claimLease),
	// only the first to complete wins.
	if _, err := metastore.Update(ctx, s.meta, key, func(inv *Invite) error {
		if inv.Completed {
			return ErrInviteGone
		}
		inv.Completed = true
		return nil
	}); err != nil {
		return Joined{}, err
	}
	s.membership(ctx, inv.CaseID, MembershipChange{Kind: "participant.joined", Account: acct.ID, Side: inv.Side, By: acct.ID})
	// The session is opened from the account as read before the case
	// checks (EnsureParticipant): a removal written since revokes it.
	sessToken, sess, err := s.accounts.NewSession(ctx, acct)
	if err != nil {
		return Joined{}, err
	}
	return Joined{Account: acct, Token: sessToken, Session: sess, CaseID: inv.CaseID}, nil
}

// joinRefused is why case c refuses to seat the account accountID by
// invitation inv made by maker (nil: it does not). JoinAs asks it before
// it makes the account and again in the case's update; the case's
// disposal fence is commitChange's to refuse.
func (s *Service) joinRefused(c *Case, maker account.Account, inv Invite, accountID string) error {
	// The maker's recusal, should it be written after the claim, wins.
	if !s.makerMay(maker, policy.CaseInvite, c) {
		return ErrInviteGone
	}
	if c.Closed != nil {
		return ErrClosed
	}
	// A removed account never comes back (finishing a join that was
	// interrupted before the removal): it would still be in the defined
	// rooms' signed members, since pruning drops only people a signed
	// statement leaves out. A new invite makes a new account.
	if slices.ContainsFunc(c.Removed, func(r RemovedParticipant) bool { return r.AccountID == accountID }) {
		return ErrInviteGone
	}
	// Nor does the account of a join refused before (discardRefused): it
	// was deleted, or is being deleted, and its link is refused for good.
	if slices.Contains(c.RefusedAccounts, accountID) {
		return ErrInviteGone
	}
	if inv.Side != "" && !c.HasSide(inv.Side) {
		return fault.Invalid("side", "no such side in this case")
	}
	// Two invites made for one person before either was used: the second
	// would make a second person of the same name, who could read nothing
	// the first can.
	if _, dup := existingParticipant(c, NewInvite{Role: inv.Role, Side: inv.Side, Name: inv.Name}, nil); dup {
		return ErrAlreadyJoined
	}
	return nil
}

// joinRefusal reports whether err is the case's refusal of a join
// (joinRefused, or its disposal fence) rather than a failure to write.
func joinRefusal(err error) bool {
	return errors.Is(err, ErrDisposing) || errors.Is(err, ErrClosed) || errors.Is(err, ErrInviteGone) ||
		errors.Is(err, ErrAlreadyJoined) || errors.As(err, new(*fault.InvalidError))
}

// errAccountInCase, errRefusedMarked and errFenceLifted stop
// discardRefused's mark: the case names the account (it is kept), marked
// it already, or no longer has the disposal fence that refused the join
// (kept: the link's next open seats it).
var (
	errAccountInCase = errors.New("the account is in the case")
	errRefusedMarked = errors.New("the account is marked refused already")
	errFenceLifted   = errors.New("the disposal fence that refused the join is lifted")
)

// discardRefused deletes the participant account accountID, and its entry
// in the index of seats by address, made for a join that case caseID
// refused: the case names it nowhere, so no disposal of the case would
// reach it. The id was minted for this invitation's claim (JoinAs), so no
// other case seats it. First the case marks it refused (RefusedAccounts),
// by a conditional write of the record, as a seating is: a later open of
// the link (taking over a claim older than its lease), or an earlier one
// still running, seated meanwhile keeps it — the mark is not written and
// nothing is deleted — and once the mark is written no join seats it.
// Kept, too, if the case names it otherwise (a removed participant's
// account goes with the case). A case fenced for its disposal takes no
// mark (ErrDisposing) and seats nobody: the account is deleted without
// one; a join refused by that fence (fenced) whose case is found unfenced
// when the mark would be written (a disposal paused meanwhile) keeps its
// account and takes no mark, so the link works again. No account made (a
// join refused before it made one, and no earlier run of it did): no
// mark either, nothing to delete. A failure is logged (WARN): the
// account stays until an operator deletes it, the link is opened again,
// or the case's disposal destroys it (docs/operations.md).
func (s *Service) discardRefused(ctx context.Context, caseID, accountID, addr string, fenced bool) {
	inCase := func(c *Case) bool {
		_, ok := c.Participant(accountID)
		return ok || slices.ContainsFunc(c.Removed, func(r RemovedParticipant) bool { return r.AccountID == accountID })
	}
	if _, err := s.accounts.Get(ctx, accountID); errors.Is(err, fault.ErrNotFound) {
		// No account to mark or delete. A run of this join still making
		// it meets the case's refusal in its own update and comes here
		// again, or, the refusal undone meanwhile, is seated. Marked
		// already, it is seated never: its seat-index entry, should a
		// stalled run have written it again after the deletion, goes.
		if c, lerr := s.load(ctx, caseID); lerr == nil && slices.Contains(c.RefusedAccounts, accountID) && !inCase(c) {
			if err := s.dropSeatEntry(ctx, caseID, accountID, addr); err != nil {
				s.logger().WarnContext(ctx, "the account of a refused join was not deleted", "case", caseID, "account", accountID, "error", err)
			}
		}
		return
	}
	var err error
	if c, lerr := s.load(ctx, caseID); lerr == nil && slices.Contains(c.RefusedAccounts, accountID) && !inCase(c) {
		// Marked already (a reopened dead link): no write, so a case's
		// audit backlog does not stop the deletion.
		err = errRefusedMarked
	} else {
		_, err = s.commitChange(ctx, caseID, func(c *Case) error {
			if inCase(c) {
				return errAccountInCase
			}
			if slices.Contains(c.RefusedAccounts, accountID) {
				return errRefusedMarked
			}
			if fenced && c.Disposing == nil {
				return errFenceLifted
			}
			c.RefusedAccounts = append(c.RefusedAccounts, accountID)
			return nil
		})
	}
	if errors.Is(err, ErrDisposing) {
		// Fenced: no mark, and no seating while the fence stands.
		var c *Case
		if c, err = s.load(ctx, caseID); err == nil && inCase(c) {
			err = errAccountInCase
		}
	}
	switch {
	case err == nil, errors.Is(err, errRefusedMarked), errors.Is(err, metastore.ErrNotFound), errors.Is(err, fault.ErrNotFound):
	case errors.Is(err, errAccountInCase), errors.Is(err, errFenceLifted):
		return
	default:
		s.logger().WarnContext(ctx, "the account of a refused join was not deleted", "case", caseID, "account", accountID, "error", err)
		return
	}
	if err := errors.Join(s.accounts.DiscardParticipant(ctx, accountID), s.dropSeatEntry(ctx, caseID, accountID, addr)); err != nil {
		s.logger().WarnContext(ctx, "the account of a refused join was not deleted", "case", caseID, "account", accountID, "error", err)
	}
}

// dropSeatEntry deletes every stored version of the entry in the index of
// seats by address addr for account accountID of case caseID (none for an
// invitation without an address).
func (s *Service) dropSeatEntry(ctx context.Context, caseID, accountID, addr string) error {
	if seatAddress(addr) == "" {
		return nil
	}
	obj := s.meta.Objects()
	key := s.seatAddressPrefix(addr) + s.meta.IndexKey("seat", caseID, "", accountID)
	vs, err := obj.Versions(ctx, key)
	if err != nil && !errors.Is(err, objstore.ErrNotFound) {
		return err
	}
	infos := make([]objstore.Info, 0, len(vs))
	for _, v := range vs {
		infos = append(infos, v.Info)
	}
	if len(infos) == 0 {
		return nil
	}
	return errors.Join(obj.DeleteVersions(ctx, infos)...)
}
