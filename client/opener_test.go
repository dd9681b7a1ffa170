package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
)

// TestCoMediatorDoesNotOpenTheConversation (review): the creating mediator
// M adds co-mediator Max before anyone opened the case's conversation.
// Max's client opening it first is told, in words, that M opens it, and
// signs nothing (the key directory would refuse his first statement);
// M's client then opens it, seated alone, and Max waits to be admitted.
func TestCoMediatorDoesNotOpenTheConversation(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	maxAcct, maxC := n.Staff(t, policy.RoleMediator, fmt.Sprintf("max-%d@example.org", time.Now().UnixNano()))
	if err := tc.med.c.Do(ctx, http.MethodPost, "/api/v1/cases/"+tc.caseID+"/mediators", map[string]string{"accountId": maxAcct.ID}, nil); err != nil {
		t.Fatal(err)
	}
	_, maxX := newDevice(t, maxC, maxAcct.ID, e2ee.KEMXWing)

	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	s, err := maxX.OpenSecureChat(octx, tc.caseID, client.SecureOptions{StatementWait: 2 * time.Second})
	cancel()
	if err == nil {
		_, err = s.Send(ctx, "joint", "hello")
		s.Close()
	}
	if !errors.Is(err, e2ee.ErrMembership) || !strings.Contains(err.Error(), "opens this case's conversation") {
		t.Fatalf("Max opening the conversation before M: %v", err)
	}
	if _, signed, err := tc.n.KeyDir.SeatedMediators(ctx, tc.caseID); err != nil || signed {
		t.Fatalf("a statement was stored after Max's client was told it does not open the case (%v)", err)
	}
	open(t, tc.med, tc.caseID, client.SecureOptions{})
	signedFor(t, tc.med, tc.caseID, tc.med.id, tc.a.id, tc.b.id)
	seated, signed, err := tc.n.KeyDir.SeatedMediators(ctx, tc.caseID)
	if err != nil || !signed || len(seated) != 1 || seated[0] != tc.med.id {
		t.Fatalf("seated after M opened the case: %v %v %v", seated, signed, err)
	}
}
