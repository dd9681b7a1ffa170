package mail

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/mailpit"
)

// Every value that reaches a mail header is refused when it carries a line
// break or a control character, and nothing is stored.
func TestHeaderInjectionRefused(t *testing.T) {
	meta := dirMeta(t)
	o := New(Config{Meta: meta})
	bad := []func(m *Message){
		func(m *Message) { m.To = "a@example.test\r\nBcc: spy@evil.test" },
		func(m *Message) { m.To = "a@example.test\nBcc: spy@evil.test" },
		func(m *Message) { m.To = "Alex <a@example.test>" },
		func(m *Message) { m.To = "a@example.test, b@example.test" },
		func(m *Message) { m.Subject = "Session\r\nBcc: spy@evil.test" },
		func(m *Message) { m.Subject = "Session\u2028Bcc: spy@evil.test" },
		func(m *Message) { m.Subject = strings.Repeat("x", MaxSubjectLen+1) },
		func(m *Message) {
			m.Attachment = &Attachment{Name: "a.ics\r\nX: y", ContentType: "text/calendar", Data: []byte("x")}
		},
		func(m *Message) {
			m.Attachment = &Attachment{Name: "a.ics", ContentType: "text/calendar\nX: y", Data: []byte("x")}
		},
		func(m *Message) { m.ID = "../../keys/records" },
	}
	for i, change := range bad {
		m := testMessage("inj", i)
		change(&m)
		err := o.Enqueue(t.Context(), m)
		if _, ok := fault.AsInvalid(err); !ok {
			t.Errorf("case %d: want a field error, got %v", i, err)
		}
	}
	msgs, err := o.List(t.Context(), "c-test")
	if err != nil || len(msgs) != 0 {
		t.Fatalf("stored %d messages after refusals (err %v)", len(msgs), err)
	}
}

// Messages arrive at a real SMTP server once each, with their attachment
// and a random Message-ID at the sender's domain that names no outbox id;
// enqueuing the same id again stores and sends nothing new.
func TestDeliveryThroughMailpit(t *testing.T) {
	raw := mailpit.FromEnv(t)
	meta := dirMeta(t)
	o := New(Config{Meta: meta, Transport: mailpitTransport(t, raw)})
	mp := raw.Outbox(sentIDs(o, "c-test"))
	pfx := prefix(t)
	for i := range 3 {
		m := testMessage(pfx, i)
		m.Attachment = &Attachment{Name: "invite.ics", ContentType: "text/calendar; method=REQUEST; charset=utf-8", Data: []byte("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")}
		for range 2 { // idempotent
			if err := o.Enqueue(t.Context(), m); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n, err := o.RunOnce(t.Context()); err != nil || n != 3 {
		t.Fatalf("RunOnce: %d, %v", n, err)
	}
	if n, err := o.RunOnce(t.Context()); err != nil || n != 0 {
		t.Fatalf("second RunOnce sent again: %d, %v", n, err)
	}
	got := mp.WaitFor(t, pfx, 3, 10*time.Second)
	if len(got) != 3 {
		t.Fatalf("arrived %d of 3", len(got))
	}
	seen := map[string]bool{}
	for _, m := range got {
		local, domain, _ := strings.Cut(m.MessageID, "@")
		if !validMessageID(local) || domain != "parley.test" || strings.Contains(m.MessageID, pfx) || seen[local] {
			t.Errorf("Message-ID %q: want 26 random base32 characters at parley.test, one per message, naming no outbox id", m.MessageID)
		}
		seen[local] = true
	}
	if n, _ := raw.WithPrefix(pfx); len(n) != 0 {
		t.Errorf("%d messages carry the outbox id in their Message-ID", len(n))
	}
	full, err := mp.Get(got[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(full.Attachments) != 1 || full.Attachments[0].FileName != "invite.ics" || !strings.HasPrefix(full.Attachments[0].ContentType, "text/calendar") {
		t.Fatalf("attachment: %+v", full.Attachments)
	}
	msgs, _ := o.List(t.Context(), "c-test")
	for _, m := range msgs {
		if m.State != Sent || m.Attempts != 1 || m.Done == nil {
			t.Errorf("%s: %s after %d attempts", m.ID, m.State, m.Attempts)
		}
	}
}

// A server that cannot be reached is retried with growing delays, and the
// message is marked failed, with the reason, after the last attempt.
func TestRetryWithBackoffThenFailed(t *testing.T) {
	clk := newClock()
	tr, err := NewSMTP(SMTPConfig{URL: "smtp://" + deadPort(t) + "?starttls=off", From: "sessions@parley.test", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	o := New(Config{Meta: dirMeta(t), Transport: tr, Now: clk.Now, Backoff: time.Minute, MaxBackoff: 10 * time.Minute, MaxAttempts: 4})
	if err := o.Enqueue(t.Context(), testMessage("retry", 1)); err != nil {
		t.Fatal(err)
	}
	var delays []time.Duration
	for attempt := 1; attempt <= 4; attempt++ {
		if _, err := o.RunOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
		m, err := o.Get(t.Context(), "c-test", "retry-0001")
		if err != nil {
			t.Fatal(err)
		}
		if m.Attempts != attempt {
			t.Fatalf("attempt %d: record says %d", attempt, m.Attempts)
		}
		if attempt == 4 {
			if m.State != Failed || m.LastError == "" {
				t.Fatalf("after the last attempt: %s %q", m.State, m.LastError)
			}
			break
		}
		if m.State != Pending {
			t.Fatalf("attempt %d: %s", attempt, m.State)
		}
		d := m.NextAttempt.Sub(clk.Now())
		delays = append(delays, d)
		// Not yet due: nothing happens.
		o.RunOnce(t.Context())
		if again, _ := o.Get(t.Context(), "c-test", "retry-0001"); again.Attempts != attempt {
			t.Fatalf("retried before its time")
		}
		clk.Add(d)
	}
	for i := 1; i < len(delays); i++ {
		if delays[i] <= delays[i-1] {
			t.Fatalf("backoff does not grow: %v", delays)
		}
	}
}

// A message claimed by a sender that stopped before recording the outcome
// is never sent again on its own: after the lease it is marked uncertain,
// and only a mediator's resend (a new message) sends it again.
func TestClaimedButUnmarkedBecomesUncertain(t *testing.T) {
	mp := mailpit.FromEnv(t)
	clk := newClock()
	meta := dirMeta(t)
	pfx := prefix(t)
	crashed := New(Config{Meta: meta, Transport: mailpitTransport(t, mp), Now: clk.Now, Node: "crashed",
		OnSendStart: func(m *Message) { panic("node stops here") }})
	mp = mp.Outbox(sentIDs(crashed, "c-test"))
	if err := crashed.Enqueue(t.Context(), testMessage(pfx, 1)); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() { recover() }()
		crashed.RunOnce(t.Context())
	}()
	m, _ := crashed.Get(t.Context(), "c-test", pfx+"-0001")
	if m.State != Sending || m.ClaimedBy != "crashed" {
		t.Fatalf("after the crash: %s by %q", m.State, m.ClaimedBy)
	}
	other := New(Config{Meta: meta, Transport: mailpitTransport(t, mp), Now: clk.Now, Node: "other", Lease: time.Minute})
	if n, _ := other.RunOnce(t.Context()); n != 0 {
		t.Fatal("a live claim was taken over")
	}
	clk.Add(time.Minute)
	if n, _ := other.RunOnce(t.Context()); n != 1 {
		t.Fatal("an expired claim was not settled")
	}
	m, _ = other.Get(t.Context(), "c-test", pfx+"-0001")
	if m.State != Uncertain || !strings.Contains(m.LastError, "may not have been delivered") {
		t.Fatalf("after the lease: %s %q", m.State, m.LastError)
	}
	other.RunOnce(t.Context())
	if got := mp.WaitFor(t, pfx, 1, 500*time.Millisecond); len(got) != 0 {
		t.Fatalf("an uncertain message was sent on its own: %d", len(got))
	}
	r, err := other.Resend(t.Context(), "c-test", m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Resend(t.Context(), "c-test", r.ID); !errors.Is(err, fault.ErrConflict) {
		t.Fatalf("resending a pending message: %v", err)
	}
	other.RunOnce(t.Context())
	if got := mp.WaitFor(t, pfx, 1, 10*time.Second); len(got) != 1 {
		t.Fatalf("resend arrived %d times", len(got))
	}
}

// Without a transport (no --smtp-url) messages are held for the
// development outbox and nothing is sent.
func TestDevelopmentOutboxHolds(t *testing.T) {
	o := New(Config{Meta: dirMeta(t)})
	if !o.Development() {
		t.Fatal("not a development outbox")
	}
	o.Enqueue(t.Context(), testMessage("dev", 1))
	if n, err := o.RunOnce(t.Context()); n != 1 || err != nil {
		t.Fatalf("%d %v", n, err)
	}
	m, _ := o.Get(t.Context(), "c-test", "dev-0001")
	if m.State != Held {
		t.Fatalf("state %s", m.State)
	}
}

// A pending reminder about a session is cancelled when the session moves;
// CancelRef leaves the ones keep says to keep.
func TestCancelRef(t *testing.T) {
	o := New(Config{Meta: dirMeta(t)})
	for i := range 3 {
		m := testMessage("ref", i)
		m.Ref = "s1"
		m.NotBefore = time.Now().Add(time.Hour)
		o.Enqueue(t.Context(), m)
	}
	if err := o.CancelRef(t.Context(), "c-test", "s1", func(m *Message) bool { return m.ID == "ref-0001" }); err != nil {
		t.Fatal(err)
	}
	msgs, _ := o.List(t.Context(), "c-test")
	for _, m := range msgs {
		want := Cancelled
		if m.ID == "ref-0001" {
			want = Pending
		}
		if m.State != want {
			t.Errorf("%s: %s, want %s", m.ID, m.State, want)
		}
	}
	var n int
	o.cfg.Meta.List(t.Context(), "outbox/due/", func(string) error { n++; return nil })
	if n != 1 {
		t.Fatalf("%d due markers left", n)
	}
}

// A sender pass that runs between Enqueue's two writes (the due marker,
// then the message) must not drop the marker: the message is sent once it
// is written. (The development outbox of a node lost invitations this way.)
func TestPassBetweenEnqueueWrites(t *testing.T) {
	clk := newClock()
	o := New(Config{Meta: dirMeta(t), Now: clk.Now})
	m := testMessage("race", 1)
	if _, err := o.cfg.Meta.Create(t.Context(), dueKey(m.CaseID, m.ID), dueMarker{NotBefore: clk.Now(), Created: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	if n, err := o.RunOnce(t.Context()); n != 0 || err != nil {
		t.Fatalf("%d %v", n, err)
	}
	// Enqueue's second write.
	m.State, m.NotBefore, m.NextAttempt, m.Created = Pending, clk.Now(), clk.Now(), clk.Now()
	if _, err := o.cfg.Meta.Create(t.Context(), msgKey(m.CaseID, m.ID), m); err != nil {
		t.Fatal(err)
	}
	if n, err := o.RunOnce(t.Context()); n != 1 || err != nil {
		t.Fatalf("the message was not sent after the marker survived: %d %v", n, err)
	}
	// A marker left alone for long (an Enqueue that never finished) is
	// tidied away, orphanAge after the sender first saw it.
	orphan := testMessage("race", 2)
	o.cfg.Meta.Create(t.Context(), dueKey(orphan.CaseID, orphan.ID), dueMarker{NotBefore: clk.Now(), Created: clk.Now()})
	o.RunOnce(t.Context())
	clk.Add(orphanAge)
	o.RunOnce(t.Context())
	var due int
	o.cfg.Meta.List(t.Context(), "outbox/due/", func(string) error { due++; return nil })
	if due != 0 {
		t.Fatalf("%d markers left", due)
	}
}
