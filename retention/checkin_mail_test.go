package retention

import (
	"testing"
	"time"

	"github.com/parley-mediation/parley/mail"
	"github.com/parley-mediation/parley/objstore"
)

// A follow-up check-in's mail waits in the case's outbox for its day, up
// to two years after closure. The invites-sessions class (30 days after
// closure by default) takes the rest of the outbox and leaves it: it goes
// with the follow-ups (survey-responses), not before it is sent.
func TestCheckInMailsGoWithTheFollowUps(t *testing.T) {
	t.Parallel()
	dir, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, dir)
	ctx := t.Context()
	tc := e.newCase(t, nil)
	e.close(t, tc)
	out := mail.New(mail.Config{Meta: e.meta, Now: func() time.Time { return e.clock }})
	session := "inv-s_test-1-u_someone"
	checkIn := mail.FollowUpIDPrefix + tc.id + "-90-u_someone"
	for _, m := range []mail.Message{
		{ID: session, CaseID: tc.id, Kind: mail.KindInvitation, To: "avery@example.net", Subject: "Session", Text: "see you", NotBefore: e.clock},
		{ID: checkIn, CaseID: tc.id, Kind: mail.KindFollowUp, To: "avery@example.net", Subject: "How is your agreement working?",
			Text: "answer here", NotBefore: e.clock.Add(90 * 24 * time.Hour)},
	} {
		if err := out.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	stored := func(id string) int {
		return e.versionsOf(t, "outbox/cases/"+tc.id+"/"+id) + e.versionsOf(t, "outbox/due/"+tc.id+"/"+id)
	}
	// A month after closure: the invitations and sessions go.
	e.clock = e.clock.Add(31 * 24 * time.Hour)
	p := e.planApproved(t)
	if _, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err != nil {
		t.Fatal(err)
	}
	if n := stored(session); n != 0 {
		t.Fatalf("the session's mail: %d stored versions after the invites-sessions class went", n)
	}
	if n := stored(checkIn); n == 0 {
		t.Fatal("the check-in mail, due in two months, went with the invites-sessions class")
	}
	if _, err := e.cases.Load(ctx, tc.id); err != nil {
		t.Fatalf("case record: %v", err)
	}
	// A year after closure: the follow-ups go, and their mail with them.
	e.clock = e.clock.Add(365 * 24 * time.Hour)
	p = e.planApproved(t)
	if _, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err != nil {
		t.Fatal(err)
	}
	if n := stored(checkIn); n != 0 {
		t.Fatalf("the check-in mail: %d stored versions after the survey-responses class went", n)
	}
}
