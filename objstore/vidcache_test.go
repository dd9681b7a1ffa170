package objstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
)

// A reader's fill never replaces the id a writer stored, whichever comes
// first: a scan that saw an older version cannot make reads go back.
func TestVIDCacheFillKeepsTheWritersID(t *testing.T) {
	var c vidCache
	c.store("k", "v2")
	c.fill("k", "v1")
	if v, _ := c.load("k"); v != "v2" {
		t.Fatalf("after store v2, fill v1: %q", v)
	}
	c.forget("k")
	c.fill("k", "v1")
	c.store("k", "v2")
	if v, _ := c.load("k"); v != "v2" {
		t.Fatalf("after fill v1, store v2: %q", v)
	}
}

// Writing and reading many keys once each keeps the cache bounded, and
// every key still reads its newest version.
func TestDirVersionCacheIsBounded(t *testing.T) {
	d, err := OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
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
		r, _, err := d.Get(ctx, fmt.Sprintf("seg/%06d", i), GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(r)
		r.Close()
		if want := fmt.Sprintf("%d-1", i); string(got) != want {
			t.Fatalf("key %d reads %q, want %q", i, got, want)
		}
	}
}
