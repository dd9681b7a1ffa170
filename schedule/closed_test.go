package schedule

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/mailpit"
	"github.com/parley-mediation/parley/mail"
	"github.com/parley-mediation/parley/objstore"
)

// TestClosedCaseSessionsAreCancelled: closing a case cancels its sessions
// still to come, as a mediator's cancellation would (audited, the
// sequence one up), and everyone invited gets the cancellation, whose
// .ics (METHOD CANCEL, the UID of their invitation) removes it from their
// calendar, instead of the reminders. A session already over is left as
// it is. The mediators see why it was cancelled.
func TestClosedCaseSessionsAreCancelled(t *testing.T) {
	mp := mailpit.FromEnv(t)
	e := newEnv(t, mp)
	mp = mp.Outbox(e.sentIDs())
	ctx := t.Context()
	e.withMediatorAddress(t)
	t0 := e.clock.Now()
	past, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(t0.Add(time.Hour), "UTC"), TimeZone: "UTC", Minutes: 60})
	if err != nil {
		t.Fatal(err)
	}
	startAt := t0.Add(72 * time.Hour)
	s, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(startAt, "Europe/Berlin"), TimeZone: "Europe/Berlin", Minutes: 90})
	if err != nil {
		t.Fatal(err)
	}
	invited := []string{e.mediator.ID, e.tenant.ID, e.landlord.ID}
	if _, err := e.outbox.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	uids := map[string]string{} // by address
	for _, r := range fetch(t, mp, mailID("inv", s.ID, "0"), len(invited)) {
		uids[r.to] = prop(t, r.cal, ics.ComponentPropertyUniqueId)
	}
	// The first session is over when the case is closed.
	e.clock.Set(t0.Add(3 * time.Hour))
	from := e.log.Size()
	if _, err := e.cases.SetStage(ctx, e.mediator, e.c.ID, cases.StageClosure, ""); err != nil {
		t.Fatal(err)
	}
	// When the 48-hour reminders were due, and the 2-hour ones.
	e.clock.Set(startAt.Add(-time.Hour))
	if _, err := e.outbox.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}

	list, err := e.svc.List(ctx, e.mediator, e.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range list {
		switch got.ID {
		case s.ID:
			if got.Status != Cancelled || got.Sequence != 1 {
				t.Errorf("the session to come: %s, sequence %d, want cancelled, 1", got.Status, got.Sequence)
			}
			last := got.History[len(got.History)-1]
			if last.Kind != "cancelled" || last.By != e.mediator.ID || last.Reason != "the case was closed" {
				t.Errorf("its last change: %+v, want cancelled by whoever closed the case, because it was closed", last)
			}
		case past.ID:
			if got.Status != Scheduled || got.Sequence != 0 {
				t.Errorf("the session already over: %s, sequence %d, want left as it was", got.Status, got.Sequence)
			}
		}
	}
	audited := false
	for i := from; i < e.log.Size(); i++ {
		ev, err := e.log.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == "session.cancelled" && slices.Equal(ev.Objects, []string{s.ID}) && ev.Actor == e.mediator.ID && ev.Attrs["via"] == "case.closed" {
			audited = true
		}
		if ev.Type == "session.cancelled" && slices.Contains(ev.Objects, past.ID) {
			t.Errorf("the session already over was cancelled: %+v", ev)
		}
	}
	if !audited {
		t.Error("no session.cancelled entry saying the case was closed")
	}

	msgs, err := e.outbox.List(ctx, e.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	var cancelledTo []string
	for _, m := range msgs {
		if m.Ref != s.ID {
			continue
		}
		switch m.Kind {
		case mail.KindReminder:
			if m.State != mail.Cancelled {
				t.Errorf("%s: %s, want cancelled", m.ID, m.State)
			}
		case mail.KindCancellation:
			if m.State != mail.Sent {
				t.Errorf("%s: %s, want sent", m.ID, m.State)
			}
			cancelledTo = append(cancelledTo, m.ToAccount)
		}
	}
	slices.Sort(cancelledTo)
	want := slices.Sorted(slices.Values(invited))
	if !slices.Equal(cancelledTo, want) {
		t.Errorf("cancellations to %v, want one to each of %v", cancelledTo, want)
	}
	if got, _ := mp.WithPrefix(mailID("rem", s.ID)); len(got) != 0 {
		t.Errorf("%d reminders of the closed case's session arrived", len(got))
	}
	for _, r := range fetch(t, mp, mailID("inv", s.ID, "1"), len(invited)) {
		if r.cal == nil || calMethod(r.cal) != "CANCEL" || prop(t, r.cal, ics.ComponentPropertyStatus) != "CANCELLED" {
			t.Fatalf("%s: not a calendar cancellation", r.to)
		}
		if uid := prop(t, r.cal, ics.ComponentPropertyUniqueId); uid != uids[r.to] {
			t.Errorf("%s: UID %q, their invitation's was %q", r.to, uid, uids[r.to])
		}
	}
}

// TestClosingWhoseCancellationFailsSendsNoReminders: when the session of
// a case being closed cannot be cancelled (here the audit log refuses the
// cancellation's entry), its reminders still do not go out (Current looks
// at the case), and a mediator can cancel it afterwards, which tells
// everyone expected.
func TestClosingWhoseCancellationFailsSendsNoReminders(t *testing.T) {
	fo := &auditDown{}
	e := newEnvWith(t, nil, func(s objstore.Store) objstore.Store { fo.Store = s; return fo })
	ctx := t.Context()
	startAt := e.clock.Now().Add(72 * time.Hour)
	s, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(startAt, "UTC"), TimeZone: "UTC", Minutes: 60})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.outbox.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	fo.down.Store(true)
	_, err = e.cases.SetStage(ctx, e.mediator, e.c.ID, cases.StageClosure, "")
	fo.down.Store(false)
	if err != nil {
		t.Fatalf("closing with the audit log down: %v", err)
	}
	if c, err := e.cases.Load(ctx, e.c.ID); err != nil || c.Closed == nil {
		t.Fatalf("the case is not closed (%v)", err)
	}
	if all, err := e.svc.Sessions(ctx, e.c.ID); err != nil || all[0].Status != Scheduled {
		t.Fatalf("the session was cancelled with the audit log down (%v)", err)
	}
	e.clock.Set(startAt.Add(-time.Hour))
	if _, err := e.outbox.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	msgs, err := e.outbox.List(ctx, e.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	reminders := 0
	for _, m := range msgs {
		if m.Kind == mail.KindReminder {
			reminders++
			if m.State != mail.Cancelled {
				t.Errorf("%s: %s, want cancelled", m.ID, m.State)
			}
		}
	}
	if reminders != 4 {
		t.Errorf("%d reminders queued, want 4 (two each for the two parties)", reminders)
	}
	if _, err := e.svc.Move(ctx, e.mediator, e.c.ID, s.ID, local(startAt.Add(time.Hour), "UTC"), "", 0, "later"); !errors.Is(err, cases.ErrClosed) {
		t.Errorf("moving a closed case's session: %v, want %v", err, cases.ErrClosed)
	}
	if _, err := e.svc.Cancel(ctx, e.mediator, e.c.ID, s.ID, "the case was closed"); err != nil {
		t.Fatalf("cancelling a closed case's session by hand: %v", err)
	}
	if _, err := e.outbox.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	msgs, err = e.outbox.List(ctx, e.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	cancellations := 0
	for _, m := range msgs {
		if m.Kind == mail.KindCancellation && m.State == mail.Held {
			cancellations++
		}
	}
	if cancellations != 2 {
		t.Errorf("%d cancellations held, want 2 (one per party)", cancellations)
	}
}

// landsThenFails is the real store, whose next write of a case record
// lands and then answers an error, once armed.
type landsThenFails struct {
	objstore.Store
	armed atomic.Bool
}

func (f *landsThenFails) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	info, err := f.Store.Put(ctx, key, r, size, opts)
	if err == nil && strings.HasPrefix(key, "cases/") && strings.HasSuffix(key, "/case") && f.armed.CompareAndSwap(true, false) {
		return objstore.Info{}, errors.New("injected: the write landed, its answer was lost")
	}
	return info, err
}

// TestClosingRetriedCancelsTheSessions: a closing whose write landed but
// answered an error cancelled no session; closing again (the case is
// closed: ErrClosed) finishes the job, once: the session is cancelled
// and everyone invited has their cancellation queued, and a third
// closing changes and queues nothing more.
func TestClosingRetriedCancelsTheSessions(t *testing.T) {
	f := &landsThenFails{}
	e := newEnvWith(t, nil, func(s objstore.Store) objstore.Store { f.Store = s; return f })
	ctx := t.Context()
	s, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(e.clock.Now().Add(72*time.Hour), "UTC"), TimeZone: "UTC", Minutes: 60})
	if err != nil {
		t.Fatal(err)
	}
	f.armed.Store(true)
	if _, err := e.cases.SetStage(ctx, e.mediator, e.c.ID, cases.StageClosure, ""); err == nil {
		t.Fatal("the closing whose answer was lost reported no error")
	}
	if c, err := e.cases.Load(ctx, e.c.ID); err != nil || c.Closed == nil {
		t.Fatalf("the case is not closed (%v): the injected failure did not land", err)
	}
	if all, err := e.svc.Sessions(ctx, e.c.ID); err != nil || all[0].Status != Scheduled {
		t.Fatalf("the closing that answered an error cancelled the session (%v): nothing left for its retry", err)
	}
	for range 2 {
		if _, err := e.cases.SetStage(ctx, e.mediator, e.c.ID, cases.StageClosure, ""); !errors.Is(err, cases.ErrClosed) {
			t.Fatalf("closing again: %v, want %v", err, cases.ErrClosed)
		}
		all, err := e.svc.Sessions(ctx, e.c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if all[0].Status != Cancelled || all[0].Sequence != 1 {
			t.Fatalf("the session after closing again: %s, sequence %d, want cancelled, 1", all[0].Status, all[0].Sequence)
		}
		msgs, err := e.outbox.List(ctx, e.c.ID)
		if err != nil {
			t.Fatal(err)
		}
		var to []string
		for _, m := range msgs {
			switch {
			case m.Ref != s.ID:
			case m.Kind == mail.KindCancellation:
				to = append(to, m.ToAccount)
			case m.Kind == mail.KindReminder && m.State != mail.Cancelled:
				t.Errorf("%s: %s, want cancelled", m.ID, m.State)
			}
		}
		slices.Sort(to)
		if want := slices.Sorted(slices.Values([]string{e.tenant.ID, e.landlord.ID})); !slices.Equal(to, want) {
			t.Errorf("cancellations queued to %v, want one to each of %v", to, want)
		}
	}
}

// TestClosingTellsOfCancellationsNotMailed: a party invited to their
// side's caucus whose address a seat of the other side has on file since
// is not mailed the session's cancellation when the case is closed
// (the other side would learn of the caucus); the log says so, with
// the session and how many, and no address or name.
func TestClosingTellsOfCancellationsNotMailed(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	var logs bytes.Buffer
	e.svc.cfg.Log = slog.New(slog.NewJSONHandler(&logs, nil))
	s, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(e.clock.Now().Add(96*time.Hour), "UTC"), TimeZone: "UTC", Minutes: 60, Rooms: []string{"caucus:A"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.cases.CreateInvite(ctx, e.mediator, e.c.ID, cases.NewInvite{Role: cases.RoleCounsel, Side: "B", Name: "Casey Counsel", Email: "ALEX@example.test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cases.SetStage(ctx, e.mediator, e.c.ID, cases.StageClosure, ""); err != nil {
		t.Fatal(err)
	}
	if all, err := e.svc.Sessions(ctx, e.c.ID); err != nil || all[0].Status != Cancelled {
		t.Fatalf("the caucus was not cancelled (%v)", err)
	}
	msgs, err := e.outbox.List(ctx, e.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.Kind == mail.KindCancellation && m.ToAccount == e.tenant.ID {
			t.Errorf("the cancellation was queued to the shared address: %s", m.ID)
		}
	}
	var warned bool
	for line := range strings.Lines(logs.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["msg"] == "closed case's session cancellation not mailed to some" {
			warned = rec["level"] == "WARN" && rec["session"] == s.ID && rec["case"] == e.c.ID && rec["count"] == float64(1)
		}
	}
	if !warned {
		t.Errorf("no WARN naming the session and the one not mailed; the log:\n%s", logs.String())
	}
	for _, secret := range []string{"alex@", "ALEX@", e.tenant.Name, "Casey"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
}

// sessionLandsThenFails is the real store, whose next write of a session
// record lands and then answers an error, once armed; it counts the
// writes of outbox due markers.
type sessionLandsThenFails struct {
	objstore.Store
	armed atomic.Bool
	marks atomic.Int64
	// precondition: answer as a conditional PUT retried after it landed
	// does (412).
	precondition bool
}

func (f *sessionLandsThenFails) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	info, err := f.Store.Put(ctx, key, r, size, opts)
	if err == nil && strings.HasPrefix(key, "outbox/due/") {
		f.marks.Add(1)
	}
	if err == nil && strings.HasPrefix(key, "sessions/") && f.armed.CompareAndSwap(true, false) {
		if f.precondition {
			return objstore.Info{}, objstore.ErrPrecondition
		}
		return objstore.Info{}, errors.New("injected: the write landed, its answer was lost")
	}
	return info, err
}

// TestClosingWhoseCancellationAnsweredAnErrorMailsIt: a closing's
// cancellation of a session that landed but answered an error is mailed
// all the same (the session is cancelled: no retry would cancel it again,
// nor would a mediator's Cancel), and is not logged as not cancelled; a
// closing again queues nothing twice, and once the cancellations are
// sent (and retired), it writes none of their due markers again. A plain
// closing queues one cancellation to each invitee too.
func TestClosingWhoseCancellationAnsweredAnErrorMailsIt(t *testing.T) {
	for _, inject := range []bool{true, false} {
		f := &sessionLandsThenFails{}
		e := newEnvWith(t, nil, func(s objstore.Store) objstore.Store { f.Store = s; return f })
		ctx := t.Context()
		var logs bytes.Buffer
		e.svc.cfg.Log = slog.New(slog.NewJSONHandler(&logs, nil))
		s, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(e.clock.Now().Add(72*time.Hour), "UTC"), TimeZone: "UTC", Minutes: 60})
		if err != nil {
			t.Fatal(err)
		}
		f.armed.Store(inject)
		if _, err := e.cases.SetStage(ctx, e.mediator, e.c.ID, cases.StageClosure, ""); err != nil {
			t.Fatal(err)
		}
		if f.armed.Load() {
			t.Fatal("the session's write was not made")
		}
		if strings.Contains(logs.String(), "not cancelled") {
			t.Errorf("inject %v: the cancelled session was logged as not cancelled: %s", inject, logs.String())
		}
		want := slices.Sorted(slices.Values([]string{e.tenant.ID, e.landlord.ID}))
		check := func(when string) []mail.Message {
			t.Helper()
			all, err := e.svc.Sessions(ctx, e.c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if all[0].Status != Cancelled || all[0].Sequence != 1 {
				t.Fatalf("inject %v, %s: the session: %s, sequence %d, want cancelled, 1", inject, when, all[0].Status, all[0].Sequence)
			}
			msgs, err := e.outbox.List(ctx, e.c.ID)
			if err != nil {
				t.Fatal(err)
			}
			var to []string
			var out []mail.Message
			for _, m := range msgs {
				switch {
				case m.Ref != s.ID:
				case m.Kind == mail.KindCancellation:
					to = append(to, m.ToAccount)
					out = append(out, m)
				case m.Kind == mail.KindReminder && m.State != mail.Cancelled:
					t.Errorf("inject %v, %s: %s: %s, want cancelled", inject, when, m.ID, m.State)
				}
			}
			slices.Sort(to)
			if !slices.Equal(to, want) {
				t.Errorf("inject %v, %s: cancellations queued to %v, want one to each of %v", inject, when, to, want)
			}
			return out
		}
		check("closed")
		if _, err := e.cases.SetStage(ctx, e.mediator, e.c.ID, cases.StageClosure, ""); !errors.Is(err, cases.ErrClosed) {
			t.Fatalf("closing again: %v, want %v", err, cases.ErrClosed)
		}
		check("closed again")
		// Sent and retired, the cancellations are not enqueued again (which
		// would write their due markers anew).
		if _, err := e.outbox.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		for _, m := range check("sent") {
			if m.State == mail.Pending {
				t.Fatalf("inject %v: %s still pending after a pass", inject, m.ID)
			}
		}
		before := f.marks.Load()
		if _, err := e.cases.SetStage(ctx, e.mediator, e.c.ID, cases.StageClosure, ""); !errors.Is(err, cases.ErrClosed) {
			t.Fatalf("closing again: %v, want %v", err, cases.ErrClosed)
		}
		check("closed after sending")
		if n := f.marks.Load() - before; n != 0 {
			t.Errorf("inject %v: closing again after the cancellations were sent wrote %d due markers", inject, n)
		}
		if strings.Contains(logs.String(), "not cancelled") {
			t.Errorf("inject %v: logged as not cancelled: %s", inject, logs.String())
		}
	}
}

// TestCancellationThatLandedDespiteA412IsNotLoggedFailed: a conditional
// PUT retried after it landed comes back 412, and the cancellation, run
// again on the session it cancelled itself, would refuse (already
// cancelled). It is answered as done: before, the log held
// session.cancelled.failed for a session that was cancelled, and whose
// cancellation the closing then mailed.
func TestCancellationThatLandedDespiteA412IsNotLoggedFailed(t *testing.T) {
	f := &sessionLandsThenFails{precondition: true}
	e := newEnvWith(t, nil, func(s objstore.Store) objstore.Store { f.Store = s; return f })
	ctx := t.Context()
	s, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(e.clock.Now().Add(72*time.Hour), "UTC"), TimeZone: "UTC", Minutes: 60})
	if err != nil {
		t.Fatal(err)
	}
	from := e.log.Size()
	f.armed.Store(true)
	got, err := e.svc.Cancel(ctx, e.mediator, e.c.ID, s.ID, "the room is not free")
	if err != nil || got == nil || got.Status != Cancelled {
		t.Fatalf("a cancellation that landed, answered 412: %+v %v", got, err)
	}
	if f.armed.Load() {
		t.Fatal("the session's write was not made")
	}
	var types []string
	for i := from; i < e.log.Size(); i++ {
		ev, err := e.log.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, ev.Type)
	}
	if !slices.Equal(types, []string{"session.cancelled"}) {
		t.Fatalf("entries %v, want the cancellation's alone", types)
	}
}
