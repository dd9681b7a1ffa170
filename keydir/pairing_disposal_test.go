package keydir_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/keydir"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// TestPairingRacingTheAccountsDisposalIsTakenBack: retention destroys an
// account's devices (and everything under keydir/pairings/<account>/)
// after a pairing's request checked the device and before it stored the
// pairing. The request looks at the device again once its pairing is
// visible, finds it gone, and deletes every version of the pairing: none
// outlives the account's disposal, whose listing came before it.
func TestPairingRacingTheAccountsDisposalIsTakenBack(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	medAcct, med := n.Staff(t, policy.RoleMediator, "med-pairing@example.org")
	dev, err := e2ee.NewDeviceKeys(medAcct.ID, e2ee.KEMXWing, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var p keydir.Proven
	if err := med.Do(ctx, http.MethodPost, "/api/v1/keys/devices", api.RecordRequest{Record: dev.Record().Raw}, &p); err != nil {
		t.Fatal(err)
	}
	keydir.SetBeforePairingForTest(n.KeyDir, func(string) {
		// The account's disposal: every version of its devices deleted.
		var vs []objstore.Version
		if err := n.Store.VersionsUnder(ctx, "keydir/devices/"+medAcct.ID+"/", func(v objstore.Version) error { vs = append(vs, v); return nil }); err != nil {
			t.Error(err)
		}
		for _, v := range vs {
			if err := n.Store.Delete(ctx, v.Key, v.VersionID); err != nil {
				t.Error(err)
			}
		}
	})
	if _, err := n.KeyDir.StartPairing(ctx, medAcct, dev.ID); !errors.Is(err, fault.ErrForbidden) {
		t.Fatalf("a pairing stored as its device went: %v, want refused", err)
	}
	var left []string
	if err := n.Store.VersionsUnder(ctx, "keydir/pairings/"+medAcct.ID+"/", func(v objstore.Version) error {
		left = append(left, v.Key+"@"+v.VersionID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Fatalf("versions left of a pairing taken back: %v", left)
	}
}

// TestDeviceRacingTheAccountsDisposalIsTakenBack: retention destroys an
// account (its record hidden, then its devices listed and deleted) after
// a device registration checked it and before the device is stored. The
// registration looks at the account again once its device is visible,
// finds it gone, and deletes the device's version: none outlives the
// account's disposal, whose listing came before it. ClaimPairing
// registers through the same path.
func TestDeviceRacingTheAccountsDisposalIsTakenBack(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	medAcct, _ := n.Staff(t, policy.RoleMediator, "med-device@example.org")
	dev, err := e2ee.NewDeviceKeys(medAcct.ID, e2ee.KEMXWing, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	keydir.SetBeforeAccountRecordForTest(n.KeyDir, func(string) {
		// The account's disposal: its record hidden, every version of
		// its devices deleted (none yet).
		if err := n.Store.Delete(ctx, "accounts/"+medAcct.ID, ""); err != nil {
			t.Error(err)
		}
	})
	if _, err := n.KeyDir.Register(ctx, medAcct, dev.Record().Raw, 0); !errors.Is(err, fault.ErrGone) {
		t.Fatalf("a device stored as its account went: %v, want gone (410)", err)
	}
	var left []string
	if err := n.Store.VersionsUnder(ctx, "keydir/devices/"+medAcct.ID+"/", func(v objstore.Version) error {
		left = append(left, v.Key+"@"+v.VersionID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Fatalf("versions left of a device taken back: %v", left)
	}
}
