package caucus

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/ratelimit"
)

// flakyStore is a real store whose next reads or writes of keys under a
// prefix fail, as a store that drops requests for a moment does.
type flakyStore struct {
	objstore.Store
	mu                 sync.Mutex
	prefix             string
	failGets, failPuts int
	failed             atomic.Int64
}

var errInjected = errors.New("injected store failure")

func (f *flakyStore) fail(prefix string, gets, puts int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.prefix, f.failGets, f.failPuts = prefix, gets, puts
}

func (f *flakyStore) take(key string, n *int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if *n == 0 || !strings.HasPrefix(key, f.prefix) {
		return false
	}
	if *n > 0 {
		*n--
	}
	f.failed.Add(1)
	return true
}

func (f *flakyStore) Get(ctx context.Context, key string, opts objstore.GetOptions) (io.ReadCloser, objstore.Info, error) {
	if f.take(key, &f.failGets) {
		return nil, objstore.Info{}, errInjected
	}
	return f.Store.Get(ctx, key, opts)
}

func (f *flakyStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if f.take(key, &f.failPuts) {
		return objstore.Info{}, errInjected
	}
	return f.Store.Put(ctx, key, r, size, opts)
}

type roomsEnv struct {
	store *flakyStore
	cases *cases.Service
	msg   *messaging.Service
	rooms *Service
	bus   *messaging.Memory
	meta  *metastore.Store
	log   *audit.Log
}

func newRoomsEnv(t *testing.T) *roomsEnv {
	t.Helper()
	dir, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := &flakyStore{Store: dir}
	key := make([]byte, 32)
	rand.Read(key)
	meta, err := metastore.New(store, key)
	if err != nil {
		t.Fatal(err)
	}
	seed := sha256.Sum256([]byte("parley caucus test audit key"))
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
	bus := messaging.NewMemory()
	msg := messaging.NewService(messaging.NewLog(store), bus, messaging.Options{})
	t.Cleanup(func() { msg.Close() })
	return &roomsEnv{store: store, cases: cs, msg: msg, rooms: NewService(cs, pol, msg, bus, log), bus: bus, meta: meta, log: log}
}

// tenancyCase creates a case of med's with the sides Tenant and Landlord,
// then lets add change its record directly: the co-mediators and
// participants a test needs, without invitations. It returns the case as
// created, before add.
func (e *roomsEnv) tenancyCase(t *testing.T, med account.Account, add func(k *cases.Case)) *cases.Case {
	t.Helper()
	ctx := t.Context()
	c, err := e.cases.Create(ctx, med, cases.NewCase{Title: "Rooms", Type: "tenancy", SideLabels: []string{"Tenant", "Landlord"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := metastore.Update(ctx, e.meta, "cases/"+c.ID+"/case", func(k *cases.Case) error {
		add(k)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestMembershipChangeSurvivesStoreFailures: when reading the case or
// sealing a room fails for a moment, a membership change (here a
// mediator's recusal) retries the step, and its announcement — which makes
// open sockets re-check and drop the rooms — is always made, even when a
// step keeps failing (issue 15 item 5).
func TestMembershipChangeSurvivesStoreFailures(t *testing.T) {
	e := newRoomsEnv(t)
	ctx := t.Context()
	med := account.Account{ID: ids.New("u"), Name: "Mia", Role: policy.RoleMediator}
	c, err := e.cases.Create(ctx, med, cases.NewCase{Title: "Flaky", Type: "tenancy", SideLabels: []string{"Tenant", "Landlord"}})
	if err != nil {
		t.Fatal(err)
	}
	var announced atomic.Int64
	cancel := e.bus.Subscribe(CaseTopic(c.ID), func([]byte) { announced.Add(1) })
	defer cancel()
	recused := cases.MembershipChange{Kind: "mediator.recused", Account: med.ID}
	// epochs posts a message to every room and returns the epoch each was
	// committed in: a seal since the last call shows as a higher epoch.
	epochs := func() map[string]int64 {
		out := map[string]int64{}
		for _, name := range RoomNames(c) {
			_, mr, _ := roomOf(c, name)
			m, err := e.msg.Publish(ctx, mr.ID, messaging.Message{ID: ids.New("m"), From: med.ID, Body: []byte("probe")})
			if err != nil {
				t.Fatal(err)
			}
			out[name] = m.Epoch
		}
		return out
	}
	// 1. Reading the case fails twice: the change still happens.
	e.store.fail("cases/", 2, 0)
	before := epochs()
	e.rooms.MembershipChanged(ctx, c.ID, recused)
	if e.store.failed.Load() != 2 {
		t.Fatalf("%d injected failures, want 2", e.store.failed.Load())
	}
	if announced.Load() != 1 {
		t.Fatalf("after a failed case read: %d announcements, want 1", announced.Load())
	}
	after := epochs()
	for name, ep := range after {
		if ep <= before[name] {
			t.Errorf("after a failed case read, room %s not sealed (epoch %d → %d)", name, before[name], ep)
		}
	}

	// 2. Writes of message history fail twice: every room is sealed anyway.
	e.store.fail(messaging.StoragePrefix(c.ID+"/"), 0, 2)
	before = after
	e.rooms.MembershipChanged(ctx, c.ID, recused)
	if announced.Load() != 2 {
		t.Fatalf("after failed seals: %d announcements, want 2", announced.Load())
	}
	after = epochs()
	for name, ep := range after {
		if ep <= before[name] {
			t.Errorf("after failed seal writes, room %s not sealed (epoch %d → %d)", name, before[name], ep)
		}
	}

	// 3. The store stays down for message history: the steps give up in
	// bounded time, and the announcement is still made.
	e.store.fail(messaging.StoragePrefix(c.ID+"/"), 0, -1)
	start := time.Now()
	e.rooms.MembershipChanged(ctx, c.ID, recused)
	if announced.Load() != 3 {
		t.Fatalf("with the store down: %d announcements, want 3", announced.Load())
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("a failing membership change took %s", d)
	}
	e.store.fail("", 0, 0)
}
