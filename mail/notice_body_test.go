package mail

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/internal/fault"
)

// answers returns err for every message it is given.
type answers struct{ err error }

func (a answers) Send(context.Context, *Message) error { return a.err }

const noticeText = "Records of 1 case fall due for disposal:\n\nCase 2026-CV-0142\n  evidence: 2 records already due\n"

func dueNotice(i int) Message {
	return Message{ID: fmt.Sprintf("due-20261205-u_%d", i), CaseID: NoticeOutbox, Kind: KindDueNotice,
		To: fmt.Sprintf("records%d@example.test", i), ToAccount: fmt.Sprintf("u_%d", i),
		Subject: "Records due for disposal: 1 case", Text: noticeText}
}

// TestDueNoticeBodyClearedWhateverTheEnd: records staff's notice of what
// falls due (case references and counts) keeps its text only while it is
// live: refused, out of attempts, uncertain or held in a development
// outbox, its stored record keeps who, subject, state and reason, not the
// text. Nothing resends a notice (the next day's is made anyway); asked
// to, the outbox says so in plain words.
func TestDueNoticeBodyClearedWhateverTheEnd(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		tr   Transport
		want State
	}{
		{"refused", answers{fmt.Errorf("550 no such user: %w", ErrRefused)}, Failed},
		{"out of attempts", answers{fmt.Errorf("421 try later: %w", ErrNotDelivered)}, Failed},
		{"uncertain", answers{errors.New("connection reset mid-DATA")}, Uncertain},
		{"held", nil, Held},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := New(Config{Meta: dirMeta(t), Transport: tc.tr, MaxAttempts: 1})
			if err := o.Enqueue(ctx, dueNotice(1)); err != nil {
				t.Fatal(err)
			}
			if n, err := o.RunOnce(ctx); n != 1 || err != nil {
				t.Fatalf("RunOnce: %d %v", n, err)
			}
			msgs, err := o.List(ctx, NoticeOutbox)
			if err != nil || len(msgs) != 1 {
				t.Fatalf("List: %d %v", len(msgs), err)
			}
			m := msgs[0]
			if m.State != tc.want || m.Text != "" || !m.BodyCleared || m.Subject == "" || m.To == "" || m.Done == nil {
				t.Fatalf("%s: state %s, text %q, cleared %v, subject %q, to %q, done %v", tc.name, m.State, m.Text, m.BodyCleared, m.Subject, m.To, m.Done)
			}
			if m.State == Held {
				return
			}
			_, err = o.Resend(ctx, NoticeOutbox, m.ID)
			if !errors.Is(err, fault.ErrConflict) || strings.Contains(err.Error(), "link") || !strings.Contains(err.Error(), "next day") {
				t.Fatalf("resending a notice: %v", err)
			}
		})
	}
}
