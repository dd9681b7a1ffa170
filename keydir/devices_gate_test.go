package keydir_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/e2ee"
)

// TestUnconfirmedMediatorSeesNoDeviceWaiting: a co-mediator no seated
// mediator has confirmed gets the case's devices as a participant does:
// not another account's device that nothing endorses yet (here a second
// device of the seated mediator's, never linked), which the case's
// seated mediators see. Before, the policy decision was made without the
// fact of who is unconfirmed, and the full list went to them.
func TestUnconfirmedMediatorSeesNoDeviceWaiting(t *testing.T) {
	g := newGateCase(t)
	ctx := context.Background()
	if _, err := g.post(t, g.mia, g.miaDev, nil, g.miaID); err != nil {
		t.Fatal(err)
	}
	g.n.Cases.ForgetSeats(g.caseID)
	spare, _ := e2ee.NewDeviceKeys(g.miaID, e2ee.KEMXWing, time.Now())
	if err := g.mia.Do(ctx, http.MethodPost, "/api/v1/keys/devices", api.RecordRequest{Record: spare.Record().Raw}, nil); err != nil {
		t.Fatal(err)
	}
	count := func(who string, c interface {
		Do(context.Context, string, string, any, any) error
	}) int {
		t.Helper()
		var p api.Proven
		if err := c.Do(ctx, http.MethodGet, "/api/v1/cases/"+g.caseID+"/devices", nil, &p); err != nil {
			t.Fatalf("%s lists the devices: %v", who, err)
		}
		return len(p.Devices)
	}
	// Mia's two devices and Max's one.
	if n := count("Mia", g.mia); n != 3 {
		t.Fatalf("the seated mediator sees %d devices, want 3 (the unlinked one among them)", n)
	}
	if n := count("Max", g.max); n != 2 {
		t.Fatalf("the unconfirmed co-mediator sees %d devices, want 2: Mia's device waiting to be linked reached them", n)
	}
}
