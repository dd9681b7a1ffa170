package schedule

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/mail"
	"github.com/parley-mediation/parley/objstore"
)

// countReads is the real store, counting the objects read.
type countReads struct {
	objstore.Store
	n atomic.Int64
}

func (c *countReads) Get(ctx context.Context, key string, opts objstore.GetOptions) (io.ReadCloser, objstore.Info, error) {
	c.n.Add(1)
	return c.Store.Get(ctx, key, opts)
}

// closeReads is how many objects closing a case with sessions sessions to
// come and extra more messages in its outbox reads.
func closeReads(t *testing.T, sessions, extra int) int64 {
	t.Helper()
	st := &countReads{}
	e := newEnvWith(t, nil, func(s objstore.Store) objstore.Store { st.Store = s; return st })
	ctx := t.Context()
	t0 := e.clock.Now()
	for i := range sessions {
		at := t0.Add(72*time.Hour + time.Duration(i)*3*time.Hour)
		if _, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(at, "UTC"), TimeZone: "UTC", Minutes: 60}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range extra {
		if err := e.outbox.Enqueue(ctx, mail.Message{ID: fmt.Sprintf("other-%d", i), CaseID: e.c.ID, Kind: mail.KindJoin,
			To: "alex@example.test", Subject: "another message", Text: "of the case", NotBefore: t0.Add(240 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	before := st.n.Load()
	if _, err := e.cases.SetStage(ctx, e.mediator, e.c.ID, cases.StageClosure, ""); err != nil {
		t.Fatal(err)
	}
	n := st.n.Load() - before
	all, err := e.svc.Sessions(ctx, e.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range all {
		if s.Status != Cancelled {
			t.Fatalf("session %s: %s, want cancelled", s.ID, s.Status)
		}
	}
	return n
}

// TestClosingReadsTheOutboxOnce: closing a case reads its outbox once,
// not once per session cancelled: the reads grow with the sessions plus
// the messages, not with their product (40 sessions and 240 messages
// took 15 seconds on a local store).
func TestClosingReadsTheOutboxOnce(t *testing.T) {
	const n, m = 4, 60
	base := closeReads(t, n, 0)
	moreMail := closeReads(t, n, m)
	moreSessions := closeReads(t, 2*n, m)
	t.Logf("reads: %d sessions %d; with %d more messages %d; %d sessions %d", n, base, m, moreMail, 2*n, moreSessions)
	// Once per message: m more reads, a few more for the messages'
	// markers; per session, m each.
	if d := moreMail - base; d > 2*m {
		t.Errorf("%d more messages cost %d more reads, want about %d (once each), not %d (once per session)", m, d, m, n*m)
	}
	// Each session's own reads and mail; not all the case's messages again.
	if d := moreSessions - moreMail; d > int64(n*m/2) {
		t.Errorf("%d more sessions cost %d more reads, want a few each, not the %d messages each", n, d, m)
	}
}
