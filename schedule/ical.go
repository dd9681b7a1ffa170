package schedule

import (
	"fmt"
	"strings"
	"time"

	ics "github.com/arran4/golang-ical"
)

// Invitation is one participant's iCalendar object for a session:
// METHOD:REQUEST for an invitation or an update, METHOD:CANCEL for a
// cancellation. UID is stable across changes and SEQUENCE grows with each,
// so calendar programs replace the earlier copy. DTSTART is in UTC (the
// receiving calendar shows it in its own zone) and DURATION gives the
// length. Nothing in it names the case, the other people or any document.
func Invitation(s *Session, organizer, attendee, joinURL string, stamp time.Time) []byte {
	cal := ics.NewCalendarFor("Parley")
	method := ics.MethodRequest
	if s.Status == Cancelled {
		method = ics.MethodCancel
	}
	cal.SetMethod(method)
	ev := cal.AddEvent(s.UID())
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
	return []byte(cal.Serialize())
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
