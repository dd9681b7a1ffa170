package web_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/policy"
)

// TestSignInLinkWorkerSeatIndexMarker: a scale-mode node's sign-in link
// worker never writes the marker that makes requests read the index of
// seats by address (seat-index.complete): in a rolling upgrade a node of
// the release before still runs, making seats without entries, which the
// index would miss for good. The operator writes it (`parley admin
// seat-index`) once every node runs the release; until then requests read
// every record, and still make the one party's link. An embedded node's
// data directory belongs to its one process, so its worker indexes the
// seats and writes the marker itself.
func TestSignInLinkWorkerSeatIndexMarker(t *testing.T) {
	t.Run("scale", func(t *testing.T) { workerMarker(t, nodetest.Start(t, nodetest.Scale(t)), false) })
	t.Run("embedded", func(t *testing.T) { workerMarker(t, nodetest.Embedded(t), true) })
}

func workerMarker(t *testing.T, n *nodetest.Node, want bool) {
	ctx := context.Background()
	tag := ids.New("x")[2:10]
	_, med := n.Staff(t, policy.RoleMediator, "marker-med-"+tag+"@example.test")
	c, err := med.CreateCase(ctx, "Marker v. Worker", "tenancy", "", []string{"A", "B"})
	if err != nil {
		t.Fatal(err)
	}
	addr := "marker-" + tag + "@example.test"
	inv, err := med.Invite(ctx, c.ID, "party", "A", "Mo Marker", addr, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s, err := client.New(n.URL, "").Join(ctx, inv.Link)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Accounts.ConfirmParticipantEmail(ctx, s.Account.ID, addr); err != nil {
		t.Fatal(err)
	}
	from := n.Audit.Size()
	if code, body, _ := askSignInLink(t, n.URL, addr); code != http.StatusAccepted {
		t.Fatalf("asking for a link: %d %s", code, body)
	}
	// The worker has made the link (audited) once it is past where it
	// would index the seats.
	made := false
	for deadline := time.Now().Add(20 * time.Second); !made && time.Now().Before(deadline); {
		for i := from; i < n.Audit.Size(); i++ {
			ev, err := n.Audit.Entry(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			made = made || (ev.Type == "case.reentry.created" && ev.Case == c.ID && ev.Attrs["via"] == "email")
		}
		if !made {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !made {
		t.Fatal("the worker made no link for the one party with the address")
	}
	_, err = n.Meta.Stat(ctx, "seat-index.complete")
	switch got := err == nil; {
	case err != nil && !errors.Is(err, metastore.ErrNotFound):
		t.Fatal(err)
	case got != want:
		t.Fatalf("marker written by the worker: %v, want %v", got, want)
	}
}
