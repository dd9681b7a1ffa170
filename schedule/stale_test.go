package schedule

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/policy"

	"github.com/parley-mediation/parley/mail"
	"github.com/parley-mediation/parley/metastore"
)

// A Move and a Cancel of one session at once: the Move's update lands
// first (sequence 1), then the Cancel's (sequence 2) and its mail, and
// only then the Move's notify. Nothing it queued — reminders of the
// cancelled session, a "Moved" mail after "Cancelled" — is left pending
// or sent when its time comes.
func TestStaleMoveNotifyAfterCancelSendsNothing(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	start := e.clock.Now().Add(7 * 24 * time.Hour)
	sess, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(start, "Europe/Berlin"), TimeZone: "Europe/Berlin", Minutes: 60})
	if err != nil {
		t.Fatal(err)
	}
	moved, err := metastore.Update(ctx, e.svc.cfg.Meta, sessionKey(e.c.ID, sess.ID), func(s *Session) error {
		s.Start = start.Add(24 * time.Hour).UTC()
		s.Sequence++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Cancel(ctx, e.mediator, e.c.ID, sess.ID, "settled"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.notify(ctx, &moved, mail.KindUpdate); err != nil {
		t.Fatal(err)
	}
	msgs, err := e.outbox.List(ctx, e.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if (m.Kind == mail.KindReminder || m.Kind == mail.KindUpdate) && m.State == mail.Pending {
			t.Errorf("%s %s pending for a cancelled session (due %s)", m.Kind, m.ID, m.NotBefore.Format(time.RFC3339))
		}
	}
	// Past the moved session's time: only the invitations and the
	// cancellations went out.
	e.clock.Set(start.Add(48 * time.Hour))
	if _, err := e.outbox.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if msgs, err = e.outbox.List(ctx, e.c.ID); err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.State == mail.Held && m.Kind != mail.KindInvitation && m.Kind != mail.KindCancellation {
			t.Errorf("%s %s went out for a cancelled session", m.Kind, m.ID)
		}
	}
}

// The check when a message's time comes: a reminder or update of a
// session that has since moved again or been cancelled is recorded as
// cancelled and not sent, however it got into the outbox; a current one
// goes.
func TestStaleSessionMailIsNotSentWhenDue(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	start := e.clock.Now().Add(7 * 24 * time.Hour)
	sess, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(start, "UTC"), TimeZone: "UTC", Minutes: 60})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Move(ctx, e.mediator, e.c.ID, sess.ID, local(start.Add(time.Hour), "UTC"), "", 0, "room unavailable"); err != nil {
		t.Fatal(err)
	}
	// As if a slower notify of sequence 0 had queued these after the move.
	enqueue := func(id string, kind mail.Kind) {
		t.Helper()
		if err := e.outbox.Enqueue(ctx, mail.Message{ID: id, CaseID: e.c.ID, Kind: kind, To: "alex@example.test",
			Subject: "s", Text: "t", Ref: sess.ID, NotBefore: start.Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	staleRem := mailID("rem", sess.ID, "0", "60m", e.tenant.ID)
	staleUpd := mailID("inv", sess.ID, "0", "x", e.tenant.ID)
	currentRem := mailID("rem", sess.ID, "1", "60m", e.tenant.ID)
	enqueue(staleRem, mail.KindReminder)
	enqueue(staleUpd, mail.KindUpdate)
	enqueue(currentRem, mail.KindReminder)
	e.clock.Set(start.Add(-time.Hour))
	if _, err := e.outbox.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	state := func(id string) mail.State {
		t.Helper()
		m, err := e.outbox.Get(ctx, e.c.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		return m.State
	}
	for id, want := range map[string]mail.State{staleRem: mail.Cancelled, staleUpd: mail.Cancelled, currentRem: mail.Held} {
		if got := state(id); got != want {
			t.Errorf("%s: %s, want %s", id, got, want)
		}
	}
	// Once the session is cancelled, even its current reminders stay.
	if _, err := e.svc.Cancel(ctx, e.mediator, e.c.ID, sess.ID, "settled"); err != nil {
		t.Fatal(err)
	}
	late := mailID("rem", sess.ID, "2", "30m", e.tenant.ID)
	enqueue(late, mail.KindReminder)
	if _, err := e.outbox.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := state(late); got != mail.Cancelled {
		t.Errorf("%s: %s, want cancelled", late, got)
	}
	msgs, _ := e.outbox.List(ctx, e.c.ID)
	for _, m := range msgs {
		if m.State == mail.Cancelled && m.Attempts != 0 {
			t.Errorf("%s: cancelled unsent, yet %d attempts recorded", m.ID, m.Attempts)
		}
		if m.State == mail.Cancelled && m.LastError != "" && !strings.Contains(m.LastError, "not sent") {
			t.Errorf("%s: %q", m.ID, m.LastError)
		}
	}
}

// Someone removed from the case after a session was scheduled is not told
// its time: their reminders, already queued, are dropped when their time
// comes, while those of the people still in the case go out.
func TestRemovedPersonIsNotRemindedOfSessions(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	start := e.clock.Now().Add(7 * 24 * time.Hour)
	if _, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(start, "UTC"), TimeZone: "UTC", Minutes: 60}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cases.RemoveParticipant(ctx, e.mediator, e.c.ID, e.landlord.ID); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(start.Add(-2 * time.Hour)) // the 2-hour reminders are due (the 48-hour ones, far too late now, are cancelled: tooLate)
	if _, err := e.outbox.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	msgs, err := e.outbox.List(ctx, e.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	sent := map[string]int{}
	for _, m := range msgs {
		if m.Kind != mail.KindReminder {
			continue
		}
		if m.State == mail.Held {
			sent[m.ToAccount]++
		} else if m.ToAccount == e.landlord.ID && m.State != mail.Cancelled {
			t.Errorf("the removed landlord's reminder %s is %s, want cancelled", m.ID, m.State)
		}
	}
	if sent[e.landlord.ID] != 0 {
		t.Errorf("%d reminders went to the landlord after they were removed from the case", sent[e.landlord.ID])
	}
	if sent[e.tenant.ID] == 0 {
		t.Error("the tenant, still in the case, got no reminder")
	}
}

// An invitation still waiting when its session is moved (its first send
// failed, or the sender had not run yet) is not sent with the old time:
// only the update for the new one goes out. One still waiting when its
// session is cancelled is not sent after the cancellation either.
func TestWaitingInvitationOfAMovedSessionIsNotSent(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	start := e.clock.Now().Add(7 * 24 * time.Hour)
	sess, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(start, "UTC"), TimeZone: "UTC", Minutes: 60})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Move(ctx, e.mediator, e.c.ID, sess.ID, local(start.Add(24*time.Hour), "UTC"), "", 0, "a room was double-booked"); err != nil {
		t.Fatal(err)
	}
	other, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(start.Add(48*time.Hour), "UTC"), TimeZone: "UTC", Minutes: 60})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Cancel(ctx, e.mediator, e.c.ID, other.ID, "settled"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.outbox.RunOnce(ctx); err != nil { // the sender's first pass comes only now
		t.Fatal(err)
	}
	msgs, err := e.outbox.List(ctx, e.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	updates := 0
	for _, m := range msgs {
		switch {
		case m.Kind == mail.KindInvitation && m.State == mail.Held:
			t.Errorf("invitation %s went out after its session was moved or cancelled", m.ID)
		case m.Kind == mail.KindUpdate && m.State == mail.Held:
			updates++
		}
	}
	if updates == 0 {
		t.Error("the update for the moved session's new time did not go out")
	}
}

// A session none of whose rooms a participant may join is not listed to
// them at all, even were they among its expected people (a record from
// before a change of rooms): its time would tell when the other side
// caucuses.
func TestSessionWithNoRoomOfTheirsIsNotListed(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	start := e.clock.Now().Add(72 * time.Hour)
	sess, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(start, "UTC"), TimeZone: "UTC", Minutes: 60})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := metastore.Update(ctx, e.svc.cfg.Meta, sessionKey(e.c.ID, sess.ID), func(s *Session) error {
		s.Rooms = []string{"caucus:B"} // the landlord's caucus; the tenant stays expected
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	list, err := e.svc.List(ctx, e.tenant, e.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.ID == sess.ID {
			t.Fatalf("the tenant is shown the landlord's caucus session at %s (rooms %v)", s.Start, s.Rooms)
		}
	}
	if list, err = e.svc.List(ctx, e.landlord, e.c.ID); err != nil || len(list) != 1 {
		t.Fatalf("the landlord's own caucus session: %v, %d listed", err, len(list))
	}
}

// A mediator recused after a session was scheduled is not reminded of it:
// their reminders, already queued, are dropped when their time comes
// (Current re-checks the recipient), while the parties' go out.
func TestRecusedMediatorIsNotRemindedOfSessions(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	co, err := e.accounts.Create(ctx, account.NewAccount{Email: "casey@program.test", Name: "Casey Co", Role: policy.RoleMediator, Password: "Casey-password-123456"})
	if err != nil {
		t.Fatal(err)
	}
	adder := e.mediator
	adder.Origin = account.OriginOperator // made by the operator, independent of co
	if _, err := e.cases.AddMediator(ctx, adder, e.c.ID, co.ID); err != nil {
		t.Fatal(err)
	}
	// Both confirmed (one nobody confirmed is mailed nothing:
	// TestUnconfirmedMediatorIsNotMailed).
	e.cases.Membership = &seats{seated: []string{e.mediator.ID, co.ID}}
	start := e.clock.Now().Add(7 * 24 * time.Hour)
	s, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(start, "UTC"), TimeZone: "UTC", Minutes: 60})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(s.Expected, co.ID) {
		t.Fatalf("the co-mediator is not expected: %v", s.Expected)
	}
	queued := 0
	msgs, err := e.outbox.List(ctx, e.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.Kind == mail.KindReminder && m.ToAccount == co.ID && m.State == mail.Pending {
			queued++
		}
	}
	if queued == 0 {
		t.Fatal("no reminder was queued for the co-mediator")
	}
	if _, err := e.cases.Recuse(ctx, co, e.c.ID, "", "I know the landlord"); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(start.Add(-2 * time.Hour)) // the 2-hour reminders are due (the 48-hour ones, far too late now, are cancelled: tooLate)
	if _, err := e.outbox.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if msgs, err = e.outbox.List(ctx, e.c.ID); err != nil {
		t.Fatal(err)
	}
	sent := map[string]int{}
	for _, m := range msgs {
		if m.Kind != mail.KindReminder {
			continue
		}
		if m.State == mail.Held {
			sent[m.ToAccount]++
		} else if m.ToAccount == co.ID && m.State != mail.Cancelled {
			t.Errorf("the recused mediator's reminder %s is %s, want cancelled", m.ID, m.State)
		}
	}
	if sent[co.ID] != 0 {
		t.Errorf("%d reminders went to the mediator after they recused", sent[co.ID])
	}
	if sent[e.tenant.ID] == 0 {
		t.Error("the tenant, still in the case, got no reminder")
	}
}

// A session scheduled before UIDs were per recipient keeps the one UID its
// invitations carried (the session's id) in its updates, so that calendars
// holding its event replace it rather than show a second one; a session
// scheduled now gives every recipient their own.
func TestSessionScheduledBeforePerRecipientUIDsKeepsItsUID(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	e.svc.cfg.Reminders = []time.Duration{}
	start := e.clock.Now().Add(72 * time.Hour).Truncate(time.Hour)
	legacy, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(start, "UTC"), TimeZone: "UTC", Minutes: 60})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := metastore.Update(ctx, e.svc.cfg.Meta, sessionKey(e.c.ID, legacy.ID), func(s *Session) error {
		s.UIDs = "" // as stored before this change
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.uidsOf(t, legacy, 0)
	if _, err := e.svc.Move(ctx, e.mediator, e.c.ID, legacy.ID, local(start.Add(time.Hour), "UTC"), "UTC", 0, "later"); err != nil {
		t.Fatal(err)
	}
	for who, uid := range e.uidsOf(t, legacy, 1) {
		if uid != legacy.ID+"@parley" {
			t.Errorf("the update of an earlier session to %s carries UID %q, want its old %q", who, uid, legacy.ID+"@parley")
		}
	}
	fresh, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(start.Add(24*time.Hour), "UTC"), TimeZone: "UTC", Minutes: 60})
	if err != nil {
		t.Fatal(err)
	}
	got := e.uidsOf(t, fresh, 0)
	if got[e.tenant.ID] == got[e.landlord.ID] || strings.Contains(got[e.tenant.ID], fresh.ID) {
		t.Errorf("a new session's UIDs are not per recipient: %v", got)
	}
}
