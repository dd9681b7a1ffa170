package web_test

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
)

// TestEveryCaseRouteAnotherCaseLooksLikeNoCase: a party of one case calls
// every route under /api/v1/cases/{caseID} of the live router (so a route
// added later is covered) about another case, which exists, and about a
// well-formed case id with no case. The two answers are one: the same
// status, the same body (but for the id asked), and the same audit entries
// in their name (access.denied naming the same action) — neither the answer
// nor the log tells "not yours" from "not there".
func TestEveryCaseRouteAnotherCaseLooksLikeNoCase(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := t.Context()
	// Every route twice as one party: more refusals a minute than the
	// audit log's refusal limit writes in full, and this test compares
	// each one's entry; the limit is off (audit TestRefusalFloodIsCounted).
	if err := n.Audit.SetDenialLimit(ctx, audit.DenialLimit{}, nil); err != nil {
		t.Fatal(err)
	}
	medAcct, med := n.Staff(t, policy.RoleMediator, "med@oracle.test")
	records, _ := n.Staff(t, policy.RoleRecords, "records@oracle.test")
	k, err := med.CreateCase(ctx, "Oracle case", "family", "", []string{"A", "B"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := med.CreateCase(ctx, "Someone else's case", "family", "", []string{"A", "B"})
	if err != nil {
		t.Fatal(err)
	}
	join := func(caseID, side string) (*client.Client, string) {
		inv, err := med.Invite(ctx, caseID, "party", side, "Party "+side, "", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		p := client.New(n.URL, "")
		s, err := p.Join(ctx, inv.Link)
		if err != nil {
			t.Fatal(err)
		}
		return p, s.Account.ID
	}
	_, partyA := join(other.ID, "A")
	partyB, partyBID := join(k.ID, "B")
	// The isolation cast's sample bodies, so that writes reach the
	// decision rather than stop at input validation.
	samples := &isolationCast{node: n, id: map[string]string{"mediator": medAcct.ID, "records": records.ID, "partyA": partyA}}
	missing := ids.New("c")
	fill := func(pattern, caseID string) string {
		var b strings.Builder
		for rest := pattern; rest != ""; {
			i := strings.IndexByte(rest, '{')
			if i < 0 {
				b.WriteString(rest)
				break
			}
			b.WriteString(rest[:i])
			j := strings.IndexByte(rest, '}')
			switch param := rest[i+1 : j]; param {
			case "caseID":
				b.WriteString(caseID)
			case "room":
				b.WriteString("joint")
			case "version":
				b.WriteString("1")
			default:
				b.WriteString(strings.TrimSuffix(param, "ID")[:1] + "_" + strings.Repeat("a", 26))
			}
			rest = rest[j+1:]
		}
		return b.String()
	}
	// ask calls r about caseID as party B and returns the status, the
	// body with caseID blanked, and the audit entries in party B's name
	// that the call appended (the case id blanked too).
	ask := func(r route, caseID string) (int, string, []string) {
		code, body, entries := askAudited(t, n, samples.request(t, r, fill(r.pattern, caseID), partyB.Token), partyBID)
		for i, e := range entries {
			entries[i] = strings.ReplaceAll(e, caseID, "ID")
		}
		return code, normalize(body, caseID), entries
	}
	checked := 0
	for _, r := range allRoutes(t, n) {
		if !strings.HasPrefix(r.pattern, "/api/v1/cases/{caseID}") {
			continue
		}
		checked++
		yc, yb, ya := ask(r, other.ID)
		mc, mb, ma := ask(r, missing)
		if yc < 400 {
			t.Errorf("%s %s: %d for another case's outsider", r.method, r.pattern, yc)
		}
		if yc != mc || yb != mb {
			t.Errorf("%s %s: the answers differ\nexists:  %d %s\nmissing: %d %s", r.method, r.pattern, yc, yb, mc, mb)
		}
		if !slices.Equal(ya, ma) {
			t.Errorf("%s %s: the audit entries differ\nexists:  %v\nmissing: %v", r.method, r.pattern, ya, ma)
		}
	}
	if checked < 40 {
		t.Fatalf("only %d case routes found", checked)
	}
	t.Logf("%d case routes", checked)
}

// askAudited sends req and returns the answer's status and body and the
// audit entries in actor's name the request appended (each as "%+v", its
// time blanked).
func askAudited(t *testing.T, n *nodetest.Node, req *http.Request, actor string) (int, string, []string) {
	t.Helper()
	before := n.Audit.Size()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var entries []string
	for i := before; i < n.Audit.Size(); i++ {
		ev, err := n.Audit.Entry(req.Context(), i)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Actor == actor {
			ev.Time = time.Time{}
			entries = append(entries, fmt.Sprintf("%+v", ev))
		}
	}
	return res.StatusCode, string(b), entries
}
