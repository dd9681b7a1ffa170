package web_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/keydir"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/policy"
)

// TestCarryDecline: the author of a caucus message declines a mediator's
// proposal to carry it. Only the author may (another party gets the answer
// a missing carry gets, and the refusal is audited); a declined carry is
// never consented afterwards and a consented one is not declined; the
// decline is audited like a consent, with ids and hashes only.
func TestCarryDecline(t *testing.T) {
	ctx := context.Background()
	n, med, k, partyA, partyB, m, body := carryWorld(t, "med@carry.test", "Carry case")
	propose := func() string {
		id := ids.New("cr")
		if err := med.Do(ctx, http.MethodPost, "/api/v1/cases/"+k.ID+"/carries", keydir.CarryRequest{ID: id, From: "caucus:A", To: "joint",
			Epoch: m.Epoch, Offset: m.Offset, Hash: fmt.Sprintf("sha256:%x", e2ee.PayloadHash(body))}, nil); err != nil {
			t.Fatal(err)
		}
		return id
	}
	declined, consented := propose(), propose()
	path := func(id, verb string) string { return "/api/v1/cases/" + k.ID + "/carries/" + id + "/" + verb }
	status := func(err error) int {
		var p *client.Error
		if errors.As(err, &p) {
			return p.Status
		}
		if err != nil {
			t.Fatalf("not a problem: %v", err)
		}
		return http.StatusOK
	}
	consent := api.ConsentRequest{Hash: "sha256:" + strings.Repeat("ab", 32)}

	// Side B's party cannot decline side A's carry, nor can the mediator.
	if got := status(partyB.Do(ctx, http.MethodPost, path(declined, "decline"), nil, nil)); got != http.StatusNotFound {
		t.Fatalf("another party declining: %d, want 404", got)
	}
	if got := status(med.Do(ctx, http.MethodPost, path(declined, "decline"), nil, nil)); got != http.StatusNotFound {
		t.Fatalf("the mediator declining for the author: %d, want 404", got)
	}
	var rec api.Carry
	if err := partyA.Do(ctx, http.MethodPost, path(declined, "decline"), nil, &rec); err != nil {
		t.Fatalf("the author declining: %v", err)
	}
	if rec.Declined == nil || rec.Consented != nil || rec.CarriedHash != "" {
		t.Fatalf("declined record: %+v", rec)
	}
	if got := status(partyA.Do(ctx, http.MethodPost, path(declined, "consent"), consent, nil)); got != http.StatusConflict {
		t.Fatalf("consenting to a declined carry: %d, want 409", got)
	}
	if err := partyA.Do(ctx, http.MethodPost, path(consented, "consent"), consent, nil); err != nil {
		t.Fatalf("consenting: %v", err)
	}
	if got := status(partyA.Do(ctx, http.MethodPost, path(consented, "decline"), nil, nil)); got != http.StatusConflict {
		t.Fatalf("declining a consented carry: %d, want 409", got)
	}

	_, records := n.Staff(t, policy.RoleRecords, "records@carry.test")
	entries := auditEntries(t, records)
	if !strings.Contains(entries, `"e2ee.carry.declined"`) {
		t.Fatalf("the decline is not audited: %s", entries)
	}
	if !strings.Contains(entries, `"carry.decline"`) {
		t.Fatalf("the refused declines are not audited")
	}
	if strings.Contains(entries, "opaque payload") {
		t.Fatalf("the audit log carries the message")
	}
}

// TestCarryRecordReaders: the server's record of a carry is read by its
// author and the case's mediators; the other side, and anyone asking for
// a carry that does not exist, get the same 404.
func TestCarryRecordReaders(t *testing.T) {
	ctx := context.Background()
	_, med, k, partyA, partyB, m, body := carryWorld(t, "med@carryread.test", "Carry record case")
	id := ids.New("cr")
	if err := med.Do(ctx, http.MethodPost, "/api/v1/cases/"+k.ID+"/carries", keydir.CarryRequest{ID: id, From: "caucus:A", To: "joint",
		Epoch: m.Epoch, Offset: m.Offset, Hash: fmt.Sprintf("sha256:%x", e2ee.PayloadHash(body))}, nil); err != nil {
		t.Fatal(err)
	}
	get := func(c *client.Client, carry string) (api.Carry, int) {
		var rec api.Carry
		err := c.Do(ctx, http.MethodGet, "/api/v1/cases/"+k.ID+"/carries/"+carry, nil, &rec)
		var p *client.Error
		if errors.As(err, &p) {
			return rec, p.Status
		}
		if err != nil {
			t.Fatal(err)
		}
		return rec, http.StatusOK
	}
	for who, c := range map[string]*client.Client{"the author": partyA, "the mediator": med} {
		if rec, st := get(c, id); st != http.StatusOK || rec.ID != id || rec.From != "caucus:A" || rec.Ref.Offset != m.Offset {
			t.Fatalf("%s reading the record: %d %+v", who, st, rec)
		}
	}
	if _, st := get(partyB, id); st != http.StatusNotFound {
		t.Fatalf("the other side reading the record: %d, want 404", st)
	}
	if _, st := get(partyA, ids.New("cr")); st != http.StatusNotFound {
		t.Fatalf("a carry that does not exist: %d, want 404", st)
	}
}

// carryWorld makes a case with a mediator (medEmail) and a party on each
// side, and the message party A posted in caucus A (its body given back)
// that the carry tests propose to carry.
func carryWorld(t *testing.T, medEmail, title string) (n *nodetest.Node, med *client.Client, k api.Case, partyA, partyB *client.Client, m messaging.Message, body []byte) {
	n = nodetest.Embedded(t)
	ctx := context.Background()
	_, med = n.Staff(t, policy.RoleMediator, medEmail)
	k, err := med.CreateCase(ctx, title, "family", "", []string{"A", "B"})
	if err != nil {
		t.Fatal(err)
	}
	join := func(side string) *client.Client {
		inv, err := med.Invite(ctx, k.ID, "party", side, "Party "+side, "", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		p := client.New(n.URL, "")
		if _, err := p.Join(ctx, inv.Link); err != nil {
			t.Fatal(err)
		}
		return p
	}
	partyA, partyB = join("A"), join("B")
	chat, err := partyA.Chat(ctx, k.ID, map[string]*messaging.Position{"caucus:A": nil})
	if err != nil {
		t.Fatal(err)
	}
	body = []byte("opaque payload")
	m, err = chat.Send(ctx, "caucus:A", ids.New("m"), body)
	chat.Close()
	if err != nil {
		t.Fatal(err)
	}
	return n, med, k, partyA, partyB, m, body
}
