package web_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/mailpit"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserSessions drives web/client/test/sessions.mjs in Chromium: a
// mediator finds a stalled case flagged in the caseload, schedules a
// session (a past time is refused), moves it (the form to schedule
// another, half filled in, keeps what is in it); a party on a phone in
// another time zone sees it in their own time. Between the steps the Go
// side reads Mailpit: each party's invitation and then the update arrive,
// with an .ics the iCalendar library parses (each recipient's own UID, the
// same in their update; SEQUENCE 0 then 1). The case is then closed: the
// session still to come is cancelled (each recipient's cancellation,
// SEQUENCE 2, the same UID), and both the mediator's list and the
// party's say so in words.
func TestBrowserSessions(t *testing.T) {
	nodeBin, clientDir := needBrowser(t)
	mp := mailpit.FromEnv(t)
	// The mail and schedule clock: real time until the test moves it
	// ahead to make a check-in due.
	var ahead atomic.Int64
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(), SMTPURL: "smtp://" + mp.SMTP + "?starttls=off",
		MailFrom: "sessions@browser.test", MailPoll: 100 * time.Millisecond,
		MailClock: func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }})
	ctx := context.Background()
	medEmail, med, medC, k := tenancyCase(t, n)
	tag := ids.New("x")[2:10]
	partyA, partyB := "okafor-"+tag+"@example.test", "lindqvist-"+tag+"@example.test"
	invA, err := medC.Invite(ctx, k.ID, "party", "A", "Ada Okafor", partyA, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	invB, err := medC.Invite(ctx, k.ID, "party", "B", "Lars Lindqvist", partyB, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.New(n.URL, "").Join(ctx, inviteLink(t, n, mp, k.ID, invB)); err != nil {
		t.Fatal(err)
	}
	// The program's history: ten closed tenancy cases that spent 1…10 days
	// in preparation (90th percentile 9 days), and one of this mediator's
	// cases in preparation for 40 days.
	now := time.Now().UTC()
	day := 24 * time.Hour
	var items []cases.Imported
	for i := 1; i <= 10; i++ {
		opened := now.Add(-300 * day)
		closed := opened.Add(time.Duration(i+5) * day)
		items = append(items, cases.Imported{Case: &cases.Case{ID: ids.New("c"), Title: "closed", Type: "tenancy", Stage: cases.StageClosure,
			Mediators: []cases.Mediator{{AccountID: ids.New("u"), Name: "Other"}}, Created: opened, Closed: &closed,
			StageHistory: []cases.StageChange{{To: cases.StagePreparation, At: opened},
				{From: cases.StagePreparation, To: cases.StageOpening, At: opened.Add(time.Duration(i) * day)},
				{From: cases.StageOpening, To: cases.StageClosure, At: closed}}}})
	}
	stalledTitle := "Haddad v. Byrne — repairs"
	since := now.Add(-40 * day)
	items = append(items, cases.Imported{Case: &cases.Case{ID: ids.New("c"), Title: stalledTitle, Type: "tenancy", Stage: cases.StagePreparation,
		Sides:     []cases.Side{{ID: "A", Label: "Tenant"}, {ID: "B", Label: "Landlord"}},
		Mediators: []cases.Mediator{{AccountID: med.ID, Name: med.Name, Added: since}}, Created: since,
		StageHistory: []cases.StageChange{{To: cases.StagePreparation, At: since}}}})
	if err := n.Cases.Import(ctx, items); err != nil {
		t.Fatal(err)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	startAt := time.Date(now.Year(), now.Month(), now.Day()+3, 10, 0, 0, 0, berlin)
	movedAt := time.Date(now.Year(), now.Month(), now.Day()+4, 14, 30, 0, 0, berlin)

	shots := t.TempDir()
	if os.Getenv("PARLEY_UPDATE_SCREENSHOTS") != "" {
		shots, _ = filepath.Abs("../docs/screenshots")
	}
	tctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(tctx, nodeBin, "test/sessions.mjs")
	cmd.Dir = clientDir
	cmd.Env = append(os.Environ(), "PARLEY_URL="+n.URL, "PARLEY_MEDIATOR_EMAIL="+medEmail, "PARLEY_PASSWORD="+nodetest.Password,
		"PARLEY_INVITE_A="+inviteLink(t, n, mp, k.ID, invA), "PARLEY_CASE="+k.ID, "PARLEY_STALLED_TITLE="+stalledTitle,
		"PARLEY_START="+startAt.Format("2006-01-02T15:04"), "PARLEY_MOVED="+movedAt.Format("2006-01-02T15:04"),
		"PARLEY_CHROMIUM="+chromiumPath(), "PARLEY_SCREENSHOTS="+shots)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &testWriter{t: t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	uids := map[string]string{} // each recipient's UID of the session
	checkMail := func(seq int, start time.Time) error {
		list, err := medC.Sessions(ctx, k.ID)
		if err != nil || len(list) != 1 {
			return fmt.Errorf("sessions: %v %v", list, err)
		}
		s := list[0]
		prefix := fmt.Sprintf("inv-%s-%d-", s.ID, seq)
		got := mp.Outbox(sentIDs(n, k.ID)).WaitFor(t, prefix, 3, 20*time.Second)
		if len(got) != 3 {
			return fmt.Errorf("%d of 3 messages arrived for %s", len(got), prefix)
		}
		seen := map[string]bool{}
		for _, m := range got {
			seen[m.To[0].Address] = true
			full, err := mp.Get(m.ID)
			if err != nil || len(full.Attachments) != 1 {
				return fmt.Errorf("message %s: %v %+v", m.ID, err, full.Attachments)
			}
			raw, err := mp.Part(m.ID, full.Attachments[0].PartID)
			if err != nil {
				return err
			}
			cal, err := ics.ParseCalendar(bytes.NewReader(raw))
			if err != nil {
				return fmt.Errorf("the .ics does not parse: %v", err)
			}
			ev := cal.Events()
			if len(ev) != 1 {
				return fmt.Errorf("%d events", len(ev))
			}
			to := m.To[0].Address
			if uids[to] == "" {
				uids[to] = ev[0].Id()
			}
			uid := uids[to]
			dt, err := ev[0].GetStartAt()
			if ev[0].Id() != uid || ev[0].GetProperty(ics.ComponentPropertySequence).Value != fmt.Sprint(seq) || err != nil || !dt.Equal(start) {
				return fmt.Errorf("event UID %s (want %s) SEQUENCE %s (want %d) DTSTART %v (want %v)", ev[0].Id(), uid,
					ev[0].GetProperty(ics.ComponentPropertySequence).Value, seq, dt, start)
			}
			if strings.Contains(full.Text+m.Subject, "Okafor") || strings.Contains(full.Text, "Lindqvist") {
				return fmt.Errorf("the mail names the case or a party: %s", full.Text)
			}
		}
		if !seen[partyA] || !seen[partyB] || !seen[medEmail] {
			return fmt.Errorf("recipients %v", seen)
		}
		if uids[partyA] == uids[partyB] || uids[partyA] == uids[medEmail] || strings.Contains(uids[partyA], s.ID) {
			return fmt.Errorf("a UID shared between recipients or naming the session: %v", uids)
		}
		return nil
	}
	sc := bufio.NewScanner(stdout)
	passed := false
	for sc.Scan() {
		line := sc.Text()
		t.Log(line)
		switch {
		case line == "ask mail invitation":
			if err := checkMail(0, startAt); err != nil {
				t.Error(err)
				fmt.Fprintln(stdin, "error "+err.Error())
				continue
			}
			fmt.Fprintln(stdin, "ok")
		case line == "ask mail update":
			if err := checkMail(1, movedAt); err != nil {
				t.Error(err)
				fmt.Fprintln(stdin, "error "+err.Error())
				continue
			}
			fmt.Fprintln(stdin, "ok")
		case line == "ask close agreement":
			if _, err := medC.CaseAction(ctx, k.ID, "stage", map[string]string{"stage": "closure"}); err != nil {
				t.Error(err)
				fmt.Fprintln(stdin, "error "+err.Error())
				continue
			}
			if _, err := medC.RecordOutcome(ctx, k.ID, "full-agreement", 2, 3); err != nil {
				t.Error(err)
				fmt.Fprintln(stdin, "error "+err.Error())
				continue
			}
			// Closing cancelled the session still to come: each of the
			// three invited is sent its cancellation, with the UID of
			// their invitation.
			if err := checkMail(2, movedAt); err != nil {
				t.Error(err)
				fmt.Fprintln(stdin, "error "+err.Error())
				continue
			}
			fmt.Fprintln(stdin, "ok")
		case line == "ask followups 30,90":
			// What the browser set is what the server holds.
			f, err := medC.FollowUps(ctx, k.ID)
			if err != nil || len(f.Checkpoints) != 2 || f.Checkpoints[0].Days != 30 || f.Checkpoints[1].Days != 90 || f.Checkpoints[0].Answered != 0 {
				t.Errorf("follow-ups: %+v %v", f, err)
				fmt.Fprintln(stdin, "error follow-ups not as set")
				continue
			}
			fmt.Fprintln(stdin, "ok")
		case line == "ask checkin 30":
			// Thirty days on: the 30-day check-in goes out to both
			// parties, the link only; the browser answers one.
			f, _ := medC.FollowUps(ctx, k.ID)
			ahead.Store(int64(time.Until(f.Checkpoints[0].Due) + time.Minute))
			got := mp.Outbox(sentIDs(n, k.ID)).WaitFor(t, "fu-"+k.ID+"-30-", 2, 20*time.Second)
			if len(got) != 2 {
				t.Errorf("%d of 2 check-in mails arrived", len(got))
				fmt.Fprintln(stdin, "error check-in mail")
				continue
			}
			full, err := mp.Get(got[0].ID)
			i := strings.Index(full.Text, "/checkin#")
			if err != nil || i < 0 || strings.Contains(full.Text+full.Subject, "Okafor") || strings.Contains(full.Text, "Lindqvist") {
				t.Errorf("check-in mail: %v\n%s", err, full.Text)
				fmt.Fprintln(stdin, "error check-in mail")
				continue
			}
			fmt.Fprintln(stdin, "ok "+n.URL+strings.Fields(full.Text[i:])[0])
		case line == "PASS":
			passed = true
		}
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil || !passed {
		t.Fatalf("browser script: %v (passed=%v)", err, passed)
	}
	for _, name := range []string{"caseload.png", "mediator-sessions.png", "party-sessions-phone.png", "mediator-followups-form.png", "mediator-followups.png", "mediator-followups-phone.png",
		"mediator-followups-confirm.png", "mediator-followups-confirm-phone.png"} {
		if fi, err := os.Stat(filepath.Join(shots, name)); err != nil || fi.Size() < 1000 {
			t.Errorf("screenshot %s was not taken: %v", name, err)
		}
	}
}
