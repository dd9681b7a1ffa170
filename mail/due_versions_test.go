package mail

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/mailpit"
	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/objstore"
)

// laterOnce refuses each message's first attempt for now (so its due
// marker is moved on, a second version) and hands the rest to a real
// SMTP server.
type laterOnce struct {
	Transport
	refused atomic.Int64
}

func (l *laterOnce) Send(ctx context.Context, m *Message) error {
	if m.Attempts == 1 {
		l.refused.Add(1)
		return ErrNotDelivered
	}
	return l.Transport.Send(ctx, m)
}

// TestFinalDueMarkerLeavesNoVersion: once a message is final (sent after
// a retry, or cancelled) no stored version of its due marker is left, on
// the directory store and on MinIO, which both keep versions; a pending
// message keeps its marker. A marker of a final message that is current
// again (as an older version would be, were only the newest deleted) is
// not a message to send: the pass sends nothing and the marker goes, every
// version.
func TestFinalDueMarkerLeavesNoVersion(t *testing.T) {
	raw := mailpit.FromEnv(t)
	testenv.OnEachStore(t, func(t *testing.T, store objstore.Store) {
		ctx := t.Context()
		clk := newClock()
		tr := &laterOnce{Transport: mailpitTransport(t, raw)}
		o := New(Config{Meta: newMeta(t, store, randomKey(t)), Transport: tr, Now: clk.Now, Backoff: time.Minute, MaxBackoff: time.Minute})
		mp := raw.Outbox(sentIDs(o, "c-test"))
		pfx := prefix(t)
		sent, pending, cancelled := testMessage(pfx, 0), testMessage(pfx, 1), testMessage(pfx, 2)
		pending.NotBefore = clk.Now().Add(30 * 24 * time.Hour)
		cancelled.NotBefore = clk.Now().Add(24 * time.Hour)
		cancelled.Ref = "s-moved"
		for _, m := range []Message{sent, pending, cancelled} {
			if err := o.Enqueue(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		versions := func(m Message) []objstore.Version {
			t.Helper()
			vs, err := store.Versions(ctx, dueKey(m.CaseID, m.ID))
			if errors.Is(err, objstore.ErrNotFound) {
				return nil
			}
			if err != nil {
				t.Fatal(err)
			}
			return vs
		}
		// The first attempt is refused for now: the marker moves on.
		if _, err := o.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if tr.refused.Load() != 1 {
			t.Fatalf("%d attempts refused, want 1", tr.refused.Load())
		}
		if vs := versions(sent); len(vs) < 2 || vs[0].DeleteMarker {
			t.Fatalf("the marker of a message put off for a retry: %d versions %+v", len(vs), vs)
		}
		clk.Add(2 * time.Minute)
		if n, err := o.RunOnce(ctx); err != nil || n != 1 {
			t.Fatalf("RunOnce: %d finished, %v", n, err)
		}
		if got := mp.WaitFor(t, pfx+"-0000", 1, 10*time.Second); len(got) != 1 {
			t.Fatalf("arrived %d times", len(got))
		}
		if m, err := o.Get(ctx, sent.CaseID, sent.ID); err != nil || m.State != Sent {
			t.Fatalf("the message sent: %+v, %v", m, err)
		}
		if vs := versions(sent); len(vs) != 0 {
			t.Errorf("the sent message's due marker left %d stored versions: %+v", len(vs), vs)
		}

		// Cancelled while pending: its marker goes too, every version.
		if err := o.CancelRef(ctx, "c-test", "s-moved", func(*Message) bool { return false }); err != nil {
			t.Fatal(err)
		}
		if vs := versions(cancelled); len(vs) != 0 {
			t.Errorf("the cancelled message's due marker left %d stored versions: %+v", len(vs), vs)
		}
		// The pending message keeps its live marker (written twice by
		// Enqueue, before and after the message).
		if vs := versions(pending); len(vs) == 0 || vs[0].DeleteMarker {
			t.Errorf("the pending message's due marker: %+v", vs)
		}
		if m, err := o.Get(ctx, pending.CaseID, pending.ID); err != nil || m.State != Pending {
			t.Fatalf("the pending message: %+v, %v", m, err)
		}

		// The sent message's marker current again: nothing is sent, and
		// the marker goes.
		if _, err := o.cfg.Meta.Create(ctx, dueKey(sent.CaseID, sent.ID), dueMarker{NotBefore: clk.Now(), Created: clk.Now()}); err != nil {
			t.Fatal(err)
		}
		if n, err := o.RunOnce(ctx); err != nil || n != 0 {
			t.Fatalf("RunOnce over a final message's marker: %d finished, %v", n, err)
		}
		if got, err := mp.WithPrefix(pfx + "-0000"); err != nil || len(got) != 1 {
			t.Fatalf("the sent message arrived %d times (%v)", len(got), err)
		}
		if vs := versions(sent); len(vs) != 0 {
			t.Errorf("the final message's marker, current again, left %d stored versions: %+v", len(vs), vs)
		}
		if vs := versions(pending); len(vs) == 0 || vs[0].DeleteMarker {
			t.Errorf("the pending message's due marker: %+v", vs)
		}
	})
}
