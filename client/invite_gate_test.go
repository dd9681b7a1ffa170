package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
)

// notConfirmed is the problem type of a refusal to a mediator whom the
// case's signed membership does not seat (api.ProblemMediatorNotConfirmed).
const notConfirmed = "urn:parley:problem:mediator-not-confirmed"

// TestUnadmittedMediatorInviteGetsNoCaucusKey (review): M1 sits in the
// case's signed membership; M2 is on the case record as a co-mediator
// (add-mediator) but M1 has not confirmed them. M2 asks for an invitation
// for side A with no email, to keep the token and join as "P", and for a
// link back in as party A. Both are refused (403, in words, audited), so
// no P joins and M1's client signs no one new into caucus:A. Before the
// fix the invitation was made, P joined, M1's client signed P into A's
// caucus and A's client sealed its next caucus message to P's device.
// Once M1 admits M2, M2 invites as any mediator does.
func TestUnadmittedMediatorInviteGetsNoCaucusKey(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	med := open(t, tc.med, tc.caseID, client.SecureOptions{})
	signedFor(t, tc.med, tc.caseID, tc.med.id, tc.a.id, tc.b.id)

	m2Acct, m2C := n.Staff(t, policy.RoleMediator, fmt.Sprintf("m2-%d@example.org", time.Now().UnixNano()))
	if err := tc.med.c.Do(ctx, http.MethodPost, "/api/v1/cases/"+tc.caseID+"/mediators", map[string]string{"accountId": m2Acct.ID}, nil); err != nil {
		t.Fatal(err)
	}
	if !notice(med, "no mediator has admitted them") {
		t.Error("the mediator was not told the co-mediator waits for admission")
	}

	refused := func(what string, err error) {
		t.Helper()
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != http.StatusForbidden || ce.Problem.Type != notConfirmed {
			t.Errorf("%s by the unadmitted mediator: %v; want a 403 %s", what, err, notConfirmed)
			return
		}
		if d := ce.Problem.Detail; !strings.Contains(d, "confirmed you") || strings.Contains(d, "case.") || strings.Contains(d, "u_") {
			t.Errorf("%s: the refusal's words %q", what, d)
		}
	}
	back, err := m2C.Reentry(ctx, tc.caseID, tc.a.id, time.Hour)
	refused("a link back in as party A", err)
	if err == nil {
		if s, err := client.New(n.URL, "").Join(ctx, back.Link); err == nil && s.Account.ID == tc.a.id {
			t.Error("the unadmitted mediator signed in as party A")
		}
	}
	inv, err := m2C.Invite(ctx, tc.caseID, "party", "A", "P", "", time.Hour)
	refused("an invitation for side A", err)
	if err == nil {
		// What the refusal prevents: P joins, M1's client signs P into
		// caucus:A, and A encrypts to P from then on.
		pc := client.New(n.URL, "")
		s, err := pc.Join(ctx, inv.Link)
		if err != nil {
			t.Fatal(err)
		}
		p := person{id: s.Account.ID, c: pc}
		p.dir, p.x = newDevice(t, pc, s.Account.ID, e2ee.KEMX25519)
		signedFor(t, tc.a, tc.caseID, p.id)
		a := open(t, tc.a, tc.caseID, client.SecureOptions{StatementWait: 10 * time.Second})
		send(t, a, "caucus:A", "A's secret for the mediator")
		if readsText(t, p.x, tc.caseID, "caucus:A", "A's secret for the mediator") {
			t.Error("P, invited by a mediator nobody admitted, reads A's caucus")
		}
		return
	}
	if entries := auditEntriesAsAdmin(t, n); strings.Count(entries, "unadmitted-mediators-add-nobody") < 2 {
		t.Error("the refusals are not audited with their rule")
	}
	if st := med.Chain().Latest(); len(st.People) != 3 || slices.ContainsFunc(st.People, func(p e2ee.Person) bool { return p.Role == e2ee.RoleParty && p.Side == "A" && p.Account != tc.a.id }) {
		t.Errorf("statement %d lists %+v", st.Seq, st.People)
	}

	// The sitting mediator invites; once they admit M2, M2 does too.
	if _, err := tc.med.c.Invite(ctx, tc.caseID, "party", "A", "Quinn", "", time.Hour); err != nil {
		t.Fatalf("the sitting mediator's invitation: %v", err)
	}
	if err := med.AdmitMediator(ctx, m2Acct.ID); err != nil {
		t.Fatal(err)
	}
	signedFor(t, tc.med, tc.caseID, m2Acct.ID)
	if _, err := m2C.Invite(ctx, tc.caseID, "party", "A", "P", "", time.Hour); err != nil {
		t.Fatalf("the admitted co-mediator's invitation: %v", err)
	}
	if _, err := m2C.Reentry(ctx, tc.caseID, tc.a.id, time.Hour); err != nil {
		t.Fatalf("the admitted co-mediator's link back in: %v", err)
	}
}

// auditEntriesAsAdmin is the audit log's entries, read by an
// administrator.
func auditEntriesAsAdmin(t *testing.T, n *nodetest.Node) string {
	t.Helper()
	_, admin := n.Staff(t, policy.RoleAdmin, fmt.Sprintf("admin-%d@example.org", time.Now().UnixNano()))
	var raw []byte
	var out any
	if err := admin.Do(t.Context(), http.MethodGet, "/api/v1/audit/entries?limit=1000", nil, &out); err != nil {
		t.Fatal(err)
	}
	raw = fmt.Appendf(raw, "%v", out)
	return string(raw)
}
