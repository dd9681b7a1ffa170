package schedule

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/mail"
	"github.com/parley-mediation/parley/objstore"
)

// auditDown fails every write under audit/ while down is set: the audit
// log is briefly unwritable, the records are not.
type auditDown struct {
	objstore.Store
	down atomic.Bool
}

func (f *auditDown) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if f.down.Load() && strings.HasPrefix(key, "audit/") {
		return objstore.Info{}, errors.New("injected: audit store down")
	}
	return f.Store.Put(ctx, key, r, size, opts)
}

// TestScheduleChangesWithAuditDownAreRetrySafe: a session scheduled or
// cancelled, or a check-in answered, while the audit log cannot take its
// entry is not made, so the retry once the log is back does it once, with
// its mail. Before, the change stood unaudited and the request answered an
// error: the retry of a schedule made a second session, the retry of a
// cancellation was told "the session was cancelled" and the cancellation
// mail never went, the retry of a check-in was told the link was spent.
func TestScheduleChangesWithAuditDownAreRetrySafe(t *testing.T) {
	fo := &auditDown{}
	e := newEnvWith(t, nil, func(s objstore.Store) objstore.Store { fo.Store = s; return fo })
	ctx := t.Context()
	start := local(e.clock.Now().Add(72*time.Hour), "UTC")
	add := func() (*Session, error) {
		return e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: start, TimeZone: "UTC", Minutes: 60})
	}
	fo.down.Store(true)
	if _, err := add(); err == nil {
		t.Fatal("a session was scheduled with the audit log unwritable")
	}
	fo.down.Store(false)
	sess, err := add()
	if err != nil {
		t.Fatalf("scheduling again once the log is back: %v", err)
	}
	if all, err := e.svc.Sessions(ctx, e.c.ID); err != nil || len(all) != 1 {
		t.Fatalf("%d sessions after one schedule and its retry (%v)", len(all), err)
	}

	fo.down.Store(true)
	if _, err := e.svc.Cancel(ctx, e.mediator, e.c.ID, sess.ID, "the mediator is ill"); err == nil {
		t.Fatal("a session was cancelled with the audit log unwritable")
	}
	fo.down.Store(false)
	if _, err := e.svc.Cancel(ctx, e.mediator, e.c.ID, sess.ID, "the mediator is ill"); err != nil {
		t.Fatalf("cancelling again once the log is back: %v", err)
	}
	msgs, err := e.outbox.List(ctx, e.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	cancellations := 0
	for _, m := range msgs {
		if m.Ref == sess.ID && m.Kind == mail.KindCancellation {
			cancellations++
		}
	}
	if cancellations == 0 {
		t.Fatal("no cancellation mail")
	}

	e.close(t, cases.FullAgreement)
	plan, links, err := e.svc.SetFollowUps(ctx, e.mediator, e.c.ID, []int{30})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Set(plan.Checkpoints[0].Due)
	fo.down.Store(true)
	if err := e.svc.SubmitCheckIn(ctx, links[0].Token, Partly, "late"); err == nil {
		t.Fatal("a check-in was answered with the audit log unwritable")
	}
	fo.down.Store(false)
	if err := e.svc.SubmitCheckIn(ctx, links[0].Token, Partly, "late"); err != nil {
		t.Fatalf("answering again once the log is back: %v", err)
	}
	if rs, _ := e.svc.CheckIns(ctx, e.c.ID); len(rs) != 1 {
		t.Fatalf("%d answers, want 1", len(rs))
	}
}
