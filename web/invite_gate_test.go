package web_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/keydir"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// TestInviteNeedsASeatedMediator: only a mediator the case's signed
// membership seats adds people to it — an invitation or a link back in —
// since a sitting mediator's client signs every participant the case
// record lists into the rooms. A co-mediator on the record whom no
// sitting mediator confirmed is refused (403, problem type
// mediator-not-confirmed, a sentence without ids or action names, an
// audited refusal naming the rule). Before the case has any statement, a
// mediator adds people only while they are its only mediator. The
// end-to-end harm is client TestUnadmittedMediatorInviteGetsNoCaucusKey.
func TestInviteNeedsASeatedMediator(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := t.Context()
	m1, m1C := n.Staff(t, policy.RoleMediator, "m1@example.org")
	m2, m2C := n.Staff(t, policy.RoleMediator, "m2@example.org")
	_, admin := n.Staff(t, policy.RoleAdmin, "admin@example.org")
	c, err := m1C.CreateCase(ctx, "Flat 3", "neighbour", "", []string{"Lee", "Park"})
	if err != nil {
		t.Fatal(err)
	}
	// The case's only mediator, before anything is signed: allowed.
	inv, err := m1C.Invite(ctx, c.ID, "party", "A", "Lee", "", time.Hour)
	if err != nil {
		t.Fatalf("the only mediator's invitation: %v", err)
	}
	lee, err := client.New(n.URL, "").Join(ctx, inv.Link)
	if err != nil {
		t.Fatal(err)
	}
	if err := addMediator(t, m1C, c.ID, m2.ID); err != nil {
		t.Fatal(err)
	}

	refused := func(what string, err error, words string) {
		t.Helper()
		var ce *client.Error
		if !errors.As(err, &ce) {
			t.Errorf("%s: %v; want a refusal", what, err)
			return
		}
		if ce.Status != http.StatusForbidden || ce.Problem.Type != "urn:parley:problem:mediator-not-confirmed" {
			t.Errorf("%s: %d %s; want 403 mediator-not-confirmed", what, ce.Status, ce.Problem.Type)
		}
		if d := ce.Problem.Detail; !strings.Contains(d, words) || strings.Contains(d, "case.") || strings.Contains(d, "u_") || strings.Contains(d, "statement") {
			t.Errorf("%s: the refusal says %q", what, d)
		}
	}
	// Two mediators and no signed membership yet: nobody is seated.
	for who, mc := range map[string]*client.Client{"the case's creator": m1C, "the co-mediator": m2C} {
		_, err := mc.Invite(ctx, c.ID, "party", "B", "Park", "", time.Hour)
		refused(who+"'s invitation before the conversation is open", err, "conversation")
		_, err = mc.Reentry(ctx, c.ID, lee.Account.ID, time.Hour)
		refused(who+"'s link back in before the conversation is open", err, "conversation")
	}

	// M1 opens the conversation: their device signs the first statement,
	// which seats them alone.
	x := newRegisteredDevice(t, m1C, m1.ID)
	sc, err := x.OpenSecureChat(ctx, c.ID, client.SecureOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sc.Close)
	deadline := time.Now().Add(20 * time.Second)
	for sc.Chain().Latest() == nil {
		if time.Now().After(deadline) {
			t.Fatal("no membership statement signed within 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := m1C.Invite(ctx, c.ID, "party", "B", "Park", "", time.Hour); err != nil {
		t.Errorf("the seated mediator's invitation: %v", err)
	}
	if _, err := m1C.Reentry(ctx, c.ID, lee.Account.ID, time.Hour); err != nil {
		t.Errorf("the seated mediator's link back in: %v", err)
	}
	_, err = m2C.Invite(ctx, c.ID, "observer", "", "Sam", "", time.Hour)
	refused("the unconfirmed co-mediator's invitation", err, "confirmed you")
	_, err = m2C.Reentry(ctx, c.ID, lee.Account.ID, time.Hour)
	refused("the unconfirmed co-mediator's link back in", err, "confirmed you")

	// M2 signs a statement of their own that names them a mediator. The
	// key directory refuses it (only a mediator of the statement before
	// signs the next: keydir TestStatementFromUnseatedMediatorIsRefused).
	// One stored anyway — before the directory checked, or written into
	// the bucket by whoever can — is not reached by the chain (every
	// client stops there), so it seats nobody.
	m2x := newRegisteredDevice(t, m2C, m2.ID)
	latest := sc.Chain().Latest()
	people := append(slices.Clone(latest.People), e2ee.Person{Account: m2.ID, Role: e2ee.RoleMediator})
	epochs := map[string]int64{}
	for _, r := range latest.Rooms {
		epochs[r.Name] = r.Epoch
	}
	own := e2ee.StatementFor(c.ID, people, []string{"A", "B"}, epochs)
	own.Seq, own.Prev = latest.Seq+1, latest.Hash()
	raw, err := own.Sign(m2x.Me)
	if err != nil {
		t.Fatal(err)
	}
	err = m2C.Do(ctx, http.MethodPost, "/api/v1/cases/"+c.ID+"/e2ee/statements", api.RecordRequest{Record: raw}, nil)
	refused("the co-mediator's own statement", err, "confirmed you")
	b, _ := json.Marshal(map[string]any{"kind": keydir.EventStatement, "record": raw, "index": -1})
	if _, err := n.Store.Put(ctx, keydir.StatementKey(c.ID, own.Seq), bytes.NewReader(b), int64(len(b)), objstore.PutOptions{IfNoneMatch: true}); err != nil {
		t.Fatal(err)
	}
	_, err = m2C.Invite(ctx, c.ID, "observer", "", "Sam", "", time.Hour)
	refused("the co-mediator's invitation after signing themselves in", err, "confirmed you")

	entries := auditEntries(t, admin)
	if got := strings.Count(entries, "unadmitted-mediators-add-nobody"); got != 7 {
		t.Errorf("%d refusals audited with their rule, want 7", got)
	}
	if !strings.Contains(entries, m2.ID) || !strings.Contains(entries, `"case.reentry"`) || !strings.Contains(entries, `"case.invite"`) {
		t.Error("the refusals do not name their actor and action in the audit log")
	}
}
