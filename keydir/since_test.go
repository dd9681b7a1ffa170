package keydir_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/keydir"
	"github.com/parley-mediation/parley/policy"
)

// TestSinceTooLargeWritesNothing: a registration whose ?since is larger
// than the log is refused (409) before anything is stored or logged.
// Before, the device was stored and logged and only the answer's proof
// failed, so the client was told "conflict" for a write that stood. And a
// record refused because another holds its place says so without the
// storage key.
func TestSinceTooLargeWritesNothing(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	medAcct, med := n.Staff(t, policy.RoleMediator, "med-since@example.org")
	dev, _ := e2ee.NewDeviceKeys(medAcct.ID, e2ee.KEMXWing, time.Now())
	size := n.KeyDir.Log().Size()
	var p keydir.Proven
	err := med.Do(ctx, http.MethodPost, "/api/v1/keys/devices?since=1000000", api.RecordRequest{Record: dev.Record().Raw}, &p)
	if status(err) != http.StatusConflict {
		t.Fatalf("registering with a since past the log: %v", err)
	}
	if got := n.KeyDir.Log().Size(); got != size {
		t.Fatalf("the log grew from %d to %d entries for a refused registration", size, got)
	}
	if err := med.Do(ctx, http.MethodGet, "/api/v1/keys/devices", nil, &p); err != nil || len(p.Devices) != 0 {
		t.Fatalf("a refused registration stored %d device(s): %v", len(p.Devices), err)
	}
	if err := med.Do(ctx, http.MethodPost, "/api/v1/keys/devices", api.RecordRequest{Record: dev.Record().Raw}, &p); err != nil {
		t.Fatal(err)
	}
	if err := med.Do(ctx, http.MethodGet, "/api/v1/keys/devices", nil, &p); err != nil || len(p.Devices) != 1 {
		t.Fatalf("%d device(s) after registering once: %v", len(p.Devices), err)
	}
	// Another record of the same device (same keys, another creation
	// time): refused as a conflict, in words that name no storage key.
	again, err := e2ee.DeviceKeysFromSeeds(medAcct.ID, e2ee.KEMXWing, dev.SigSeed, dev.KEMSeed, dev.Created+1)
	if err != nil {
		t.Fatal(err)
	}
	err = med.Do(ctx, http.MethodPost, "/api/v1/keys/devices", api.RecordRequest{Record: again.Record().Raw}, &p)
	if status(err) != http.StatusConflict || strings.Contains(err.Error(), "keydir/") {
		t.Fatalf("another record of a registered device: %v", err)
	}
}
