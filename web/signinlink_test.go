package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/mailpit"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/mail"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/policy"
)

// askSignInLink posts "Email me a link to sign in" for email and returns
// the status and the body.
func askSignInLink(t *testing.T, base, email string) (int, string, http.Header) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"email": email})
	resp, err := http.Post(base+"/api/v1/session/link", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.String(), resp.Header
}

// confirmAddress has a signed-in participant (token) ask, as in the app,
// to sign in by email link at the address on file, reads the
// confirmation mail (the want-th to the case) from Mailpit and uses its
// link in that session. It returns the link.
func confirmAddress(t *testing.T, n *nodetest.Node, mp *mailpit.Client, token, caseID, addr string, want int) string {
	t.Helper()
	ctx := context.Background()
	cl := client.New(n.URL, token)
	var resp api.EmailConfirmationResponse
	if err := cl.Do(ctx, http.MethodPost, "/api/v1/me/email-confirmation", api.EmailConfirmationRequest{CaseID: caseID}, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Email != addr || !strings.Contains(resp.Message, addr) {
		t.Fatalf("confirmation answer %+v", resp)
	}
	var link string
	for _, x := range mp.Outbox(sentIDs(n, caseID)).WaitFor(t, "confirm-"+caseID+"-", want, 20*time.Second) {
		if x.To[0].Address != addr {
			continue
		}
		m, err := mp.Get(x.ID)
		if err != nil {
			t.Fatal(err)
		}
		link = strings.Fields(m.Text[strings.Index(m.Text, "http"):])[0]
	}
	_, tok, ok := strings.Cut(link, "#confirm-email=")
	if !ok {
		t.Fatalf("no confirmation link to %s: %q", addr, link)
	}
	var me api.Account
	if err := cl.Do(ctx, http.MethodPost, "/api/v1/me/email-confirmation/use", api.ConfirmEmailRequest{Token: tok}, &me); err != nil || !me.EmailConfirmed {
		t.Fatalf("confirming %s: %+v, %v", addr, me, err)
	}
	return link
}

// A party asks for a sign-in link by email, on a scale-mode node (MinIO,
// Redis) with real mail (Mailpit). Every address gets the same answer:
// unknown, a mediator's, a disabled party's, a removed party's, an
// unconfirmed party's, a family mailbox two parties on opposite sides
// share, and the party's own (confirmed in the app). Only the party gets
// a link; the family mailbox gets word to ask the mediator, and no link; with the link and its expiry and
// nothing of the case; the link signs them in to their case once; a later
// link, past 15 minutes, is refused in words; asking too often is refused
// in words, per address and per client address; the audit log records the
// link's making and use, without the address or the token.
func TestSignInLinkByEmail(t *testing.T) {
	mp := mailpit.FromEnv(t)
	clock := &testClock{t: time.Now()}
	cfg := nodetest.Scale(t)
	cfg.SMTPURL, cfg.MailFrom, cfg.MailPoll = "smtp://"+mp.SMTP+"?starttls=off", "sessions@signin.test", 50*time.Millisecond
	cfg.Clock = clock.Now
	n := nodetest.Start(t, cfg)
	ctx := context.Background()
	tag := ids.New("x")[2:10]
	medEmail := "signin-med-" + tag + "@example.test"
	_, med := n.Staff(t, policy.RoleMediator, medEmail)
	_, admin := n.Staff(t, policy.RoleAdmin, "signin-admin-"+tag+"@example.test")
	title := "Okafor v. Lindqvist — CANARYTITLE"
	c, err := med.CreateCase(ctx, title, "tenancy", "", []string{"CanaryTenant", "CanaryLandlord"})
	if err != nil {
		t.Fatal(err)
	}
	join := func(name, side, addr string) api.SessionResponse {
		t.Helper()
		inv, err := med.Invite(ctx, c.ID, "party", side, name, addr, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		s, err := client.New(n.URL, "").Join(ctx, inviteLink(t, n, mp, c.ID, inv))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	party := "okafor-" + tag + "@example.test"
	removed := "gone-" + tag + "@example.test"
	disabled := "off-" + tag + "@example.test"
	unknown := "nobody-" + tag + "@example.test"
	ada := join("Ada Okafor", "A", party)
	unconfirmed := "unconf-" + tag + "@example.test"
	join("Una Unconfirmed", "B", unconfirmed)
	family := "family-" + tag + "@example.test"
	famA := join("Fay Okafor", "A", family)
	join("Finn Lindqvist", "B", family)
	confirmAddress(t, n, mp, ada.Token, c.ID, party, 1)
	confirmAddress(t, n, mp, famA.Token, c.ID, family, 2)
	gone := join("Gil Gone", "B", removed)
	off := join("Olu Off", "B", disabled)
	if _, err := med.RemoveParticipant(ctx, c.ID, gone.Account.ID); err != nil {
		t.Fatal(err)
	}
	// Participants' accounts are not disabled through the API (their
	// mediator removes them); one disabled in the store is refused all
	// the same.
	if _, err := metastore.Update(ctx, n.Meta, "accounts/"+off.Account.ID, func(a *account.Account) error {
		a.Disabled = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// A disabled mediator, as any staff member, gets no link either.
	offMedEmail := "signin-offmed-" + tag + "@example.test"
	offMed, _ := n.Staff(t, policy.RoleMediator, offMedEmail)
	if _, err := admin.DisableAccount(ctx, offMed.ID); err != nil {
		t.Fatal(err)
	}
	// A party whose only case is closed: nothing open, no link.
	c2, err := med.CreateCase(ctx, "Closed matter", "tenancy", "", []string{"Tenant", "Landlord"})
	if err != nil {
		t.Fatal(err)
	}
	closedParty := "closed-" + tag + "@example.test"
	inv2, err := med.Invite(ctx, c2.ID, "party", "A", "Cora Closed", closedParty, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cora, err := client.New(n.URL, "").Join(ctx, inviteLink(t, n, mp, c2.ID, inv2))
	if err != nil {
		t.Fatal(err)
	}
	// She asked to confirm her address while the case was open; opened
	// after it closed, the link is refused in the words the app tells
	// apart (409, "case is closed"), and confirms nothing.
	coraCl := client.New(n.URL, cora.Token)
	var coraConf api.EmailConfirmationResponse
	if err := coraCl.Do(ctx, http.MethodPost, "/api/v1/me/email-confirmation", api.EmailConfirmationRequest{CaseID: c2.ID}, &coraConf); err != nil {
		t.Fatal(err)
	}
	if _, err := med.CaseAction(ctx, c2.ID, "stage", map[string]string{"stage": "closure"}); err != nil {
		t.Fatal(err)
	}
	coraMail := mp.Outbox(sentIDs(n, c2.ID)).WaitFor(t, "confirm-"+c2.ID+"-", 1, 20*time.Second)
	if len(coraMail) != 1 {
		t.Fatalf("%d confirmation mails to Cora", len(coraMail))
	}
	cm, err := mp.Get(coraMail[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	_, coraTok, _ := strings.Cut(strings.Fields(cm.Text[strings.Index(cm.Text, "http"):])[0], "#confirm-email=")
	var closedErr *client.Error
	if err := coraCl.Do(ctx, http.MethodPost, "/api/v1/me/email-confirmation/use", api.ConfirmEmailRequest{Token: coraTok}, nil); !errors.As(err, &closedErr) ||
		closedErr.Status != http.StatusConflict || closedErr.Problem.Detail != "case is closed" {
		t.Fatalf("confirming in a closed case: %v, want 409 \"case is closed\"", err)
	}
	if _, err := med.RecordOutcome(ctx, c2.ID, "full-agreement", 1, 1); err != nil {
		t.Fatal(err)
	}
	// Invitation mails went out meanwhile; count only sign-in links.
	signinMails := func() []mailpit.Summary {
		got, err := mp.Outbox(sentIDs(n, c.ID)).WithPrefix("signin-" + c.ID + "-")
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	// The same answer for everyone; the party's asked last, so once their
	// mail is queued the worker has handled the others (one worker, in
	// order).
	var first string
	for _, addr := range []string{unknown, medEmail, offMedEmail, disabled, removed, closedParty, unconfirmed, family, strings.ToUpper(party)} {
		status, body, _ := askSignInLink(t, n.URL, addr)
		if status != http.StatusAccepted {
			t.Fatalf("%s: status %d: %s", addr, status, body)
		}
		if first == "" {
			first = body
		}
		if body != first {
			t.Fatalf("answers differ:\n%s\n%s", first, body)
		}
	}
	if !strings.Contains(first, api.SignInLinkSent) {
		t.Fatalf("answer %s", first)
	}
	got := mp.Outbox(sentIDs(n, c.ID)).WaitFor(t, "signin-"+c.ID+"-", 1, 20*time.Second)
	if len(got) != 1 {
		t.Fatalf("%d sign-in mails arrived", len(got))
	}
	m, err := mp.Get(got[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.To) != 1 || m.To[0].Address != party {
		t.Fatalf("to %+v", m.To)
	}
	for _, id := range []string{c.ID, c2.ID} {
		msgs, err := n.Outbox.List(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range msgs {
			if strings.HasPrefix(x.ID, "signin-") && !strings.HasPrefix(x.ID, "signin-shared-") && x.To != party {
				t.Fatalf("a sign-in link was queued to %s", x.To)
			}
		}
	}
	// The family mailbox: word to ask the mediator, no link, no name.
	// It is filed under the case's sign-in outbox, not in the case's mail
	// list its mediators read.
	shared := mp.Outbox(sentIDs(n, mail.SignInOutbox(c.ID))).WaitFor(t, "signin-shared-"+c.ID+"-", 1, 20*time.Second)
	if len(shared) != 1 || shared[0].To[0].Address != family {
		t.Fatalf("shared-address mails: %+v", shared)
	}
	if msgs, err := n.Outbox.List(ctx, c.ID); err != nil {
		t.Fatal(err)
	} else {
		for _, x := range msgs {
			if strings.HasPrefix(x.ID, "signin-shared-") || x.Kind == mail.KindSignIn && x.To == family {
				t.Fatalf("the case's mail list shows %s to %s", x.ID, x.To)
			}
		}
	}
	sm, err := mp.Get(shared[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sm.Text, "used by more than one person") || !strings.Contains(sm.Text, "ask your mediator for a link back in") ||
		strings.Contains(sm.Text, "http") || strings.Contains(sm.Text, "Fay") || strings.Contains(sm.Text, "Finn") || strings.Contains(sm.Text, "CANARY") {
		t.Fatalf("shared-address mail:\n%s", sm.Text)
	}
	all, err := mp.WithPrefix("")
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range all {
		for _, to := range x.To {
			if strings.Contains(to.Address, tag) && to.Address != party && (x.Subject == m.Subject || strings.Contains(x.Subject, "sign in") && to.Address != family) {
				t.Fatalf("a sign-in link went to %s", to.Address)
			}
			if to.Address == unknown || to.Address == medEmail || to.Address == offMedEmail || to.Address == unconfirmed && x.Subject != "Your invitation to a mediation" {
				t.Fatalf("mail went to %s: %q", to.Address, x.Subject)
			}
		}
	}
	i := strings.Index(m.Text, "http")
	if i < 0 {
		t.Fatalf("no link in the mail:\n%s", m.Text)
	}
	link := strings.Fields(m.Text[i:])[0]
	if !strings.Contains(link, "/join#") || !strings.Contains(m.Text, clock.Now().Add(15*time.Minute).UTC().Format("15:04")) {
		t.Fatalf("mail does not carry the link and its 15-minute expiry:\n%s", m.Text)
	}
	for _, secret := range []string{"CANARY", "Okafor", "Lindqvist", "Ada", "tenancy"} {
		if strings.Contains(m.Subject+"\n"+m.Text, secret) {
			t.Fatalf("mail carries %q:\n%s\n%s", secret, m.Subject, m.Text)
		}
	}
	token := link[strings.Index(link, "#")+1:]

	// The link signs the party in to their case, as their own account, once.
	s, err := client.New(n.URL, "").Join(ctx, link)
	if err != nil {
		t.Fatalf("the mailed link: %v", err)
	}
	if s.Account.ID != ada.Account.ID || s.CaseID != c.ID || s.Token == "" {
		t.Fatalf("signed in as %s into %s", s.Account.ID, s.CaseID)
	}
	var ce *client.Error
	if _, err := client.New(n.URL, "").Join(ctx, link); !errors.As(err, &ce) || ce.Status != http.StatusGone {
		t.Fatalf("the link used again: %v", err)
	}

	// A second link, opened after 15 minutes: refused in words.
	if status, body, _ := askSignInLink(t, n.URL, party); status != http.StatusAccepted {
		t.Fatalf("second request: %d %s", status, body)
	}
	if got := mp.Outbox(sentIDs(n, c.ID)).WaitFor(t, "signin-"+c.ID+"-", 2, 20*time.Second); len(got) != 2 {
		t.Fatalf("%d sign-in mails", len(got))
	}
	var link2 string
	for _, x := range signinMails() {
		if x.ID == m.ID {
			continue
		}
		m2, err := mp.Get(x.ID)
		if err != nil {
			t.Fatal(err)
		}
		link2 = strings.Fields(m2.Text[strings.Index(m2.Text, "http"):])[0]
	}
	clock.Advance(15*time.Minute + time.Second)
	_, err = client.New(n.URL, "").Join(ctx, link2)
	if !errors.As(err, &ce) || ce.Status != http.StatusGone || !strings.Contains(ce.Problem.Detail, "expired") {
		t.Fatalf("an expired link: %v", err)
	}

	// Three requests per address per 15 minutes, then a refusal in words.
	if status, body, _ := askSignInLink(t, n.URL, party); status != http.StatusAccepted {
		t.Fatalf("third request: %d %s", status, body)
	}
	if got := mp.Outbox(sentIDs(n, c.ID)).WaitFor(t, "signin-"+c.ID+"-", 3, 20*time.Second); len(got) != 3 {
		t.Fatalf("%d sign-in mails", len(got))
	}
	status, body, hdr := askSignInLink(t, n.URL, party)
	if status != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" ||
		!strings.Contains(body, "Too many sign-in links") || !strings.Contains(body, "minutes") || strings.Contains(body, "0s") {
		t.Fatalf("fourth request: %d %s", status, body)
	}
	// Twenty per client address, whatever the address asked for.
	for k := 0; ; k++ {
		status, body, _ := askSignInLink(t, n.URL, "many-"+tag+"-"+ids.New("x")[2:8]+"@example.test")
		if status == http.StatusTooManyRequests {
			if k+12 != 20 || !strings.Contains(body, "from your network") {
				t.Fatalf("refused after %d requests: %s", k+12, body)
			}
			break
		}
		if k > 30 {
			t.Fatal("no limit per client address")
		}
	}

	// The audit log: made (by the party, via email) three times, used once;
	// neither the address nor a token in it.
	made, used := 0, 0
	for i := int64(0); i < n.Audit.Size(); i++ {
		ev, err := n.Audit.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(ev)
		if bytes.Contains(b, []byte(party)) || bytes.Contains(b, []byte(token)) {
			t.Fatalf("audit entry %d carries the address or the token: %s", i, b)
		}
		if ev.Attrs["via"] != "email" {
			continue
		}
		switch ev.Type {
		case "case.reentry.created":
			made++
			if ev.Actor != ada.Account.ID || ev.Case != c.ID {
				t.Fatalf("made: %s", b)
			}
		case "case.reentry.redeemed":
			used++
		}
	}
	if made != 3 || used != 1 {
		t.Fatalf("audit: %d made, %d used", made, used)
	}
}
