package mail

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/mailpit"
)

const linkToken = "tok_0123456789abcdefghijklmnop"

func linkMessage(pfx string, i int) Message {
	m := testMessage(pfx, i)
	m.Kind = KindJoin
	m.Text = "Open this link to join: https://parley.test/join#" + linkToken
	return m
}

// TestFinalBodiesCleared: a message's body is cleared from its stored
// record once it is final — sent, failed, uncertain or cancelled — when it
// carries a link (a bearer token); a failed or uncertain message without a
// link keeps its body, which a mediator's resend sends again; a held
// message (the development outbox) keeps its body, which the browser
// shows the developer. A link message whose body is gone is not resent.
func TestFinalBodiesCleared(t *testing.T) {
	mp := mailpit.FromEnv(t)
	ctx := t.Context()
	cleared := func(t *testing.T, o *Outbox, id string, want State) {
		t.Helper()
		m, err := o.Get(ctx, "c-test", id)
		if err != nil {
			t.Fatal(err)
		}
		if m.State != want {
			t.Fatalf("%s is %s, want %s", id, m.State, want)
		}
		if strings.Contains(m.Text, linkToken) || !m.BodyCleared || m.Subject == "" || m.To == "" || m.Done == nil {
			t.Fatalf("%s (%s): text %q, cleared %v, subject %q, to %q, done %v", id, m.State, m.Text, m.BodyCleared, m.Subject, m.To, m.Done)
		}
	}
	t.Run("sent", func(t *testing.T) {
		o := New(Config{Meta: dirMeta(t), Transport: mailpitTransport(t, mp)})
		pfx := prefix(t)
		inv := testMessage(pfx, 2)
		inv.Attachment = &Attachment{Name: "invite.ics", ContentType: "text/calendar", Data: []byte("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")}
		for _, m := range []Message{linkMessage(pfx, 1), inv} {
			if err := o.Enqueue(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := o.RunOnce(ctx); n != 2 || err != nil {
			t.Fatalf("RunOnce: %d %v", n, err)
		}
		got := mp.Outbox(sentIDs(o, "c-test")).WaitFor(t, pfx, 2, 10*time.Second)
		if len(got) != 2 {
			t.Fatalf("arrived %d of 2", len(got))
		}
		cleared(t, o, pfx+"-0001", Sent)
		m, _ := o.Get(ctx, "c-test", pfx+"-0002")
		if m.Text != "" || m.Attachment == nil || m.Attachment.Name != "invite.ics" || len(m.Attachment.Data) != 0 {
			t.Fatalf("a sent message's body and attachment are kept: %q %+v", m.Text, m.Attachment)
		}
	})
	t.Run("failed", func(t *testing.T) {
		tr, err := NewSMTP(SMTPConfig{URL: "smtp://" + deadPort(t) + "?starttls=off", From: "sessions@parley.test", Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		o := New(Config{Meta: dirMeta(t), Transport: tr, MaxAttempts: 1})
		pfx := prefix(t)
		o.Enqueue(ctx, linkMessage(pfx, 1))
		o.Enqueue(ctx, testMessage(pfx, 2))
		if n, err := o.RunOnce(ctx); n != 2 || err != nil {
			t.Fatalf("RunOnce: %d %v", n, err)
		}
		cleared(t, o, pfx+"-0001", Failed)
		if _, err := o.Resend(ctx, "c-test", pfx+"-0001"); !errors.Is(err, fault.ErrConflict) || !strings.Contains(err.Error(), "new link") {
			t.Fatalf("resending a link whose body is gone: %v", err)
		}
		kept, _ := o.Get(ctx, "c-test", pfx+"-0002")
		if kept.State != Failed || kept.Text != testMessage(pfx, 2).Text || kept.BodyCleared {
			t.Fatalf("a failed message without a link: %s %q", kept.State, kept.Text)
		}
		if _, err := o.Resend(ctx, "c-test", pfx+"-0002"); err != nil {
			t.Fatalf("resending a failed message without a link: %v", err)
		}
	})
	t.Run("uncertain", func(t *testing.T) {
		clk := newClock()
		meta := dirMeta(t)
		pfx := prefix(t)
		crashed := New(Config{Meta: meta, Transport: mailpitTransport(t, mp), Now: clk.Now, Node: "crashed",
			OnSendStart: func(m *Message) { panic("node stops here") }})
		crashed.Enqueue(ctx, linkMessage(pfx, 1))
		func() {
			defer func() { recover() }()
			crashed.RunOnce(ctx)
		}()
		other := New(Config{Meta: meta, Transport: mailpitTransport(t, mp), Now: clk.Now, Node: "other", Lease: time.Minute})
		clk.Add(time.Minute)
		if n, _ := other.RunOnce(ctx); n != 1 {
			t.Fatal("the expired claim was not settled")
		}
		cleared(t, other, pfx+"-0001", Uncertain)
	})
	t.Run("cancelled", func(t *testing.T) {
		o := New(Config{Meta: dirMeta(t), Transport: mailpitTransport(t, mp)})
		pfx := prefix(t)
		m := linkMessage(pfx, 1)
		m.Ref, m.NotBefore = "s-1", time.Now().Add(time.Hour)
		o.Enqueue(ctx, m)
		if err := o.CancelRef(ctx, "c-test", "s-1", func(*Message) bool { return false }); err != nil {
			t.Fatal(err)
		}
		cleared(t, o, pfx+"-0001", Cancelled)
	})
	t.Run("held", func(t *testing.T) {
		o := New(Config{Meta: dirMeta(t)})
		o.Enqueue(ctx, linkMessage("dev", 1))
		if n, err := o.RunOnce(ctx); n != 1 || err != nil {
			t.Fatalf("%d %v", n, err)
		}
		m, _ := o.Get(ctx, "c-test", "dev-0001")
		if m.State != Held || !strings.Contains(m.Text, linkToken) || m.BodyCleared {
			t.Fatalf("the development outbox lost the link it shows: %s %q", m.State, m.Text)
		}
	})
}
