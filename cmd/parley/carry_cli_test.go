package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
)

// postAs encrypts each plaintext with u's CLI device and posts it in room
// through the server, as any member's own client may post whatever it
// likes; it returns the position and payload hash of the last one.
func postAs(t *testing.T, u cliUser, caseID, room string, ps ...*e2ee.Plaintext) (api.Position, [32]byte) {
	t.Helper()
	ctx := context.Background()
	x, err := u.c.E2EE(u.dir)
	if err != nil {
		t.Fatal(err)
	}
	devs, _, err := x.CaseDevices(ctx, caseID)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := x.Statements(ctx, caseID, devs)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := chain.Latest().Room(room)
	if !ok {
		t.Fatalf("no signed membership for %s", room)
	}
	raw, err := u.c.Chat(ctx, caseID, map[string]*api.Position{room: nil})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	sess := e2ee.NewSession(x.Me, caseID, chain, devs)
	var pos api.Position
	var hash [32]byte
	for _, p := range ps {
		dists, err := sess.Prepare(room, r.Epoch)
		if err != nil {
			t.Fatal(err)
		}
		body, err := sess.Encrypt(room, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range append(dists, body) {
			m, err := raw.SendFor(ctx, room, ids.New("m"), b, r.Epoch)
			if err != nil {
				t.Fatal(err)
			}
			pos = m.Pos()
		}
		hash = e2ee.PayloadHash(body)
	}
	return pos, hash
}

// TestChatShowsOnlyRealCarryDecisions: the CLI takes a carry's proposal
// only from a mediator, in a caucus, and a decline only from the author
// of the message the proposal names. Another party of side A posts, in
// the caucus, a decline naming the carry and a message of their own, and
// a "proposal" with the same carry id naming the author's other message;
// side B posts one in the joint room. `chat read` shows the decline and
// both proposals as ignored, and the author's `/approve` carries what the
// mediator proposed (before, the last proposal read won, and /approve
// refused it as not from a mediator).
func TestChatShowsOnlyRealCarryDecisions(t *testing.T) {
	n := nodetest.Embedded(t)
	k, med, join := cliCase(t, n, "cli-carry@example.org", "CLI carry", "family", []string{"A", "B"})
	a, a2, b := join("A", "Avery"), join("A", "Sasha"), join("B", "Blake")
	for _, u := range []cliUser{med, a, a2, b} {
		if code, out := u.run(t, "", "keys", "init"); code != 0 {
			t.Fatalf("keys init: %d %s", code, out)
		}
	}
	if code, out := med.run(t, "", "chat", "send", k.ID, "--room", "joint", "Welcome"); code != 0 {
		t.Fatalf("mediator chat send: %d %s", code, out)
	}
	for _, text := range []string{"CARRY-ME we could accept 1,200", "KEEP-ME our lowest is 900"} {
		if code, out := a.run(t, "", "chat", "send", k.ID, "--room", "caucus:A", text); code != 0 {
			t.Fatalf("party chat send: %d %s", code, out)
		}
	}
	code, out := a.run(t, "", "chat", "read", k.ID, "--room", "caucus:A", "--json")
	var lines []chatLine
	if code != 0 || json.Unmarshal([]byte(out), &lines) != nil || len(lines) != 2 {
		t.Fatalf("chat read --json: %d %s", code, out)
	}
	carryPos, keepPos := fmt.Sprintf("%d:%d", lines[0].Epoch, lines[0].Offset), api.Position{Epoch: lines[1].Epoch, Offset: lines[1].Offset}
	code, out = med.run(t, "/carry "+carryPos+"\n/quit\n", "chat", k.ID, "--room", "caucus:A")
	m := regexp.MustCompile(`proposed carry (cr_[a-z0-9]+)`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("/carry: %d %s", code, out)
	}
	id := m[1]

	// Sasha (side A) declines the carry, naming a message of their own.
	own, ownHash := postAs(t, a2, k.ID, "caucus:A", &e2ee.Plaintext{Kind: e2ee.KindText, Text: "I will handle this"})
	postAs(t, a2, k.ID, "caucus:A", &e2ee.Plaintext{Kind: e2ee.KindCarryDeclined, CarryID: id, Room: "joint",
		Ref: e2ee.Position{Epoch: own.Epoch, Offset: own.Offset}, RefHash: ownHash})
	// Sasha "proposes" the same carry id for the author's kept message.
	postAs(t, a2, k.ID, "caucus:A", &e2ee.Plaintext{Kind: e2ee.KindCarryProposal, CarryID: id, Room: "joint",
		Ref: e2ee.Position{Epoch: keepPos.Epoch, Offset: keepPos.Offset}})
	// Blake (side B) "proposes" it in the joint room, naming their own message.
	bOwn, bHash := postAs(t, b, k.ID, "joint", &e2ee.Plaintext{Kind: e2ee.KindText, Text: "Our offer stands"})
	postAs(t, b, k.ID, "joint", &e2ee.Plaintext{Kind: e2ee.KindCarryProposal, CarryID: id, Room: "joint",
		Ref: e2ee.Position{Epoch: bOwn.Epoch, Offset: bOwn.Offset}, RefHash: bHash})

	for _, u := range []cliUser{a, med} {
		code, out := u.run(t, "", "chat", "read", k.ID, "--room", "caucus:A")
		if code != 0 || strings.Contains(out, "Sasha declined") || strings.Contains(out, "Sasha proposes") ||
			!strings.Contains(out, "Sasha posted a decline of carry "+id+" that this device cannot confirm comes from the author of the message proposed; ignored") ||
			!strings.Contains(out, "Sasha posted a carry proposal, but only a mediator proposes a carry, in a side's caucus; ignored") ||
			!strings.Contains(out, "proposes carrying message "+carryPos+" to the joint room") {
			t.Fatalf("chat read caucus:A: %d\n%s", code, out)
		}
	}
	if code, out := b.run(t, "", "chat", "read", k.ID, "--room", "joint"); code != 0 || strings.Contains(out, "Blake proposes") ||
		!strings.Contains(out, "Blake posted a carry proposal, but only a mediator proposes a carry, in a side's caucus; ignored") {
		t.Fatalf("chat read joint: %d\n%s", code, out)
	}

	// The author approves the mediator's proposal: what it names is carried.
	if code, out := a.run(t, "/approve "+id+"\n/quit\n", "chat", k.ID, "--room", "caucus:A"); code != 0 || !strings.Contains(out, "carried to joint") {
		t.Fatalf("/approve: %d %s", code, out)
	}
	if code, out := b.run(t, "", "chat", "read", k.ID, "--room", "joint"); code != 0 || !strings.Contains(out, "CARRY-ME") || strings.Contains(out, "KEEP-ME") {
		t.Fatalf("B reads the joint room: %d %s", code, out)
	}
}

// TestChatCarryInDoubtWhenTwoProposalsShareAnId: a second mediator posts,
// in the caucus, a different proposal with the carry id of the first one
// (naming the author's other message). Neither is taken: `chat read`
// says the carry is in doubt, and the author's /approve refuses in plain
// words, carrying nothing.
func TestChatCarryInDoubtWhenTwoProposalsShareAnId(t *testing.T) {
	n := nodetest.Embedded(t)
	k, med, join := cliCase(t, n, "cli-carry2@example.org", "CLI carry in doubt", "family", []string{"A", "B"})
	a, b := join("A", "Avery"), join("B", "Blake")
	coAcct, coC := n.Staff(t, policy.RoleMediator, "cli-carry2-co@example.org")
	co := cliUser{t.TempDir(), coC, coAcct.ID}
	for _, u := range []cliUser{med, a, b, co} {
		if code, out := u.run(t, "", "keys", "init"); code != 0 {
			t.Fatalf("keys init: %d %s", code, out)
		}
	}
	if code, out := med.run(t, "", "chat", "send", k.ID, "--room", "joint", "Welcome"); code != 0 {
		t.Fatalf("mediator chat send: %d %s", code, out)
	}
	if code, out := med.run(t, "", "case", "add-mediator", k.ID, co.id); code != 0 {
		t.Fatalf("case add-mediator: %d %s", code, out)
	}
	if code, out := med.run(t, "", "chat", "admit", k.ID, co.id, "--safety-number", admitNumber(t, med, k.ID, co.id)); code != 0 {
		t.Fatalf("chat admit: %d %s", code, out)
	}
	for _, text := range []string{"CARRY-ME we could accept 1,200", "KEEP-ME our lowest is 900"} {
		if code, out := a.run(t, "", "chat", "send", k.ID, "--room", "caucus:A", text); code != 0 {
			t.Fatalf("party chat send: %d %s", code, out)
		}
	}
	code, out := a.run(t, "", "chat", "read", k.ID, "--room", "caucus:A", "--json")
	var lines []chatLine
	if code != 0 || json.Unmarshal([]byte(out), &lines) != nil || len(lines) != 2 {
		t.Fatalf("chat read --json: %d %s", code, out)
	}
	carryPos, keep := fmt.Sprintf("%d:%d", lines[0].Epoch, lines[0].Offset), lines[1]
	code, out = med.run(t, "/carry "+carryPos+"\n/quit\n", "chat", k.ID, "--room", "caucus:A")
	m := regexp.MustCompile(`proposed carry (cr_[a-z0-9]+)`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("/carry: %d %s", code, out)
	}
	id := m[1]
	// The second proposal names the kept message by its real payload hash,
	// so only the doubt keeps the author's /approve from carrying it.
	var page api.HistoryPage
	if err := a.c.Do(context.Background(), http.MethodGet, fmt.Sprintf("/api/v1/cases/%s/rooms/%s/messages?epoch=%d&offset=%d&limit=1",
		k.ID, url.PathEscape("caucus:A"), keep.Epoch, keep.Offset-1), nil, &page); err != nil {
		t.Fatal(err)
	}
	var keepHash [32]byte
	if len(page.Messages) == 1 && page.Messages[0].Pos() == (api.Position{Epoch: keep.Epoch, Offset: keep.Offset}) {
		keepHash = e2ee.PayloadHash(page.Messages[0].Body)
	}
	if keepHash == ([32]byte{}) {
		t.Fatal("the kept message is not stored")
	}
	postAs(t, co, k.ID, "caucus:A", &e2ee.Plaintext{Kind: e2ee.KindCarryProposal, CarryID: id, Room: "joint",
		Ref: e2ee.Position{Epoch: keep.Epoch, Offset: keep.Offset}, RefHash: keepHash})
	code, out = a.run(t, "", "chat", "read", k.ID, "--room", "caucus:A")
	if code != 0 || !strings.Contains(out, "another, different proposal uses the same carry id ("+id+"): it cannot be approved; ask the mediator to propose it again") {
		t.Fatalf("chat read caucus:A: %d\n%s", code, out)
	}
	code, out = a.run(t, "/approve "+id+"\n/quit\n", "chat", k.ID, "--room", "caucus:A")
	if code != 0 || strings.Contains(out, "carried to joint") {
		t.Fatalf("/approve of a carry in doubt: %d %s", code, out)
	}
	if code, out := b.run(t, "", "chat", "read", k.ID, "--room", "joint"); code != 0 || strings.Contains(out, "CARRY-ME") || strings.Contains(out, "KEEP-ME") {
		t.Fatalf("B reads the joint room: %d %s", code, out)
	}
}
