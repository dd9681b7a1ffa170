package schedule

import (
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/caucus"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/mailpit"
)

// TestLinkMailsStateCaseZone: the mails that carry a link (an invitation,
// a link back in, a sign-in link, an address confirmation) say until when
// it works as a session's mail says its time: in the case's time zone (the
// zone its latest session was scheduled in) first, then in UTC. A case
// with no session yet has no zone: UTC alone. Through Mailpit, a real
// SMTP server.
func TestLinkMailsStateCaseZone(t *testing.T) {
	mp := mailpit.FromEnv(t)
	e := newEnv(t, mp)
	mp = mp.Outbox(e.sentIDs()) // Message-IDs are random: the outbox says which is which
	ctx := t.Context()
	e.svc.cfg.Reminders = []time.Duration{}
	// 23:30 UTC: the next day in Berlin, so the UTC date is stated too.
	exp := time.Date(2030, 3, 4, 23, 30, 0, 0, time.UTC)
	link := func() string { return joinURL + "/join#" + ids.Token() }

	// No session yet: UTC alone.
	if _, err := e.svc.MailInvite(ctx, e.c.ID, "", "first@example.test", link(), exp); err != nil {
		t.Fatal(err)
	}
	if _, err := e.outbox.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fetch(t, mp, "join-"+e.c.ID+"-", 1)[0].text; !strings.Contains(got, "until Monday 4 March 2030, 23:30 UTC)") {
		t.Fatalf("an invitation in a case with no session states UTC alone:\n%s", got)
	}

	// The mediator schedules in New York, Berlin, then Tokyo, and cancels New York and Tokyo.
	startAt := e.clock.Now().Add(96 * time.Hour).Truncate(time.Hour)
	gone, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(startAt, "America/New_York"), TimeZone: "America/New_York", Minutes: 60})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Set(e.clock.Now().Add(time.Minute))
	if _, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(startAt, "Europe/Berlin"), TimeZone: "Europe/Berlin", Minutes: 60}); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(e.clock.Now().Add(time.Minute))
	tokyo, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(startAt.Add(time.Hour), "Asia/Tokyo"), TimeZone: "Asia/Tokyo", Minutes: 60})
	if err != nil {
		t.Fatal(err)
	}
	// New York and Tokyo are cancelled: Berlin is the latest session standing.
	for _, s := range []*Session{gone, tokyo} {
		if _, err := e.svc.Cancel(ctx, e.mediator, e.c.ID, s.ID, "not needed"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.svc.MailInvite(ctx, e.c.ID, "", "second@example.test", link(), exp); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.MailReentry(ctx, e.c.ID, e.tenant.ID, "alex@example.test", link(), exp); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.MailSignInLink(ctx, e.c.ID, "alex@example.test", link(), exp); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.MailEmailConfirmation(ctx, e.c.ID, "alex@example.test", link(), exp); err != nil {
		t.Fatal(err)
	}
	if _, err := e.outbox.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	const want = "until Tuesday 5 March 2030, 00:30 (Europe/Berlin; Monday 4 March 2030, 23:30 UTC)"
	var got []received
	for _, w := range []struct {
		prefix string
		n      int
	}{{"join-" + e.c.ID + "-", 2}, {"reentry-" + e.c.ID + "-", 1}, {"signin-" + e.c.ID + "-", 1}, {"confirm-" + e.c.ID + "-", 1}} {
		got = append(got, fetch(t, mp, w.prefix, w.n)...)
	}
	n := 0
	for _, r := range got {
		if r.to == "first@example.test" {
			continue
		}
		n++
		if !strings.Contains(r.text, want) {
			t.Errorf("%s to %s: want the case's zone first, then UTC (%q):\n%s", r.subject, r.to, want, r.text)
		}
	}
	if n != 4 {
		t.Fatalf("%d link mails after the session, want 4", n)
	}
}

// TestLinkMailZoneIsNotACaucusSessions: the zone a link mail states is
// taken from the case's joint sessions only, which every recipient may
// see. A session in side A's caucus alone, scheduled later in another
// zone, is hidden from side B (List); its zone must not reach B's mail
// either. Before, caseZone took the latest session of any room, and B,
// asking for an address confirmation, learnt that A had a caucus session
// and where. Through Mailpit.
func TestLinkMailZoneIsNotACaucusSessions(t *testing.T) {
	mp := mailpit.FromEnv(t)
	e := newEnv(t, mp)
	mp = mp.Outbox(e.sentIDs())
	ctx := t.Context()
	e.svc.cfg.Reminders = []time.Duration{}
	startAt := e.clock.Now().Add(96 * time.Hour).Truncate(time.Hour)
	if _, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(startAt, "Europe/Berlin"), TimeZone: "Europe/Berlin", Minutes: 60}); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(e.clock.Now().Add(time.Minute))
	if _, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(startAt.Add(2*time.Hour), "America/New_York"), TimeZone: "America/New_York",
		Minutes: 60, Rooms: []string{caucus.CaucusName("A")}}); err != nil {
		t.Fatal(err)
	}
	if visible, err := e.svc.List(ctx, e.landlord, e.c.ID); err != nil || len(visible) != 1 || visible[0].TimeZone != "Europe/Berlin" {
		t.Fatalf("side B sees %+v (%v), want the joint session alone", visible, err)
	}
	exp := time.Date(2030, 3, 4, 23, 30, 0, 0, time.UTC)
	if _, err := e.svc.MailEmailConfirmation(ctx, e.c.ID, "blair@example.test", joinURL+"/join#"+ids.Token(), exp); err != nil {
		t.Fatal(err)
	}
	if _, err := e.outbox.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	got := fetch(t, mp, "confirm-"+e.c.ID+"-", 1)[0]
	if strings.Contains(got.text, "America/New_York") || !strings.Contains(got.text, "(Europe/Berlin;") {
		t.Fatalf("side B's mail states a zone other than the joint session's:\n%s", got.text)
	}
}

// TestUntilIn: the same day in both zones states the UTC time alone; no
// zone, an unknown one or UTC itself state UTC alone.
func TestUntilIn(t *testing.T) {
	at := time.Date(2030, 3, 4, 15, 4, 0, 0, time.UTC)
	for zone, want := range map[string]string{
		"Europe/Berlin":    "Monday 4 March 2030, 16:04 (Europe/Berlin; 15:04 UTC)",
		"America/New_York": "Monday 4 March 2030, 10:04 (America/New_York; 15:04 UTC)",
		"":                 "Monday 4 March 2030, 15:04 UTC",
		"UTC":              "Monday 4 March 2030, 15:04 UTC",
		"Nowhere/Else":     "Monday 4 March 2030, 15:04 UTC",
	} {
		if got := untilIn(at, zone); got != want {
			t.Errorf("untilIn(%q) = %q, want %q", zone, got, want)
		}
	}
}
