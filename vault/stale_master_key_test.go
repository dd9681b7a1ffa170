package vault

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	"github.com/parley-mediation/parley/kms"
	"github.com/parley-mediation/parley/objstore"
)

// A node left running through a master key rotation (a pod still draining
// after `kubectl scale --replicas=0`, a forgotten node) holds the old master
// key. Its first upload to a case must not create that case's key wrapped by
// the old master key — nodes on the new one could not open the case's
// documents, and once the old key is destroyed nobody could. It is refused,
// and nothing is left under keys/ for the new master key to trip on.
func TestStaleNodeCreatesNoCaseKeyAfterRotation(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		ctx := t.Context()
		e := newEnv(t, store) // the node, on master key A
		before, after := e.newCast(t), e.newCast(t)
		med := before.who["mediator"]
		e.upload(t, med, before.caseID, "before.pdf", before.audience(t, "joint"), ClassEvidence, []byte("uploaded before the rotation"))

		newKey, err := kms.LoadMasterKey(filepath.Join(t.TempDir(), "master.key"), true)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kms.RotateMasterKey(ctx, store, e.mk, newKey, kms.RotateOptions{}); err != nil {
			t.Fatal(err)
		}

		// The stale node's first upload to the other case.
		_, err = e.vault.Upload(ctx, after.who["mediator"], after.caseID, NewDocument{Name: "after.pdf", MediaType: "application/pdf",
			Audience: after.audience(t, "joint"), Class: ClassEvidence}, bytes.NewReader([]byte("uploaded by a node on the old key")))
		if !errors.Is(err, kms.ErrStaleMasterKey) {
			t.Fatalf("upload through the stale node: err = %v, want kms.ErrStaleMasterKey", err)
		}
		if _, _, err := store.Get(ctx, kms.CaseKeyPrefix+after.caseID, objstore.GetOptions{}); !errors.Is(err, objstore.ErrNotFound) {
			t.Fatalf("a case key was stored for %s: err = %v", after.caseID, err)
		}
		// Everything under keys/ still opens with the new master key alone.
		if _, err := kms.VerifyWrapped(ctx, store, newKey); err != nil {
			t.Fatal(err)
		}
	})
}
