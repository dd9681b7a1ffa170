package web

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
)

// countingStore counts the requests made through it, by kind.
type countingStore struct {
	objstore.Store
	mu sync.Mutex
	n  map[string]int
}

func (c *countingStore) count(kind string) {
	c.mu.Lock()
	c.n[kind]++
	c.mu.Unlock()
}

// counts returns a copy of the counts so far.
func (c *countingStore) counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

func (c *countingStore) Get(ctx context.Context, key string, o objstore.GetOptions) (io.ReadCloser, objstore.Info, error) {
	c.count("get")
	return c.Store.Get(ctx, key, o)
}

func (c *countingStore) Stat(ctx context.Context, key string) (objstore.Info, error) {
	c.count("stat")
	return c.Store.Stat(ctx, key)
}

func (c *countingStore) List(ctx context.Context, prefix string, fn func(objstore.Info) error) error {
	c.count("list")
	return c.Store.List(ctx, prefix, fn)
}

func (c *countingStore) Put(ctx context.Context, key string, r io.Reader, size int64, o objstore.PutOptions) (objstore.Info, error) {
	c.count("put")
	return c.Store.Put(ctx, key, r, size, o)
}

func (c *countingStore) Versions(ctx context.Context, key string) ([]objstore.Version, error) {
	c.count("versions")
	return c.Store.Versions(ctx, key)
}

func (c *countingStore) VersionsUnder(ctx context.Context, prefix string, fn func(objstore.Version) error) error {
	c.count("versions")
	return c.Store.VersionsUnder(ctx, prefix, fn)
}

// TestFenceWatchListsOncePerPass: a node with 200 cases open makes one
// store request a pass (a listing of the fence markers), not one per
// case, and a case fenced among them has its connections kicked by the
// first pass that lists after the fence (one Stat and one read of that
// case only); later passes, the case still fenced, are one listing again.
// Against MinIO, through a wrapper that counts the watch's requests (the
// disposal goes through the store directly).
func TestFenceWatchListsOncePerPass(t *testing.T) {
	ctx := t.Context()
	raw, err := objstore.OpenS3(ctx, testenv.S3(t))
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	meta, err := metastore.New(raw, key)
	if err != nil {
		t.Fatal(err)
	}
	counting := &countingStore{Store: raw, n: map[string]int{}}
	watchMeta, err := metastore.New(counting, key)
	if err != nil {
		t.Fatal(err)
	}
	disposer := cases.NewService(meta, nil, nil, nil) // BeginDisposal only
	watcher := cases.NewService(watchMeta, nil, nil, nil)

	const n = 200
	caseIDs := make([]string, n)
	for i := range caseIDs {
		caseIDs[i] = ids.New("c")
		if _, err := meta.Create(ctx, cases.RecordKey(caseIDs[i]), cases.Case{ID: caseIDs[i]}); err != nil {
			t.Fatal(err)
		}
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := newCaseFenceWatch(wctx, 20*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)), watcher)
	defer w.wait()
	defer cancel()
	kicks := make([]atomic.Int64, n)
	var kickedAtList atomic.Int64 // the listings made when the fenced case was kicked
	fenced := 137
	for i, id := range caseIDs {
		rm := w.add(id, func() {
			if kicks[i].Add(1) == 1 && i == fenced {
				kickedAtList.Store(int64(counting.counts()["list"]))
			}
		})
		defer rm()
	}
	// waitLists waits (bounded) until the watch has listed n times in all.
	waitLists := func(n int) map[string]int {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			c := counting.counts()
			if c["list"] >= n {
				return c
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d listings in 10 s, want %d: %v", c["list"], n, c)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	// others is the requests other than listings in c.
	others := func(c map[string]int) int { return c["get"] + c["stat"] + c["put"] + c["versions"] }

	before := waitLists(2)
	after := waitLists(before["list"] + 5)
	if got := others(after) - others(before); got != 0 {
		t.Fatalf("%d requests other than listings over %d passes with %d cases open, nothing fenced (%v → %v): want one listing a pass",
			got, after["list"]-before["list"], n, before, after)
	}

	if _, err := disposer.BeginDisposal(ctx, caseIDs[fenced], "p_test"); err != nil {
		t.Fatal(err)
	}
	fencedAt := counting.counts()["list"]
	deadline := time.Now().Add(10 * time.Second)
	for kicks[fenced].Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the fenced case's connection not kicked in 10 s (%v)", counting.counts())
		}
		time.Sleep(2 * time.Millisecond)
	}
	if at := kickedAtList.Load(); at > int64(fencedAt)+1 {
		t.Fatalf("kicked after listing %d, the fence done at listing %d: want the next pass's", at, fencedAt)
	}
	for i := range kicks {
		if i != fenced && kicks[i].Load() != 0 {
			t.Fatalf("case %d kicked, not fenced", i)
		}
	}
	// The fenced case was read, and only it; then one listing a pass
	// again, the fence unchanged.
	mid := waitLists(counting.counts()["list"] + 1)
	end := waitLists(mid["list"] + 5)
	if got := others(end) - others(mid); got != 0 {
		t.Fatalf("%d requests other than listings over %d passes, one case fenced and its fence seen (%v → %v): want one listing a pass",
			got, end["list"]-mid["list"], mid, end)
	}
	// A Stat and a read of the fenced case; twice when a pass lists
	// between the marker's first write and the fence (it reads the case
	// not yet fenced) and the next sees the marker written again after it
	// (BeginDisposal: marker, fence, marker kept).
	if got := others(mid) - others(after); got > 4 {
		t.Fatalf("%d requests other than listings to find one case fenced (%v → %v): want a Stat and a read of it, at most twice", got, after, mid)
	}
	if got := kicks[fenced].Load(); got != 1 {
		t.Fatalf("the fenced case's connection kicked %d times, want once", got)
	}
}
