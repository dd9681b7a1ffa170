package schedule

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"

	"github.com/parley-mediation/parley/internal/mailpit"
	"github.com/parley-mediation/parley/mail"
)

// received is one arrived message with its parsed calendar.
type received struct {
	to, subject, text string
	cal               *ics.Calendar
}

func fetch(t *testing.T, mp *mailpit.Client, prefix string, n int) []received {
	t.Helper()
	got := mp.WaitFor(t, prefix, n, 15*time.Second)
	if len(got) != n {
		t.Fatalf("%s: %d messages arrived, want %d", prefix, len(got), n)
	}
	var out []received
	for _, s := range got {
		full, err := mp.Get(s.ID)
		if err != nil {
			t.Fatal(err)
		}
		r := received{to: s.To[0].Address, subject: s.Subject, text: full.Text}
		for _, a := range full.Attachments {
			if a.FileName != "invite.ics" {
				continue
			}
			raw, err := mp.Part(s.ID, a.PartID)
			if err != nil {
				t.Fatal(err)
			}
			// As delivered, every line still ends with CRLF (RFC 5545).
			if n := bytes.Count(raw, []byte("\n")); n == 0 || n != bytes.Count(raw, []byte("\r\n")) {
				t.Fatalf("%s: the .ics has a line not ended by CRLF:\n%q", s.Subject, raw)
			}
			if r.cal, err = ics.ParseCalendar(bytes.NewReader(raw)); err != nil {
				t.Fatalf("%s: the .ics does not parse: %v\n%s", s.Subject, err, raw)
			}
		}
		out = append(out, r)
	}
	return out
}

func prop(t *testing.T, c *ics.Calendar, p ics.ComponentProperty) string {
	t.Helper()
	ev := c.Events()
	if len(ev) != 1 {
		t.Fatalf("%d events", len(ev))
	}
	v := ev[0].GetProperty(p)
	if v == nil {
		return ""
	}
	return v.Value
}

func calMethod(c *ics.Calendar) string {
	for _, p := range c.CalendarProperties {
		if p.IANAToken == string(ics.PropertyMethod) {
			return p.Value
		}
	}
	return ""
}

// The invitation, the update and the cancellation reach each expected
// person through a real SMTP server, each with an .ics the iCalendar
// library parses: one event, the same UID for each recipient throughout
// (and another for each recipient, naming no id), SEQUENCE 0, 1, 2, METHOD
// REQUEST then CANCEL, the right start and length, the program as
// ORGANIZER and only the recipient as ATTENDEE, the link as URL. No message
// names the case, the other side or anyone in it.
func TestInvitationUpdateCancelThroughMailpit(t *testing.T) {
	mp := mailpit.FromEnv(t)
	e := newEnv(t, mp)
	mp = mp.Outbox(e.sentIDs()) // Message-IDs are random: the outbox says which is which
	ctx := t.Context()
	e.svc.cfg.Reminders = []time.Duration{} // reminders are TestReminders'
	startAt := e.clock.Now().Add(96 * time.Hour).Truncate(time.Hour)
	s, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(startAt, "Europe/Berlin"), TimeZone: "Europe/Berlin", Minutes: 90})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.outbox.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	// The mediator has no mail address in this test: two messages.
	uids := map[string]string{}
	check := func(prefix, method string, seq int, start time.Time) {
		t.Helper()
		got := fetch(t, mp, prefix, 2)
		var to []string
		for _, r := range got {
			to = append(to, r.to)
			if r.cal == nil {
				t.Fatalf("%s: no invite.ics", r.subject)
			}
			if m := calMethod(r.cal); m != method {
				t.Fatalf("METHOD %q, want %q", m, method)
			}
			// One UID per recipient, the same in their invitation, update
			// and cancellation (so their calendar replaces its copy), and
			// naming no session, case or account.
			uid := prop(t, r.cal, ics.ComponentPropertyUniqueId)
			if first, ok := uids[r.to]; ok && uid != first {
				t.Fatalf("%s: UID %q, was %q", r.to, uid, first)
			}
			uids[r.to] = uid
			for _, id := range []string{s.ID, e.c.ID, e.tenant.ID, e.landlord.ID, e.mediator.ID} {
				if strings.Contains(uid, id) || strings.Contains(uid, strings.TrimPrefix(id, id[:2])) {
					t.Fatalf("UID %q names %s", uid, id)
				}
			}
			if sq := prop(t, r.cal, ics.ComponentPropertySequence); sq != string(rune('0'+seq)) {
				t.Fatalf("SEQUENCE %q, want %d", sq, seq)
			}
			got, err := r.cal.Events()[0].GetStartAt()
			if err != nil || !got.Equal(start) {
				t.Fatalf("DTSTART %v (%v), want %v", got, err, start)
			}
			if d := prop(t, r.cal, ics.ComponentPropertyDuration); d != "PT1H30M" {
				t.Fatalf("DURATION %q", d)
			}
			if o := prop(t, r.cal, ics.ComponentPropertyOrganizer); o != "mailto:sessions@program.test" {
				t.Fatalf("ORGANIZER %q", o)
			}
			att := r.cal.Events()[0].Attendees()
			if len(att) != 1 || att[0].Email() != r.to {
				t.Fatalf("ATTENDEE %v for %s", att, r.to)
			}
			if u := prop(t, r.cal, ics.ComponentPropertyUrl); u != joinURL {
				t.Fatalf("URL %q", u)
			}
			whole := r.subject + r.text + r.cal.Serialize()
			for _, secret := range []string{"Deposit", "Elm Street", "Tenant", "Landlord", "Alex", "Blair", "Morgan", "tenancy", e.c.ID} {
				if strings.Contains(whole, secret) {
					t.Fatalf("mail to %s names %q:\n%s", r.to, secret, whole)
				}
			}
			if !strings.Contains(r.text, joinURL) {
				t.Fatalf("no link in %q", r.text)
			}
		}
		slices.Sort(to)
		if !slices.Equal(to, []string{"alex@example.test", "blair@example.test"}) {
			t.Fatalf("recipients %v", to)
		}
		if uids["alex@example.test"] == uids["blair@example.test"] {
			t.Fatalf("both recipients got UID %q", uids["alex@example.test"])
		}
	}
	check(mailID("inv", s.ID, "0"), "REQUEST", 0, startAt)

	moved := startAt.Add(26 * time.Hour)
	if _, err := e.svc.Move(ctx, e.mediator, e.c.ID, s.ID, local(moved, "Asia/Tokyo"), "Asia/Tokyo", 0, "the tenant's lawyer is in court"); err != nil {
		t.Fatal(err)
	}
	e.outbox.RunOnce(ctx)
	check(mailID("inv", s.ID, "1"), "REQUEST", 1, moved)

	if _, err := e.svc.Cancel(ctx, e.mediator, e.c.ID, s.ID, "the parties settled"); err != nil {
		t.Fatal(err)
	}
	e.outbox.RunOnce(ctx)
	check(mailID("inv", s.ID, "2"), "CANCEL", 2, moved)
	for _, r := range fetch(t, mp, mailID("inv", s.ID, "2"), 2) {
		if st := prop(t, r.cal, ics.ComponentPropertyStatus); st != "CANCELLED" {
			t.Fatalf("STATUS %q", st)
		}
		if strings.Contains(r.text, "settled") {
			t.Fatal("the reason reached the mail")
		}
	}
	msgs, _ := e.svc.Mail(ctx, e.mediator, e.c.ID)
	if len(msgs) != 6 {
		t.Fatalf("outbox holds %d messages, want 6", len(msgs))
	}
	for _, m := range msgs {
		if m.State != mail.Sent {
			t.Fatalf("%s: %s", m.ID, m.State)
		}
	}
}

// Reminders go out 48 and 2 hours before, at their times by the test
// clock; a move withdraws the reminders of the old time.
func TestReminders(t *testing.T) {
	mp := mailpit.FromEnv(t)
	e := newEnv(t, mp)
	mp = mp.Outbox(e.sentIDs()) // Message-IDs are random: the outbox says which is which
	ctx := t.Context()
	t0 := e.clock.Now()
	startAt := t0.Add(72 * time.Hour)
	s, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(startAt, "UTC"), TimeZone: "UTC", Minutes: 60})
	if err != nil {
		t.Fatal(err)
	}
	prefix48 := mailID("rem", s.ID, "0", "2880m")
	prefix2 := mailID("rem", s.ID, "0", "120m")
	e.outbox.RunOnce(ctx) // the invitations
	e.clock.Set(startAt.Add(-48*time.Hour - time.Minute))
	e.outbox.RunOnce(ctx)
	if got, _ := mp.WithPrefix(prefix48); len(got) != 0 {
		t.Fatalf("48-hour reminder a minute early: %d", len(got))
	}
	e.clock.Set(startAt.Add(-48 * time.Hour))
	e.outbox.RunOnce(ctx)
	got := fetch(t, mp, prefix48, 2)
	if !strings.Contains(got[0].subject, "Reminder: mediation session on "+WhenText(s)) {
		t.Fatalf("subject %q", got[0].subject)
	}
	// Move it a day later: the 2-hour reminders of the old time are
	// withdrawn, new ones are queued for the new time.
	newStart := startAt.Add(24 * time.Hour)
	if _, err := e.svc.Move(ctx, e.mediator, e.c.ID, s.ID, local(newStart, "UTC"), "", 0, "room unavailable"); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(startAt.Add(-2 * time.Hour))
	e.outbox.RunOnce(ctx)
	e.clock.Set(newStart.Add(-2*time.Hour - time.Minute))
	e.outbox.RunOnce(ctx)
	if got, _ := mp.WithPrefix(mailID("rem", s.ID, "1", "120m")); len(got) != 0 {
		t.Fatal("the new 2-hour reminder went early")
	}
	e.clock.Set(newStart.Add(-2 * time.Hour))
	e.outbox.RunOnce(ctx)
	fetch(t, mp, mailID("rem", s.ID, "1", "120m"), 2)
	if got, _ := mp.WithPrefix(prefix2); len(got) != 0 {
		t.Fatalf("%d reminders of the old time were sent", len(got))
	}
	// The new 48-hour reminder (due 24 h before the old start) went out
	// too, once.
	fetch(t, mp, mailID("rem", s.ID, "1", "2880m"), 2)
}
