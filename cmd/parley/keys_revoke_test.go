package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/e2ee"
)

// TestRevokeNamesTheDevicesItLinked: after a revocation, `parley keys
// revoke` names each device the revoked one added that still counts, with
// its id, the day it was added and the command to revoke it; nothing when
// there is none.
func TestRevokeNamesTheDevicesItLinked(t *testing.T) {
	var none bytes.Buffer
	printStillLinked(&none, "dv_laptop", nil)
	if none.Len() != 0 {
		t.Fatalf("nothing linked, printed %q", none.String())
	}
	var b bytes.Buffer
	added := time.Date(2026, 12, 3, 12, 0, 0, 0, time.Local)
	printStillLinked(&b, "dv_laptop", []e2ee.Link{{
		Device:  &e2ee.DeviceRecord{ID: "dv_thief", Account: "u_med", KEM: e2ee.KEMXWing},
		ByDev:   "dv_laptop",
		Created: added.UnixMilli(),
	}})
	out := b.String()
	for _, want := range []string{"dv_laptop added these devices", "dv_thief", "added on 3 December 2026", "parley keys revoke dv_thief"} {
		if !strings.Contains(out, want) {
			t.Fatalf("output %q lacks %q", out, want)
		}
	}
}
