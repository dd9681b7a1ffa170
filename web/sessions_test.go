package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
)

// Sessions over HTTP: bad input gets a field-level problem, participants
// read but do not schedule, and without --smtp-url the mediator sees the
// would-be mail (text included) in the development outbox while the
// parties see none of it.
func TestSessionsHTTP(t *testing.T) {
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(), MailPoll: 20 * time.Millisecond})
	ctx := context.Background()
	_, med := n.Staff(t, policy.RoleMediator, "med@example.org")
	c, err := med.CreateCase(ctx, "Lee v. Park", "neighbour", "court", []string{"Lee", "Park"})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := med.Invite(ctx, c.ID, "party", "A", "Lee", "lee@example.org", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Mailed {
		t.Fatal("the development outbox says the invite was mailed")
	}
	party := client.New(n.URL, "")
	joined, err := party.Join(ctx, inv.Link)
	if err != nil {
		t.Fatal(err)
	}
	base := n.URL + "/api/v1/cases/" + c.ID + "/sessions"
	future := time.Now().Add(96 * time.Hour).In(mustZone(t, "Europe/Berlin")).Format("2006-01-02T15:04")
	for _, b := range []struct{ body, field string }{
		{`{"start":"2031-02-30T10:00","timeZone":"Europe/Berlin","minutes":60}`, "start"},
		{`{"start":"2020-01-01T10:00","timeZone":"Europe/Berlin","minutes":60}`, "start"},
		{`{"start":"` + future + `","timeZone":"Europe/Atlantis","minutes":60}`, "timeZone"},
		{`{"start":"` + future + `","timeZone":"` + strings.Repeat("Z", 200) + `","minutes":60}`, "timeZone"},
		{`{"start":"` + future + `","timeZone":"Europe/Berlin","minutes":6000}`, "minutes"},
		{`{"start":"` + future + `","timeZone":"Europe/Berlin","minutes":60,"rooms":["lobby"]}`, "rooms[0]"},
	} {
		status, p, _ := rawPost(t, base, med.Token, b.body, nil)
		if status != http.StatusBadRequest || len(p.Errors) != 1 || p.Errors[0].Field != b.field {
			t.Errorf("%s: got %d %+v, want 400 on %s", b.body, status, p, b.field)
		}
	}
	// A joint session the mediator chose to meet one side's people at
	// alone is refused in words the browser shows as they are (no id, no
	// wire room name): every joint session is listed to everyone.
	status, p, _ := rawPost(t, base, med.Token, `{"start":"`+future+`","timeZone":"Europe/Berlin","minutes":60,"expected":["`+joined.Account.ID+`"]}`, nil)
	if want := "this meets only the Lee side's people: schedule it in the Lee side's private room (caucus) instead, or add someone from the other side"; status != http.StatusBadRequest || len(p.Errors) != 1 || p.Errors[0].Field != "expected" || p.Errors[0].Detail != want {
		t.Errorf("a joint session for side A's party alone: got %d %+v, want 400 on expected: %q", status, p, want)
	}
	// A header injection through an invite's address never gets as far as
	// the outbox.
	if status, p, _ := rawPost(t, n.URL+"/api/v1/cases/"+c.ID+"/invites", med.Token,
		`{"role":"party","side":"B","name":"Park","email":"park@example.org\r\nBcc: spy@evil.test"}`, nil); status != http.StatusBadRequest || p.Errors[0].Field != "email" {
		t.Fatalf("injected address: %d %+v", status, p)
	}
	if _, err := party.AddSession(ctx, c.ID, api.NewSessionRequest{Start: future, TimeZone: "Europe/Berlin", Minutes: 60}); apiErr(t, err).Status != http.StatusForbidden {
		t.Fatalf("a party scheduled a session: %v", err)
	}
	s, err := med.AddSession(ctx, c.ID, api.NewSessionRequest{Start: future, TimeZone: "Europe/Berlin", Minutes: 90, Rooms: []string{"joint", "caucus:A"}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != "scheduled" || s.Sequence != 0 || !s.End.Equal(s.Start.Add(90*time.Minute)) || s.MailWarning != "" {
		t.Fatalf("session %+v", s)
	}
	moved, err := med.MoveSession(ctx, c.ID, s.ID, api.MoveSessionRequest{Start: time.Now().Add(120 * time.Hour).UTC().Format("2006-01-02T15:04"), TimeZone: "UTC", Reason: "Park's lawyer is in court"})
	if err != nil || moved.Sequence != 1 || len(moved.Changes) != 2 || moved.Changes[1].Reason == "" {
		t.Fatalf("moved %+v %v", moved, err)
	}
	list, err := party.Sessions(ctx, c.ID)
	if err != nil || len(list) != 1 || list[0].ID != s.ID {
		t.Fatalf("the party's sessions: %+v %v", list, err)
	}
	if raw, _ := json.Marshal(list); strings.Contains(string(raw), "court") || list[0].Changes != nil {
		t.Fatalf("a party sees the mediator's reason: %s", raw)
	}
	if _, err := party.Mail(ctx, c.ID); apiErr(t, err).Status != http.StatusForbidden {
		t.Fatalf("a party read the outbox: %v", err)
	}
	// The development outbox holds the update for the party (the
	// mediator's own, too) and shows their text. Each invitation is held
	// too, or, when the sender's pass came only after the move, cancelled
	// as no longer current (the update replaces it).
	deadline := time.Now().Add(10 * time.Second)
	for {
		mail, err := med.Mail(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		held, joins, updates, invitations := 0, 0, 0, 0
		for _, m := range mail {
			switch m.Kind {
			case "invitation":
				if m.State == "held" || m.State == "cancelled" {
					invitations++
				}
			case "update":
				if m.State == "held" {
					updates++
				}
			}
			if m.Kind == "join" { // the invite's link, held too
				if m.State != "held" || !m.Development || !strings.Contains(m.Text, n.URL+"/join#") || strings.Contains(m.Text+m.Subject, "Lee") {
					t.Fatalf("held invite %+v", m)
				}
				joins++
				continue
			}
			if m.State == "held" {
				held++
				if !m.Development || !strings.Contains(m.Text, n.URL+"/app") || m.Attachment != "invite.ics" || strings.Contains(m.Text+m.Subject, "Lee v. Park") {
					t.Fatalf("held message %+v", m)
				}
			}
		}
		if updates == 2 && invitations == 2 && held >= 2 && joins == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d held of %d: %+v", held, len(mail), mail)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
