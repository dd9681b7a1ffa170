package schedule

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-mediation/parley/kms"
	"github.com/parley-mediation/parley/objstore"
)

// A session scheduled, then the master key rotated as `parley admin
// rotate-master-key` does it (kms.RotateMasterKey with the nodes stopped,
// then the nodes started on the new key), then the session moved and
// cancelled: each recipient's update and cancellation carry the UID of
// the invitation they already have, so their calendar replaces, then
// removes, that event (RFC 5546). The UIDs are keyed hashes under the
// metastore's index key, which derives from the records key; a rotation
// rewraps the records key under the new master key but does not change it.
func TestICalUIDsSurviveMasterKeyRotation(t *testing.T) {
	ctx := t.Context()
	store, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	keys := t.TempDir()
	oldMK, err := kms.LoadMasterKey(filepath.Join(keys, "old.key"), true)
	if err != nil {
		t.Fatal(err)
	}
	// The records key as a node loads it (server.Open): wrapped by the
	// master key under keys/records, made at the first start.
	recordsKey, err := kms.LoadOrCreateKey(ctx, store, oldMK, kms.RecordsKeyObject, kms.RecordsKeyLabel)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvOver(t, nil, store, recordsKey)
	e.svc.cfg.Reminders = []time.Duration{}
	start := e.clock.Now().Add(72 * time.Hour).Truncate(time.Hour)
	s, err := e.svc.Add(ctx, e.mediator, e.c.ID, NewSession{Start: local(start, "UTC"), TimeZone: "UTC", Minutes: 60})
	if err != nil {
		t.Fatal(err)
	}
	first := e.uidsOf(t, s, 0)

	newMK, err := kms.LoadMasterKey(filepath.Join(keys, "new.key"), true)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := kms.RotateMasterKey(ctx, store, oldMK, newMK, kms.RotateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rewrapped == 0 {
		t.Fatalf("the rotation rewrapped nothing: %+v", rep)
	}
	if _, err := kms.LoadOrCreateKey(ctx, store, oldMK, kms.RecordsKeyObject, kms.RecordsKeyLabel); !errors.Is(err, kms.ErrUnwrap) {
		t.Fatalf("the old master key on the rotated records key: err = %v, want ErrUnwrap", err)
	}
	// The nodes start again on the new master key.
	if recordsKey, err = kms.LoadOrCreateKey(ctx, store, newMK, kms.RecordsKeyObject, kms.RecordsKeyLabel); err != nil {
		t.Fatal(err)
	}
	e.open(t, nil, store, recordsKey)
	e.svc.cfg.Reminders = []time.Duration{}

	same := func(what string, uids map[string]string) {
		t.Helper()
		for who, uid := range uids {
			if uid != first[who] {
				t.Errorf("the %s to %s after the rotation carries UID %q, but their invitation had %q", what, who, uid, first[who])
			}
		}
	}
	if _, err := e.svc.Move(ctx, e.mediator, e.c.ID, s.ID, local(start.Add(time.Hour), "UTC"), "UTC", 0, "later"); err != nil {
		t.Fatal(err)
	}
	same("update", e.uidsOf(t, s, 1))
	if _, err := e.svc.Cancel(ctx, e.mediator, e.c.ID, s.ID, "called off"); err != nil {
		t.Fatal(err)
	}
	same("cancellation", e.uidsOf(t, s, 2))
}
