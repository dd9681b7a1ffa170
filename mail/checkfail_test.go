package mail

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A message whose send-time check keeps failing is not re-read forever:
// each failed check waits longer than the one before, and after
// MaxAttempts of them the message is recorded as failed, in plain words,
// and its due marker is gone, so later passes do not read it. No attempt
// to send is counted, since none was made.
func TestCurrentErrorsAreBounded(t *testing.T) {
	const max = 4
	clk := newClock()
	meta := dirMeta(t)
	checks := 0
	o := New(Config{Meta: meta, Now: clk.Now, Backoff: time.Minute, MaxBackoff: 10 * time.Minute, MaxAttempts: max,
		Current: func(context.Context, *Message) (bool, error) {
			checks++
			return false, errors.New("the store did not answer")
		}})
	ctx := t.Context()
	if err := o.Enqueue(ctx, testMessage("chk", 1)); err != nil {
		t.Fatal(err)
	}
	var delays []time.Duration
	var m Message
	for pass := 1; pass <= max; pass++ {
		if n, _ := o.RunOnce(ctx); pass < max && n != 0 {
			t.Fatalf("pass %d: %d finished", pass, n)
		}
		var err error
		if m, err = o.Get(ctx, "c-test", "chk-0001"); err != nil {
			t.Fatal(err)
		}
		if checks != pass || m.Attempts != 0 || m.ClaimedBy != "" {
			t.Fatalf("pass %d: %d checks, %d attempts, claimed by %q", pass, checks, m.Attempts, m.ClaimedBy)
		}
		if m.State != Pending {
			break
		}
		d := m.NextAttempt.Sub(clk.Now())
		delays = append(delays, d)
		// Not due again yet: not checked again.
		o.RunOnce(ctx)
		if checks != pass {
			t.Fatalf("pass %d: checked again before its backoff passed", pass)
		}
		clk.Add(d)
	}
	if m.State != Failed || m.Done == nil || m.LastError != "could not confirm it was still wanted when its time came; not sent" {
		t.Fatalf("after %d failed checks: %s (done %v) %q, want failed", checks, m.State, m.Done, m.LastError)
	}
	for i := 1; i < len(delays); i++ {
		if delays[i] <= delays[i-1] {
			t.Fatalf("the delay between checks does not grow: %v", delays)
		}
	}
	var mk dueMarker
	if _, err := meta.Get(ctx, dueKey("c-test", "chk-0001"), &mk); err == nil {
		t.Fatalf("the failed message's due marker is still there: %+v", mk)
	}
	clk.Add(24 * time.Hour)
	o.RunOnce(ctx)
	if checks != max {
		t.Fatalf("checked %d times, want %d", checks, max)
	}
	// A mediator's resend starts with no failed check counted.
	r, err := o.Resend(ctx, "c-test", "chk-0001")
	if err != nil {
		t.Fatal(err)
	}
	if r.State != Pending || r.ChecksFailed != 0 || r.Attempts != 0 {
		t.Fatalf("resent: %s, %d failed checks, %d attempts", r.State, r.ChecksFailed, r.Attempts)
	}
}

// Failed checks before a good one cost the message nothing: it is sent on
// the pass whose check answers, counting that one attempt, even when it
// took one fewer than MaxAttempts failed checks to get there.
func TestCurrentErrorsThenAnswer(t *testing.T) {
	const max = 3
	clk := newClock()
	failing := max - 1
	o := New(Config{Meta: dirMeta(t), Now: clk.Now, Backoff: time.Minute, MaxBackoff: 10 * time.Minute, MaxAttempts: max,
		Current: func(context.Context, *Message) (bool, error) {
			if failing > 0 {
				failing--
				return false, errors.New("the store did not answer")
			}
			return true, nil
		}})
	ctx := t.Context()
	if err := o.Enqueue(ctx, testMessage("chk", 2)); err != nil {
		t.Fatal(err)
	}
	var m Message
	for pass := 1; pass <= max; pass++ {
		o.RunOnce(ctx)
		var err error
		if m, err = o.Get(ctx, "c-test", "chk-0002"); err != nil {
			t.Fatal(err)
		}
		if m.State != Pending {
			break
		}
		clk.Add(m.NextAttempt.Sub(clk.Now()))
	}
	if m.State != Held || m.Attempts != 1 || m.LastError != "" {
		t.Fatalf("after %d failed checks and a good one: %s after %d attempts, %q; want held after 1", max-1, m.State, m.Attempts, m.LastError)
	}
}
