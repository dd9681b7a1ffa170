package client_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/policy"
)

// serverAddsMediator is a malicious operator writing an account of its own
// into the case record as a mediator and sealing the rooms, as a real
// addition would.
func serverAddsMediator(t *testing.T, n *nodetest.Node, caseID, account string) {
	t.Helper()
	ctx := context.Background()
	if _, err := metastore.Update(ctx, n.Meta, "cases/"+caseID+"/case", func(c *cases.Case) error {
		c.Mediators = append(c.Mediators, cases.Mediator{AccountID: account, Name: "Co-mediator", Added: time.Now()})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	n.Rooms.MembershipChanged(ctx, caseID, cases.MembershipChange{Kind: "mediator.added", Account: account})
}

// readsText: does p's device read text in room?
func readsText(t *testing.T, x *client.E2EE, caseID, room, text string) bool {
	t.Helper()
	evs, err := x.ReadRoom(context.Background(), caseID, room, messaging.Position{})
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(evs, func(ev client.SecureEvent) bool { return ev.Rejected == nil && ev.Text == text })
}

// TestServerAddedMediatorReadsNoCaucus: the server writes a mediator
// account of its own into the case record and seals the rooms. The
// sitting mediator's open client signs the new epochs without it (and
// says so), so A's client seals nothing of caucus:A to the server's
// device. Once the mediator admits the account explicitly (the
// legitimate co-mediator flow), it reads what A says from then on.
func TestServerAddedMediatorReadsNoCaucus(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	med := open(t, tc.med, tc.caseID, client.SecureOptions{})
	a := open(t, tc.a, tc.caseID, client.SecureOptions{StatementWait: 10 * time.Second})
	send(t, a, "caucus:A", "before")
	expect(t, med, "caucus:A")
	before := a.Epoch("caucus:A")

	evilAcct, evilC := n.Staff(t, policy.RoleMediator, "evil@example.org")
	_, evil := newDevice(t, evilC, evilAcct.ID, e2ee.KEMX25519)
	serverAddsMediator(t, n, tc.caseID, evilAcct.ID)
	if !notice(med, "Co-mediator", "no mediator has admitted them") {
		t.Error("the mediator was not told a new mediator waits for admission")
	}
	send(t, a, "caucus:A", "A's secret after")
	if a.Epoch("caucus:A") <= before {
		t.Fatalf("A sent in epoch %d, not after the seal (%d): the test proves nothing", a.Epoch("caucus:A"), before)
	}
	if st := a.Chain().Latest(); st.IsMember("caucus:A", evilAcct.ID) || st.IsMember("joint", evilAcct.ID) {
		t.Fatalf("statement %d signed without any admission puts the server's account in the rooms", st.Seq)
	}
	// The server itself keeps the unadmitted account out of the room
	// (docs/security.md, "A co-mediator nobody admitted reading the
	// case"); what it says is sealed to nobody's key of theirs anyway.
	if _, err := evil.ReadRoom(ctx, tc.caseID, "caucus:A", messaging.Position{}); err == nil || !strings.Contains(err.Error(), "once a mediator already in this case has confirmed you") {
		t.Fatalf("the server-made mediator account pages A's caucus without any admission: %v", err)
	}
	pending, err := med.PendingMediators(ctx)
	if err != nil || len(pending) != 1 || pending[0].AccountID != evilAcct.ID {
		t.Fatalf("pending mediators %+v %v", pending, err)
	}

	// A co-mediator the program really added: the mediator admits them.
	if err := med.AdmitMediator(ctx, evilAcct.ID); err != nil {
		t.Fatal(err)
	}
	signedFor(t, tc.a, tc.caseID, evilAcct.ID)
	if pending, err := med.PendingMediators(ctx); err != nil || len(pending) != 0 {
		t.Fatalf("pending after the admission: %+v %v", pending, err)
	}
	// A's open chat learns of the admission (which seals nothing) the way
	// every client does: it fetches the chain again before a send when
	// its copy is more than a few seconds old.
	client.AdvanceRefreshClockForTest(a, client.SendRefreshForTest+100*time.Millisecond)
	send(t, a, "caucus:A", "A's words to both mediators")
	if !readsText(t, evil, tc.caseID, "caucus:A", "A's words to both mediators") {
		t.Fatal("the admitted co-mediator does not read caucus:A")
	}
}

// TestServerAddedMediatorGetsNoEarlierCaucusDocument: the same forged
// mediator; the sitting mediator's device, asked for newcomers' keys (the
// browser does it whenever the documents view opens), gives it nothing
// until the mediator admits it; then it gives it the earlier document.
func TestServerAddedMediatorGetsNoEarlierCaucusDocument(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	ctx := context.Background()
	tc := seedE2EE(t, n)
	med := open(t, tc.med, tc.caseID, client.SecureOptions{})
	signedFor(t, tc.a, tc.caseID, tc.a.id, tc.b.id)
	d := uploadE2EE(t, tc.a, tc.caseID, "caucus:A", "evidence", canaryDoc("REVIEW-CAUCUS-DOC"))

	evilAcct, evilC := n.Staff(t, policy.RoleMediator, "evil2@example.org")
	_, evil := newDevice(t, evilC, evilAcct.ID, e2ee.KEMX25519)
	serverAddsMediator(t, n, tc.caseID, evilAcct.ID)
	if !notice(med, "signed membership statement") {
		t.Fatal("the mediator's client signed no statement for the new epochs")
	}
	if st := med.Chain().Latest(); st.IsMember("caucus:A", evilAcct.ID) {
		t.Fatal("signed into caucus:A without an admission")
	}
	if added, err := tc.med.x.WrapForNewcomers(ctx, tc.caseID); err != nil || added != 0 {
		t.Fatalf("the mediator's device wrapped %d keys for newcomers (%v)", added, err)
	}
	eve := person{id: evilAcct.ID, c: evilC, x: evil}
	if got, err := readE2EE(eve, tc.caseID, d.ID); err == nil || bytes.Contains(got, []byte("REVIEW-CAUCUS-DOC")) {
		t.Fatalf("the server-made mediator read A's earlier caucus document (%v)", err)
	}

	if err := med.AdmitMediator(ctx, evilAcct.ID); err != nil {
		t.Fatal(err)
	}
	signedFor(t, tc.med, tc.caseID, evilAcct.ID)
	if added, err := tc.med.x.WrapForNewcomers(ctx, tc.caseID); err != nil || added == 0 {
		t.Fatalf("after the admission the mediator's device wrapped %d keys (%v)", added, err)
	}
	if got, err := readE2EE(eve, tc.caseID, d.ID); err != nil || !bytes.Contains(got, []byte("REVIEW-CAUCUS-DOC")) {
		t.Fatalf("the admitted co-mediator does not read the earlier caucus document: %v", err)
	}
	// The next pass finds nobody lacking a copy: it adds nothing and
	// refuses nothing. The wrap the first pass made leaves the mediator's
	// own device out, so it is not pinned as the version's newest; pinned,
	// every later pass refused the document as rolled back (review 404 M1).
	for i := range 2 {
		if added, err := tc.med.x.WrapForNewcomers(ctx, tc.caseID); err != nil || added != 0 {
			t.Fatalf("pass %d after the newcomer pass: the mediator's device wrapped %d keys (%v)", i+2, added, err)
		}
	}
}
