package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/caucus"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/mail"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/policy"
)

// Limits on a session.
const (
	MinMinutes    = 15
	MaxMinutes    = 600
	MaxAhead      = 2 * 365 * 24 * time.Hour
	MaxReasonLen  = 500
	MaxRooms      = 16
	MaxSessions   = 200 // per case
	maxZoneLen    = 64
	LocalLayout   = "2006-01-02T15:04"
	reasonMissing = "say why (the participants are told that it changed, not why)"
)

// DefaultReminders are sent before each session unless the program sets
// others.
var DefaultReminders = []time.Duration{48 * time.Hour, 2 * time.Hour}

// Config wires a Service.
type Config struct {
	Meta     *metastore.Store
	Cases    *cases.Service
	Accounts *account.Service
	Policy   *policy.Engine
	Audit    *audit.Log
	Outbox   *mail.Outbox
	// From is the program's sender address: the From of every message and
	// the ORGANIZER of every invitation.
	From string
	// JoinURL is the link the mail carries (where a participant opens
	// Parley), e.g. https://parley.example.org/app.
	JoinURL string
	// Reminders are how long before a session the reminders go out
	// (nil: DefaultReminders; empty non-nil: none).
	Reminders []time.Duration
	Now       func() time.Time
	// Log receives what cannot be returned (slog.Default() when nil).
	Log *slog.Logger
}

// Service schedules sessions.
type Service struct{ cfg Config }

// New makes a Service.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Reminders == nil {
		cfg.Reminders = DefaultReminders
	}
	if cfg.From == "" {
		cfg.From = "sessions@parley.invalid"
	}
	return &Service{cfg: cfg}
}

func sessionKey(caseID, id string) string { return "sessions/" + caseID + "/" + id }

// NewSession is what Add needs. Start is the local wall-clock time in
// TimeZone, "YYYY-MM-DDTHH:MM".
type NewSession struct {
	Start    string   `json:"start"`
	TimeZone string   `json:"timeZone"`
	Minutes  int      `json:"minutes"`
	Rooms    []string `json:"rooms"`
	Expected []string `json:"expected"`
}

// ambiguous reports whether the wall-clock time local, read as t in loc,
// names another instant too: when the clocks go back near t, the instant
// one offset change earlier or later reads the same. Which of the two was
// meant cannot be known (time.ParseInLocation picks one silently).
func ambiguous(t time.Time, local string, loc *time.Location) bool {
	_, before := t.Add(-12 * time.Hour).Zone()
	_, after := t.Add(12 * time.Hour).Zone()
	if before == after {
		return false
	}
	shift := time.Duration(before-after) * time.Second
	for _, u := range []time.Time{t.Add(shift), t.Add(-shift)} {
		if u.In(loc).Format(LocalLayout) == local {
			return true
		}
	}
	return false
}

// ParseStart reads a local wall-clock time in an IANA zone and checks it is
// a real, future instant (not 30 February, not inside a clock change's
// gap, not one the clocks pass twice, not in the past, not more than
// MaxAhead away).
func ParseStart(start, zone string, now time.Time) (time.Time, error) {
	zone = strings.TrimSpace(zone)
	if zone == "" || zone == "Local" || len(zone) > maxZoneLen || strings.Contains(zone, "..") || strings.HasPrefix(zone, "/") {
		return time.Time{}, fault.Invalid("timeZone", "an IANA time zone name, such as Europe/Berlin or America/New_York")
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return time.Time{}, fault.Invalid("timeZone", "unknown time zone "+fmt.Sprintf("%q", zone)+"; use an IANA name such as Europe/Berlin")
	}
	if len(start) > len(LocalLayout)+3 {
		return time.Time{}, fault.Invalid("start", "a date and time as YYYY-MM-DDTHH:MM")
	}
	t, err := time.ParseInLocation(LocalLayout, start, loc)
	if err != nil {
		if strings.Contains(err.Error(), "out of range") {
			return time.Time{}, fault.Invalid("start", "no such date or time (check the day of the month)")
		}
		return time.Time{}, fault.Invalid("start", "a date and time as YYYY-MM-DDTHH:MM")
	}
	if t.Format(LocalLayout) != start {
		return time.Time{}, fault.Invalid("start", "that time does not exist in "+zone+" (the clocks change then)")
	}
	if ambiguous(t, start, loc) {
		return time.Time{}, fault.Invalid("start", "that time happens twice in "+zone+" on that day (the clocks go back): choose another time")
	}
	if !t.After(now) {
		return time.Time{}, fault.Invalid("start", "in the past; choose a future date and time")
	}
	if t.Sub(now) > MaxAhead {
		return time.Time{}, fault.Invalid("start", "at most two years ahead")
	}
	return t.UTC(), nil
}

func checkMinutes(m int) error {
	if m < MinMinutes || m > MaxMinutes {
		return fault.Invalid("minutes", fmt.Sprintf("between %d and %d minutes", MinMinutes, MaxMinutes))
	}
	return nil
}

func checkReason(r string) (string, error) {
	r = strings.TrimSpace(r)
	if r == "" {
		return "", fault.Invalid("reason", reasonMissing)
	}
	if !utf8.ValidString(r) || utf8.RuneCountInString(r) > MaxReasonLen {
		return "", fault.Invalid("reason", fmt.Sprintf("at most %d characters", MaxReasonLen))
	}
	return r, nil
}

// people are the account ids who may be expected: the case's active
// mediators and its participants.
func people(c *cases.Case) []string {
	var out []string
	for _, m := range c.Mediators {
		if m.Recused == nil {
			out = append(out, m.AccountID)
		}
	}
	for _, p := range c.Participants {
		out = append(out, p.AccountID)
	}
	return out
}

// peopleOf are those of people(c) who may enter at least one of rooms:
// the active mediators always; every participant for the joint room; a
// side's parties and counsel for that side's caucus (the rooms' rule in
// policy/rooms.cedar). A session in side A's caucus is never announced to
// side B, nor to observers.
func peopleOf(c *cases.Case, rooms []string) []string {
	if slices.Contains(rooms, caucus.JointName) {
		return people(c)
	}
	var out []string
	for _, m := range c.Mediators {
		if m.Recused == nil {
			out = append(out, m.AccountID)
		}
	}
	for _, p := range c.Participants {
		if p.Role != cases.RoleObserver && p.Side != "" && slices.Contains(rooms, caucus.CaucusName(p.Side)) {
			out = append(out, p.AccountID)
		}
	}
	return out
}

// oneSided refuses a session in the joint room whose expected people,
// besides the mediators (and observers, who belong to no side), are all
// parties and counsel of one side. Every joint session is listed to
// everyone in the case with the people expected at it (List), so such a
// session would be a caucus the other side watches: when the mediator
// meets side A, and for how long. It belongs in that side's caucus, where
// the other side sees nothing of it. Only a list the mediator chose is
// checked: the default, everyone in the case, leaves no one out (before
// the other side has joined, everyone is one side's people).
func oneSided(c *cases.Case, rooms, expected []string) error {
	if !slices.Contains(rooms, caucus.JointName) {
		return nil
	}
	side := ""
	for _, id := range expected {
		p, ok := c.Participant(id)
		if !ok || p.Role == cases.RoleObserver || p.Side == "" {
			continue
		}
		if side != "" && p.Side != side {
			return nil // both sides meet
		}
		side = p.Side
	}
	if side == "" {
		return nil // no side's people at all: the mediators, observers
	}
	label, again := "one side", "that side" // never the side's id
	for _, sd := range c.Sides {
		if sd.ID == side && strings.TrimSpace(sd.Label) != "" {
			label = "the " + sd.Label + " side"
			again = label
		}
	}
	other := "the other side"
	if len(c.Sides) > 2 {
		other = "another side"
	}
	return fault.Invalid("expected", "this meets only "+label+"'s people: schedule it in "+again+"'s private room (caucus) instead, or add someone from "+other)
}

func (s *Service) authorize(ctx context.Context, actor account.Account, a policy.Action, c *cases.Case) error {
	d := s.cfg.Policy.Decide(actor.Principal(), a, c.Facts())
	if d.Allowed {
		return nil
	}
	attrs := map[string]string{"action": string(a)}
	if slices.Contains(d.Policies, cases.RuleUnconfirmedSessions) {
		// A co-mediator no seated mediator has confirmed (loadCase puts
		// the fact in c): told in words what they wait for.
		attrs["rule"] = cases.RuleUnconfirmedSessions
		s.cfg.Audit.Append(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Case: c.ID, Attrs: attrs, Time: s.cfg.Now().UTC()})
		return c.NotConfirmed("see or arrange this case's sessions")
	}
	s.cfg.Audit.Append(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Case: c.ID, Attrs: attrs, Time: s.cfg.Now().UTC()})
	return fmt.Errorf("%s: %w", a, fault.ErrForbidden)
}

// loadCase reads a case for actor's action a. A case the actor has no
// place in (a participant or mediator outside it) and a case that does not
// exist get one answer, not found, audited alike: another case's id cannot
// be probed through its sessions, mail or follow-ups.
func (s *Service) loadCase(ctx context.Context, actor account.Account, caseID string, a policy.Action) (*cases.Case, error) {
	if !ids.Valid("c", caseID) {
		return nil, fmt.Errorf("case: %w", fault.ErrNotFound)
	}
	c, err := s.cfg.Cases.Load(ctx, caseID)
	if errors.Is(err, fault.ErrNotFound) || err == nil && cases.Outsider(c, actor) {
		s.cfg.Audit.Append(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Case: caseID, Attrs: map[string]string{"action": string(a)}, Time: s.cfg.Now().UTC()})
		return nil, fmt.Errorf("case %s: %w", caseID, fault.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	// A mediator no seated mediator has confirmed sees and arranges no
	// session and reads no outbox (policy
	// unconfirmed-mediators-see-no-sessions).
	if err := s.cfg.Cases.Admission(ctx, c); err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, actor, a, c); err != nil {
		return nil, err
	}
	return c, nil
}

// Add schedules a session and sends each expected person with a mail
// address an invitation (and queues the reminders).
func (s *Service) Add(ctx context.Context, actor account.Account, caseID string, n NewSession) (*Session, error) {
	c, err := s.loadCase(ctx, actor, caseID, policy.SessionManage)
	if err != nil {
		return nil, err
	}
	if c.Closed != nil {
		return nil, cases.ErrClosed
	}
	now := s.cfg.Now()
	start, err := ParseStart(n.Start, n.TimeZone, now)
	if err != nil {
		return nil, err
	}
	if err := checkMinutes(n.Minutes); err != nil {
		return nil, err
	}
	rooms := n.Rooms
	if len(rooms) == 0 {
		rooms = []string{caucus.JointName}
	}
	all := caucus.StandingRoomNames(c)
	if len(rooms) > MaxRooms {
		return nil, fault.Invalid("rooms", fmt.Sprintf("at most %d", MaxRooms))
	}
	for i, r := range rooms {
		if !slices.Contains(all, r) || slices.Index(rooms, r) != i {
			return nil, fault.Invalid(fmt.Sprintf("rooms[%d]", i), "one of "+strings.Join(all, ", ")+", each once")
		}
	}
	expected := n.Expected
	candidates := peopleOf(c, rooms)
	if len(expected) == 0 {
		expected = candidates
	}
	if len(expected) > len(candidates) {
		return nil, fault.Invalid("expected", "more people than the case has")
	}
	for i, e := range expected {
		if !slices.Contains(candidates, e) || slices.Index(expected, e) != i {
			return nil, fault.Invalid(fmt.Sprintf("expected[%d]", i), "a mediator or participant of this case, each once")
		}
	}
	if len(n.Expected) > 0 {
		if err := oneSided(c, rooms, expected); err != nil {
			return nil, err
		}
	}
	existing, err := s.list(ctx, caseID)
	if err != nil {
		return nil, err
	}
	if len(existing) >= MaxSessions {
		return nil, fault.Invalid("start", fmt.Sprintf("a case holds at most %d sessions", MaxSessions))
	}
	sess := &Session{
		ID: ids.New("s"), CaseID: caseID, Start: start, TimeZone: strings.TrimSpace(n.TimeZone), Minutes: n.Minutes,
		Rooms: slices.Clone(rooms), Expected: slices.Clone(expected), Status: Scheduled, UIDs: uidsPerRecipient,
		History: []Change{{Kind: "scheduled", At: now.UTC(), By: actor.ID}},
		Created: now.UTC(), CreatedBy: actor.ID,
	}
	// Audited first (auditFirst): a session the log cannot hold is not
	// made, so the retry makes one, not a second.
	ev, err := s.auditFirst(ctx, "session.scheduled", actor.ID, nil, sess)
	if err != nil {
		return nil, err
	}
	if _, err := s.cfg.Meta.Create(ctx, sessionKey(caseID, sess.ID), sess); err != nil {
		s.settle(ctx, ev, err, func(ctx context.Context) (bool, error) {
			var got Session
			_, gerr := s.cfg.Meta.Get(ctx, sessionKey(caseID, sess.ID), &got)
			if errors.Is(gerr, metastore.ErrNotFound) {
				return false, nil
			}
			return gerr == nil, gerr
		})
		return nil, err
	}
	return sess, s.notify(ctx, sess, mail.KindInvitation)
}

// auditFirst appends typ about sess *before* the change is written
// (docs/security.md, "What the audit log is guaranteed to hold"): a
// change whose entry cannot be appended is not made, and the request
// fails with nothing done, so repeating it is safe (one session, its
// mail sent once). The entry is Paired, for settle; attrs (nil for a
// change the actor asked for) say what else caused it.
func (s *Service) auditFirst(ctx context.Context, typ, actorID string, attrs map[string]string, sess *Session) (audit.Event, error) {
	ev := audit.Paired(audit.Event{Type: typ, Actor: actorID, Case: sess.CaseID, Objects: []string{sess.ID}, Attrs: attrs, Time: s.cfg.Now().UTC()})
	if err := appended(s.cfg.Audit.Append(ctx, ev)); err != nil {
		// Nothing was changed: 503, try again.
		return ev, fmt.Errorf("audit: %w: %w", err, fault.ErrUnavailable)
	}
	return ev, nil
}

// appended is an append's error unless its entry was written: an index
// with an error is an entry written whose checkpoint was not published
// (audit.Log.Append); it is in the log for good, and the next append
// signs it, so the change it audits goes ahead. Before, the error alone
// was read: the change was not made, and its entry stood with nothing
// following it.
func appended(i int64, err error) error {
	if i >= 0 {
		return nil
	}
	return err
}

// settle follows ev once its change failed with cause (audit.Settle):
// landed reads the record back (nil: known absent).
func (s *Service) settle(ctx context.Context, ev audit.Event, cause error, landed func(context.Context) (bool, error)) {
	record := func(ctx context.Context, e audit.Event) error {
		e.Time = s.cfg.Now().UTC()
		return appended(s.cfg.Audit.Append(ctx, e))
	}
	log := s.cfg.Log
	if log == nil {
		log = slog.Default()
	}
	audit.Settle(ctx, record, log, "schedule", ev, ev.Type, fault.Class(cause), landed)
}

// Move reschedules a session (a new start, and optionally a new zone or
// length); everyone expected gets an update with the same UID and a
// higher SEQUENCE, and the old reminders are withdrawn.
func (s *Service) Move(ctx context.Context, actor account.Account, caseID, id, start, zone string, minutes int, reason string) (*Session, error) {
	reason, err := checkReason(reason)
	if err != nil {
		return nil, err
	}
	// The change may run more than once (a concurrent change makes the
	// store's write fail and it is retried on the record as it is now), so
	// the defaults are taken afresh from the record each time.
	return s.change(ctx, actor, caseID, id, mail.KindUpdate, func(sess *Session, now time.Time) error {
		z, mins := zone, minutes
		if z == "" {
			z = sess.TimeZone
		}
		t, err := ParseStart(start, z, now)
		if err != nil {
			return err
		}
		if mins == 0 {
			mins = sess.Minutes
		}
		if err := checkMinutes(mins); err != nil {
			return err
		}
		sess.History = append(sess.History, Change{Kind: "moved", At: now.UTC(), By: actor.ID, From: sess.Start, Reason: reason})
		sess.Start, sess.TimeZone, sess.Minutes = t, strings.TrimSpace(z), mins
		return nil
	})
}

// Cancel calls a session off; everyone expected gets a cancellation.
func (s *Service) Cancel(ctx context.Context, actor account.Account, caseID, id, reason string) (*Session, error) {
	reason, err := checkReason(reason)
	if err != nil {
		return nil, err
	}
	return s.change(ctx, actor, caseID, id, mail.KindCancellation, func(sess *Session, now time.Time) error {
		sess.Status = Cancelled
		sess.History = append(sess.History, Change{Kind: "cancelled", At: now.UTC(), By: actor.ID, Reason: reason})
		return nil
	})
}

var errCancelled = fmt.Errorf("the session was cancelled: %w", fault.ErrConflict)

// closedReason is the history's reason for a session cancelled because
// its case was closed (CaseClosed), which the mediators see.
const closedReason = "the case was closed"

// CaseClosed cancels the sessions of case caseID still to come once the
// case is closed (wired as cases.Service.OnClosed; by closed it): each as
// a mediator's Cancel would, audited (session.cancelled, by as its actor,
// via case.closed) before it is written, and everyone expected is sent
// the cancellation, whose .ics removes it from their calendar (but
// whoever's address a seat not expected at the session has on file: WARN
// "closed case's session cancellation not mailed to some"); the
// reminders are withdrawn. A session already started is left as it is.
// A session a closing cancelled (this one, or an earlier one of the case
// whose cancellation landed but answered an error, or whose node stopped
// before its mail was queued) and not yet started has its cancellation
// queued too, to those not queued it already (read in the case's outbox
// once), and its reminders withdrawn: so a closing again (ErrClosed)
// finishes what an earlier one left. What fails is logged (WARN "closed
// case's session not cancelled"), and a session left scheduled can be
// cancelled by a mediator; meanwhile Current sends none of a closed
// case's invitations, updates or reminders.
func (s *Service) CaseClosed(ctx context.Context, caseID, by string) {
	// The closing is written: its request ending does not stop this.
	ctx = context.WithoutCancel(ctx)
	log := s.cfg.Log
	if log == nil {
		log = slog.Default()
	}
	warn := func(id string, err error) {
		log.WarnContext(ctx, "closed case's session not cancelled", "case", caseID, "session", id, "error", err.Error())
	}
	if c, err := s.cfg.Cases.Load(ctx, caseID); err != nil || c.Closed == nil {
		if err != nil {
			warn("", err)
		}
		return
	}
	all, err := s.list(ctx, caseID)
	if err != nil {
		warn("", err)
		return
	}
	now := s.cfg.Now()
	// closing reports whether sess was cancelled by a closing of the case
	// (this one, or an earlier whose write landed but answered an error,
	// or whose node stopped before its mail was queued) and has not
	// started: its cancellation is this closing's to finish. A retried
	// closing skips it otherwise (it is no longer scheduled), and a
	// mediator's Cancel is refused (it is cancelled already).
	closing := func(sess *Session) bool {
		n := len(sess.History)
		return sess.Status == Cancelled && sess.Start.After(now) && n > 0 &&
			sess.History[n-1].Kind == "cancelled" && sess.History[n-1].Reason == closedReason
	}
	cancelled := map[string]bool{}
	var finish []Session
	for _, sess := range all {
		if closing(&sess) {
			finish = append(finish, sess)
			continue
		}
		if sess.Status != Scheduled || !sess.Start.After(now) {
			continue
		}
		updated, err := s.save(ctx, by, map[string]string{"via": "case.closed"}, caseID, sess.ID, mail.KindCancellation, func(sess *Session, now time.Time) error {
			if !sess.Start.After(now) {
				return errStarted
			}
			sess.Status = Cancelled
			sess.History = append(sess.History, Change{Kind: "cancelled", At: now.UTC(), By: by, Reason: closedReason})
			return nil
		})
		if err != nil && !errors.Is(err, errStarted) {
			// The write may have landed and answered an error (or a
			// closing racing this one cancelled it): if the session is
			// cancelled by a closing, its mail is queued below.
			var got Session
			if _, gerr := s.cfg.Meta.Get(ctx, sessionKey(caseID, sess.ID), &got); gerr == nil && closing(&got) {
				finish = append(finish, got)
				continue
			}
		}
		if err == nil {
			// Its reminders are withdrawn below, with every other
			// session's, in one reading of the case's outbox: one per
			// session would read all the case's mail once per session.
			cancelled[sess.ID] = true
			err = s.notifyWith(ctx, updated, mail.KindCancellation, false, nil)
		}
		s.closedMailed(ctx, caseID, sess.ID, err, warn)
	}
	for _, sess := range finish {
		cancelled[sess.ID] = true // its reminders withdrawn below, whatever becomes of its mail
	}
	if len(finish) > 0 && s.cfg.Outbox != nil {
		// Their cancellations may be queued, or sent and retired, already:
		// those in the case's outbox, read once, are not enqueued again.
		msgs, err := s.cfg.Outbox.List(ctx, caseID)
		if err != nil {
			for _, sess := range finish {
				warn(sess.ID, fmt.Errorf("the session is cancelled, but its cancellation could not be queued: %w", err))
			}
			finish = nil
		}
		queued := map[string]bool{}
		for _, m := range msgs {
			queued[m.ID] = true
		}
		for _, sess := range finish {
			s.closedMailed(ctx, caseID, sess.ID, s.notifyWith(ctx, &sess, mail.KindCancellation, false, queued), warn)
		}
	}
	// A cancelled session has no reminders of its own sequence: all its
	// pending reminders go (as notify withdraws them after a Cancel).
	if s.cfg.Outbox != nil {
		if err := s.cfg.Outbox.CancelRefs(ctx, caseID, cancelled, func(m *mail.Message) bool { return m.Kind != mail.KindReminder }); err != nil {
			warn("", fmt.Errorf("the sessions are cancelled, but their reminders could not be withdrawn (none is sent: the sessions are cancelled): %w", err))
		}
	}
}

var errStarted = fmt.Errorf("the session has started: %w", fault.ErrConflict)

// closedMailed logs what CaseClosed's cancellation of session id, or the
// queueing of its mail, answered (err): someone not mailed (WARN "closed
// case's session cancellation not mailed to some"), and any other error
// but the session being cancelled or started already (warn).
func (s *Service) closedMailed(ctx context.Context, caseID, id string, err error, warn func(string, error)) {
	var notMailed *NotMailedError
	if errors.As(err, &notMailed) {
		// Someone whose address a seat not expected at the session
		// has on file is not sent the cancellation — though they may
		// hold the invitation, sent before the address was shared.
		// No mediator is there to be told who (a Cancel's
		// NotMailedError): the log says how many, not who.
		log := s.cfg.Log
		if log == nil {
			log = slog.Default()
		}
		log.WarnContext(ctx, "closed case's session cancellation not mailed to some", "case", caseID, "session", id, "count", len(notMailed.Names))
		err = notMailed.Err
	}
	if err != nil && !errors.Is(err, errCancelled) && !errors.Is(err, errStarted) {
		warn(id, err)
	}
}

func (s *Service) change(ctx context.Context, actor account.Account, caseID, id string, kind mail.Kind, apply func(*Session, time.Time) error) (*Session, error) {
	c, err := s.loadCase(ctx, actor, caseID, policy.SessionManage)
	if err != nil {
		return nil, err
	}
	// A closed case's sessions are not moved; one closing left scheduled
	// (CaseClosed failed) may still be cancelled.
	if c.Closed != nil && kind != mail.KindCancellation {
		return nil, cases.ErrClosed
	}
	return s.write(ctx, actor.ID, nil, caseID, id, kind, apply)
}

// write makes a change of session id (a move, or with kind
// KindCancellation a cancellation) for actorID, audited first with attrs,
// and queues its mail. The caller decided that actorID may.
func (s *Service) write(ctx context.Context, actorID string, attrs map[string]string, caseID, id string, kind mail.Kind, apply func(*Session, time.Time) error) (*Session, error) {
	updated, err := s.save(ctx, actorID, attrs, caseID, id, kind, apply)
	if err != nil {
		return nil, err
	}
	return updated, s.notify(ctx, updated, kind)
}

// save is write without the mail: the change audited first, then written.
func (s *Service) save(ctx context.Context, actorID string, attrs map[string]string, caseID, id string, kind mail.Kind, apply func(*Session, time.Time) error) (*Session, error) {
	if !ids.Valid("s", id) {
		return nil, fmt.Errorf("session: %w", fault.ErrNotFound)
	}
	typ, change := "session.moved", "moved"
	if kind == mail.KindCancellation {
		typ, change = "session.cancelled", "cancelled"
	}
	// One instant for the whole change: its history entry (stamped with
	// it) is how a write that answered an error is found to have landed.
	now := s.cfg.Now()
	step := func(sess *Session) error {
		if sess.Status == Cancelled {
			return errCancelled
		}
		if err := apply(sess, now); err != nil {
			return err
		}
		sess.Sequence++
		return nil
	}
	// Decided on the record as it is, before its entry is appended (so a
	// refused change leaves no entry), then audited, then written (the
	// checks run again in the write).
	var cur Session
	if _, err := s.cfg.Meta.Get(ctx, sessionKey(caseID, id), &cur); errors.Is(err, metastore.ErrNotFound) {
		return nil, fmt.Errorf("session: %w", fault.ErrNotFound)
	} else if err != nil {
		return nil, err
	}
	if err := step(&cur); err != nil {
		return nil, err
	}
	ev, err := s.auditFirst(ctx, typ, actorID, attrs, &cur)
	if err != nil {
		return nil, err
	}
	var refused error
	var mine Session
	runs := 0
	mineIn := func(sess *Session) bool {
		return slices.ContainsFunc(sess.History, func(h Change) bool {
			return h.Kind == change && h.By == actorID && h.At.Equal(now.UTC())
		})
	}
	updated, err := metastore.Update(ctx, s.cfg.Meta, sessionKey(caseID, id), func(sess *Session) error {
		// A run after the first follows a conflict, which may be this
		// change's own write (a conditional PUT retried after it landed
		// comes back 412): then the change is there, and is done.
		if runs++; runs > 1 && mineIn(sess) {
			mine, refused = *sess, errLandedAlready
			return refused
		}
		refused = step(sess)
		return refused
	})
	if errors.Is(refused, errLandedAlready) {
		return &mine, nil
	}
	if err != nil {
		var landed func(context.Context) (bool, error)
		if refused == nil {
			landed = func(ctx context.Context) (bool, error) {
				var got Session
				if _, err := s.cfg.Meta.Get(ctx, sessionKey(caseID, id), &got); err != nil {
					return false, err
				}
				return mineIn(&got), nil
			}
		}
		s.settle(ctx, ev, err, landed)
		if errors.Is(err, metastore.ErrNotFound) {
			return nil, fmt.Errorf("session: %w", fault.ErrNotFound)
		}
		return nil, err
	}
	return &updated, nil
}

// errLandedAlready: save's change found, on a run after a conflict, its
// own earlier write in the session; answered as done.
var errLandedAlready = errors.New("the change is already in the session")

// List returns a case's sessions, soonest first, to anyone who may read
// them. The case's mediators see every session whole; a participant sees
// the joint sessions and those they are expected at, never another side's
// caucus (when side A caucuses, and for how long, is A's): of each
// session only the rooms they may join (policy room.join) and, of the
// people expected, only those of these rooms. A session in the joint room
// and A's caucus is, to side B, a session in the joint room.
func (s *Service) List(ctx context.Context, actor account.Account, caseID string) ([]Session, error) {
	c, err := s.loadCase(ctx, actor, caseID, policy.SessionRead)
	if err != nil {
		return nil, err
	}
	all, err := s.list(ctx, caseID)
	if err != nil || s.cfg.Policy.Decide(actor.Principal(), policy.SessionManage, c.Facts()).Allowed {
		return all, err
	}
	all = slices.DeleteFunc(all, func(sess Session) bool {
		return !slices.Contains(sess.Expected, actor.ID) && !slices.Contains(sess.Rooms, caucus.JointName)
	})
	u := actor.Principal()
	mayJoin := func(name string) bool {
		r, err := caucus.PolicyRoom(c, name)
		return err == nil && s.cfg.Policy.DecideRoom(u, policy.RoomJoin, r).Allowed
	}
	out := all[:0]
	for _, sess := range all {
		sess.Rooms = slices.DeleteFunc(slices.Clone(sess.Rooms), func(name string) bool { return !mayJoin(name) })
		if len(sess.Rooms) == 0 {
			continue // none of its rooms is theirs: even its time is not (another side's caucus)
		}
		seen := peopleOf(c, sess.Rooms)
		sess.Expected = slices.DeleteFunc(slices.Clone(sess.Expected), func(id string) bool { return !slices.Contains(seen, id) })
		out = append(out, sess)
	}
	return out, nil
}

// Sessions returns a case's sessions with no access check, for views that
// decided access themselves (the caseload view).
func (s *Service) Sessions(ctx context.Context, caseID string) ([]Session, error) {
	return s.list(ctx, caseID)
}

func (s *Service) list(ctx context.Context, caseID string) ([]Session, error) {
	var out []Session
	err := s.cfg.Meta.List(ctx, "sessions/"+caseID+"/", func(key string) error {
		var sess Session
		if _, err := s.cfg.Meta.Get(ctx, key, &sess); err != nil {
			return err
		}
		out = append(out, sess)
		return nil
	})
	slices.SortStableFunc(out, func(a, b Session) int { return a.Start.Compare(b.Start) })
	return out, err
}

// Development reports whether mail is only held for the development
// outbox (no SMTP server configured).
func (s *Service) Development() bool { return s.cfg.Outbox == nil || s.cfg.Outbox.Development() }

// Mail returns the case's outbox (recipients, kinds, delivery state) to
// the case's mediators.
func (s *Service) Mail(ctx context.Context, actor account.Account, caseID string) ([]mail.Message, error) {
	if _, err := s.loadCase(ctx, actor, caseID, policy.MailRead); err != nil {
		return nil, err
	}
	return s.cfg.Outbox.List(ctx, caseID)
}

// Resend sends again a message that failed or may not have arrived.
func (s *Service) Resend(ctx context.Context, actor account.Account, caseID, id string) (mail.Message, error) {
	c, err := s.loadCase(ctx, actor, caseID, policy.MailRead)
	if err != nil {
		return mail.Message{}, err
	}
	old, err := s.cfg.Outbox.Get(ctx, caseID, id)
	if err != nil {
		return mail.Message{}, err
	}
	// Someone who has left the case (a recused mediator, a removed
	// participant) gets no more of its mail.
	if old.ToAccount != "" && !slices.Contains(people(c), old.ToAccount) {
		return mail.Message{}, fmt.Errorf("the recipient is no longer in this case: %w", fault.ErrConflict)
	}
	// Nor does a disabled account (policy disabled-accounts-do-nothing):
	// the mediator is told who is not mailed, and why.
	if old.ToAccount != "" {
		acct, err := s.cfg.Accounts.Get(ctx, old.ToAccount)
		if errors.Is(err, fault.ErrNotFound) {
			return mail.Message{}, fmt.Errorf("the recipient's account no longer exists: %w", fault.ErrConflict)
		}
		if err != nil {
			return mail.Message{}, err
		}
		if acct.Disabled {
			return mail.Message{}, fmt.Errorf("%s is not mailed: an administrator disabled their account, and a disabled account gets no mail from Parley: %w",
				nameIn(c, old.ToAccount, acct.Name), fault.ErrConflict)
		}
	}
	if old.State != mail.Failed && old.State != mail.Uncertain {
		// Refused before its entry is appended (Outbox checks it again).
		return s.cfg.Outbox.Resend(ctx, caseID, id)
	}
	// Audited first: a resend the log cannot hold is not queued, so the
	// retry queues one, not a second.
	newID := mail.ResendID(id)
	ev := audit.Paired(audit.Event{Type: "mail.resent", Actor: actor.ID, Case: caseID, Objects: []string{id, newID}, Time: s.cfg.Now().UTC()})
	if err := appended(s.cfg.Audit.Append(ctx, ev)); err != nil {
		return mail.Message{}, fmt.Errorf("audit: %w: %w", err, fault.ErrUnavailable)
	}
	m, err := s.cfg.Outbox.ResendAs(ctx, caseID, id, newID)
	if err != nil {
		s.settle(ctx, ev, err, func(ctx context.Context) (bool, error) {
			_, err := s.cfg.Outbox.Get(ctx, caseID, newID)
			if errors.Is(err, fault.ErrNotFound) || errors.Is(err, metastore.ErrNotFound) {
				return false, nil
			}
			return err == nil, err
		})
		return mail.Message{}, err
	}
	return m, nil
}
