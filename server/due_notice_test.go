package server_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/mailpit"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/mail"
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
