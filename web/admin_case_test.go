package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/caucus"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
)

// testClock is the case service's clock in these tests: it moves only
// when the test says so.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// adminCase is a case run by one mediator (made by the operator), with a
// party on each side and a document in each caucus, in the joint room and
// in the mediators' notes.
type adminCase struct {
	n      *nodetest.Node
	clock  *testClock
	id     string
	med    account.Account
	medC   *client.Client
	party  map[string]*client.Client // "A", "B"
	docs   map[string]string         // audience -> document id
	secret string                    // the case title
	medX   *client.E2EE              // the mediator's device, once admit made one
}

func newAdminCase(t *testing.T) *adminCase {
	t.Helper()
	ctx := t.Context()
	n := nodetest.Embedded(t)
	clock := &testClock{t: time.Now()}
	n.Cases.SetClock(clock.Now)
	k := &adminCase{n: n, clock: clock, party: map[string]*client.Client{}, docs: map[string]string{},
		secret: "Confidential-Title-Reyes v Okafor"}
	k.med, k.medC = n.Staff(t, policy.RoleMediator, "morgan@example.org")
	c, err := k.medC.CreateCase(ctx, k.secret, "family", "", []string{"Parent A", "Parent B"})
	if err != nil {
		t.Fatal(err)
	}
	k.id = c.ID
	if _, err := k.medC.CaseAction(ctx, c.ID, "objectives", map[string]string{"text": "Confidential-Objective: the house"}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.medC.CaseAction(ctx, c.ID, "disclosures", map[string]string{"text": "Confidential-Disclosure: I know the school"}); err != nil {
		t.Fatal(err)
	}
	for _, side := range []string{"A", "B"} {
		link, err := k.medC.Invite(ctx, c.ID, "party", side, "Party "+side, "", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		pc := client.New(n.URL, "")
		if _, err := pc.Join(ctx, link.Link); err != nil {
			t.Fatal(err)
		}
		k.party[side] = pc
	}
	for aud, class := range map[string]string{"caucus:A": "evidence", "caucus:B": "evidence", "mediators": "mediator-notes", "joint": "correspondence"} {
		body := []byte("Confidential-Document " + aud)
		d, err := k.medC.UploadDocument(ctx, c.ID, client.Upload{Name: strings.ReplaceAll(aud, ":", "-") + ".txt", MediaType: "text/plain; charset=utf-8",
			Audience: aud, Class: class, Body: bytes.NewReader(body), Size: int64(len(body))})
		if err != nil {
			t.Fatalf("upload %s: %v", aud, err)
		}
		k.docs[aud] = d.ID
	}
	return k
}

// viaAPI creates a staff account through the API as creator (so its
// lineage records the creator) and signs it in with nodetest.Password. A
// mediator's or records clerk's account takes no password from its
// creator: a second administrator, made by the operator for it (so
// independent of everyone else), approves its first password, and the
// account replaces that temporary one with nodetest.Password.
func viaAPI(t *testing.T, n *nodetest.Node, creator *client.Client, role policy.Role, email string) (account.Account, *client.Client) {
	t.Helper()
	ctx := t.Context()
	body := map[string]string{"email": email, "name": "Sam " + email, "role": string(role)}
	approved := account.FirstPasswordApproved(role)
	if !approved {
		body["password"] = nodetest.Password
	}
	var a account.Account
	if err := creator.Do(ctx, http.MethodPost, "/api/v1/accounts", body, &a); err != nil {
		t.Fatalf("create %s: %v", email, err)
	}
	c := client.New(n.URL, "")
	if !approved {
		if _, err := c.Login(ctx, email, nodetest.Password); err != nil {
			t.Fatal(err)
		}
		return a, c
	}
	_, approver := n.Staff(t, policy.RoleAdmin, "approver-"+email)
	res, err := approver.ApproveReset(ctx, a.ID)
	if err != nil {
		t.Fatalf("approving the first password of %s: %v", email, err)
	}
	if _, err := c.Login(ctx, email, res.TemporaryPassword); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ChangePassword(ctx, res.TemporaryPassword, nodetest.Password); err != nil {
		t.Fatal(err)
	}
	a, err = n.Accounts.Get(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	return a, c
}

// readsNothing checks that who can reach none of the case: not the case
// (title, roster, objectives, disclosures), not its rooms, not one
// document of either caucus, the joint room or the mediators' notes.
func (k *adminCase) readsNothing(t *testing.T, who string, c *client.Client) {
	t.Helper()
	ctx := t.Context()
	if got, err := c.Case(ctx, k.id); err == nil {
		t.Errorf("%s read the case: %q, %d participants, %d objectives, %d disclosures", who, got.Title, len(got.Participants), len(got.Objectives), len(got.Disclosures))
	}
	var list []cases.Listed
	if err := c.Do(ctx, http.MethodGet, "/api/v1/cases", nil, &list); err != nil {
		t.Fatal(err)
	}
	for _, l := range list {
		if l.ID == k.id && l.Title != "" {
			t.Errorf("%s sees the case's title in the case list", who)
		}
	}
	if err := c.Do(ctx, http.MethodGet, "/api/v1/cases/"+k.id+"/rooms", nil, nil); err == nil {
		t.Errorf("%s listed the case's rooms", who)
	}
	if docs, err := c.Documents(ctx, k.id); err == nil && len(docs) > 0 {
		t.Errorf("%s listed %d documents", who, len(docs))
	}
	for aud, id := range k.docs {
		if d, err := c.DownloadDocument(ctx, k.id, id, 0); err == nil {
			b, _ := io.ReadAll(d.Body)
			d.Body.Close()
			t.Errorf("%s downloaded the %s document: %q", who, aud, b)
		}
	}
}

// readsAll checks that who reads the case and every document.
func (k *adminCase) readsAll(t *testing.T, who string, c *client.Client) {
	t.Helper()
	ctx := t.Context()
	got, err := c.Case(ctx, k.id)
	if err != nil || got.Title != k.secret {
		t.Fatalf("%s cannot read the case: %v", who, err)
	}
	for aud, id := range k.docs {
		d, err := c.DownloadDocument(ctx, k.id, id, 0)
		if err != nil {
			t.Fatalf("%s cannot download the %s document: %v", who, aud, err)
		}
		b, _ := io.ReadAll(d.Body)
		d.Body.Close()
		if string(b) != "Confidential-Document "+aud {
			t.Fatalf("%s got %q for %s", who, b, aud)
		}
	}
}

func proposeRecusal(ctx context.Context, c *client.Client, caseID, mediatorID, reason string) (api.Proposal, error) {
	var p api.Proposal
	err := c.Do(ctx, http.MethodPost, "/api/v1/cases/"+caseID+"/recusal-proposals", api.RecusalProposalRequest{MediatorID: mediatorID, Reason: reason}, &p)
	return p, err
}

func proposeAssignment(ctx context.Context, c *client.Client, caseID, nomineeID string) (api.Proposal, error) {
	var p api.Proposal
	err := c.Do(ctx, http.MethodPost, "/api/v1/cases/"+caseID+"/assignment-proposals", api.AssignmentProposalRequest{AccountID: nomineeID}, &p)
	return p, err
}

func approve(ctx context.Context, c *client.Client, caseID, proposalID string) (api.Proposal, error) {
	var p api.Proposal
	err := c.Do(ctx, http.MethodPost, "/api/v1/cases/"+caseID+"/proposals/"+proposalID+"/approve", api.ProposalDecisionRequest{}, &p)
	return p, err
}

// TestLoneAdminCannotReadACase is issue 15's four-step path, tried by one
// administrator with everything an administrator can do alone: (1) recuse
// the case's only mediator, (2) create a mediator account, (3) assign it
// to the case, (4) sign in as it and read the case and its documents. On
// the way the administrator also approves their own proposals, and makes
// a second administrator, a records account and a chain of administrators
// to approve them. Every step that would give access is refused, and the
// account the administrator made reads nothing.
func TestLoneAdminCannotReadACase(t *testing.T) {
	k := newAdminCase(t)
	ctx := t.Context()
	_, admin := k.n.Staff(t, policy.RoleAdmin, "admin@example.org")
	path := "/api/v1/cases/" + k.id

	// Step 1: recuse the only mediator.
	err := admin.Do(ctx, http.MethodPost, path+"/recusals", map[string]string{"mediatorId": k.med.ID, "reason": "conflict found by the program"}, nil)
	if err == nil || apiErr(t, err).Status != http.StatusForbidden {
		t.Errorf("admin recused the mediator directly: %v", err)
	}
	recusal, err := proposeRecusal(ctx, admin, k.id, k.med.ID, "conflict found by the program")
	if err != nil {
		t.Errorf("admin could not even propose the recusal: %v", err)
	}
	// Step 2: make a mediator account, and accounts to approve with.
	_, puppet := viaAPI(t, k.n, admin, policy.RoleMediator, "puppet@example.org")
	puppetAcct, _ := k.n.Accounts.ByEmail(ctx, "puppet@example.org")
	_, admin2 := viaAPI(t, k.n, admin, policy.RoleAdmin, "admin2@example.org")
	_, records := viaAPI(t, k.n, admin, policy.RoleRecords, "records@example.org")
	_, admin3 := viaAPI(t, k.n, admin2, policy.RoleAdmin, "admin3@example.org")
	approvers := map[string]*client.Client{"the proposer": admin, "an admin it made": admin2,
		"a records account it made": records, "an admin made by an admin it made": admin3}
	if recusal.ID != "" {
		for who, c := range approvers {
			if _, err := approve(ctx, c, k.id, recusal.ID); err == nil || apiErr(t, err).Status != http.StatusForbidden {
				t.Errorf("%s approved the lone admin's recusal: %v", who, err)
			}
		}
	}
	if _, err := k.medC.Case(ctx, k.id); err != nil {
		t.Errorf("the mediator lost the case: %v", err)
	}
	// Step 3: assign the new account (directly, or by proposal).
	err = admin.Do(ctx, http.MethodPost, path+"/mediators", map[string]string{"accountId": puppetAcct.ID}, nil)
	if err == nil || apiErr(t, err).Status != http.StatusForbidden {
		t.Errorf("admin assigned a mediator directly: %v", err)
	}
	for who, c := range map[string]*client.Client{"admin": admin, "admin2": admin2, "admin3": admin3} {
		if p, err := proposeAssignment(ctx, c, k.id, puppetAcct.ID); err == nil {
			t.Errorf("%s proposed the admin's own mediator account for the case", who)
			for who2, c2 := range approvers {
				if _, err := approve(ctx, c2, k.id, p.ID); err == nil {
					t.Errorf("%s approved it", who2)
				}
			}
		}
	}
	// Step 4: sign in as the new account and read, now and long after.
	k.readsNothing(t, "the admin's mediator account", puppet)
	k.clock.Advance(30 * 24 * time.Hour)
	k.readsNothing(t, "the admin's mediator account, a month on", puppet)
	for who, c := range approvers {
		if c != records { // records staff list document metadata by design
			k.readsNothing(t, who, c)
		}
	}
	k.readsAll(t, "the mediator", k.medC)

	// The case really is orphaned now (its mediator recused themselves):
	// still the administrator cannot get their account assigned, nor
	// approve a nominee of their own proposal with the accounts they made.
	if _, err := k.medC.CaseAction(ctx, k.id, "recusals", map[string]string{"reason": "I know a party"}); err != nil {
		t.Fatal(err)
	}
	if _, err := proposeAssignment(ctx, admin, k.id, puppetAcct.ID); err == nil || apiErr(t, err).Status != http.StatusForbidden {
		t.Errorf("admin proposed a mediator account it made for an orphaned case: %v", err)
	}
	_, other := k.n.Staff(t, policy.RoleMediator, "other@example.org")
	otherAcct, _ := k.n.Accounts.ByEmail(ctx, "other@example.org")
	p, err := proposeAssignment(ctx, admin, k.id, otherAcct.ID)
	if err != nil {
		t.Fatalf("admin proposing an independent mediator for an orphaned case: %v", err)
	}
	for who, c := range approvers {
		if _, err := approve(ctx, c, k.id, p.ID); err == nil || apiErr(t, err).Status != http.StatusForbidden {
			t.Errorf("%s approved the lone admin's assignment: %v", who, err)
		}
	}
	k.clock.Advance(30 * 24 * time.Hour)
	k.readsNothing(t, "the admin's mediator account on the orphaned case", puppet)
	k.readsNothing(t, "the proposed mediator, never approved", other)
}

// TestProgramReassignsWithTwoPeopleAndNotice: recusal and reassignment by
// the program, each approved by a second, independent person; every
// participant is told; the new mediator reads nothing until the notice
// period has passed, then reads the case like any mediator (older
// documents included) and joins its rooms in a new epoch.
func TestProgramReassignsWithTwoPeopleAndNotice(t *testing.T) {
	k := newAdminCase(t)
	ctx := t.Context()
	_, adminA := k.n.Staff(t, policy.RoleAdmin, "a@example.org")
	_, adminB := k.n.Staff(t, policy.RoleAdmin, "b@example.org")
	_, records := k.n.Staff(t, policy.RoleRecords, "r@example.org")
	nominee, nomineeC := k.n.Staff(t, policy.RoleMediator, "jordan@example.org")

	// Recusal: A proposes, the mediator keeps the case until B approves.
	rec, err := proposeRecusal(ctx, adminA, k.id, k.med.ID, "The mediator is unreachable for six weeks")
	if err != nil {
		t.Fatal(err)
	}
	var pending []api.Proposal
	if err := records.Do(ctx, http.MethodGet, "/api/v1/proposals", nil, &pending); err != nil || len(pending) != 1 || pending[0].ID != rec.ID {
		t.Fatalf("records' pending list: %v %+v", err, pending)
	}
	if raw, _ := json.Marshal(pending); strings.Contains(string(raw), "Confidential") || strings.Contains(string(raw), "Morgan") {
		t.Fatalf("the proposal list carries case content: %s", raw)
	}
	var partyList []api.Proposal
	if err := k.party["A"].Do(ctx, http.MethodGet, "/api/v1/proposals", nil, &partyList); err != nil || len(partyList) != 0 {
		t.Fatalf("a party's proposal list: %v %+v", err, partyList)
	}
	if _, err := approve(ctx, k.medC, k.id, rec.ID); err == nil {
		t.Fatal("the mediator concerned approved their own recusal")
	}
	if _, err := k.medC.Case(ctx, k.id); err != nil {
		t.Fatalf("a proposal alone recused the mediator: %v", err)
	}
	if p, err := approve(ctx, adminB, k.id, rec.ID); err != nil || p.Status != "approved" {
		t.Fatalf("independent approval: %v %+v", err, p)
	}
	if _, err := k.medC.Case(ctx, k.id); err == nil {
		t.Fatal("the recused mediator still reads the case")
	}
	for side, pc := range k.party {
		c, err := pc.Case(ctx, k.id)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Notices) != 1 || !strings.Contains(c.Notices[0].Text, "The program recused mediator "+k.med.Name) ||
			!strings.Contains(c.Notices[0].Text, "unreachable for six weeks") {
			t.Fatalf("party %s sees no recusal notice: %+v", side, c.Notices)
		}
		// api.Case has no member for proposals; the answer on the wire has
		// none either.
		var raw string
		if err := pc.Do(ctx, http.MethodGet, "/api/v1/cases/"+k.id, nil, &raw); err != nil || strings.Contains(raw, `"proposals"`) {
			t.Fatalf("party %s sees the program's proposals (%v)", side, err)
		}
	}

	// A mediator account A made is never assigned, even on B's proposal
	// (A created it: policy counts A as able to act as it).
	_, madeByA := viaAPI(t, k.n, adminA, policy.RoleAdmin, "a-made@example.org")
	var aMed account.Account
	if err := adminA.Do(ctx, http.MethodPost, "/api/v1/accounts", map[string]string{"email": "a-med@example.org", "name": "A's mediator",
		"role": "mediator"}, &aMed); err != nil {
		t.Fatal(err)
	}
	if _, err := proposeAssignment(ctx, adminA, k.id, aMed.ID); err == nil || apiErr(t, err).Status != http.StatusForbidden {
		t.Fatalf("A proposed a mediator account it made: %v", err)
	}
	byB, err := proposeAssignment(ctx, adminB, k.id, aMed.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := approve(ctx, adminA, k.id, byB.ID); err == nil || apiErr(t, err).Status != http.StatusForbidden {
		t.Fatalf("A approved a mediator account it made: %v", err)
	}
	if err := adminB.Do(ctx, http.MethodPost, "/api/v1/cases/"+k.id+"/proposals/"+byB.ID+"/decline", api.ProposalDecisionRequest{}, nil); err != nil {
		t.Fatal(err)
	}

	// Assignment: A proposes the nominee; nobody tied to A, nor the
	// nominee, approves; B does.
	asg, err := proposeAssignment(ctx, adminA, k.id, nominee.ID)
	if err != nil {
		t.Fatal(err)
	}
	for who, c := range map[string]*client.Client{"the proposer": adminA, "the nominee": nomineeC, "an admin the proposer made": madeByA} {
		if _, err := approve(ctx, c, k.id, asg.ID); err == nil {
			t.Fatalf("%s approved the assignment", who)
		}
	}
	if _, err := approve(ctx, adminB, k.id, asg.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := proposeAssignment(ctx, adminB, k.id, nominee.ID); err == nil || apiErr(t, err).Status != http.StatusConflict {
		t.Fatalf("a second assignment while one is pending: %v", err)
	}
	// Pending: told to everyone, reads nothing.
	k.readsNothing(t, "the pending mediator", nomineeC)
	for side, pc := range k.party {
		c, err := pc.Case(ctx, k.id)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Notices) != 2 || !strings.Contains(c.Notices[1].Text, "The program assigned a new mediator, "+nominee.Name+". They can read the case from") ||
			len(c.PendingMediators) != 1 {
			t.Fatalf("party %s sees no assignment notice: %+v", side, c.Notices)
		}
	}
	k.clock.Advance(cases.DefaultReassignmentNotice - time.Minute)
	k.readsNothing(t, "the pending mediator a minute before the notice ends", nomineeC)

	// After the notice: an ordinary mediator, older documents included.
	k.clock.Advance(2 * time.Minute)
	k.readsAll(t, "the new mediator", nomineeC)
	var rooms []caucus.RoomView
	if err := nomineeC.Do(ctx, http.MethodGet, "/api/v1/cases/"+k.id+"/rooms", nil, &rooms); err != nil {
		t.Fatal(err)
	}
	for _, r := range rooms {
		if !strings.Contains(strings.Join(r.Members, " "), nominee.ID) {
			t.Fatalf("the new mediator is not a member of room %s", r.Name)
		}
	}
	entries := auditEntries(t, records)
	if !strings.Contains(entries, `"room.membership"`) || !strings.Contains(entries, `"mediator.added"`) || !strings.Contains(entries, `"case.assignment.approved"`) {
		t.Fatalf("no new epoch or approval recorded: %s", entries)
	}
	if strings.Contains(entries, "unreachable") || strings.Contains(entries, nominee.Name) {
		t.Fatalf("the audit log carries a reason or a name")
	}
	// A mediator still recuses themselves directly.
	if _, err := nomineeC.CaseAction(ctx, k.id, "recusals", map[string]string{"reason": "I know a party"}); err != nil {
		t.Fatalf("self-recusal: %v", err)
	}
	if _, err := nomineeC.Case(ctx, k.id); err == nil {
		t.Fatal("the self-recused mediator still reads the case")
	}
}

// A proposal can be declined by an independent person or withdrawn by its
// proposer; neither changes the case.
func TestProposalDeclineAndWithdraw(t *testing.T) {
	k := newAdminCase(t)
	ctx := t.Context()
	_, adminA := k.n.Staff(t, policy.RoleAdmin, "a@example.org")
	_, records := k.n.Staff(t, policy.RoleRecords, "r@example.org")
	p1, err := proposeRecusal(ctx, adminA, k.id, k.med.ID, "first")
	if err != nil {
		t.Fatal(err)
	}
	var out api.Proposal
	if err := adminA.Do(ctx, http.MethodPost, "/api/v1/cases/"+k.id+"/proposals/"+p1.ID+"/decline", api.ProposalDecisionRequest{}, &out); err != nil || out.Status != "withdrawn" {
		t.Fatalf("withdraw: %v %+v", err, out)
	}
	if _, err := approve(ctx, records, k.id, p1.ID); err == nil || apiErr(t, err).Status != http.StatusConflict {
		t.Fatalf("approved a withdrawn proposal: %v", err)
	}
	p2, err := proposeRecusal(ctx, records, k.id, k.med.ID, "second")
	if err != nil {
		t.Fatal(err)
	}
	if err := adminA.Do(ctx, http.MethodPost, "/api/v1/cases/"+k.id+"/proposals/"+p2.ID+"/approve", api.ProposalDecisionRequest{Kind: "assignment"}, nil); err == nil {
		t.Fatal("approved a recusal as an assignment")
	}
	if err := adminA.Do(ctx, http.MethodPost, "/api/v1/cases/"+k.id+"/proposals/"+p2.ID+"/decline", api.ProposalDecisionRequest{}, &out); err != nil || out.Status != "declined" {
		t.Fatalf("decline: %v %+v", err, out)
	}
	var list []api.Proposal
	if err := records.Do(ctx, http.MethodGet, "/api/v1/cases/"+k.id+"/proposals", nil, &list); err != nil || len(list) != 2 {
		t.Fatalf("case proposals: %v %+v", err, list)
	}
	k.readsAll(t, "the mediator", k.medC)
	if c, _ := k.party["A"].Case(ctx, k.id); len(c.Notices) != 0 {
		t.Fatalf("a declined proposal left a notice: %+v", c.Notices)
	}
}

func auditEntries(t *testing.T, c *client.Client) string {
	t.Helper()
	var raw json.RawMessage
	if err := c.Do(t.Context(), http.MethodGet, "/api/v1/audit/entries?limit=1000", nil, &raw); err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// asBeforeLineage rewrites an account record as releases before lineages
// stored it: no createdBy, lineage or origin.
func asBeforeLineage(t *testing.T, n *nodetest.Node, id string) {
	t.Helper()
	var rec map[string]any
	etag, err := n.Meta.Get(t.Context(), "accounts/"+id, &rec)
	if err != nil {
		t.Fatal(err)
	}
	delete(rec, "createdBy")
	delete(rec, "lineage")
	delete(rec, "origin")
	if _, err := n.Meta.Replace(t.Context(), "accounts/"+id, rec, etag); err != nil {
		t.Fatal(err)
	}
}

// TestAccountsFromBeforeLineageAreNotIndependent: admin A made admin B and
// mediator M through the API before lineages were recorded. A proposes,
// B approves: refused; M is never nominated; an account A makes now is
// no more independent. An operator-made admin still approves.
func TestAccountsFromBeforeLineageAreNotIndependent(t *testing.T) {
	k := newAdminCase(t)
	ctx := t.Context()
	a, adminA := k.n.Staff(t, policy.RoleAdmin, "a@example.org")
	b, adminB := viaAPI(t, k.n, adminA, policy.RoleAdmin, "b@example.org")
	m, puppet := viaAPI(t, k.n, adminA, policy.RoleMediator, "m@example.org")
	for _, id := range []string{a.ID, b.ID, m.ID} {
		asBeforeLineage(t, k.n, id)
	}
	_, adminD := viaAPI(t, k.n, adminA, policy.RoleAdmin, "d@example.org") // made by A after the upgrade
	_, adminC := k.n.Staff(t, policy.RoleAdmin, "c@example.org")           // made by the operator

	rec, err := proposeRecusal(ctx, adminA, k.id, k.med.ID, "conflict found by the program")
	if err != nil {
		t.Fatal(err)
	}
	for who, c := range map[string]*client.Client{"B (made by A before lineages)": adminB, "D (made by A since)": adminD} {
		if _, err := approve(ctx, c, k.id, rec.ID); err == nil || apiErr(t, err).Status != http.StatusForbidden {
			t.Fatalf("%s approved A's recusal: %v", who, err)
		}
	}
	if _, err := approve(ctx, adminC, k.id, rec.ID); err != nil {
		t.Fatalf("an operator-made admin could not approve: %v", err)
	}
	// Orphaned: M is nominated by no one, approved by no one.
	for who, c := range map[string]*client.Client{"A": adminA, "B": adminB, "C": adminC} {
		if p, err := proposeAssignment(ctx, c, k.id, m.ID); err == nil {
			t.Errorf("%s nominated M, an account of unknown lineage", who)
			if _, err := approve(ctx, adminB, k.id, p.ID); err == nil {
				t.Errorf("B approved it")
			}
		} else if apiErr(t, err).Status != http.StatusForbidden {
			t.Errorf("%s nominating M: %v", who, err)
		}
	}
	k.clock.Advance(30 * 24 * time.Hour)
	k.readsNothing(t, "M, made by A before lineages", puppet)
}

// An administrator's account list holds staff accounts only: a
// participant's name and email, with the audit log's invite redemptions,
// would tell the administrator who takes part in which mediation. The
// server leaves them out (not just the browser's People page).
func TestAdminAccountListHoldsNoParticipants(t *testing.T) {
	k := newAdminCase(t)
	ctx := t.Context()
	link, err := k.medC.Invite(ctx, k.id, "party", "A", "Confidential-Name Dana", "dana.secret@example.org", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dana := client.New(k.n.URL, "")
	if _, err := dana.Join(ctx, link.Link); err != nil {
		t.Fatal(err)
	}
	_, admin := k.n.Staff(t, policy.RoleAdmin, "admin@example.org")
	var accts []api.Account
	if err := admin.Do(ctx, http.MethodGet, "/api/v1/accounts", nil, &accts); err != nil {
		t.Fatal(err)
	}
	staff := map[string]bool{}
	for _, a := range accts {
		if a.Role == policy.RoleParticipant || strings.Contains(a.Name, "Confidential") || strings.Contains(a.Email, "secret") {
			t.Errorf("admin's account list holds participant %q <%s>", a.Name, a.Email)
		}
		staff[a.Email] = true
	}
	// The staff accounts are all there.
	for _, email := range []string{"morgan@example.org", "admin@example.org"} {
		if !staff[email] {
			t.Errorf("admin's account list lacks %s: %v", email, accts)
		}
	}
	// Nor does any path on one account, given the participant's id, answer
	// with their name or email.
	me, err := dana.Me(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"disable", "enable", "reset-password", "reset-password/approve", "reset-password/decline", "revoke-sessions"} {
		var out json.RawMessage
		err := admin.Do(ctx, http.MethodPost, "/api/v1/accounts/"+me.ID+"/"+verb, nil, &out)
		msg := string(out)
		if err != nil {
			msg += err.Error()
		}
		if strings.Contains(msg, "Dana") || strings.Contains(msg, "dana.secret") {
			t.Errorf("POST %s of a participant shows their name or email: %s", verb, msg)
		}
	}
}
