package keydir_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/keydir"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/tlogverify"
)

// gateCase is a case Mia created, with Max added as a co-mediator; both
// have a registered device.
type gateCase struct {
	caseID         string
	mia, max       *client.Client
	miaID, maxID   string
	miaDev, maxDev *e2ee.DeviceKeys
	n              *nodetest.Node
}

func newGateCase(t *testing.T) *gateCase {
	t.Helper()
	ctx := context.Background()
	n := nodetest.Embedded(t)
	miaAcct, mia := n.Staff(t, policy.RoleMediator, "mia@example.org")
	maxAcct, max := n.Staff(t, policy.RoleMediator, "max@example.org")
	k, err := mia.CreateCase(ctx, "Gate", "family", "", []string{"A", "B"})
	if err != nil {
		t.Fatal(err)
	}
	if err := mia.Do(ctx, http.MethodPost, "/api/v1/cases/"+k.ID+"/mediators", map[string]string{"accountId": maxAcct.ID}, nil); err != nil {
		t.Fatal(err)
	}
	g := &gateCase{caseID: k.ID, mia: mia, max: max, miaID: miaAcct.ID, maxID: maxAcct.ID, n: n}
	for _, d := range []struct {
		c   *client.Client
		id  string
		out **e2ee.DeviceKeys
	}{{mia, miaAcct.ID, &g.miaDev}, {max, maxAcct.ID, &g.maxDev}} {
		dev, _ := e2ee.NewDeviceKeys(d.id, e2ee.KEMXWing, time.Now())
		var p keydir.Proven
		if err := d.c.Do(ctx, http.MethodPost, "/api/v1/keys/devices", api.RecordRequest{Record: dev.Record().Raw}, &p); err != nil {
			t.Fatal(err)
		}
		*d.out = dev
	}
	return g
}

// post signs the statement that follows prev (nil: the first), naming
// mediators, with dev, and posts it as c; it returns the statement.
func (g *gateCase) post(t *testing.T, c *client.Client, dev *e2ee.DeviceKeys, prev *e2ee.Statement, mediators ...string) (*e2ee.Statement, error) {
	t.Helper()
	var people []e2ee.Person
	for _, m := range mediators {
		people = append(people, e2ee.Person{Account: m, Role: e2ee.RoleMediator})
	}
	st := e2ee.StatementFor(g.caseID, people, []string{"A", "B"}, map[string]int64{"joint": 1, "caucus:A": 1, "caucus:B": 1, "mediators": 1})
	st.Seq = 1
	if prev != nil {
		st.Seq, st.Prev = prev.Seq+1, prev.Hash()
	}
	raw, err := st.Sign(dev)
	if err != nil {
		t.Fatal(err)
	}
	var p keydir.Proven
	if err := c.Do(context.Background(), http.MethodPost, "/api/v1/cases/"+g.caseID+"/e2ee/statements", api.RecordRequest{Record: raw}, &p); err != nil {
		return nil, err
	}
	out, err := e2ee.DecodeStatement(raw)
	if err != nil {
		t.Fatal(err)
	}
	return out, nil
}

// refused checks err is a 403 in plain words, of the given problem type
// ("" for any), containing want.
func refused(t *testing.T, what string, err error, typ, want string) {
	t.Helper()
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != http.StatusForbidden {
		t.Fatalf("%s: %v; want 403", what, err)
	}
	if typ != "" && ce.Problem.Type != "urn:parley:problem:"+typ {
		t.Errorf("%s: problem type %q, want %s", what, ce.Problem.Type, typ)
	}
	if d := ce.Problem.Detail; !strings.Contains(d, want) || strings.Contains(d, "u_") || strings.Contains(d, "case.") {
		t.Errorf("%s: the refusal's words %q", what, d)
	}
}

// deniedRule checks the audit log holds an access.denied event of the
// case by actor naming rule (the refusal appends it before answering).
func deniedRule(t *testing.T, g *gateCase, actor, rule string) {
	t.Helper()
	for i := g.n.Audit.Size() - 1; i >= 0; i-- {
		e, err := g.n.Audit.Entry(context.Background(), i)
		if err != nil {
			t.Fatal(err)
		}
		if e.Type == "access.denied" && e.Case == g.caseID && e.Actor == actor && e.Attrs["rule"] == rule && e.Attrs["action"] == "statement.post" {
			return
		}
	}
	t.Errorf("no access.denied by %s naming rule %s", actor, rule)
}

// TestStatementFromUnseatedMediatorIsRefused (review): Max is a mediator
// on the record whom Mia's statement 1 does not seat. He signs statement 2,
// correctly chained, with his own device. Before the fix the server stored
// it (200), and since every client's Chain.Extend rejects it and nobody
// could post statement 2 again, the case's encryption was frozen for good.
// Now it is refused (403, in words, audited), Mia's statement 2 is taken,
// and the chain clients fetch extends.
func TestStatementFromUnseatedMediatorIsRefused(t *testing.T) {
	t.Parallel()
	g := newGateCase(t)
	first, err := g.post(t, g.mia, g.miaDev, nil, g.miaID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = g.post(t, g.max, g.maxDev, first, g.miaID, g.maxID)
	refused(t, "statement 2 from Max, not seated", err, "mediator-not-confirmed", "confirmed you")
	deniedRule(t, g, g.maxID, "statement-signer-seated")
	second, err := g.post(t, g.mia, g.miaDev, first, g.miaID, g.maxID)
	if err != nil {
		t.Fatalf("Mia's statement 2 after Max's refusal: %v", err)
	}
	// Now seated, Max signs statement 3.
	if _, err := g.post(t, g.max, g.maxDev, second, g.miaID, g.maxID); err != nil {
		t.Fatalf("statement 3 from Max, seated by statement 2: %v", err)
	}
	seated, signed, err := g.n.KeyDir.SeatedMediators(context.Background(), g.caseID)
	if err != nil || !signed || len(seated) != 2 {
		t.Fatalf("seated after 3 statements: %v %v %v", seated, signed, err)
	}
}

// TestFirstStatementOnlyFromOpener (review): Mia created the case and is
// an active mediator, so while Max is on the record too only she signs
// the first statement. Before the fix Max could open the conversation
// first, seat himself alone, and be the one confirming Mia.
func TestFirstStatementOnlyFromOpener(t *testing.T) {
	t.Parallel()
	g := newGateCase(t)
	_, err := g.post(t, g.max, g.maxDev, nil, g.maxID)
	refused(t, "statement 1 from Max while Mia, the creator, is a mediator", err, "mediator-not-confirmed", "the mediator who created the case")
	deniedRule(t, g, g.maxID, "statement-first-by-opener")
	// A first statement naming anyone but its signer as mediator is refused too.
	_, err = g.post(t, g.mia, g.miaDev, nil, g.miaID, g.maxID)
	refused(t, "statement 1 naming two mediators", err, "", "names one mediator")
	if _, err := g.post(t, g.mia, g.miaDev, nil, g.miaID); err != nil {
		t.Fatalf("Mia's statement 1: %v", err)
	}
}

// TestStatementCap: a case holds at most its cap of statements; the next
// is refused in words (403, not a 409 clients would retry), audited.
func TestStatementCap(t *testing.T) {
	t.Parallel()
	g := newGateCase(t)
	keydir.SetStatementCapForTest(g.n.KeyDir, 3)
	var prev *e2ee.Statement
	for i := 0; i < 3; i++ {
		st, err := g.post(t, g.mia, g.miaDev, prev, g.miaID)
		if err != nil {
			t.Fatalf("statement %d: %v", i+1, err)
		}
		prev = st
	}
	_, err := g.post(t, g.mia, g.miaDev, prev, g.miaID)
	refused(t, "statement 4 of a case capped at 3", err, "forbidden", "the most one case holds")
	deniedRule(t, g, g.miaID, "statement-limit")
}

// TestStatementFromUnlinkedDeviceIsRefused (review): someone holding Mia's
// session (a stolen token, a lost laptop's CLI config) registers a device
// of their own under her account — allowed, the account has its first
// device already — and signs the case's next statement with it. No
// client counts that device (none of Mia's devices linked it), so before
// the fix the server stored a statement every client's Chain.Extend
// refuses ("unknown device"), at a place in the chain nobody could post
// again: the case could never send, admit or open a room again. Now it is
// refused (403, in words, audited), statement 1 as well as a later one,
// and Mia's own statements still extend the chain every client verifies.
func TestStatementFromUnlinkedDeviceIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := newGateCase(t)
	rogue, err := e2ee.NewDeviceKeys(g.miaID, e2ee.KEMXWing, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := g.mia.Do(ctx, http.MethodPost, "/api/v1/keys/devices", api.RecordRequest{Record: rogue.Record().Raw}, &keydir.Proven{}); err != nil {
		t.Fatalf("registering a second device under Mia's account: %v", err)
	}
	_, err = g.post(t, g.mia, rogue, nil, g.miaID)
	refused(t, "statement 1 from a device of Mia's nobody linked", err, "", "not linked")
	deniedRule(t, g, g.miaID, "statement-signer-counted")
	first, err := g.post(t, g.mia, g.miaDev, nil, g.miaID)
	if err != nil {
		t.Fatalf("Mia's statement 1: %v", err)
	}
	_, err = g.post(t, g.mia, rogue, first, g.miaID)
	refused(t, "statement 2 from a device of Mia's nobody linked", err, "", "not linked")
	if _, err := g.post(t, g.mia, g.miaDev, first, g.miaID, g.maxID); err != nil {
		t.Fatalf("Mia's statement 2 after the refusal: %v", err)
	}
	// The chain as a client verifies it: the case's devices and
	// statements, proven against the log, extended one by one.
	fetch := func(path string) *tlogverify.Verified {
		var p api.Proven
		if err := g.max.Do(ctx, http.MethodGet, path, nil, &p); err != nil {
			t.Fatal(err)
		}
		v, err := tlogverify.Verify(&p, tlogverify.View{})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	d := e2ee.NewDevices()
	d.RequireEndorsement()
	if _, err := fetch("/api/v1/cases/" + g.caseID + "/devices").Directory(d); err != nil {
		t.Fatal(err)
	}
	chain := e2ee.NewChain(g.caseID)
	for _, st := range fetch("/api/v1/cases/" + g.caseID + "/e2ee/statements").Statements {
		if err := chain.Extend(st, d); err != nil {
			t.Fatalf("a client's chain stops at statement %d: %v", st.Seq, err)
		}
	}
	if chain.Len() != 2 {
		t.Fatalf("a client's chain holds %d statements, want Mia's 2", chain.Len())
	}
}
