package schedule

import (
	"fmt"
	"strings"
	"time"

	ics "github.com/arran4/golang-ical"
)

// Invitation is one participant's iCalendar object for a session:
// METHOD:REQUEST for an invitation or an update, METHOD:CANCEL for a
// cancellation. uid is the recipient's UID for the session (Service.uid):
// the same in every update and the cancellation they are sent, as RFC 5546
// asks for a calendar program to replace its copy, while SEQUENCE grows
// with each change. DTSTART is in UTC (the receiving calendar shows it in
// its own zone) and DURATION gives the length. Every line ends with CRLF
// (RFC 5545 §3.1). Nothing in it names the case, the other people or any
// document.
func Invitation(s *Session, uid, organizer, attendee, joinURL string, stamp time.Time) []byte {
	cal := ics.NewCalendarFor("Parley")
	method := ics.MethodRequest
	if s.Status == Cancelled {
		method = ics.MethodCancel
	}
	cal.SetMethod(method)
	ev := cal.AddEvent(uid)
	ev.SetDtStampTime(stamp.UTC())
	ev.SetSequence(s.Sequence)
	ev.SetStartAt(s.Start.UTC())
	ev.SetProperty(ics.ComponentPropertyDuration, isoDuration(s.Minutes))
	ev.SetSummary("Mediation session")
	ev.SetDescription("Join the session at " + joinURL + " . Details are in Parley.")
	ev.SetURL(joinURL)
	ev.SetOrganizer("mailto:" + organizer)
	ev.AddAttendee("mailto:"+attendee, ics.ParticipationRoleReqParticipant, ics.ParticipationStatusNeedsAction, ics.WithRSVP(false))
	if s.Status == Cancelled {
		ev.SetStatus(ics.ObjectStatusCancelled)
	} else {
		ev.SetStatus(ics.ObjectStatusConfirmed)
	}
	// RFC 5545 ends every line with CRLF, folded ones too; the library's
	// default is the platform's line ending (a bare LF on Unix).
	return []byte(cal.Serialize(ics.WithNewLineWindows))
}

func isoDuration(minutes int) string {
	h, m := minutes/60, minutes%60
	var b strings.Builder
	b.WriteString("PT")
	if h > 0 {
		fmt.Fprintf(&b, "%dH", h)
	}
	if m > 0 || h == 0 {
		fmt.Fprintf(&b, "%dM", m)
	}
	return b.String()
}

// uid is the iCalendar UID of session sess in the invitations to account
// who: a keyed hash of the two under the server's index key, so that it is
// stable across the session's updates and cancellation (RFC 5546 matches
// them by UID), master-key rotations included (the index key derives from
// the records key, which a rotation rewraps but does not change), yet
// names no session, case or account, and differs between
// recipients: two invitees comparing their calendars, or anyone reading
// one of them, learn no id and cannot tell the same session's UID in
// another person's calendar.
//
// A session scheduled before UIDs were per recipient (Session.UIDs empty)
// keeps the one UID its invitations carried, the session's id: RFC 5546
// matches an update or a cancellation to the event by UID, so a new one
// would leave the old event in place in every calendar beside the new.
func (s *Service) uid(sess *Session, who string) string {
	if sess.UIDs != uidsPerRecipient {
		return sess.ID + "@parley"
	}
	return s.cfg.Meta.IndexKey("ical-uid", sess.ID, who) + "@parley"
}

// uidsPerRecipient marks a session whose UIDs are per recipient.
const uidsPerRecipient = "recipient"
