package mail

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Current is asked when a message's time comes: false records it as
// cancelled and sends nothing; an error leaves it pending, its attempt
// not counted, for a pass after the first backoff (±20 %).
func TestCurrentDecidesAtSendTime(t *testing.T) {
	clk := newClock()
	answer := map[string]error{}
	wanted := map[string]bool{}
	o := New(Config{Meta: dirMeta(t), Now: clk.Now, Backoff: time.Minute,
		Current: func(_ context.Context, m *Message) (bool, error) { return wanted[m.ID], answer[m.ID] }})
	ctx := t.Context()
	for i := range 3 {
		if err := o.Enqueue(ctx, testMessage("cur", i)); err != nil {
			t.Fatal(err)
		}
	}
	wanted["cur-0000"], wanted["cur-0002"] = true, true
	answer["cur-0002"] = errors.New("the store did not answer")
	if n, err := o.RunOnce(ctx); err != nil || n != 2 {
		t.Fatalf("RunOnce: %d finished, %v; want 2", n, err)
	}
	want := func(id string, st State, attempts int) {
		t.Helper()
		m, err := o.Get(ctx, "c-test", id)
		if err != nil {
			t.Fatal(err)
		}
		if m.State != st || m.Attempts != attempts || m.ClaimedBy != "" {
			t.Fatalf("%s: %s after %d attempts (claimed by %q), want %s after %d", id, m.State, m.Attempts, m.ClaimedBy, st, attempts)
		}
	}
	want("cur-0000", Held, 1)
	want("cur-0001", Cancelled, 0)
	want("cur-0002", Pending, 0)
	delete(answer, "cur-0002")
	if n, _ := o.RunOnce(ctx); n != 0 {
		t.Fatalf("%d finished before the backoff passed", n)
	}
	clk.Add(time.Minute * 6 / 5)
	if n, err := o.RunOnce(ctx); err != nil || n != 1 {
		t.Fatalf("RunOnce after the backoff: %d, %v", n, err)
	}
	want("cur-0002", Held, 1)
}
