package vault

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// lockedStore refuses deletions while locked, as a bucket under object
// lock does, with a message as long and as detailed as an S3 one.
type lockedStore struct {
	objstore.Store
	locked atomic.Bool
}

func (l *lockedStore) Delete(ctx context.Context, key, vid string) error {
	if l.locked.Load() {
		return fmt.Errorf("objstore: s3 delete %q version %q: AccessDenied: Access Denied. Object is WORM protected and cannot be overwritten or deleted (request id %s)", key, vid, strings.Repeat("7", 40))
	}
	return l.Store.Delete(ctx, key, vid)
}

// TestUpgradeIncompleteAudited: when an upgraded version's older copies
// cannot be deleted, doc.upgrade.incomplete always lands in the audit log
// — ids, the version, a reason code and how many copies were left — and
// none of the store's messages (object keys, version ids) is in it.
func TestUpgradeIncompleteAudited(t *testing.T) {
	t.Parallel()
	dir, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := &lockedStore{Store: dir}
	e := newEnv(t, st)
	k := e.newCast(t)
	med := k.who["mediator"]
	d := e.upload(t, med, k.caseID, "a.pdf", Audience{Kind: policy.AudienceJoint}, ClassEvidence, []byte("hello"))
	ctx := t.Context()
	// As Upgrade leaves it: a new ciphertext beside the old one, a second
	// version record marked incomplete.
	ok := objectKey(k.caseID, d.ID, 1)
	info, err := dir.Put(ctx, ok, strings.NewReader("new ciphertext"), 14, objstore.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := metastore.Update(ctx, e.meta, versionKey(k.caseID, d.ID, 1), func(r *versionRecord) error {
		r.UpgradeIncomplete = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	before := e.log.Size()
	st.locked.Store(true)
	err = e.vault.finishUpgrade(ctx, med.ID, k.caseID, d.ID, 1, info.VersionID)
	st.locked.Store(false)
	if !errors.Is(err, ErrUpgradeIncomplete) || strings.Contains(err.Error(), "audit:") {
		t.Fatalf("finishUpgrade: %v, want ErrUpgradeIncomplete, audited", err)
	}
	var got map[string]string
	for _, ev := range e.entries(t, before) {
		if ev.Type == "doc.upgrade.incomplete" {
			got = ev.Attrs
			if len(ev.Objects) != 1 || ev.Objects[0] != d.ID {
				t.Errorf("objects %v, want the document", ev.Objects)
			}
			for name, v := range ev.Attrs {
				if strings.Contains(v, "Denied") || strings.Contains(v, k.caseID) {
					t.Errorf("attribute %s carries the store's message: %q", name, v)
				}
			}
		}
	}
	want := map[string]string{"version": "1", "reason": "older-copies-kept", "ciphertextCopies": "1", "recordCopies": "1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("doc.upgrade.incomplete attrs %v, want %v", got, want)
	}
}
