package retention

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/mail"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/vault"
)

// TestDueNoticeRecordsCollected: the records a day's notice leaves — its
// day's record and its messages once final, every stored version of each,
// and the spent due markers an earlier release's outbox left behind a
// delete marker — are collected by the notice pass once they are
// NoticeKeepDays old, at most Notices.Collect keys a pass, the oldest
// first; the records of the days since stay, and so does an old notice not
// sent yet, with its due marker. A final notice's own due marker is gone,
// every version, as soon as it is final (the outbox deletes it).
func TestDueNoticeRecordsCollected(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		ctx := t.Context()
		tc := e.newCase(t, map[string]vault.Class{"notes": vault.ClassMediatorNotes})
		e.close(t, tc)
		e.clock = e.clock.Add(20 * 24 * time.Hour)
		out := e.noticeOutbox(t, nil)
		n := Notices{Outbox: out}
		// Two days of notices, each sent (held: the development outbox's
		// final state), and one of the first day not sent yet.
		day0 := e.clock
		var sent [2][]mail.Message
		for d := range 2 {
			if q, err := e.ret.NoticeOnce(ctx, n); err != nil || q != 2 {
				t.Fatalf("day %d: %d queued, %v", d, q, err)
			}
			if _, err := out.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			for _, m := range notices(t, out) {
				if strings.HasPrefix(m.ID, noticeID(e.clock, "")) && m.State != mail.Pending {
					sent[d] = append(sent[d], m)
				}
			}
			if len(sent[d]) != 2 {
				t.Fatalf("day %d: %d notices final, want 2", d, len(sent[d]))
			}
			if d == 0 {
				unsent := mail.Message{ID: noticeID(day0, "u_unsent"), CaseID: mail.NoticeOutbox, Kind: mail.KindDueNotice,
					To: "unsent@example.test", ToAccount: "u_unsent", Subject: "Records due for disposal: 1 case", Text: "not sent yet",
					NotBefore: day0.Add(365 * 24 * time.Hour)}
				if err := out.Enqueue(ctx, unsent); err != nil {
					t.Fatal(err)
				}
			}
			e.clock = e.clock.Add(24 * time.Hour)
		}
		msgKey := func(m mail.Message) string { return "outbox/cases/" + mail.NoticeOutbox + "/" + m.ID }
		dueKey := func(m mail.Message) string { return "outbox/due/" + mail.NoticeOutbox + "/" + m.ID }
		stored := func(key string) bool {
			t.Helper()
			vs, err := store.Versions(ctx, key)
			if errors.Is(err, objstore.ErrNotFound) {
				return false
			}
			if err != nil {
				t.Fatal(err)
			}
			return len(vs) > 0
		}
		// A final message's due marker is deleted, every version, by the
		// outbox; the message stays until collected.
		for _, m := range append(sent[0], sent[1]...) {
			if !stored(msgKey(m)) {
				t.Fatalf("%s: not stored before the collection", m.ID)
			}
			if stored(dueKey(m)) {
				t.Errorf("%s: its due marker left stored versions once final", m.ID)
			}
		}
		// What an earlier release's outbox left of a final notice of the
		// first day: its due marker behind a delete marker.
		earlier := mail.Message{ID: noticeID(day0, "u_earlier"), CaseID: mail.NoticeOutbox}
		if _, err := e.meta.Create(ctx, dueKey(earlier), map[string]time.Time{"notBefore": day0, "created": day0}); err != nil {
			t.Fatal(err)
		}
		if err := store.Delete(ctx, dueKey(earlier), ""); err != nil {
			t.Fatal(err)
		}
		if !stored(dueKey(earlier)) {
			t.Fatal("the earlier release's spent due marker is not stored")
		}
		// The first day on which the first day's records are old.
		e.clock = day0.Add((NoticeKeepDays + 1) * 24 * time.Hour)
		// One key a pass: the first day's record only, the oldest.
		if _, err := e.ret.NoticeOnce(ctx, Notices{Outbox: out, Collect: 1}); err != nil {
			t.Fatal(err)
		}
		if stored(noticeDayKey(day0)) {
			t.Errorf("the day's record of %s is kept %d days on", day0.Format(time.DateOnly), NoticeKeepDays+1)
		}
		if !stored(noticeDayKey(day0.Add(24 * time.Hour))) {
			t.Errorf("the next day's record is gone %d days on", NoticeKeepDays)
		}
		for _, m := range sent[0] {
			if !stored(msgKey(m)) {
				t.Errorf("%s: collected in a pass that may collect only one key, already taken", m.ID)
			}
		}
		if !stored(dueKey(earlier)) {
			t.Errorf("a spent due marker collected in a pass that may collect only one key, already taken")
		}
		// The next pass takes the rest that is old.
		if _, err := e.ret.NoticeOnce(ctx, n); err != nil {
			t.Fatal(err)
		}
		for _, m := range sent[0] {
			if stored(msgKey(m)) || stored(dueKey(m)) {
				t.Errorf("%s (%s): kept %d days on (message %v, due marker %v)", m.ID, m.State, NoticeKeepDays+1, stored(msgKey(m)), stored(dueKey(m)))
			}
		}
		if stored(dueKey(earlier)) {
			t.Errorf("the spent due marker an earlier release left is kept %d days on", NoticeKeepDays+1)
		}
		for _, m := range sent[1] {
			if !stored(msgKey(m)) {
				t.Errorf("%s: collected %d days on", m.ID, NoticeKeepDays)
			}
		}
		unsent, err := out.Get(ctx, mail.NoticeOutbox, noticeID(day0, "u_unsent"))
		if err != nil || unsent.State != mail.Pending {
			t.Fatalf("the notice not sent yet: %+v, %v", unsent, err)
		}
		if !stored(dueKey(unsent)) {
			t.Errorf("the due marker of the notice not sent yet is gone")
		}
		if !stored(noticeDayKey(e.clock)) || !stored(noticeDayKey(day0.Add(24*time.Hour))) {
			t.Errorf("a recent day's record is gone")
		}
	})
}

// TestDueNoticeOffOnlyCollects: with the notice Off (`--due-notice-days
// 0`) a pass makes no notice, however much is due, and writes no day's
// record, but still collects what notices left while it was on.
func TestDueNoticeOffOnlyCollects(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		ctx := t.Context()
		tc := e.newCase(t, map[string]vault.Class{"notes": vault.ClassMediatorNotes})
		e.close(t, tc)
		e.clock = e.clock.Add(20 * 24 * time.Hour)
		out := e.noticeOutbox(t, nil)
		old := e.clock.AddDate(0, 0, -NoticeKeepDays-3)
		if _, err := e.meta.Create(ctx, noticeDayKey(old), noticeDay{Made: old, Recipients: 2, Cases: 1}); err != nil {
			t.Fatal(err)
		}
		if q, err := e.ret.NoticeOnce(ctx, Notices{Outbox: out, Off: true}); err != nil || q != 0 {
			t.Fatalf("a pass with the notice off: %d queued, %v", q, err)
		}
		if msgs := notices(t, out); len(msgs) != 0 {
			t.Errorf("a pass with the notice off queued %d notices", len(msgs))
		}
		for _, k := range []string{noticeDayKey(old), noticeDayKey(e.clock)} {
			if _, err := store.Versions(ctx, k); !errors.Is(err, objstore.ErrNotFound) {
				t.Errorf("%s: stored after a pass with the notice off (%v)", k, err)
			}
		}
	})
}
