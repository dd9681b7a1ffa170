package objstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
)

// A reader's fill never replaces the id a writer stored, whichever comes
// first, nor puts back an older id after the writer's entry was dropped
// (a forget or the cache starting over) while the reader scanned.
func TestVIDCacheFillKeepsTheWritersID(t *testing.T) {
	var c vidCache
	_, _, gen := c.load("k")
	c.store("k", "v2")
	c.fill("k", "v1", gen)
	if v, _, _ := c.load("k"); v != "v2" {
		t.Fatalf("after store v2, fill v1: %q", v)
	}

	c.forget("k")
	_, _, gen = c.load("k")
	c.fill("k", "v1", gen)
	c.store("k", "v2")
	if v, _, _ := c.load("k"); v != "v2" {
		t.Fatalf("after fill v1, store v2: %q", v)
	}

	// scan (v1) · store v2 · forget of another version · fill v1
	c.forget("k")
	_, _, gen = c.load("k")
	c.store("k", "v2")
	c.forget("k")
	c.fill("k", "v1", gen)
	if v, ok, _ := c.load("k"); ok {
		t.Fatalf("a fill after a forget cached %q", v)
	}

	// scan (v1) · store v2 · the cache starts over · fill v1
	small := vidCache{max: 2}
	_, _, gen = small.load("k")
	small.store("k", "v2")
	small.store("a", "x")
	small.store("b", "y") // starts over
	small.fill("k", "v1", gen)
	if v, ok, _ := small.load("k"); ok {
		t.Fatalf("a fill after the cache started over cached %q", v)
	}
}

// Through the store: a Get that scanned before a Put, with the Put's
// entry dropped before the Get's fill, still leaves reads at the newest.
func TestDirReadAfterDroppedEntrySeesNewest(t *testing.T) {
	d := newTestDir(t)
	ctx := context.Background()
	put := func(body string) Info {
		info, err := d.Put(ctx, "k", bytes.NewReader([]byte(body)), int64(len(body)), PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return info
	}
	put("v1")
	d.latestVID.forget("k")
	_, _, gen := d.latestVID.load("k")
	vid1, _, _, err := d.scanLatest("k") // a reader's scan, before the Put
	if err != nil {
		t.Fatal(err)
	}
	put("v2")
	d.latestVID.forget("k") // e.g. a version delete, or the cache starting over
	d.latestVID.fill("k", vid1, gen)
	if got := getString(t, d, "k"); got != "v2" {
		t.Fatalf("read %q after v2 was written", got)
	}
}

func newTestDir(t *testing.T) *Dir {
	t.Helper()
	d, err := OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// getString reads key's latest version.
func getString(t *testing.T, d *Dir, key string) string {
	t.Helper()
	r, _, err := d.Get(context.Background(), key, GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(got)
}

// Writing and reading many keys once each keeps the cache bounded, and
// every key still reads its newest version.
func TestDirVersionCacheIsBounded(t *testing.T) {
	d := newTestDir(t)
	ctx := context.Background()
	d.latestVID.max = 50 // (maxCachedVIDs in use: the same rule, sooner)
	n := 170
	for i := range n {
		key := fmt.Sprintf("seg/%06d", i)
		for v := range 2 {
			body := []byte(fmt.Sprintf("%d-%d", i, v))
			if _, err := d.Put(ctx, key, bytes.NewReader(body), int64(len(body)), PutOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if got := d.latestVID.len(); got > 50 {
			t.Fatalf("after %d keys the cache holds %d entries (limit 50)", i+1, got)
		}
	}
	for _, i := range []int{0, 1, n / 2, n - 1} {
		got := getString(t, d, fmt.Sprintf("seg/%06d", i))
		if want := fmt.Sprintf("%d-1", i); got != want {
			t.Fatalf("key %d reads %q, want %q", i, got, want)
		}
	}
}
