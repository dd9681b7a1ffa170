package web_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
)

// GET …/invites answers the case's mediator with who is invited and has
// not joined (name, role, side, expiry) and never a link or token; a party
// of the case and a mediator of another case are refused.
func TestPendingInvitesAPI(t *testing.T) {
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	ctx := context.Background()
	_, med := n.Staff(t, policy.RoleMediator, "desk-med@example.org")
	_, stranger := n.Staff(t, policy.RoleMediator, "desk-other@example.org")
	c, err := med.CreateCase(ctx, "Okafor v. Lindqvist", "tenancy", "court", []string{"Tenant", "Landlord"})
	if err != nil {
		t.Fatal(err)
	}
	invA, err := med.Invite(ctx, c.ID, "party", "A", "Ada Okafor", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	invB, err := med.Invite(ctx, c.ID, "counsel", "B", "Jordan Blake", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	party := client.New(n.URL, "")
	if _, err := party.Join(ctx, invA.Link); err != nil {
		t.Fatal(err)
	}
	list, err := med.PendingInvites(ctx, c.ID)
	if err != nil || len(list) != 1 || list[0].Name != "Jordan Blake" || list[0].Role != "counsel" || list[0].Side != "B" || !list[0].Expires.Equal(invB.Expires) {
		t.Fatalf("pending invitations: %+v %v", list, err)
	}
	var raw []map[string]any
	if err := med.Do(ctx, http.MethodGet, "/api/v1/cases/"+c.ID+"/invites", nil, &raw); err != nil {
		t.Fatal(err)
	}
	for _, p := range raw {
		for k, v := range p {
			if s, _ := v.(string); k == "link" || k == "token" || strings.Contains(s, invB.Token) {
				t.Fatalf("the list carries the invitation's secret: %v", p)
			}
		}
	}
	for who, cl := range map[string]*client.Client{"the party": party, "another case's mediator": stranger} {
		var apiErr *client.Error
		if _, err := cl.PendingInvites(ctx, c.ID); !errors.As(err, &apiErr) || (apiErr.Status != http.StatusForbidden && apiErr.Status != http.StatusNotFound) {
			t.Errorf("%s listed the invitations: %v", who, err)
		}
	}
}
