package client_test

import (
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
)

// TestPinsSavedOnlyAfterEveryCheck: a key-directory answer refused by the
// revocation check saves nothing (until review found it, firsts.json was
// written before that check could refuse the answer); revoked.json saved
// before pins had an index reads as pins of unknown index, and the next
// answer that revokes the device saves it with the revocation's index.
func TestPinsSavedOnlyAfterEveryCheck(t *testing.T) {
	now := time.UnixMilli(1767225600000)
	keys := func(account string) *e2ee.DeviceKeys {
		k, err := e2ee.NewDeviceKeys(account, e2ee.KEMX25519, now)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	laptop, phone, bob := keys("u_alice"), keys("u_alice"), keys("u_bob")
	raw, err := laptop.Endorse(phone.Record(), "", now)
	if err != nil {
		t.Fatal(err)
	}
	link, err := e2ee.DecodeEndorsement(raw)
	if err != nil {
		t.Fatal(err)
	}
	rev, err := e2ee.DecodeRevocation(laptop.Revoke(phone.ID, now))
	if err != nil {
		t.Fatal(err)
	}
	answer := func(withRevocation bool) *e2ee.Devices {
		d := e2ee.NewDevices()
		d.RequireEndorsement()
		d.Add(laptop.Record(), 1)
		d.Add(phone.Record(), 2)
		d.Endorse(link, 3)
		d.Add(bob.Record(), 4)
		if withRevocation {
			d.Revoke(rev, 100)
		}
		return d
	}
	dir := t.TempDir()
	old, _ := json.Marshal(map[string][]string{"u_alice": {phone.ID}})
	if err := os.WriteFile(filepath.Join(dir, "revoked.json"), old, 0o600); err != nil {
		t.Fatal(err)
	}
	x := &client.E2EE{Dir: dir}
	if err := client.CheckPinsForTest(x, answer(false)); !errors.Is(err, e2ee.ErrRevocationOmitted) {
		t.Fatalf("an answer leaving the pinned revocation out: %v, want ErrRevocationOmitted", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "firsts.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused answer saved firsts.json (%v)", err)
	}
	if err := client.CheckPinsForTest(x, answer(true)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "revoked.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]map[string]int64
	if err := json.Unmarshal(b, &got); err != nil || !maps.Equal(got["u_alice"], map[string]int64{phone.ID: 100}) {
		t.Fatalf("revoked.json after the honest answer: %s (%v), want the phone at 100", b, err)
	}
	b, err = os.ReadFile(filepath.Join(dir, "firsts.json"))
	if err != nil {
		t.Fatal(err)
	}
	var firsts map[string]string
	if err := json.Unmarshal(b, &firsts); err != nil || firsts["u_alice"] != laptop.ID || firsts["u_bob"] != bob.ID {
		t.Fatalf("firsts.json after the honest answer: %s (%v)", b, err)
	}
}
