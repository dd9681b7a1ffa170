package client_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/nodetest"
)

// joinAs invites and joins one more person with a registered device.
func joinAs(t *testing.T, n *nodetest.Node, tc *e2eeCase, role, side, name string) person {
	t.Helper()
	ctx := context.Background()
	inv, err := tc.med.c.Invite(ctx, tc.caseID, role, side, name, "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pc := client.New(n.URL, "")
	s, err := pc.Join(ctx, inv.Link)
	if err != nil {
		t.Fatal(err)
	}
	p := person{id: s.Account.ID, c: pc}
	p.dir, p.x = newDevice(t, pc, s.Account.ID, e2ee.KEMX25519)
	return p
}

func status(err error) int {
	var ae *client.Error
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

func accept(t *testing.T, p person, caseID string) api.TermsView {
	t.Helper()
	v, err := p.c.Terms(context.Background(), caseID)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.x.AcceptTerms(context.Background(), caseID, v.Terms)
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	if out.Mine == nil || out.Mine.Item != strconv.Itoa(v.Terms.Version) || out.Mine.Device != p.x.Me.ID {
		t.Fatalf("acceptance not recorded: %+v", out)
	}
	return out
}

// TestTermsVersionsAndOpening: a mediator edits the program's default
// terms; an edit before anyone accepted keeps the version, one after makes
// a new version whose acceptance everyone owes again; opening is refused,
// naming who has not accepted, until the last (observers included) has.
func TestTermsVersionsAndOpening(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	counsel := joinAs(t, n, tc, "counsel", "A", "Casey Counsel")
	observer := joinAs(t, n, tc, "observer", "", "Olu Observer")

	v, err := tc.med.c.Terms(ctx, tc.caseID)
	if err != nil || v.Terms.Version != 1 || !strings.Contains(v.Terms.Text, "Confidentiality") || len(v.Missing) != 4 || v.Complete {
		t.Fatalf("default terms: %+v %v", v, err)
	}
	v, err = tc.med.c.SetTerms(ctx, tc.caseID, "Our rules, first draft.")
	if err != nil || v.Terms.Version != 1 || v.Terms.Text != "Our rules, first draft." {
		t.Fatalf("edit before any acceptance: %+v %v", v, err)
	}
	if _, err := tc.a.c.SetTerms(ctx, tc.caseID, "A party's rules"); status(err) != http.StatusForbidden {
		t.Fatalf("a party set the terms: %v", err)
	}
	// A party sees only their own acceptance, not the roster's.
	pv, err := tc.a.c.Terms(ctx, tc.caseID)
	if err != nil || pv.People != nil || pv.Missing != nil || !pv.MustAcc {
		t.Fatalf("party's view: %+v %v", pv, err)
	}
	accept(t, tc.a, tc.caseID)

	v, err = tc.med.c.SetTerms(ctx, tc.caseID, "Our rules, second draft.")
	if err != nil || v.Terms.Version != 2 {
		t.Fatalf("edit after an acceptance must be version 2: %+v %v", v, err)
	}
	if !slices.Contains(v.Missing, "Avery (Parent 1)") {
		t.Fatalf("Avery's acceptance of version 1 counted for version 2: %v", v.Missing)
	}
	// Accepting what one read before the edit is refused: read again.
	if _, err := tc.b.x.AcceptTerms(ctx, tc.caseID, api.Terms{Version: 1, Text: "Our rules, first draft."}); status(err) != http.StatusConflict {
		t.Fatalf("stale acceptance: %v", err)
	}

	accept(t, tc.a, tc.caseID)
	accept(t, tc.b, tc.caseID)
	accept(t, counsel, tc.caseID)
	_, err = tc.med.c.CaseAction(ctx, tc.caseID, "stage", map[string]string{"stage": "opening"})
	var ae *client.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusConflict || !strings.Contains(ae.Error(), "Olu Observer (observer)") ||
		strings.Contains(ae.Error(), "Avery") || strings.Contains(ae.Error(), "Blake") {
		t.Fatalf("opening with the observer missing: %v", err)
	}
	accept(t, observer, tc.caseID)
	v, _ = tc.med.c.Terms(ctx, tc.caseID)
	if !v.Complete || len(v.People) != 4 {
		t.Fatalf("everyone accepted: %+v", v)
	}
	if c, err := tc.med.c.CaseAction(ctx, tc.caseID, "stage", map[string]string{"stage": "opening"}); err != nil || c.Stage != api.StageOpening {
		t.Fatalf("opening after everyone accepted: %v", err)
	}
}

// TestTermsSignatureChecked: an acceptance whose signature is not the
// named device's, or names another account's device, an unregistered
// device, or another text, or is not a signature, or whose clock is far
// off, is refused and nothing is recorded; each refusal is audited
// consent.refused with its reason.
func TestTermsSignatureChecked(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	v, err := tc.a.c.Terms(ctx, tc.caseID)
	if err != nil {
		t.Fatal(err)
	}
	post := func(p person, req api.SignedConsentRequest) error {
		return p.c.Do(ctx, http.MethodPost, "/api/v1/cases/"+tc.caseID+"/terms/accept", req, nil)
	}
	// audited checks that what happened since from is one consent.refused
	// of kind terms by A, with reason.
	audited := func(what string, from int64, reason string) {
		t.Helper()
		var got []audit.Event
		for i := from; i < n.Audit.Size(); i++ {
			ev, err := n.Audit.Entry(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Type == "consent.refused" {
				got = append(got, ev)
			}
		}
		if len(got) != 1 || got[0].Actor != tc.a.id || got[0].Attrs["kind"] != e2ee.ConsentTerms || got[0].Attrs["reason"] != reason {
			t.Fatalf("%s: consent.refused entries %+v, want one by A with reason %q", what, got, reason)
		}
	}
	sign := func(keys *e2ee.DeviceKeys, account, device, sha string) api.SignedConsentRequest {
		k := e2ee.Consent{Kind: e2ee.ConsentTerms, Case: tc.caseID, Item: "1", TextSHA: sha, Account: account, Device: device, At: time.Now().UnixMilli()}
		// Sign as keys' own account and id, then claim account/device.
		own := k
		own.Account, own.Device = keys.Account, keys.ID
		sig, err := keys.SignConsent(own)
		if err != nil {
			t.Fatal(err)
		}
		return api.SignedConsentRequest{Item: "1", SHA256: sha, Device: device, SignedAt: k.At, Signature: base64.StdEncoding.EncodeToString(sig)}
	}
	sha := v.Terms.SHA256
	// A forger's key (never registered) claiming A's registered device.
	forger, _ := e2ee.NewDeviceKeys(tc.a.id, e2ee.KEMX25519, time.Now())
	from := n.Audit.Size()
	if err := post(tc.a, sign(forger, tc.a.id, tc.a.x.Me.ID, sha)); status(err) != http.StatusBadRequest {
		t.Fatalf("forged signature: %v", err)
	}
	audited("forged signature", from, "signature")
	// A's request naming an unregistered device of A's own.
	from = n.Audit.Size()
	if err := post(tc.a, sign(forger, tc.a.id, forger.ID, sha)); status(err) != http.StatusForbidden {
		t.Fatalf("unregistered device: %v", err)
	}
	audited("unregistered device", from, "device")
	// A presenting B's device (and B's valid signature, for B's account).
	bReq := sign(tc.b.x.Me, tc.b.id, tc.b.x.Me.ID, sha)
	from = n.Audit.Size()
	if err := post(tc.a, bReq); status(err) != http.StatusForbidden {
		t.Fatalf("another account's device: %v", err)
	}
	audited("another account's device", from, "device")
	// A signature over another text, presented as this one.
	other := sign(tc.a.x.Me, tc.a.id, tc.a.x.Me.ID, strings.Repeat("0", 64))
	other.SHA256 = sha
	from = n.Audit.Size()
	if err := post(tc.a, other); status(err) != http.StatusBadRequest {
		t.Fatalf("signature over another text: %v", err)
	}
	audited("signature over another text", from, "signature")
	// Not a signature at all.
	garbled := sign(tc.a.x.Me, tc.a.id, tc.a.x.Me.ID, sha)
	garbled.Signature = "not base64!"
	from = n.Audit.Size()
	if err := post(tc.a, garbled); status(err) != http.StatusBadRequest {
		t.Fatalf("not a signature: %v", err)
	}
	audited("not a signature", from, "malformed")
	// A clock far off.
	old := sign(tc.a.x.Me, tc.a.id, tc.a.x.Me.ID, sha)
	old.SignedAt -= int64(time.Hour / time.Millisecond)
	from = n.Audit.Size()
	if err := post(tc.a, old); status(err) != http.StatusBadRequest {
		t.Fatalf("stale clock: %v", err)
	}
	audited("stale clock", from, "clock")
	mv, _ := tc.med.c.Terms(ctx, tc.caseID)
	if len(mv.Missing) != 2 {
		t.Fatalf("a refused acceptance was recorded: %+v", mv)
	}
	// The genuine one passes, and the mediator sees which device signed.
	accept(t, tc.a, tc.caseID)
	mv, _ = tc.med.c.Terms(ctx, tc.caseID)
	i := slices.IndexFunc(mv.People, func(p api.TermsPerson) bool { return p.AccountID == tc.a.id })
	if i < 0 || mv.People[i].Accepted == nil || mv.People[i].Accepted.Device != tc.a.x.Me.ID || len(mv.Missing) != 1 {
		t.Fatalf("mediator's view: %+v", mv)
	}
}

// TestLaterDisclosureNeedsAck: a party's signed acknowledgement covers the
// disclosure it names; a disclosure added later is unacknowledged by
// everyone until each acknowledges it; a forged acknowledgement is refused.
func TestLaterDisclosureNeedsAck(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	c, err := tc.med.c.CaseAction(ctx, tc.caseID, "disclosures", api.TextRequest{Text: "I once worked with the landlord's agent."})
	if err != nil {
		t.Fatal(err)
	}
	d1 := c.Disclosures[0].ID
	if c, err = tc.a.x.Acknowledge(ctx, tc.caseID, d1); err != nil {
		t.Fatal(err)
	}
	ack := c.Disclosures[0].Acks
	if len(ack) != 1 || ack[0].AccountID != tc.a.id || ack[0].Signed == nil || ack[0].Signed.Device != tc.a.x.Me.ID {
		t.Fatalf("signed ack: %+v", ack)
	}
	c, err = tc.med.c.CaseAction(ctx, tc.caseID, "disclosures", api.TextRequest{Text: "My firm now represents a tenants' union."})
	if err != nil {
		t.Fatal(err)
	}
	d2 := c.Disclosures[1]
	if len(d2.Acks) != 0 {
		t.Fatalf("the later disclosure came acknowledged: %+v", d2.Acks)
	}
	forger, _ := e2ee.NewDeviceKeys(tc.a.id, e2ee.KEMX25519, time.Now())
	k := e2ee.Consent{Kind: e2ee.ConsentDisclosure, Case: tc.caseID, Item: d2.ID, TextSHA: "x", Account: forger.Account, Device: forger.ID, At: time.Now().UnixMilli()}
	sig, _ := forger.SignConsent(k)
	_, err = tc.a.c.CaseAction(ctx, tc.caseID, "disclosures/"+d2.ID+"/ack", api.SignedConsentRequest{Device: tc.a.x.Me.ID, SignedAt: k.At, Signature: base64.StdEncoding.EncodeToString(sig)})
	if status(err) != http.StatusBadRequest {
		t.Fatalf("forged ack: %v", err)
	}
	if c, err = tc.a.x.Acknowledge(ctx, tc.caseID, d2.ID); err != nil || len(c.Disclosures[1].Acks) != 1 {
		t.Fatalf("ack of the later disclosure: %+v %v", c.Disclosures, err)
	}
	if c, _ = tc.b.c.Case(ctx, tc.caseID); slices.ContainsFunc(c.Disclosures[1].Acks, func(a api.Ack) bool { return a.AccountID == tc.b.id }) {
		t.Fatal("B's acknowledgement appeared without B")
	}
}

// TestNewcomerSendsBeforeMediatorPosts: a person who joins while the
// mediator's client is online sends in their caucus at once; the message
// arrives although the mediator never posted there (the mediator's
// client signed the membership when the join sealed the rooms).
func TestNewcomerSendsBeforeMediatorPosts(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	med := open(t, tc.med, tc.caseID, client.SecureOptions{})
	counsel := joinAs(t, n, tc, "counsel", "B", "Casey for Blake")
	cs := open(t, counsel, tc.caseID, client.SecureOptions{StatementWait: 20 * time.Second})
	send(t, cs, "caucus:B", "First words from counsel")
	if ev := expect(t, med, "caucus:B"); ev.Text != "First words from counsel" || ev.From != counsel.id {
		t.Fatalf("mediator got %+v", ev)
	}
}
