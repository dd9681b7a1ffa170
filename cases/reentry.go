package cases

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/policy"
)

// DefaultReentryTTL is how long a re-entry link works unless the mediator
// says otherwise (the same bounds as an invite's).
const DefaultReentryTTL = DefaultInviteTTL

// Reentry is a single-use, expiring link that signs a participant back in
// as their own, existing account: for a party whose session ended or who
// is on a new browser. Unlike an invite it never makes an account. Only a
// keyed hash of its token is stored (as the record's key).
type Reentry struct {
	CaseID    string     `json:"caseId"`
	AccountID string     `json:"accountId"`
	Created   time.Time  `json:"created"`
	CreatedBy string     `json:"createdBy"`
	Expires   time.Time  `json:"expires"`
	Used      *time.Time `json:"used,omitempty"`
	// Self: the participant asked for it by email (IssueSignInLink), so
	// CreatedBy is the participant and no mediator's standing counts;
	// their own (a participant of the open case, account enabled) does,
	// as for every re-entry link.
	Self bool `json:"self,omitempty"`
	// AddressAlone: when the link was made, the account's address was on
	// file for no other seat of the case, so the link may have been
	// mailed there. It stops working once another seat has the address
	// (ErrLinkShared). A link made while the address was shared is given
	// by hand, and is not judged so.
	AddressAlone bool `json:"addressAlone,omitempty"`
	// SharedRefused: when it was first refused so, once that refusal was
	// audited (case.link.refused); later tries are refused alike but not
	// audited again.
	SharedRefused *time.Time `json:"sharedRefused,omitempty"`
}

// IssuedReentry is returned once, to the mediator who made the link.
type IssuedReentry struct {
	CaseID    string
	Token     string
	Expires   time.Time
	AccountID string
	Name      string
	Email     string
	// SharedAddress: Email is also on file for another seat of the case
	// (SharedWith: another participant account, present or removed, or
	// an invitation nobody claimed). Whoever reads that mailbox may be
	// the other seat, who could open the link first and be signed in as
	// this participant, so the link is not mailed (CreateReentry only).
	SharedAddress bool
}

func (s *Service) reentryKey(token string) string {
	return "reentries/" + s.meta.IndexKey("reentry", token)
}

// AlreadyParticipantError: an invite was asked for someone who is already
// in the case (same role and side, and the same name or email). A second
// account would not read anything the first one could; the mediator sends
// that person a re-entry link instead.
type AlreadyParticipantError struct {
	AccountID string
	Name      string
}

func (e *AlreadyParticipantError) Error() string {
	return fmt.Sprintf("%s is already in this case; send them a re-entry link to their own account instead of a new invitation", e.Name)
}

// Unwrap makes the error a conflict.
func (e *AlreadyParticipantError) Unwrap() error { return fault.ErrConflict }

// existingParticipant finds a participant an invite n would duplicate.
func existingParticipant(c *Case, n NewInvite, emailOf func(accountID string) string) (Participant, bool) {
	name := strings.TrimSpace(n.Name)
	email := strings.TrimSpace(n.Email)
	for _, p := range c.Participants {
		if p.Role != n.Role || p.Side != n.Side {
			continue
		}
		if strings.EqualFold(p.Name, name) {
			return p, true
		}
		if email != "" && emailOf != nil && strings.EqualFold(emailOf(p.AccountID), email) {
			return p, true
		}
	}
	return Participant{}, false
}

// CreateReentry issues a re-entry link for participant accountID of case
// id. Policy decides who may (the case's mediators); the link is audited,
// single-use, and expires after ttl (0: DefaultReentryTTL). It says
// whether the account's address is shared within the case
// (IssuedReentry.SharedAddress), for the caller not to mail the link.
func (s *Service) CreateReentry(ctx context.Context, actor account.Account, id, accountID string, ttl time.Duration) (IssuedReentry, error) {
	if ttl == 0 {
		ttl = DefaultReentryTTL
	}
	if ttl < time.Minute || ttl > MaxInviteTTL {
		return IssuedReentry{}, fault.Invalid("ttl", fmt.Sprintf("between 1 minute and %s", MaxInviteTTL))
	}
	c, err := s.loadFor(ctx, actor, id, policy.CaseReentry)
	if err != nil {
		return IssuedReentry{}, err
	}
	if err := s.authorizeAdding(ctx, actor, policy.CaseReentry, c); err != nil {
		return IssuedReentry{}, err
	}
	if c.Closed != nil {
		return IssuedReentry{}, ErrClosed
	}
	p, ok := c.Participant(accountID)
	if !ok {
		return IssuedReentry{}, fault.Invalid("accountId", "not a participant of this case")
	}
	acct, err := s.accounts.Get(ctx, accountID)
	if err != nil {
		return IssuedReentry{}, err
	}
	if acct.Disabled {
		return IssuedReentry{}, fault.Invalid("accountId", "this account is disabled")
	}
	shared := false
	if acct.Email != "" {
		seats, err := s.Seats(ctx, c)
		if err != nil {
			return IssuedReentry{}, err
		}
		shared = len(SharedWith(seats, acct.Email, accountID)) > 0
	}
	now := s.now().UTC()
	token := ids.Token()
	r := Reentry{CaseID: id, AccountID: accountID, Created: now, CreatedBy: actor.ID, Expires: now.Add(ttl),
		AddressAlone: acct.Email != "" && !shared}
	if _, err := s.meta.Create(ctx, s.reentryKey(token), r); err != nil {
		return IssuedReentry{}, err
	}
	if err := s.record(ctx, audit.Event{Type: "case.reentry.created", Actor: actor.ID, Case: id,
		Objects: []string{accountID}, Hashes: []string{s.meta.IndexKey("reentry", token)},
		Attrs: map[string]string{"role": string(p.Role), "side": p.Side}}); err != nil {
		return IssuedReentry{}, err
	}
	return IssuedReentry{CaseID: id, Token: token, Expires: r.Expires, AccountID: accountID, Name: p.Name, Email: acct.Email, SharedAddress: shared}, nil
}

// redeemReentry uses a re-entry token: it marks the link used (only one
// use can win, and none while its maker may no longer make re-entry links
// to the case: mayStillMake, nor once the case is closed: CreateReentry's
// rule), checks that the account is still a participant of the case and
// enabled, and opens a session for that same
// account. A session that fails to open after the mark leaves the link
// used; the mediator issues another.
func (s *Service) redeemReentry(ctx context.Context, token string, current *account.Account) (Joined, error) {
	key := s.reentryKey(token)
	var refused *Reentry // refused for its address, not yet audited so
	r, err := metastore.Update(ctx, s.meta, key, func(r *Reentry) error {
		refused = nil
		if r.Used != nil || !s.now().Before(r.Expires) {
			return ErrInviteGone
		}
		// Not used up if its maker has lost the case (mayStillMake):
		// every try says the same, gone.
		if !r.Self {
			if _, err := s.mayStillMake(ctx, r.CaseID, r.CreatedBy, policy.CaseReentry); err != nil {
				return err
			}
		}
		// As CreateReentry: no re-entry into a closed case. Checked
		// before the mark, so the link is not spent and every try says
		// the same.
		c, err := s.reload(ctx, r.CaseID)
		if err != nil {
			return err
		}
		if c.Closed != nil {
			return ErrClosed
		}
		// Mailed to an address nobody else had, which another seat has
		// now: its reader may be that other person. Checked before the
		// mark, as above.
		if r.AddressAlone {
			acct, err := s.accounts.Get(ctx, r.AccountID)
			if err != nil {
				if errors.Is(err, fault.ErrNotFound) {
					return ErrInviteGone
				}
				return err
			}
			if shared, err := s.LinkAddressShared(ctx, c, r.AccountID, acct.Email); err != nil {
				return err
			} else if shared {
				if r.SharedRefused == nil {
					refused = r
				}
				return ErrLinkShared
			}
		}
		now := s.now().UTC()
		r.Used = &now
		return nil
	})
	if errors.Is(err, metastore.ErrNotFound) {
		return Joined{}, ErrInviteGone
	}
	if errors.Is(err, ErrLinkShared) && refused != nil {
		attrs := map[string]string{"link": "reentry"}
		if refused.Self {
			attrs["via"] = "email"
		}
		return Joined{}, s.linkRefusedShared(ctx, audit.Event{Case: refused.CaseID, Objects: []string{refused.AccountID},
			Hashes: []string{s.meta.IndexKey("reentry", token)}, Attrs: attrs},
			func(ctx context.Context) error {
				_, err := metastore.Update(ctx, s.meta, key, func(r *Reentry) error {
					if r.SharedRefused != nil {
						return errAlreadyMarked
					}
					now := s.now().UTC()
					r.SharedRefused = &now
					return nil
				})
				return err
			})
	}
	if errors.Is(err, ErrInviteGone) && current != nil {
		// Its owner, still signed in, opening it again goes to the case.
		var used Reentry
		if _, gerr := s.meta.Get(ctx, key, &used); gerr == nil && used.Used != nil && used.AccountID == current.ID {
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
	// The account is read before the case is checked, and its session
	// opened from this read (NewSession): a removal or a disabling
	// written after the checks revokes the sessions of the account as read
	// here, so the session opened below ends with it.
	acct, err := s.accounts.Get(ctx, r.AccountID)
	if err != nil {
		return Joined{}, err
	}
	if acct.Disabled {
		return Joined{}, ErrInviteGone
	}
	c, err := s.load(ctx, r.CaseID)
	if err != nil {
		return Joined{}, err
	}
	if _, ok := c.Participant(r.AccountID); !ok {
		return Joined{}, ErrInviteGone
	}
	if c.Closed != nil {
		// Closed since the mark.
		return Joined{}, ErrClosed
	}
	// The maker once more, on the case as it is now: a recusal or a
	// disabling that landed since the mark still wins.
	var attrs map[string]string
	if r.Self {
		// Asked for by the participant: their own standing, checked
		// above, is what counts.
		attrs = map[string]string{"via": "email"}
	} else {
		maker, err := s.linkMaker(ctx, r.CreatedBy)
		if err != nil {
			return Joined{}, err
		}
		if !s.makerMay(maker, policy.CaseReentry, c) {
			return Joined{}, ErrInviteGone
		}
	}
	if err := s.record(ctx, audit.Event{Type: "case.reentry.redeemed", Actor: acct.ID, Case: r.CaseID,
		Hashes: []string{s.meta.IndexKey("reentry", token)}, Attrs: attrs}); err != nil {
		return Joined{}, err
	}
	// A link a mediator made opens a session marked as such: its holder
	// may be the mediator, who must not register the account's first
	// device (keydir.RegisterInSession). The emailed link is the
	// participant's own.
	open := s.accounts.NewMediatorLinkSession
	if r.Self {
		open = s.accounts.NewSession
	}
	sessToken, sess, err := open(ctx, acct)
	if err != nil {
		return Joined{}, err
	}
	return Joined{Account: acct, Token: sessToken, Session: sess, CaseID: r.CaseID, Reentry: true}, nil
}

// RemoveParticipant takes a participant out of case id. They lose access
// at once: policy no longer counts them, their open sockets re-check and
// drop the case's rooms (OnMembership), their sign-in sessions end, and the
// rooms start new epochs whose membership statements leave them out. What
// they already read stays read. They are kept in Removed, for the record.
// Replacing a person is removing them and inviting the new one. A closed
// case's participants are removed the same way (they would otherwise read
// it until disposal).
func (s *Service) RemoveParticipant(ctx context.Context, actor account.Account, id, accountID string) (*Case, error) {
	// Only a confirmed mediator takes someone out (seated.go).
	pre, err := s.loadFor(ctx, actor, id, policy.CaseRemoveParticipant)
	if err != nil {
		return nil, err
	}
	if err := s.authorizeConfirmed(ctx, actor, policy.CaseRemoveParticipant, pre); err != nil {
		return nil, err
	}
	var side string
	var left []string
	c, err := s.mutate(ctx, actor, id, policy.CaseRemoveParticipant, func(c *Case, ev *audit.Event) error {
		i := -1
		for j := range c.Participants {
			if c.Participants[j].AccountID == accountID {
				i = j
			}
		}
		if i < 0 {
			return fault.Invalid("accountId", "not a participant of this case")
		}
		// A closed case too: its record, rooms and documents stay readable
		// to its participants until disposal, so someone who should no
		// longer read them (counsel who withdrew after closure) is taken
		// out as from an open case. The rest follows as for an open case
		// and is harmless there: the rooms take no posts, and sealing
		// them into a new epoch only keeps the removed person out of
		// what their membership statements admit.
		p := c.Participants[i]
		side = p.Side
		now := s.now().UTC()
		c.Participants = append(c.Participants[:i:i], c.Participants[i+1:]...)
		c.Removed = append(c.Removed, RemovedParticipant{Participant: p, Removed: now, RemovedBy: actor.ID})
		left = c.leaveRooms(accountID)
		ev.Type = "case.participant.removed"
		ev.Objects = []string{accountID}
		ev.Attrs = map[string]string{"role": string(p.Role), "side": p.Side}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The person may take part in other cases: their sessions end (they
	// come back there by re-entry link), which also closes their open
	// sockets everywhere. The case no longer admits them either way.
	if err := s.accounts.RevokeSessions(ctx, accountID); err != nil && !errors.Is(err, fault.ErrNotFound) {
		return nil, fmt.Errorf("participant removed, but their sessions could not be ended: %w", err)
	}
	s.membership(ctx, id, MembershipChange{Kind: "participant.removed", Account: accountID, Side: side, Rooms: left, By: actor.ID})
	return c, nil
}
