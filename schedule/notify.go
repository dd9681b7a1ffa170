package schedule

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/mail"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/policy"
)

// WhenText states a session's time for mail: in its own zone, then in
// UTC, as untilIn does: the UTC date too when it is another day than the
// local one ("Thursday 10 December 2026, 09:00 (Australia/Sydney;
// Wednesday 9 December 2026, 22:00 UTC)"), and UTC alone when the zone is
// UTC or cannot be loaded. Before, the UTC time followed the local date,
// which named the wrong day whenever UTC was on another.
func WhenText(sess *Session) string {
	return untilIn(sess.Start, sess.TimeZone)
}

func durationText(minutes int) string {
	h, m := minutes/60, minutes%60
	switch {
	case h == 0:
		return fmt.Sprintf("%d minutes", m)
	case m == 0 && h == 1:
		return "1 hour"
	case m == 0:
		return fmt.Sprintf("%d hours", h)
	}
	return fmt.Sprintf("%d h %d min", h, m)
}

const mailFooter = "\n\nThis message gives only the time and the link. What the mediation is about stays in Parley.\n"

// compose writes one message of kind for sess. It carries the time, the
// length and the link, nothing else about the case.
func (s *Service) compose(sess *Session, kind mail.Kind) (subject, text string) {
	when := WhenText(sess)
	link := s.cfg.JoinURL
	switch kind {
	case mail.KindInvitation:
		subject = "Mediation session: " + when
		text = fmt.Sprintf("You are expected at a mediation session.\n\nWhen: %s\nLength: %s\nJoin: %s\n\nThe attached invitation adds it to your calendar.", when, durationText(sess.Minutes), link)
	case mail.KindUpdate:
		subject = "Moved: mediation session now " + when
		text = fmt.Sprintf("A mediation session you are expected at has moved.\n\nNew time: %s\nLength: %s\nJoin: %s\n\nThe attached update replaces the earlier invitation in your calendar.", when, durationText(sess.Minutes), link)
	case mail.KindCancellation:
		subject = "Cancelled: mediation session of " + when
		text = fmt.Sprintf("The mediation session of %s is cancelled.\n\nThe attached cancellation removes it from your calendar. Your mediator will tell you about the next step in Parley: %s", when, link)
	case mail.KindReminder:
		// The session's time, not the lead ("in 2 hours"): the subject is
		// fixed when the reminder is queued, and a node that was down
		// sends it late (Current cancels one more than half its lead late).
		subject = "Reminder: mediation session on " + when
		text = fmt.Sprintf("A reminder of your mediation session.\n\nWhen: %s\nLength: %s\nJoin: %s", when, durationText(sess.Minutes), link)
	}
	return subject, text + mailFooter
}

func mailID(parts ...string) string { return strings.Join(parts, "-") }

// notify queues the mail about sess after a change: an invitation, update
// or cancellation with the .ics for each expected person with an address
// no seat of the case not expected at the session shares (else they are
// named in a NotMailedError),
// and (unless cancelled) the reminders, after withdrawing the reminders of
// the session's earlier times. Message ids are derived from the session,
// its sequence and the recipient, so running it again (a retried request)
// queues nothing twice.
func (s *Service) notify(ctx context.Context, sess *Session, kind mail.Kind) error {
	return s.notifyWith(ctx, sess, kind, true, nil)
}

// notifyWith is notify; with withdraw false the reminders of the
// session's earlier times are left for the caller to withdraw
// (CaseClosed does it for all the case's sessions at once), and the
// invitation, update or cancellation whose id is in queued (the case's
// outbox as the caller read it) is not enqueued again: Enqueue of an id
// there would do nothing but write its due marker again, for the sender
// to find the message final and remove it.
func (s *Service) notifyWith(ctx context.Context, sess *Session, kind mail.Kind, withdraw bool, queued map[string]bool) error {
	if s.cfg.Outbox == nil {
		return nil
	}
	seq := fmt.Sprint(sess.Sequence)
	if withdraw {
		if err := s.cfg.Outbox.CancelRef(ctx, sess.CaseID, sess.ID, func(m *mail.Message) bool {
			return m.Kind != mail.KindReminder || strings.HasPrefix(m.ID, mailID("rem", sess.ID, seq)+"-")
		}); err != nil {
			return fmt.Errorf("the session is saved, but its mail could not be queued: %w", err)
		}
	}
	now := s.cfg.Now()
	c, err := s.cfg.Cases.Load(ctx, sess.CaseID)
	if err != nil {
		return fmt.Errorf("the session is saved, but its mail could not be queued: %w", err)
	}
	// Only those still in the case and able to enter the session's rooms
	// are written to: someone recused or removed since the session was
	// scheduled gets no update; nor a co-mediator no seated mediator has
	// confirmed yet (waitingMediators), who sees none of its sessions.
	current, err := s.mailable(ctx, c, sess.Rooms)
	if err != nil {
		return fmt.Errorf("the session is saved, but its mail could not be queued: %w", err)
	}
	// Someone whose address another seat of the case, not expected at
	// the session, has on file is not mailed (sharedOutside): that
	// mailbox's other reader would learn when, say, the other side
	// caucuses. The scheduler is told who (NotMailedError).
	seats, err := s.cfg.Cases.Seats(ctx, c)
	if err != nil {
		return fmt.Errorf("the session is saved, but its mail could not be queued: %w", err)
	}
	var notMailed []string
	var errs []error
	for _, who := range sess.Expected {
		if !slices.Contains(current, who) {
			continue
		}
		acct, err := s.cfg.Accounts.Get(ctx, who)
		if err != nil {
			if errors.Is(err, fault.ErrNotFound) {
				continue
			}
			errs = append(errs, err)
			continue
		}
		// A disabled account is refused everything (policy
		// disabled-accounts-do-nothing): its address, perhaps taken over
		// by someone else since, is told nothing of the case's sessions.
		if acct.Email == "" || acct.Disabled {
			continue
		}
		if sharedOutside(seats, sess.Rooms, current, acct.Email, who) {
			notMailed = append(notMailed, nameIn(c, who, acct.Name))
			continue
		}
		if id := mailID("inv", sess.ID, seq, who); !queued[id] {
			subject, text := s.compose(sess, kind)
			ics := Invitation(sess, s.uid(sess, who), s.cfg.From, acct.Email, s.cfg.JoinURL, now)
			ctype := "text/calendar; method=REQUEST; charset=utf-8"
			if sess.Status == Cancelled {
				ctype = "text/calendar; method=CANCEL; charset=utf-8"
			}
			errs = append(errs, s.cfg.Outbox.Enqueue(ctx, mail.Message{
				ID: id, CaseID: sess.CaseID, Kind: kind, To: acct.Email, ToAccount: who,
				Subject: subject, Text: text, Ref: sess.ID,
				Attachment: &mail.Attachment{Name: "invite.ics", ContentType: ctype, Data: ics},
			}))
		}
		if sess.Status == Cancelled {
			continue
		}
		for _, before := range s.cfg.Reminders {
			at := sess.Start.Add(-before)
			if !at.After(now) {
				continue
			}
			subject, text := s.compose(sess, mail.KindReminder)
			errs = append(errs, s.cfg.Outbox.Enqueue(ctx, mail.Message{
				ID: mailID("rem", sess.ID, seq, fmt.Sprintf("%dm", before/time.Minute), who), CaseID: sess.CaseID,
				Kind: mail.KindReminder, To: acct.Email, ToAccount: who, Subject: subject, Text: text,
				Ref: sess.ID, NotBefore: at,
			}))
		}
	}
	// A Cancel or another Move of the session may have landed, and sent
	// its own mail, while this ran: what this queued is then stale, and is
	// withdrawn (the outbox asks Current again before sending, for a change
	// that lands after this check).
	var latest Session
	if _, err := s.cfg.Meta.Get(ctx, sessionKey(sess.CaseID, sess.ID), &latest); err == nil &&
		(latest.Sequence != sess.Sequence || latest.Status != sess.Status) {
		errs = append(errs, s.cfg.Outbox.CancelRef(ctx, sess.CaseID, sess.ID, func(m *mail.Message) bool {
			return !(m.Kind == mail.KindReminder && strings.HasPrefix(m.ID, mailID("rem", sess.ID, seq)+"-") ||
				m.Kind == mail.KindUpdate && strings.HasPrefix(m.ID, mailID("inv", sess.ID, seq)+"-"))
		}))
	}
	var qerr error
	if err := errors.Join(errs...); err != nil {
		qerr = fmt.Errorf("the session is saved, but some of its mail could not be queued: %w", err)
	}
	if len(notMailed) > 0 {
		return &NotMailedError{Names: notMailed, Err: qerr}
	}
	return qerr
}

// nameIn is who's name in case c (as a participant or mediator), else
// fallback (their account's).
func nameIn(c *cases.Case, who, fallback string) string {
	if p, ok := c.Participant(who); ok {
		return p.Name
	}
	return fallback
}

// Current tells the outbox, when a message's time has come, whether a
// session's mail is still wanted. An invitation, reminder or update only while the
// session is not cancelled, has not started, and is still at the sequence
// the message was written for (a reminder only while it is less than half
// its lead late, tooLate): a notify that ran late (a Move's, after a Cancel or another
// Move of the same session) thus queues nothing that goes out. And any of
// a session's mail only while its recipient may still enter one of the
// session's rooms: someone removed from the case, recused, or moved to
// another side since it was queued is not told the session's time; only
// while its recipient's account is there, not disabled, and still has the
// address it goes to (recipientCurrent); an invitation, update or
// reminder only while the case is not closed; and
// only while no seat of the case not expected at the session has the
// address it goes to (sharedOutside). A check-in's or survey's link only
// while its recipient is still a participant with that address, and no
// other seat of the case has it (linkCurrent); a link
// back in or an invitation only while its address is not shared as its
// maker would have been told (joinLinkCurrent). Other messages are not
// this package's to judge.
func (s *Service) Current(ctx context.Context, m *mail.Message) (bool, error) {
	var prefix string
	switch m.Kind {
	case mail.KindJoin:
		return s.joinLinkCurrent(ctx, m)
	case mail.KindReminder:
		prefix = "rem"
	case mail.KindUpdate, mail.KindInvitation:
		prefix = "inv" // an invitation is for the sequence it was queued at, as an update is
	case mail.KindCancellation:
	case mail.KindFollowUp, mail.KindSurvey:
		return s.linkCurrent(ctx, m)
	default:
		return true, nil
	}
	if !ids.Valid("s", m.Ref) || !ids.Valid("c", m.CaseID) {
		return true, nil
	}
	var sess Session
	if _, err := s.cfg.Meta.Get(ctx, sessionKey(m.CaseID, m.Ref), &sess); err != nil {
		if errors.Is(err, metastore.ErrNotFound) {
			return false, nil
		}
		return false, err
	}
	if prefix != "" && (sess.Status == Cancelled || !strings.HasPrefix(m.ID, mailID(prefix, sess.ID, fmt.Sprint(sess.Sequence))+"-")) {
		return false, nil
	}
	// Nor once it is late: an invitation, update or reminder once the
	// session has started, a reminder once it is more than half its lead
	// (the time from when it was due to the start) late. A node that was
	// down would otherwise send every message that came due meanwhile at
	// once, after the session, or a 48-hour reminder an hour before it.
	if prefix != "" && tooLate(m, &sess, s.cfg.Now()) {
		return false, nil
	}
	c, err := s.cfg.Cases.Load(ctx, m.CaseID)
	if err != nil {
		if errors.Is(err, fault.ErrNotFound) {
			return false, nil // the case is gone (disposed): nobody is told of its sessions
		}
		return false, err
	}
	// A closed case has no sessions to come: closing it cancels them
	// (CaseClosed), and should that have failed for one, its invitation,
	// update and reminders still do not go. Its cancellation does.
	if prefix != "" && c.Closed != nil {
		return false, nil
	}
	if m.ToAccount == "" {
		return true, nil
	}
	// Nor once its recipient's account is disabled or gone, or no longer
	// has the address it goes to: as notify, which writes to neither.
	if ok, err := s.recipientCurrent(ctx, m); !ok || err != nil {
		return false, err
	}
	people, err := s.mailable(ctx, c, sess.Rooms)
	if err != nil {
		return false, err
	}
	if !slices.Contains(people, m.ToAccount) {
		return false, nil
	}
	// Nor while its address has become another's, of a seat not expected
	// at the session (someone invited or joined at it since): as notify.
	seats, err := s.cfg.Cases.Seats(ctx, c)
	if err != nil {
		return false, err
	}
	return !sharedOutside(seats, sess.Rooms, people, m.To, m.ToAccount), nil
}

// tooLate reports whether m, an invitation, update or reminder of sess,
// is too late to send at now: the session has started, or m is a reminder
// due (NotBefore) more than half its lead before the start, and now is more
// than half that lead after it.
func tooLate(m *mail.Message, sess *Session, now time.Time) bool {
	if !now.Before(sess.Start) {
		return true
	}
	if m.Kind != mail.KindReminder || m.NotBefore.IsZero() {
		return false
	}
	lead := sess.Start.Sub(m.NotBefore)
	return now.Sub(m.NotBefore) > lead/2
}

// recipientCurrent reports whether m's recipient account is still there,
// not disabled, and has the address m goes to (compared as
// cases.NormalAddress has it): a disabled account is refused everything
// (policy disabled-accounts-do-nothing), and an address changed since m
// was queued may be someone else's now.
func (s *Service) recipientCurrent(ctx context.Context, m *mail.Message) (bool, error) {
	acct, err := s.cfg.Accounts.Get(ctx, m.ToAccount)
	if errors.Is(err, fault.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return !acct.Disabled && acct.Email != "" && cases.NormalAddress(acct.Email) == cases.NormalAddress(m.To), nil
}

// mailable is peopleOf(c, rooms) without the mediators no seated mediator
// has confirmed yet: policy shows them none of the case's sessions
// (unconfirmed-mediators-see-no-sessions, asked about each mediator with
// cases.Service.Admission's fact), so no invitation, update, reminder or
// cancellation of one is mailed to them either. c is left as it was.
// It reads the key directory (through Admission's short cache).
func (s *Service) mailable(ctx context.Context, c *cases.Case, rooms []string) ([]string, error) {
	people := peopleOf(c, rooms)
	gate := *c
	if err := s.cfg.Cases.Admission(ctx, &gate); err != nil {
		return nil, err
	}
	facts := gate.Facts()
	return slices.DeleteFunc(people, func(who string) bool {
		if _, mediator := c.Mediator(who); !mediator {
			return false
		}
		d := s.cfg.Policy.Decide(policy.User{ID: who, Role: policy.RoleMediator}, policy.SessionRead, facts)
		return slices.Contains(d.Policies, cases.RuleUnconfirmedSessions)
	}), nil
}
