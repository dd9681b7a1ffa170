package web_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/mailpit"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
	"github.com/parley-mediation/parley/web"
)

// sharedCase is a case whose party A and party B were both invited at one
// family address, and both joined (newFamilyCase: only A).
type sharedCase struct {
	n      *nodetest.Node
	raw    *mailpit.Client // every message Mailpit holds
	mp     *mailpit.Client // the case's outbox messages only
	med    *client.Client
	caseID string
	family string
	a, b   api.SessionResponse
}

func newSharedCase(t *testing.T) sharedCase {
	t.Helper()
	sc := newFamilyCase(t)
	sc.b = sc.join(t, "B", "Bo Parent")
	return sc
}

// newFamilyCase is a case on a node that mails through Mailpit, whose
// party A was invited at a family address nobody else in it has, and
// joined.
func newFamilyCase(t *testing.T) sharedCase {
	t.Helper()
	mp := mailpit.FromEnv(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(), SMTPURL: "smtp://" + mp.SMTP + "?starttls=off",
		MailFrom: "sessions@shared.test", MailPoll: 50 * time.Millisecond})
	_, med := n.Staff(t, policy.RoleMediator, "shared-med-"+ids.New("x")[2:8]+"@example.org")
	c, err := med.CreateCase(context.Background(), "Family case", "family", "", []string{"Parent one", "Parent two"})
	if err != nil {
		t.Fatal(err)
	}
	sc := sharedCase{n: n, raw: mp, mp: mp.Outbox(sentIDs(n, c.ID)), med: med, caseID: c.ID,
		family: "family-x-" + ids.New("x")[2:10] + "@example.test"}
	sc.a = sc.join(t, "A", "Alex Parent")
	return sc
}

// join invites a party of side at the family address and joins as them.
func (sc sharedCase) join(t *testing.T, side, name string) api.SessionResponse {
	t.Helper()
	ctx := context.Background()
	inv, err := sc.med.Invite(ctx, sc.caseID, "party", side, name, sc.family, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s, err := client.New(sc.n.URL, "").Join(ctx, inviteLink(t, sc.n, sc.raw, sc.caseID, inv))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// queuedTo lists the ids of the case's outbox messages to addr whose id
// starts with prefix: what was queued is what can ever be sent.
func (sc sharedCase) queuedTo(t *testing.T, prefix, addr string) []string {
	t.Helper()
	msgs, err := sc.n.Outbox.List(context.Background(), sc.caseID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		if strings.HasPrefix(m.ID, prefix) && strings.EqualFold(m.To, addr) {
			out = append(out, m.ID)
		}
	}
	return out
}

// A's link back in is not mailed to an address side B also reads: B could
// open it first and be signed in as A. The mediator is told in plain words
// to give it another way.
func TestReentryNotMailedToSharedAddress(t *testing.T) {
	sc := newSharedCase(t)
	ctx := context.Background()
	re, err := sc.med.Reentry(ctx, sc.caseID, sc.a.Account.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if re.Mailed {
		t.Fatal("A's re-entry link was mailed to an address side B reads")
	}
	if !strings.Contains(re.MailWarning, "Not emailed") || !strings.Contains(re.MailWarning, "someone else in this case") {
		t.Fatalf("warning %q", re.MailWarning)
	}
	if re.Link == "" {
		t.Fatal("no link for the mediator to give by hand")
	}
	if got := sc.queuedTo(t, "reentry-", sc.family); len(got) != 0 {
		t.Fatalf("re-entry mail queued to the shared address: %v", got)
	}
	// The same mediator's link for someone with an address of their own
	// is mailed as before.
	own := "own-" + ids.New("x")[2:10] + "@example.test"
	inv, err := sc.med.Invite(ctx, sc.caseID, "observer", "", "Olu Observer", own, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	o, err := client.New(sc.n.URL, "").Join(ctx, inviteLink(t, sc.n, sc.raw, sc.caseID, inv))
	if err != nil {
		t.Fatal(err)
	}
	re, err = sc.med.Reentry(ctx, sc.caseID, o.Account.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !re.Mailed || re.MailWarning != "" {
		t.Fatalf("own address: mailed %v, warning %q", re.Mailed, re.MailWarning)
	}
	sc.mp.WaitFor(t, "reentry-"+sc.caseID+"-", 1, 20*time.Second)
	if got := sc.queuedTo(t, "reentry-", sc.family); len(got) != 0 {
		t.Fatalf("re-entry mail queued to the shared address: %v", got)
	}
}

// An invitation to an address another seat of the case has, of either
// side, is made, but not mailed: whoever reads that mailbox could join as
// someone else. Counsel for side A at party A's address is not mailed
// either (a lawyers' room need not hold the party), nor is side B's
// lawyer.
func TestInviteNotMailedToAnotherSeatsAddress(t *testing.T) {
	sc := newSharedCase(t)
	ctx := context.Background()
	solo := "solo-" + ids.New("x")[2:10] + "@example.test"
	inv, err := sc.med.Invite(ctx, sc.caseID, "party", "A", "Ann Solo", solo, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.New(sc.n.URL, "").Join(ctx, inviteLink(t, sc.n, sc.raw, sc.caseID, inv)); err != nil {
		t.Fatal(err)
	}
	before := len(sc.queuedTo(t, "join-", solo))
	for _, x := range []struct{ role, side, name string }{{"counsel", "A", "Cal Counsel"}, {"counsel", "B", "Bea Counsel"}} {
		inv, err = sc.med.Invite(ctx, sc.caseID, x.role, x.side, x.name, solo, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if inv.Link == "" || inv.Mailed {
			t.Fatalf("invitation for %s of side %s to party A's address: link %q, mailed %v", x.role, x.side, inv.Link, inv.Mailed)
		}
		if !strings.Contains(inv.MailWarning, "Not emailed") {
			t.Fatalf("warning %q", inv.MailWarning)
		}
	}
	if got := sc.queuedTo(t, "join-", solo); len(got) != before {
		t.Fatalf("invitation mail queued to another seat's address: %v", got)
	}
}

// An invitation for counsel of side A to party A's own address is not
// mailed: party A, reading that mailbox, could join as their lawyer and
// read a room the mediator opened for the lawyers alone. The mediator is
// told so in plain words (no address, id or role name), and gets the link
// to give by hand. A lawyer's invitation mailed to an address of their
// own stops working once a party of the same side is invited there.
func TestInviteNotMailedToSameSidesAddress(t *testing.T) {
	sc := newFamilyCase(t)
	ctx := context.Background()
	inv, err := sc.med.Invite(ctx, sc.caseID, "counsel", "A", "Cal Counsel", sc.family, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Mailed || inv.Link == "" {
		t.Fatalf("side A's lawyer at party A's address: mailed %v, link %q", inv.Mailed, inv.Link)
	}
	if inv.MailWarning != web.SharedAddressInviteWarning || !strings.Contains(inv.MailWarning, "someone else in this case") ||
		!strings.Contains(inv.MailWarning, "in person or by phone") {
		t.Fatalf("warning %q", inv.MailWarning)
	}
	for _, leak := range []string{sc.family, sc.caseID, sc.a.Account.ID, inv.ID, "counsel", "seat", "side A", "Alex"} {
		if strings.Contains(inv.MailWarning, leak) {
			t.Fatalf("warning names %q: %q", leak, inv.MailWarning)
		}
	}
	if got := sc.queuedTo(t, "join-", sc.family); len(got) != 1 {
		t.Fatalf("join mails queued to the family address: %v; want party A's alone", got)
	}
	if _, err := client.New(sc.n.URL, "").Join(ctx, inv.Link); err != nil {
		t.Fatalf("the lawyer's link, given by hand: %v", err)
	}
	// A lawyer's own address, mailed; then side A's other party is
	// invited there, and the mailed link no longer works.
	own := "dana-" + ids.New("x")[2:10] + "@example.test"
	inv, err = sc.med.Invite(ctx, sc.caseID, "counsel", "A", "Dana Counsel", own, time.Hour)
	if err != nil || !inv.Mailed || inv.MailWarning != "" {
		t.Fatalf("a lawyer at an address of their own: mailed %v, warning %q, %v", inv.Mailed, inv.MailWarning, err)
	}
	link := inviteLink(t, sc.n, sc.raw, sc.caseID, inv)
	if p, err := sc.med.Invite(ctx, sc.caseID, "party", "A", "Ed Parent", own, time.Hour); err != nil || p.Mailed || p.MailWarning != web.SharedAddressInviteWarning {
		t.Fatalf("side A's party at its lawyer's address: mailed %v, warning %q, %v", p.Mailed, p.MailWarning, err)
	}
	_, err = client.New(sc.n.URL, "").Join(ctx, link)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 410 || !strings.Contains(ce.Problem.Detail, "ask your mediator for a new link") ||
		strings.Contains(ce.Problem.Detail, own) {
		t.Fatalf("the lawyer's mailed link after a party of the side was invited at its address: %v (%+v)", err, ce)
	}
}

// Mail about a session of caucus A only does not go to an address side B
// also reads (it would tell B when A caucuses); the scheduler is told who
// was not emailed. A joint session is mailed as before.
func TestCaucusSessionNotMailedToSharedAddress(t *testing.T) {
	sc := newSharedCase(t)
	ctx := context.Background()
	future := time.Now().Add(96 * time.Hour).UTC().Format("2006-01-02T15:04")
	s, err := sc.med.AddSession(ctx, sc.caseID, api.NewSessionRequest{Start: future, TimeZone: "UTC", Minutes: 60, Rooms: []string{"caucus:A"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.MailWarning, "Alex Parent") || !strings.Contains(s.MailWarning, "Not emailed") {
		t.Fatalf("warning %q", s.MailWarning)
	}
	if strings.Contains(s.MailWarning, "Bo Parent") {
		t.Fatalf("warning names the other seat: %q", s.MailWarning)
	}
	if got := sc.queuedTo(t, "inv-"+s.ID+"-", sc.family); len(got) != 0 {
		t.Fatalf("caucus A's session mail queued to the shared address: %v", got)
	}
	if got := sc.queuedTo(t, "rem-"+s.ID+"-", sc.family); len(got) != 0 {
		t.Fatalf("caucus A's reminders queued to the shared address: %v", got)
	}
	j, err := sc.med.AddSession(ctx, sc.caseID, api.NewSessionRequest{Start: future, TimeZone: "UTC", Minutes: 60, Rooms: []string{"joint"}})
	if err != nil {
		t.Fatal(err)
	}
	if j.MailWarning != "" {
		t.Fatalf("joint session: warning %q", j.MailWarning)
	}
	// Both parents and the mediator are expected: both parents' mails go
	// to the family address.
	got := sc.mp.WaitFor(t, "inv-"+j.ID+"-", 3, 20*time.Second)
	family := 0
	for _, m := range got {
		if len(m.To) == 1 && strings.EqualFold(m.To[0].Address, sc.family) {
			family++
		}
	}
	if len(got) != 3 || family != 2 {
		t.Fatalf("%d joint session mails arrived, %d to the family address; want 3 and 2", len(got), family)
	}
}

// A link back in mailed to A's own address stops working once side B is
// invited at that address: opening it is refused (410) in plain words that
// tell the person to ask their mediator, naming nobody; a new link the
// mediator makes then (not mailed, given by hand) works.
func TestMailedLinkRefusedOnceAddressShared(t *testing.T) {
	sc := newFamilyCase(t)
	n, med, family, a := sc.n, sc.med, sc.family, sc.a
	ctx := context.Background()
	var err error
	re, err := med.Reentry(ctx, sc.caseID, a.Account.ID, time.Hour)
	if err != nil || !re.Mailed {
		t.Fatalf("A's link back in to A's own address: mailed %v, %v", re.Mailed, err)
	}
	if b, err := med.Invite(ctx, sc.caseID, "party", "B", "Bo Parent", family, time.Hour); err != nil || b.Mailed {
		t.Fatalf("side B at A's address: mailed %v, %v", b.Mailed, err)
	}
	_, err = client.New(n.URL, "").Join(ctx, re.Link)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 410 || !strings.Contains(ce.Problem.Detail, "ask your mediator for a new link") ||
		strings.Contains(ce.Problem.Detail, family) || strings.Contains(ce.Problem.Detail, a.Account.ID) {
		t.Fatalf("A's mailed link after the address became shared: %v (%+v)", err, ce)
	}
	re, err = med.Reentry(ctx, sc.caseID, a.Account.ID, time.Hour)
	if err != nil || re.Mailed {
		t.Fatalf("new link back in: mailed %v, %v", re.Mailed, err)
	}
	if s, err := client.New(n.URL, "").Join(ctx, re.Link); err != nil || s.Account.ID != a.Account.ID {
		t.Fatalf("the link given by hand: %v", err)
	}
}

// The sign-in link a party asked for by email, mailed to their own
// confirmed address, stops working if, within its 15 minutes, side B is
// invited at that address: opening it is refused (410) in the same plain
// words as a mailed link back in, naming nobody, and signs nobody in.
func TestSignInLinkRefusedOnceAddressShared(t *testing.T) {
	sc := newFamilyCase(t)
	n, mp, med, family, a := sc.n, sc.raw, sc.med, sc.family, sc.a
	ctx := context.Background()
	var err error
	confirmAddress(t, n, mp, a.Token, sc.caseID, family, 1)
	if status, body, _ := askSignInLink(t, n.URL, family); status != 202 {
		t.Fatalf("asking for a sign-in link: %d %s", status, body)
	}
	got := mp.Outbox(sentIDs(n, sc.caseID)).WaitFor(t, "signin-"+sc.caseID+"-", 1, 20*time.Second)
	if len(got) != 1 {
		t.Fatalf("%d sign-in mails arrived", len(got))
	}
	m, err := mp.Get(got[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	link := strings.Fields(m.Text[strings.Index(m.Text, "http"):])[0]
	if !strings.Contains(link, "/join#") {
		t.Fatalf("no sign-in link in the mail: %q", link)
	}
	if b, err := med.Invite(ctx, sc.caseID, "party", "B", "Bo Parent", family, time.Hour); err != nil || b.Mailed {
		t.Fatalf("side B at A's address: mailed %v, %v", b.Mailed, err)
	}
	for range 2 { // every try says the same
		s, err := client.New(n.URL, "").Join(ctx, link)
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != 410 || !strings.Contains(ce.Problem.Detail, "ask your mediator for a new link") ||
			strings.Contains(ce.Problem.Detail, family) || strings.Contains(ce.Problem.Detail, a.Account.ID) || s.Token != "" {
			t.Fatalf("A's sign-in link after the address became shared: %v (%+v)", err, ce)
		}
	}
}
