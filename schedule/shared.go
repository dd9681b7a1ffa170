package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/caucus"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/mail"
)

// NotMailedError: a session change was saved and its mail queued, except
// to the people named, whose address is also on file for someone in the
// case who is not expected at the session (sharedOutside): mail about
// the session there would tell that other person when it is, and for how
// long. Err is any other failure to queue the change's mail (nil if none).
// Its text names nobody: the names are for the scheduler's answer only.
type NotMailedError struct {
	Names []string
	Err   error
}

func (e *NotMailedError) Error() string {
	s := fmt.Sprintf("the session is saved; %d expected people were not mailed: their address is also on file for someone in the case not expected at it", len(e.Names))
	if e.Err != nil {
		s += "; " + e.Err.Error()
	}
	return s
}

func (e *NotMailedError) Unwrap() error { return e.Err }

// NotMailedText is the scheduler's plain-words notice of who was not
// emailed and why (it does not name the other person).
func (e *NotMailedError) NotMailedText() string {
	return "Not emailed: " + strings.Join(e.Names, ", ") + ". Their address is also on file for someone else in this case who is not expected at this session. Tell them the time another way."
}

// seatExpected reports whether seat st would be expected at a session in
// rooms, as peopleOf decides: a participant's seat when they are among
// people (peopleOf of the rooms), an invitation nobody claimed when the
// joint room is among the rooms, or, for a party's or counsel's, their
// side's caucus. A removed participant is expected at nothing.
func seatExpected(st cases.Seat, rooms, people []string) bool {
	if !st.Invitation() {
		return !st.Removed && slices.Contains(people, st.AccountID)
	}
	if slices.Contains(rooms, caucus.JointName) {
		return true
	}
	return st.Role != cases.RoleObserver && st.Side != "" && slices.Contains(rooms, caucus.CaucusName(st.Side))
}

// sharedOutside reports whether addr, the address of who (expected at a
// session in rooms; people is peopleOf the rooms), is also on file for a
// seat of the case that is not expected there (cases.SharedWith).
func sharedOutside(seats []cases.Seat, rooms, people []string, addr, who string) bool {
	return slices.ContainsFunc(cases.SharedWith(seats, addr, who), func(st cases.Seat) bool {
		return !seatExpected(st, rooms, people)
	})
}

// LinksNotMailedError: single-use links (check-ins, surveys) were made and
// their mail queued, except to the people named, whose address is also on
// file for another seat of the case (cases.SharedWith): whoever reads that
// mailbox could answer in their name. Their links are still given to the
// mediator, to hand over another way. Err is any other failure to queue
// the mail (nil if none). Its text names nobody: the names are for the
// mediator's answer only.
type LinksNotMailedError struct {
	What  string // "check-in links", "survey links"
	Names []string
	Err   error
}

func (e *LinksNotMailedError) Error() string {
	s := fmt.Sprintf("%d people's %s were not mailed: their address is also on file for someone else in the case", len(e.Names), e.What)
	if e.Err != nil {
		s += "; " + e.Err.Error()
	}
	return s
}

func (e *LinksNotMailedError) Unwrap() error { return e.Err }

// NotMailedText is the mediator's plain-words notice of whose links were
// not emailed and why (it does not name the other person).
func (e *LinksNotMailedError) NotMailedText() string {
	return "Not emailed: " + strings.Join(e.Names, ", ") + ". Their address is also on file for someone else in this case, who could open their " +
		e.What + " and answer in their name. Give them theirs, below, another way."
}

// notMailedErr is errs joined, wrapped in a LinksNotMailedError when names
// is not empty (nil when both are).
func notMailedErr(what string, names []string, errs []error) error {
	err := errors.Join(errs...)
	if len(names) == 0 {
		return err
	}
	return &LinksNotMailedError{What: what, Names: names, Err: err}
}

// linkCurrent is Current for a message carrying one person's single-use
// link (a check-in or a survey): only while its recipient is still a
// participant of the case (someone removed since it was queued is not
// sent it) and their account is there, not disabled, and still has the
// address it goes to (recipientCurrent), as for a session's mail; and not
// while another seat of the case has the address it goes to
// (cases.SharedWith), which a link queued before that rule, or before the
// address became shared, would otherwise reach. The case gone (disposed),
// nothing is sent: its seats cannot be checked.
func (s *Service) linkCurrent(ctx context.Context, m *mail.Message) (bool, error) {
	if m.ToAccount == "" || !ids.Valid("c", m.CaseID) {
		return true, nil
	}
	c, err := s.cfg.Cases.Load(ctx, m.CaseID)
	if err != nil {
		if errors.Is(err, fault.ErrNotFound) {
			return false, nil
		}
		return false, err
	}
	if _, ok := c.Participant(m.ToAccount); !ok {
		return false, nil
	}
	if ok, err := s.recipientCurrent(ctx, m); !ok || err != nil {
		return false, err
	}
	seats, err := s.cfg.Cases.Seats(ctx, c)
	if err != nil {
		return false, err
	}
	if len(cases.SharedWith(seats, m.To, m.ToAccount)) == 0 {
		return true, nil
	}
	log := s.cfg.Log
	if log == nil {
		log = slog.Default()
	}
	log.WarnContext(ctx, "link mail withheld: address shared in the case",
		slog.String("case", m.CaseID), slog.String("id", m.ID), slog.String("kind", string(m.Kind)))
	return false, nil
}

// joinLinkCurrent tells the outbox whether a link mail (mail.KindJoin) is
// still to be sent: a link back in (MailReentry, its ToAccount the
// participant) or an invitation (MailInvite, its Ref the invitation's
// seat) is not once the invitation is withdrawn (cases.InviteWithdrawn),
// nor once its address is shared within the case as the
// mediator would have been told when making it
// (cases.LinkAddressShared): someone invited or joined at it since, on
// another seat, could open the link first. A case gone takes its links
// with it. A read that fails is returned, so the message is tried again
// later, never sent on it. A link mail queued before link mails named
// their seat names none, and is sent.
func (s *Service) joinLinkCurrent(ctx context.Context, m *mail.Message) (bool, error) {
	var self string
	switch {
	case strings.HasPrefix(m.ID, "reentry-"):
		self = m.ToAccount
	case strings.HasPrefix(m.ID, "join-"):
		self = m.Ref
	}
	if self == "" || !ids.Valid("c", m.CaseID) {
		return true, nil
	}
	c, err := s.cfg.Cases.Load(ctx, m.CaseID)
	if err != nil {
		if errors.Is(err, fault.ErrNotFound) {
			return false, nil
		}
		return false, err
	}
	if withdrawn, err := s.cfg.Cases.InviteWithdrawn(ctx, c, self); err != nil || withdrawn {
		return false, err
	}
	shared, err := s.cfg.Cases.LinkAddressShared(ctx, c, self, m.To)
	if err != nil {
		return false, err
	}
	if shared {
		log := s.cfg.Log
		if log == nil {
			log = slog.Default()
		}
		log.WarnContext(ctx, "schedule: a link was not sent: its address is now on file for another seat of the case", "case", m.CaseID, "mail", m.ID)
		return false, nil
	}
	return true, nil
}
