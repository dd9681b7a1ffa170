package mail

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLastErrorIsPlainWords: what a mediator is shown of a failed send
// (LastError) is a short reason in plain words, never the transport's
// error (before: "dial tcp 127.0.0.1:…: connect: connection refused",
// addresses and all); the raw error goes to the server log only.
func TestLastErrorIsPlainWords(t *testing.T) {
	clk := newClock()
	tr, err := NewSMTP(SMTPConfig{URL: "smtp://" + deadPort(t) + "?starttls=off", From: "sessions@parley.test", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	o := New(Config{Meta: dirMeta(t), Transport: tr, Now: clk.Now, Backoff: time.Minute, MaxBackoff: time.Minute, MaxAttempts: 2,
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err := o.Enqueue(t.Context(), testMessage("reason", 1)); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; attempt <= 2; attempt++ {
		if _, err := o.RunOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
		m, err := o.Get(t.Context(), "c-test", "reason-0001")
		if err != nil {
			t.Fatal(err)
		}
		want := "The mail server could not be reached; Parley will try again."
		if attempt == 2 {
			want = "The mail server could not be reached; Parley stopped trying. Resend the message once mail works again."
		}
		if m.Attempts != attempt || m.LastError != want {
			t.Fatalf("attempt %d (record: %d): LastError %q, want %q", attempt, m.Attempts, m.LastError, want)
		}
		clk.Add(m.NextAttempt.Sub(clk.Now()))
	}
	if !strings.Contains(logs.String(), "127.0.0.1") {
		t.Fatalf("the raw error is not in the server log: %s", logs.String())
	}
}
