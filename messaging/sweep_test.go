package messaging

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/parley-mediation/parley/objstore"
)

// countingStore counts the requests made under each journal (by the
// incarnation named in the key or prefix), besides the listing of every
// journal.
type countingStore struct {
	objstore.Store
	mu sync.Mutex
	n  map[string]int
}

func (c *countingStore) count(key string) {
	rest, ok := strings.CutPrefix(key, journalRoot)
	if !ok || rest == "" {
		return
	}
	node, _, _ := strings.Cut(rest, "/")
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[node]++
}

func (c *countingStore) requests(node string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[node]
}

func (c *countingStore) Get(ctx context.Context, key string, opts objstore.GetOptions) (io.ReadCloser, objstore.Info, error) {
	c.count(key)
	return c.Store.Get(ctx, key, opts)
}

func (c *countingStore) Stat(ctx context.Context, key string) (objstore.Info, error) {
	c.count(key)
	return c.Store.Stat(ctx, key)
}

func (c *countingStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	c.count(key)
	return c.Store.Put(ctx, key, r, size, opts)
}

func (c *countingStore) Delete(ctx context.Context, key, version string) error {
	c.count(key)
	return c.Store.Delete(ctx, key, version)
}

func (c *countingStore) List(ctx context.Context, prefix string, fn func(objstore.Info) error) error {
	c.count(prefix)
	return c.Store.List(ctx, prefix, fn)
}

func (c *countingStore) VersionsUnder(ctx context.Context, prefix string, fn func(objstore.Version) error) error {
	c.count(prefix)
	return c.Store.VersionsUnder(ctx, prefix, fn)
}

func (c *countingStore) DeleteVersions(ctx context.Context, vs []objstore.Info) []error {
	for _, v := range vs {
		c.count(v.Key)
	}
	return c.Store.DeleteVersions(ctx, vs)
}

// TestSweepReadsATombstoneOnlyJournalOnce: the journals that clean
// shutdowns left (a tombstone alone each) cost a new process's first sweep
// one read each beyond the listing of every journal, and its later sweeps
// none. Before, the first sweep made about five requests for each (list
// and read to see it ended, list and read again to recover it, list its
// versions to delete them), on every restart of every node.
func TestSweepReadsATombstoneOnlyJournalOnce(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			store := open(t)
			var ended []string
			for i := range 3 {
				svc := newService(NewLog(store), NewMemory(), Options{Passive: true}, neverCompact)
				publishN(t, svc, "c_tomb/joint", string(rune('a'+i)), 1)
				ended = append(ended, svc.current().id)
				svc.Close()
			}
			for _, node := range ended {
				if seqs, err := NewLog(store).journalSeqs(t.Context(), node); err != nil || len(seqs) != 1 {
					t.Fatalf("a cleanly closed node's journal holds %v (%v), want its tombstone alone", seqs, err)
				}
			}
			c := &countingStore{Store: store, n: map[string]int{}}
			fresh := newService(NewLog(c), NewMemory(), Options{Passive: true}, neverCompact)
			defer fresh.Close()
			fresh.sweep(t.Context())
			for _, node := range ended {
				if n := c.requests(node); n > 1 {
					t.Errorf("the first sweep made %d requests for a tombstone-only journal, want 1", n)
				}
				if !recoveredBy(fresh, node) {
					t.Errorf("the first sweep left a tombstone-only journal to look at again")
				}
			}
			first := map[string]int{}
			for _, node := range ended {
				first[node] = c.requests(node)
			}
			fresh.sweep(t.Context())
			for _, node := range ended {
				if n := c.requests(node) - first[node]; n > 0 {
					t.Errorf("the second sweep made %d requests for a tombstone-only journal, want none", n)
				}
			}
		})
	}
}

func recoveredBy(s *Service, node string) bool {
	s.deadMu.Lock()
	defer s.deadMu.Unlock()
	return s.recovered[node]
}

func knownBy(s *Service, node string) bool {
	s.deadMu.Lock()
	defer s.deadMu.Unlock()
	return s.recovered[node] || s.dead[node]
}

// TestSweepForgetsJournalsGone: an incarnation whose journal the sweep
// fenced and recovered, and that no listing shows any more (a local
// journal's files are deleted once recovered), is forgotten: the node's
// sets of fenced and recovered incarnations do not grow with every
// incarnation that ever ended. Before, they kept every one until restart.
func TestSweepForgetsJournalsGone(t *testing.T) {
	base := stores(t)["dir"](t)
	dir := filepath.Join(t.TempDir(), "journal")
	broker := NewMemory()
	aStore := &cutStore{Store: base}
	aLog, err := NewLocalLog(aStore, dir)
	if err != nil {
		t.Fatal(err)
	}
	bLog, err := NewLocalLog(base, dir)
	if err != nil {
		t.Fatal(err)
	}
	a := newService(aLog, broker, Options{}, neverCompact)
	room := "c_forget/joint"
	sent := publishN(t, a, room, "a", 3)
	a0 := a.current().id
	kill(a, aStore)
	b := newService(bLog, broker, Options{Passive: true}, neverCompact)
	defer b.Close()
	b.sweep(t.Context())
	if _, err := os.Stat(filepath.Join(dir, a0)); !os.IsNotExist(err) || !recoveredBy(b, a0) {
		t.Fatalf("the killed node's journal was not recovered by the sweep (files: %v)", err)
	}
	checkChain(t, pageAll(t, base, room), ids(sent))
	b.sweep(t.Context())
	if knownBy(b, a0) {
		t.Fatal("an incarnation whose journal is gone is still remembered after the next sweep")
	}
	// Met again (a claim naming it), it is fenced and recovered again,
	// as an empty journal: the room goes on after its messages.
	if m := publishN(t, b, room, "b", 1); m[0].Offset != 4 {
		t.Fatalf("the next message went to %d, want 4", m[0].Offset)
	}
}
