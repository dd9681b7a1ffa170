package retention

import (
	"bytes"
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/mailpit"
	"github.com/parley-mediation/parley/mail"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/vault"
)

const recordsURL = "https://records.example.test/app"

// noticeOutbox is an outbox over e's store on e's clock, sending to mp
// (nil: a development outbox).
func (e *env) noticeOutbox(t *testing.T, mp *mailpit.Client) *mail.Outbox {
	t.Helper()
	oc := mail.Config{Meta: e.meta, Now: func() time.Time { return e.clock }}
	if mp != nil {
		tr, err := mail.NewSMTP(mail.SMTPConfig{URL: "smtp://" + mp.SMTP + "?starttls=off", From: "records@program.test", Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		oc.Transport = tr
	}
	return mail.New(oc)
}

func notices(t *testing.T, o *mail.Outbox) []mail.Message {
	t.Helper()
	msgs, err := o.List(t.Context(), mail.NoticeOutbox)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// TestDueNoticeThroughMailpit: records falling due within the notice's
// window reach records staff — both records accounts, not the mediator,
// the administrator (who may plan, but is not records staff) or the party
// — through a real SMTP server, one message each, by case reference with
// counts per class (already due, falling due, on legal hold) and the link
// to the records screen, and nothing else: no title, no party's name, no
// document's name, no hold's reason, no internal id. A second run the same
// day, by another node, sends nothing new, even without the day's record
// that a run was made (the message ids are the day's); the next day's run
// queues the next day's notice.
func TestDueNoticeThroughMailpit(t *testing.T) {
	t.Parallel()
	mp := mailpit.FromEnv(t)
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		ctx := t.Context()
		for _, r := range []policy.RetentionRule{
			{Class: "evidence", Trigger: policy.TriggerCaseClosed, Days: 30},
			{Class: "correspondence", Trigger: policy.TriggerCaseClosed, Days: 10},
		} {
			if _, err := e.setRule(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		c, err := e.cases.Create(ctx, e.mediator, cases.NewCase{Title: "Okafor v. Lind", Type: "workplace", SideLabels: []string{"Employee", "Employer"}, Reference: "2026-CV-0142"})
		if err != nil {
			t.Fatal(err)
		}
		inv, err := e.cases.CreateInvite(ctx, e.mediator, c.ID, cases.NewInvite{Role: cases.RoleParty, Side: "A", Name: "Ola Okafor", Email: "ola@example.test"})
		if err != nil {
			t.Fatal(err)
		}
		j, err := e.cases.Join(ctx, inv.Token)
		if err != nil {
			t.Fatal(err)
		}
		docs := map[string]string{}
		for name, class := range map[string]vault.Class{"Okafor exhibit": vault.ClassEvidence, "Lind pay slips": vault.ClassEvidence, "Letter to Lind": vault.ClassCorrespondence} {
			d, err := e.vault.Upload(ctx, e.mediator, c.ID, vault.NewDocument{Name: name + ".pdf", MediaType: "application/pdf", Audience: vault.Audience{Kind: policy.AudienceJoint}, Class: class}, bytes.NewReader(content(name)))
			if err != nil {
				t.Fatal(err)
			}
			docs[name] = d.ID
		}
		if _, err := e.ret.HoldDocument(ctx, e.records, c.ID, docs["Lind pay slips"], true, "Subpoena from Lind's counsel", "Order 2026-114"); err != nil {
			t.Fatal(err)
		}
		closed, err := e.cases.SetStage(ctx, e.mediator, c.ID, cases.StageClosure, "")
		if err != nil {
			t.Fatal(err)
		}
		// Twenty days on: the letter was due ten days ago, the evidence is
		// due in ten, within the 14 days the notice looks ahead.
		e.clock = e.clock.Add(20 * 24 * time.Hour)
		out := e.noticeOutbox(t, mp)
		n := Notices{Outbox: out, Days: DefaultNoticeDays, URL: recordsURL}
		queued, err := e.ret.NoticeOnce(ctx, n)
		if err != nil || queued != 2 {
			t.Fatalf("NoticeOnce: %d queued, %v; want 2", queued, err)
		}
		if _, err := out.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		sent := func() (map[string]string, error) {
			ids := map[string]string{}
			msgs, err := out.List(context.Background(), mail.NoticeOutbox)
			for _, m := range msgs {
				ids[m.MessageID] = m.ID
			}
			return ids, err
		}
		box := mp.Outbox(sent)
		got := box.WaitFor(t, "due-", 2, 15*time.Second)
		var to []string
		for _, s := range got {
			for _, a := range s.To {
				to = append(to, a.Address)
			}
		}
		slices.Sort(to)
		want := []string{e.records.Email, e.records2.Email}
		slices.Sort(want)
		if !slices.Equal(to, want) {
			t.Fatalf("sent to %v, want the records staff only %v (mediator %s, admin %s)", to, want, e.mediator.Email, e.admin.Email)
		}
		first := closed.Closed.Add(30 * 24 * time.Hour).UTC().Format("2 January 2006")
		for _, s := range got {
			full, err := box.Get(s.ID)
			if err != nil {
				t.Fatal(err)
			}
			text := full.Text
			for _, w := range []string{"Case 2026-CV-0142", "correspondence: 1 record already due",
				"evidence: 1 record falling due (the first on " + first + "); 1 record on legal hold (kept)", recordsURL} {
				if !strings.Contains(text, w) {
					t.Errorf("the notice lacks %q:\n%s", w, text)
				}
			}
			for _, w := range []string{"Okafor", "Lind", "exhibit", "pay slips", "Letter", "Subpoena", "Order 2026-114", "workplace", "Employee",
				c.ID, docs["Okafor exhibit"], docs["Lind pay slips"], docs["Letter to Lind"], j.Account.ID, e.records.ID, e.records2.ID, "u_", "c_", "d_"} {
				if strings.Contains(full.Subject+"\n"+text, w) {
					t.Errorf("the notice carries %q:\n%s\n%s", w, full.Subject, text)
				}
			}
		}
		// Another node, later the same day: nothing new, with or without
		// the day's record of the run.
		other := openEnv(t, store, e.mk)
		other.clock = e.clock.Truncate(24 * time.Hour).Add(24*time.Hour - time.Minute) // the day's last minute (UTC)
		if q, err := other.ret.NoticeOnce(ctx, n); err != nil || q != 0 {
			t.Fatalf("second run the same day: %d queued, %v", q, err)
		}
		if err := e.meta.Delete(ctx, noticeDayKey(e.clock)); err != nil {
			t.Fatal(err)
		}
		if _, err := other.ret.NoticeOnce(ctx, n); err != nil {
			t.Fatal(err)
		}
		if _, err := out.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		msgs := notices(t, out)
		if len(msgs) != 2 {
			t.Fatalf("%d notices in the outbox after a second run the same day, want 2", len(msgs))
		}
		for _, m := range msgs {
			if m.State != mail.Sent {
				t.Fatalf("%s: %s", m.ID, m.State)
			}
		}
		if got := box.WaitFor(t, "due-", 3, 0); len(got) != 2 {
			t.Fatalf("%d notices arrived, want 2", len(got))
		}
		// The next day: the next day's notice.
		e.clock = e.clock.Add(24 * time.Hour)
		if q, err := e.ret.NoticeOnce(ctx, n); err != nil || q != 2 {
			t.Fatalf("the next day: %d queued, %v", q, err)
		}
	})
}

// TestDueNoticeNothingDue: when nothing falls due within the window (a
// closed case whose records are due in 30 days, an open one never), no
// notice is queued, however often it runs.
func TestDueNoticeNothingDue(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		ctx := t.Context()
		tcs := e.newCases(t, map[string]vault.Class{"notes": vault.ClassMediatorNotes}, map[string]vault.Class{"exhibit": vault.ClassEvidence})
		e.close(t, tcs[0])
		out := e.noticeOutbox(t, nil)
		for range 2 {
			if q, err := e.ret.NoticeOnce(ctx, Notices{Outbox: out, Days: DefaultNoticeDays, URL: recordsURL}); err != nil || q != 0 {
				t.Fatalf("nothing due: %d queued, %v", q, err)
			}
		}
		if msgs := notices(t, out); len(msgs) != 0 {
			t.Fatalf("nothing due, yet %d notices: %+v", len(msgs), msgs)
		}
		// Sixteen days on the mediator's notes and the message history of
		// the closed case are due in 14 days: now there is something.
		e.clock = e.clock.Add(16*24*time.Hour + time.Hour)
		if q, err := e.ret.NoticeOnce(ctx, Notices{Outbox: out, Days: DefaultNoticeDays, URL: recordsURL}); err != nil || q != 2 {
			t.Fatalf("records due: %d queued, %v", q, err)
		}
	})
}

// TestDueNoticeCheckedBeforeSending: a notice queued for a records clerk
// whose account is disabled before it goes out is not sent (the outbox
// asks NoticeCurrent, as server.Node wires it); the other clerk's is.
func TestDueNoticeCheckedBeforeSending(t *testing.T) {
	t.Parallel()
	store, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, store)
	ctx := t.Context()
	tc := e.newCase(t, map[string]vault.Class{"notes": vault.ClassMediatorNotes})
	e.close(t, tc)
	e.clock = e.clock.Add(20 * 24 * time.Hour)
	out := mail.New(mail.Config{Meta: e.meta, Now: func() time.Time { return e.clock }, Current: e.ret.NoticeCurrent})
	if q, err := e.ret.NoticeOnce(ctx, Notices{Outbox: out}); err != nil || q != 2 {
		t.Fatalf("%d queued, %v", q, err)
	}
	if _, err := e.accounts.Disable(ctx, e.records2.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := out.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	for _, m := range notices(t, out) {
		want := mail.Held // the development outbox's "sent"
		if m.ToAccount == e.records2.ID {
			want = mail.Cancelled
		}
		if m.State != want {
			t.Errorf("the notice to %s: %s, want %s", m.To, m.State, want)
		}
	}
}

// TestDueNoticeTextBounded: however many cases fall due, the notice stays
// within what the outbox takes, lists what fits and counts the rest.
func TestDueNoticeTextBounded(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	var items []Item
	for i := range 2000 {
		for _, class := range []string{"evidence", "correspondence", policy.ClassMessageHistory} {
			items = append(items, Item{Case: "c" + strconv.Itoa(i), Reference: "2026-CV-" + strconv.Itoa(1000+i), Class: class, DueAt: now.Add(time.Duration(i) * time.Minute)})
		}
	}
	sum := summarize(items, nil, now)
	_, text := noticeText(sum, len(sum), now.Add(14*24*time.Hour), 14, recordsURL)
	if len(text) > mail.MaxTextLen {
		t.Fatalf("%d bytes, more than the outbox takes (%d)", len(text), mail.MaxTextLen)
	}
	listed := strings.Count(text, "Case 2026-CV-")
	if listed == 0 || !strings.Contains(text, "And "+strconv.Itoa(2000-listed)+" more: the records screen lists them all.") || !strings.Contains(text, recordsURL) {
		t.Fatalf("%d listed:\n%s", listed, text)
	}
}

// TestDueNoticeGathersWhatItShows: the notice's search keeps no more
// cases than its text can list, however many fall due and in whatever
// order its workers find them, and the notice it makes is the one it
// would make from every case: the same cases listed, the rest counted.
// The cases here are the shortest a notice lists (one-character
// references, the shortest class, one record each), so the most fit.
func TestDueNoticeGathersWhatItShows(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	const n = 3000
	var all []*dueCase
	for i := range n {
		ref := string(rune('A' + i%26))
		it := Item{Case: "c" + strconv.Itoa(i), Reference: ref, Class: string(vault.ClassAdmin), DueAt: now.Add(-time.Duration(i%500) * time.Minute)}
		all = append(all, summarize([]Item{it}, nil, now)...)
	}
	var g noticeCases
	order := rand.Perm(n)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for j := w; j < n; j += 8 {
				g.add(all[order[j]])
				g.mu.Lock()
				kept := len(g.kept)
				g.mu.Unlock()
				if kept >= 2*maxNoticeCases {
					t.Errorf("%d cases kept while gathering, want fewer than %d", kept, 2*maxNoticeCases)
				}
			}
		})
	}
	wg.Wait()
	got, total := g.gathered()
	if total != n || len(got) > maxNoticeCases {
		t.Fatalf("gathered %d of %d cases (counted %d), want at most %d kept", len(got), n, total, maxNoticeCases)
	}
	sortDueCases(all)
	until := now.Add(14 * 24 * time.Hour)
	_, want := noticeText(all, n, until, 14, recordsURL)
	_, text := noticeText(got, total, until, 14, recordsURL)
	if text != want {
		t.Fatalf("the notice from what was gathered differs from the one from every case:\n%s\n---\n%s", text, want)
	}
	if listed := strings.Count(text, "\nCase "); listed == 0 || listed >= len(got) && len(got) < n {
		t.Fatalf("%d cases listed of %d kept: the bound cut what the notice lists", listed, len(got))
	}
}

// TestDueNoticeSaysWhatItCarries: a reference is the program's text,
// letters and spaces allowed, so a program may have written a name into
// one; the notice carries it as stored, and its own words claim no more
// than that: the reference as the program wrote it, nothing else about
// the case.
func TestDueNoticeSaysWhatItCarries(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	items := []Item{{Case: "c1", Reference: "RIVERA V. CHEN", Class: "evidence", DueAt: now.Add(-time.Hour)}}
	_, text := noticeText(summarize(items, nil, now), 1, now.Add(14*24*time.Hour), 14, recordsURL)
	for _, w := range []string{
		"Case RIVERA V. CHEN\n",
		"each case's reference as your program recorded it, and nothing else about the case",
	} {
		if !strings.Contains(text, w) {
			t.Errorf("the notice lacks %q:\n%s", w, text)
		}
	}
	if strings.Contains(text, "case references, record classes and counts only") {
		t.Errorf("the notice still claims to carry references and counts only:\n%s", text)
	}
}
