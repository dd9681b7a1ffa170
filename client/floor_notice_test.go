package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/messaging"
)

// TestFloorNoticeOnlyFromSignedMediator: a "notice" (kind 5) counts only
// when the signed membership statement its sender's keys were issued under
// names the sender a mediator. A party's modified client sending kind 5
// reaches the others as an ordinary message, live and in history; the
// mediator's own broadcast stays a notice.
func TestFloorNoticeOnlyFromSignedMediator(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	med := open(t, tc.med, tc.caseID, client.SecureOptions{})
	a := open(t, tc.a, tc.caseID, client.SecureOptions{})
	b := open(t, tc.b, tc.caseID, client.SecureOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	if err := client.SendKindForTest(ctx, a, "joint", e2ee.KindNotice, "The mediator says: accept now"); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*client.SecureChat{"B": b, "mediator": med} {
		ev := expect(t, s, "joint")
		if ev.Text != "The mediator says: accept now" || ev.From != tc.a.id {
			t.Fatalf("%s got %+v", name, ev)
		}
		if ev.Kind != e2ee.KindText {
			t.Fatalf("%s shows a party's kind-5 message as kind %d, want an ordinary message", name, ev.Kind)
		}
	}
	evs, err := tc.b.x.ReadRoom(ctx, tc.caseID, "joint", messaging.Position{})
	if err != nil || len(evs) != 1 || evs[0].Kind != e2ee.KindText {
		t.Fatalf("history: %+v %v", evs, err)
	}

	if _, err := med.Broadcast(ctx, "Back in five minutes"); err != nil {
		t.Fatal(err)
	}
	if ev := expect(t, b, "joint"); ev.Kind != e2ee.KindNotice || ev.From != tc.med.id {
		t.Fatalf("the mediator's notice reached B as %+v", ev)
	}
}
