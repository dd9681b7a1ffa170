package mail

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/mailpit"
	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
)

// scripted hands messages to a real SMTP server, but refuses for now the
// first attempt of those in later and breaks the connection (an
// ambiguous end: uncertain) on those in broken.
type scripted struct {
	Transport
	later, broken map[string]bool
}

func (s scripted) Send(ctx context.Context, m *Message) error {
	switch {
	case s.later[m.ID] && m.Attempts == 1:
		return ErrNotDelivered
	case s.broken[m.ID]:
		return errors.New("connection reset after the data")
	}
	return s.Transport.Send(ctx, m)
}

// TestFinalRecordKeepsNoOlderBody: once a message with a link is final —
// sent (after a retry), cancelled, given up after its checks failed,
// uncertain (the connection broke, or its sender stopped mid-send) — no
// stored version of its record holds its text: the older versions
// (pending, sending), which did, are deleted and the newest, final one
// stays, on the directory store and on MinIO, which both keep versions.
// A sender stopped after the final write and before that delete leaves
// the live due marker, and the next pass deletes them.
func TestFinalRecordKeepsNoOlderBody(t *testing.T) {
	raw := mailpit.FromEnv(t)
	testenv.OnEachStore(t, func(t *testing.T, store objstore.Store) {
		ctx := t.Context()
		clk := newClock()
		pfx := prefix(t)
		id := func(i int) string { return linkMessage(pfx, i).ID }
		const sent, cancelled, gaveUp, broke, stopped, interrupted = 0, 1, 2, 3, 4, 5
		gs := newGateStore(store)
		o := New(Config{Meta: newMeta(t, gs, randomKey(t)), Now: clk.Now, Backoff: time.Minute, MaxBackoff: time.Minute, MaxAttempts: 2,
			Transport: scripted{Transport: mailpitTransport(t, raw), later: map[string]bool{id(sent): true}, broken: map[string]bool{id(broke): true}},
			Current: func(_ context.Context, m *Message) (bool, error) {
				if m.ID == id(gaveUp) {
					return false, errors.New("the session could not be read")
				}
				return true, nil
			}})
		mp := raw.Outbox(sentIDs(o, "c-test"))
		for i := range 6 {
			m := linkMessage(pfx, i)
			if i == cancelled {
				m.NotBefore, m.Ref = clk.Now().Add(24*time.Hour), "s-moved"
			}
			if err := o.Enqueue(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		// A node claimed one and stopped before recording how it went.
		if _, err := metastore.Update(ctx, o.cfg.Meta, msgKey("c-test", id(stopped)), func(m *Message) error {
			now := clk.Now()
			m.State, m.ClaimedBy, m.Claimed = Sending, "n-gone", &now
			m.Attempts++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		// One sender stops after recording its message sent, before
		// deleting the record's older versions.
		gs.at("DeleteVersions", msgKey("c-test", id(interrupted))).release <- errors.New("the node stopped")

		if _, err := o.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if err := o.CancelRef(ctx, "c-test", "s-moved", func(*Message) bool { return false }); err != nil {
			t.Fatal(err)
		}
		versions := func(key string) []objstore.Version {
			t.Helper()
			vs, err := store.Versions(ctx, key)
			if errors.Is(err, objstore.ErrNotFound) {
				return nil
			}
			if err != nil {
				t.Fatal(err)
			}
			return vs
		}
		if vs := versions(msgKey("c-test", id(interrupted))); len(vs) < 2 {
			t.Errorf("the interrupted message's record: %d versions, want its older ones still there", len(vs))
		}
		if vs := versions(dueKey("c-test", id(interrupted))); len(vs) == 0 {
			t.Error("the interrupted message's due marker is gone before its older versions")
		}
		clk.Add(2 * time.Minute)
		if _, err := o.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		for _, i := range []int{sent, interrupted} {
			if got := mp.WaitFor(t, id(i), 1, 10*time.Second); len(got) != 1 {
				t.Fatalf("%s arrived %d times", id(i), len(got))
			}
		}

		want := map[int]State{sent: Sent, cancelled: Cancelled, gaveUp: Failed, broke: Uncertain, stopped: Uncertain, interrupted: Sent}
		for i, state := range want {
			key := msgKey("c-test", id(i))
			vs := versions(key)
			if len(vs) == 0 || vs[0].DeleteMarker {
				t.Fatalf("%s: no live record: %+v", id(i), vs)
			}
			for j, v := range vs {
				if v.DeleteMarker {
					continue
				}
				var m Message
				if _, err := o.cfg.Meta.GetVersion(ctx, key, v.VersionID, &m); err != nil {
					t.Fatal(err)
				}
				if m.Text != "" || strings.Contains(m.Text, linkToken) {
					t.Errorf("%s: stored version %d of %d (%s) keeps the text %q", id(i), j+1, len(vs), m.State, m.Text)
				}
				if j == 0 && (m.State != state || !m.BodyCleared) {
					t.Errorf("%s: newest version %s (cleared %v), want %s, cleared", id(i), m.State, m.BodyCleared, state)
				}
			}
			if len(vs) != 1 {
				t.Errorf("%s: %d stored versions, want the final one only", id(i), len(vs))
			}
			if vs := versions(dueKey("c-test", id(i))); len(vs) != 0 {
				t.Errorf("%s: its due marker left %d versions", id(i), len(vs))
			}
		}
	})
}
