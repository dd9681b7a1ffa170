package web_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
)

// DELETE …/invites/{id}: the case's mediator withdraws an invitation sent
// to the wrong address. It leaves the pending list; its link is refused with the
// words an expired one gets (410). A used invitation answers 409 in words
// (problem+json); another case's mediator and a party are refused, and
// nothing is withdrawn by them.
func TestWithdrawInviteAPI(t *testing.T) {
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	ctx := context.Background()
	_, med := n.Staff(t, policy.RoleMediator, "wd-med@example.org")
	_, stranger := n.Staff(t, policy.RoleMediator, "wd-other@example.org")
	c, err := med.CreateCase(ctx, "Okafor v. Lindqvist", "tenancy", "court", []string{"Tenant", "Landlord"})
	if err != nil {
		t.Fatal(err)
	}
	used, err := med.Invite(ctx, c.ID, "party", "A", "Ada Okafor", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	party := client.New(n.URL, "")
	if _, err := party.Join(ctx, used.Link); err != nil {
		t.Fatal(err)
	}
	wrong, err := med.Invite(ctx, c.ID, "party", "B", "Lars Lindqvist", "ada.okafor@example.test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	list, err := med.PendingInvites(ctx, c.ID)
	if err != nil || len(list) != 1 || list[0].Name != "Lars Lindqvist" || list[0].ID == "" || strings.Contains(wrong.Link, list[0].ID) {
		t.Fatalf("pending: %+v, %v", list, err)
	}
	id := list[0].ID
	joinMail := func() []api.MailMessage {
		t.Helper()
		all, err := med.Mail(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		var out []api.MailMessage
		for _, m := range all {
			if m.Kind == "join" && m.To == "ada.okafor@example.test" {
				out = append(out, m)
			}
		}
		return out
	}
	if m := joinMail(); len(m) != 1 {
		t.Fatalf("the invitation's mail before: %+v", m)
	}

	for who, cl := range map[string]*client.Client{"the party": party, "another case's mediator": stranger} {
		var apiErr *client.Error
		if _, err := cl.WithdrawInvite(ctx, c.ID, id); !errors.As(err, &apiErr) || (apiErr.Status != http.StatusForbidden && apiErr.Status != http.StatusNotFound) {
			t.Fatalf("%s withdrew the invitation: %v", who, err)
		}
	}
	if l, _ := med.PendingInvites(ctx, c.ID); len(l) != 1 {
		t.Fatalf("pending after refused withdrawals: %+v", l)
	}

	got, err := med.WithdrawInvite(ctx, c.ID, id)
	if err != nil || got.Already || got.MailWarning != "" {
		t.Fatalf("withdraw: %+v, %v", got, err)
	}
	// The development outbox holds mail at once (never sending it), so
	// here it is held or cancelled; schedule TestWithdrawnInviteMailNotSent
	// shows a waiting one cancelled.
	if m := joinMail(); len(m) != 1 || (m[0].State != "cancelled" && m[0].State != "held") {
		t.Fatalf("the invitation's mail after: %+v", m)
	}
	if l, err := med.PendingInvites(ctx, c.ID); err != nil || len(l) != 0 {
		t.Fatalf("pending after: %+v, %v", l, err)
	}
	// The holder of the link learns only that it no longer works, as
	// for an expired one.
	res := rawRequest(t, http.MethodPost, n.URL+"/api/v1/invites/redeem", "", strings.NewReader(`{"token":"`+wrong.Token+`"}`), map[string]string{"Content-Type": "application/json"})
	if res.StatusCode != http.StatusGone {
		t.Fatalf("redeeming the withdrawn link: %d", res.StatusCode)
	}
	if p := problemOf(t, res); strings.Contains(strings.ToLower(p.Title+p.Detail), "withdr") || !strings.Contains(p.Detail, "expired") {
		t.Fatalf("the withdrawn link is refused as %+v", p)
	}

	// A used invitation: 409, in words (its id as listed before it was used).
	obi, err := med.Invite(ctx, c.ID, "observer", "", "Obi", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := med.PendingInvites(ctx, c.ID)
	if len(l) != 1 {
		t.Fatalf("pending: %+v", l)
	}
	if _, err := client.New(n.URL, "").Join(ctx, obi.Link); err != nil {
		t.Fatal(err)
	}
	res = rawRequest(t, http.MethodDelete, n.URL+"/api/v1/cases/"+c.ID+"/invites/"+l[0].ID, med.Token, nil, nil)
	if res.StatusCode != http.StatusConflict {
		t.Fatalf("withdrawing a used invitation: %d", res.StatusCode)
	}
	if p := problemOf(t, res); !strings.Contains(p.Detail, "already joined: remove the person instead") {
		t.Fatalf("409 words: %+v", p)
	}
	res = rawRequest(t, http.MethodDelete, n.URL+"/api/v1/cases/"+c.ID+"/invites/not-an-id", med.Token, nil, nil)
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("withdrawing no invitation: %d", res.StatusCode)
	}
	problemOf(t, res)
}
