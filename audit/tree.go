package audit

import (
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// tree is the in-memory copy of the log's Merkle tree: the "stored hashes"
// of tlog, i.e. every complete subtree hash (leaves, pairs, fours, …) in the
// order tlog numbers them. About two hashes per entry (64 bytes), which is
// what makes Append O(log n) — tlog.StoredHashes only reads the O(log n)
// hashes on the tree's right edge — and lets proofs be answered from memory.
//
// The hashes are derived data: the entries in the store are the truth, and
// the tree is rebuilt from them whenever a Log is opened or Verify runs.
type tree struct {
	n      int64       // number of leaves
	hashes []tlog.Hash // indexed by tlog.StoredHashIndex
}

var _ tlog.HashReader = (*tree)(nil)

// ReadHashes implements tlog.HashReader over the in-memory hashes.
func (t *tree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(t.hashes)) {
			return nil, fmt.Errorf("audit: stored hash %d not in tree of %d entries", x, t.n)
		}
		out[i] = t.hashes[x]
	}
	return out, nil
}

// add appends one leaf whose record is data.
func (t *tree) add(data []byte) error {
	hs, err := tlog.StoredHashes(t.n, data, t)
	if err != nil {
		return err
	}
	t.hashes = append(t.hashes, hs...)
	t.n++
	return nil
}

// root returns the root hash of the first size leaves. Because stored hashes
// never change once written, the tree can answer for any earlier size too —
// that is what lets one in-memory tree check every historical checkpoint.
func (t *tree) root(size int64) (tlog.Hash, error) {
	if size < 0 || size > t.n {
		return tlog.Hash{}, fmt.Errorf("audit: tree size %d not in [0, %d]", size, t.n)
	}
	return tlog.TreeHash(size, t)
}

// leaf returns the record hash of entry i (which must be < t.n).
func (t *tree) leaf(i int64) tlog.Hash {
	return t.hashes[tlog.StoredHashIndex(0, i)]
}

// rootWith returns the root hash of the tree with records added as the
// next leaves, leaving t as it is.
func (t *tree) rootWith(records [][]byte) (tlog.Hash, error) {
	o := &overlay{base: t}
	n := t.n
	for _, r := range records {
		hs, err := tlog.StoredHashes(n, r, o)
		if err != nil {
			return tlog.Hash{}, err
		}
		o.extra = append(o.extra, hs...)
		n++
	}
	return tlog.TreeHash(n, o)
}

// overlay reads the stored hashes of base followed by extra.
type overlay struct {
	base  *tree
	extra []tlog.Hash
}

func (o *overlay) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	nb := int64(len(o.base.hashes))
	for i, x := range indexes {
		switch {
		case x >= 0 && x < nb:
			out[i] = o.base.hashes[x]
		case x >= nb && x-nb < int64(len(o.extra)):
			out[i] = o.extra[x-nb]
		default:
			return nil, fmt.Errorf("audit: stored hash %d not in tree", x)
		}
	}
	return out, nil
}
