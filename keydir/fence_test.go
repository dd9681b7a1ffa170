package keydir_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
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

// TestStatementRacingTheFenceIsTakenBack: retention fences the case after
// a statement's request checked the fence and before it stored the
// statement. The request checks again once its statement is visible,
// finds the fence, deletes the version it wrote and answers 410: no
// version of it is left (MinIO, versioned), so none outlives a disposal
// whose listing came before it.
func TestStatementRacingTheFenceIsTakenBack(t *testing.T) {
	n := nodetest.Start(t, nodetest.Scale(t))
	ctx := context.Background()
	medAcct, med := n.Staff(t, policy.RoleMediator, "med-fence@example.org")
	k, err := med.CreateCase(ctx, "Fence", "family", "", []string{"A", "B"})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := e2ee.NewDeviceKeys(medAcct.ID, e2ee.KEMXWing, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var p keydir.Proven
	if err := med.Do(ctx, http.MethodPost, "/api/v1/keys/devices", api.RecordRequest{Record: dev.Record().Raw}, &p); err != nil {
		t.Fatal(err)
	}
	st := e2ee.StatementFor(k.ID, []e2ee.Person{{Account: medAcct.ID, Role: e2ee.RoleMediator}}, []string{"A", "B"}, map[string]int64{})
	st.Seq = 1
	raw, err := st.Sign(dev)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	keydir.SetBeforeCaseRecordForTest(n.KeyDir, func(key string) {
		if strings.HasPrefix(key, "keydir/statements/"+k.ID+"/") {
			once.Do(func() {
				if _, err := n.Cases.BeginDisposal(context.Background(), k.ID, "p_test"); err != nil {
					t.Error(err)
				}
			})
		}
	})
	err = med.Do(ctx, http.MethodPost, "/api/v1/cases/"+k.ID+"/e2ee/statements", api.RecordRequest{Record: raw}, &p)
	if ce, ok := err.(*client.Error); !ok || ce.Status != http.StatusGone {
		t.Fatalf("a statement stored as the case was fenced: %v, want 410", err)
	}
	var left []string
	if err := n.Store.VersionsUnder(ctx, "keydir/statements/"+k.ID+"/", func(v objstore.Version) error {
		left = append(left, v.Key+"@"+v.VersionID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Fatalf("versions left of a statement taken back: %v", left)
	}
}
