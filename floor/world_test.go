package floor_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/floor"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/ratelimit"
)

// newWorld is one test's node without HTTP, on a fresh local-directory
// store: sealed records, the audit log, policy, cases and the floor over
// an in-process broker.
func newWorld(t *testing.T) (objstore.Store, *metastore.Store, *audit.Log, *policy.Engine, *cases.Service, *floor.Service) {
	t.Helper()
	return newWorldWith(t, nil)
}

// newWorldWith is newWorld over the store wrap makes of the local one
// (nil: the local one itself), for tests that step between its calls.
func newWorldWith(t *testing.T, wrap func(objstore.Store) objstore.Store) (objstore.Store, *metastore.Store, *audit.Log, *policy.Engine, *cases.Service, *floor.Service) {
	t.Helper()
	var store objstore.Store
	store, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		store = wrap(store)
	}
	key := make([]byte, 32)
	rand.Read(key)
	meta, err := metastore.New(store, key)
	if err != nil {
		t.Fatal(err)
	}
	seed := sha256.Sum256([]byte("parley floor test audit key"))
	signer, err := audit.NewSigner("test/audit", ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		t.Fatal(err)
	}
	log, err := audit.Open(t.Context(), store, signer)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.New()
	if err != nil {
		t.Fatal(err)
	}
	cs := cases.NewService(meta, account.NewService(meta, ratelimit.NewMemory()), pol, log)
	fl := floor.New(floor.Config{Meta: meta, Cases: cs, Policy: pol, Audit: log, Broker: messaging.NewMemory()})
	return store, meta, log, pol, cs, fl
}
