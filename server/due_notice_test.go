package server_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/mailpit"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/mail"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
	"github.com/parley-mediation/parley/vault"
)

// TestDueNoticeOnceAcrossNodes: two serving nodes on one bucket, each
// running records staff's daily notice (--due-notice-days 14), send it
// once to each records clerk through a real SMTP server, and to nobody
// else; it names the case by reference and links the records screen.
func TestDueNoticeOnceAcrossNodes(t *testing.T) {
	mp := mailpit.FromEnv(t)
	cfg := nodetest.Scale(t)
	setup := nodetest.Start(t, cfg) // no notice: DueNoticeDays 0
	ctx := context.Background()
	sfx := time.Now().Format("150405.000000000")
	rec1, _ := setup.Staff(t, policy.RoleRecords, "rec1-"+sfx+"@example.org")
	rec2, _ := setup.Staff(t, policy.RoleRecords, "rec2-"+sfx+"@example.org")
	setup.Staff(t, policy.RoleAdmin, "admin-"+sfx+"@example.org")
	med, _ := setup.Staff(t, policy.RoleMediator, "med-"+sfx+"@example.org")
	res, err := setup.Retention.SetRule(ctx, rec1, policy.RetentionRule{Class: "evidence", Trigger: policy.TriggerCaseClosed, Days: 5})
	if err != nil {
		t.Fatal(err)
	}
	if res.Pending != nil {
		if _, _, err := setup.Retention.ApproveScheduleChange(ctx, rec2, res.Pending.ID); err != nil {
			t.Fatal(err)
		}
	}
	c, err := setup.Cases.Create(ctx, med, cases.NewCase{Title: "Okafor v. Lind", Type: "workplace", SideLabels: []string{"Employee", "Employer"}, Reference: "2026-CV-0142"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := setup.Vault.Upload(ctx, med, c.ID, vault.NewDocument{Name: "Okafor exhibit.pdf", MediaType: "application/pdf",
		Audience: vault.Audience{Kind: policy.AudienceJoint}, Class: vault.ClassEvidence}, bytes.NewReader([]byte("exhibit"))); err != nil {
		t.Fatal(err)
	}
	if _, err := setup.Cases.SetStage(ctx, med, c.ID, cases.StageClosure, ""); err != nil {
		t.Fatal(err)
	}
	cfg.SMTPURL, cfg.MailFrom, cfg.DueNoticeDays = "smtp://"+mp.SMTP+"?starttls=off", "records@program.test", 14
	a := nodetest.Start(t, cfg)
	nodetest.Start(t, cfg)
	sent := func() (map[string]string, error) {
		msgs, err := a.Outbox.List(context.Background(), mail.NoticeOutbox)
		ids := map[string]string{}
		for _, m := range msgs {
			ids[m.MessageID] = m.ID
		}
		return ids, err
	}
	box := mp.Outbox(sent)
	got := box.WaitFor(t, "due-", 2, 20*time.Second)
	var to []string
	for _, s := range got {
		to = append(to, s.To[0].Address)
		full, err := box.Get(s.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []string{"Case 2026-CV-0142", "evidence: 1 record falling due", a.URL + "/app"} {
			if !strings.Contains(full.Text, w) {
				t.Errorf("the notice lacks %q:\n%s", w, full.Text)
			}
		}
		if strings.Contains(full.Text, "Okafor") || strings.Contains(full.Text, c.ID) {
			t.Errorf("the notice names the case's title or id:\n%s", full.Text)
		}
	}
	slices.Sort(to)
	if want := []string{rec1.Email, rec2.Email}; !slices.Equal(to, want) {
		t.Fatalf("sent to %v, want %v", to, want)
	}
	// Both nodes made their pass: the outbox holds the two, both sent.
	deadline := time.Now().Add(10 * time.Second)
	for {
		msgs, err := a.Outbox.List(ctx, mail.NoticeOutbox)
		if err != nil {
			t.Fatal(err)
		}
		done := len(msgs) == 2
		for _, m := range msgs {
			done = done && m.State == mail.Sent
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("notices: %+v", msgs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDueNoticeDaysBounded: --due-notice-days outside 0 to 366 is refused
// in one line naming the flag and its range, before anything is opened.
func TestDueNoticeDaysBounded(t *testing.T) {
	for _, days := range []int{-1, 367} {
		_, err := server.Open(context.Background(), server.Config{DataDir: t.TempDir(), DueNoticeDays: days})
		if err == nil || !strings.Contains(err.Error(), "--due-notice-days: from 0 (no notice) to 366 days ahead") {
			t.Errorf("%d days: %v", days, err)
		}
	}
}

// TestDueNoticeOffStillCollects: with the notice turned off
// (--due-notice-days 0) a serving node makes no notice, but its passes
// still collect what notices left while it was on, every stored version,
// once the week after their day has passed; a recent day's record stays.
func TestDueNoticeOffStillCollects(t *testing.T) {
	cfg := nodetest.Scale(t) // DueNoticeDays 0: no notice
	a := nodetest.Start(t, cfg)
	ctx := context.Background()
	store := a.Meta.Objects()
	oldDay, recentDay := "retention/notices/2020-01-01", "retention/notices/"+time.Now().UTC().Format(time.DateOnly)
	for _, k := range []string{oldDay, recentDay} {
		if _, err := a.Meta.Create(ctx, k, map[string]any{"made": time.Now(), "recipients": 1, "cases": 1}); err != nil {
			t.Fatal(err)
		}
	}
	// A notice of that old day, sent while the notice was on (here: its
	// recipient gone, so cancelled; final either way).
	old := mail.Message{ID: "due-20200101-u_gone", CaseID: mail.NoticeOutbox, Kind: mail.KindDueNotice,
		To: "gone@example.org", ToAccount: "u_gone", Subject: "Records due for disposal: 1 case", Text: "Case 2019-CV-0001"}
	if err := a.Outbox.Enqueue(ctx, old); err != nil {
		t.Fatal(err)
	}
	oldMsg := "outbox/cases/" + mail.NoticeOutbox + "/" + old.ID
	poll := func(what string, done func() (bool, error)) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			ok, err := done()
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not after 20 s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	poll("the old notice final", func() (bool, error) {
		m, err := a.Outbox.Get(ctx, mail.NoticeOutbox, old.ID)
		return err == nil && m.State != mail.Pending && m.State != mail.Sending, nil
	})
	stored := func(key string) (bool, error) {
		vs, err := store.Versions(ctx, key)
		if errors.Is(err, objstore.ErrNotFound) {
			return false, nil
		}
		return len(vs) > 0, err
	}
	// A node started now makes its first pass at once.
	nodetest.Start(t, cfg)
	poll("the old notice's records collected", func() (bool, error) {
		day, err := stored(oldDay)
		if err != nil || day {
			return false, err
		}
		msg, err := stored(oldMsg)
		return !msg, err
	})
	if ok, err := stored(recentDay); err != nil || !ok {
		t.Fatalf("today's record is gone (%v)", err)
	}
	if msgs, err := a.Outbox.List(ctx, mail.NoticeOutbox); err != nil || len(msgs) != 0 {
		t.Fatalf("notices in the outbox with the notice off: %+v, %v", msgs, err)
	}
}
