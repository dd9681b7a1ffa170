package main

import (
	"strings"
	"testing"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
)

// TestDeviceAdmitSaysEarlierDocuments (review 394 L1): `parley device
// admit` tells the mediator what the admitted device reads: messages from
// now on, not earlier ones, but every document the person may see,
// earlier ones included (a device that holds their keys gives them to
// it). Before, it said "not before" of everything.
func TestDeviceAdmitSaysEarlierDocuments(t *testing.T) {
	n := nodetest.Embedded(t)
	k, med, join := cliCase(t, n, "cli-admit@example.org", "CLI admit", "family", []string{"A", "B"})
	a := join("A", "Avery")
	for _, u := range []cliUser{med, a} {
		if code, out := u.run(t, "", "keys", "init"); code != 0 {
			t.Fatalf("keys init: %d %s", code, out)
		}
	}
	if code, out := med.run(t, "", "chat", "send", k.ID, "--room", "joint", "Welcome"); code != 0 {
		t.Fatalf("mediator chat send: %d %s", code, out)
	}
	// Avery lost their phone: a new device, in a config dir of its own.
	lost := cliUser{dir: t.TempDir(), c: a.c, id: a.id}
	if code, out := lost.run(t, "", "keys", "init"); code != 0 {
		t.Fatalf("keys init on the new device: %d %s", code, out)
	}
	dev, err := client.LoadDevice(lost.dir)
	if err != nil {
		t.Fatal(err)
	}
	code, out := med.run(t, "", "device", "admit", k.ID, a.id, dev.ID)
	if code != 0 || !strings.Contains(out, "it reads what is said from now on (not earlier messages), and every document they may see, earlier ones included") {
		t.Fatalf("device admit: %d %s", code, out)
	}
}
