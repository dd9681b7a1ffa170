package audit

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/parley-mediation/parley/objstore"
)

// Report is the result of a successful [Verify].
type Report struct {
	// Size is the number of entries in the store.
	Size int64
	// RootHash is the Merkle root of all Size entries.
	RootHash tlog.Hash
	// CheckpointSize is the size of the latest signed checkpoint. Entries
	// at or beyond it were appended but not yet covered by a checkpoint (a
	// node stopped between the two writes); the next append signs them.
	// Each of them carries its own entry signature, checked.
	CheckpointSize int64
	// SignedFrom is the index from which every entry carries a valid entry
	// signature. Entries before it were written before entries were
	// signed, and are vouched for by the checkpoints alone; Size when no
	// entry is signed yet.
	SignedFrom int64
	// CheckpointsChecked counts the stored signed checkpoints (latest and
	// historical) whose signature and root were checked.
	CheckpointsChecked int
}

// signedCheckpoint is a checkpoint read from the store, with where it was
// and from which index it says entries are signed (-1: signed before they
// were).
type signedCheckpoint struct {
	key  string
	from int64
	Checkpoint
}

// Verify checks the whole audit log in store, independently of any Log: it
// needs only the store and the log's public verifier key, so an auditor can
// run it against a copy of the bucket.
//
// It reads every entry, checks each is a canonical event carrying a valid
// entry signature (entries written before entries were signed excepted:
// those before the index the checkpoints say signatures start from, and
// before the first signed entry), recomputes the Merkle tree, and then
// checks that every stored signed checkpoint — the
// latest and every historical one — verifies under vkey and signs exactly
// the recomputed root at its size. If trusted (a signed checkpoint saved
// earlier, e.g. by an auditor) is given, the log must also be consistent
// with it: its root must equal the recomputed root at its size. That is
// what catches a wholesale rewrite by someone holding the signing key, or a
// rollback of the latest checkpoint: the store's own checkpoints can be
// re-signed, but a copy kept elsewhere cannot.
//
// Any mismatch, gap in the indices, unparseable entry, bad signature or
// entry without a valid signature where entries are signed is an error
// saying where: an entry written into the store by someone without the
// log's key, beyond the latest checkpoint, is named by its index. Historical checkpoints let the error name the damaged
// entries: with one checkpoint per append, a rewritten entry is pinned to
// its index.
func Verify(ctx context.Context, store objstore.Store, vkey string, trusted []byte) (Report, error) {
	return VerifyWithPrefix(ctx, store, vkey, trusted, DefaultPrefix)
}

// VerifyWithPrefix is [Verify] for a log opened with [OpenWithPrefix].
func VerifyWithPrefix(ctx context.Context, store objstore.Store, vkey string, trusted []byte, prefix string) (Report, error) {
	if err := validPrefix(prefix); err != nil {
		return Report{}, err
	}
	lay := layout(prefix)
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return Report{}, fmt.Errorf("audit: verifier key: %w", err)
	}
	auth := newEntryAuth()
	var trustedCP *Checkpoint
	if trusted != nil {
		c, from, err := openCheckpointFrom(trusted, v)
		if err != nil {
			return Report{}, fmt.Errorf("audit: trusted checkpoint: %w", err)
		}
		trustedCP = &c
		if from >= 0 {
			auth.signedFrom = min(auth.signedFrom, from)
		}
	}

	// Checkpoints are read before entries. Writers store entries before the
	// checkpoints that cover them, so every checkpoint read here is covered
	// by the entries listed afterwards, even while nodes keep appending.
	var cps []signedCheckpoint
	latest, haveLatest, err := readSignedCheckpoint(ctx, store, v, lay.latest())
	if err != nil {
		return Report{}, err
	}
	if haveLatest {
		cps = append(cps, latest)
	}
	sizes, err := listIndexed(ctx, store, lay.checkpoints())
	if err != nil {
		return Report{}, err
	}
	for _, size := range sizes {
		c, ok, err := readSignedCheckpoint(ctx, store, v, lay.checkpoint(size))
		if err != nil {
			return Report{}, err
		}
		if !ok {
			continue // listed but gone: stores may list stale keys
		}
		if c.Size != size {
			return Report{}, fmt.Errorf("audit: %s holds a checkpoint of size %d", c.key, c.Size)
		}
		cps = append(cps, c)
	}
	// Every checkpoint signed since entries were says from where they are;
	// the earliest such index is where signatures start.
	for _, c := range cps {
		if c.from >= 0 {
			auth.signedFrom = min(auth.signedFrom, c.from)
		}
	}

	n, err := countEntries(ctx, store, lay)
	if err != nil {
		return Report{}, err
	}
	var t tree
	if err := loadEntries(ctx, store, lay, v, &auth, &t, 0, n); err != nil {
		return Report{}, err
	}
	if n > 0 && !haveLatest {
		return Report{}, fmt.Errorf("audit: the store has %d entries but no signed checkpoint (%s missing)", n, lay.latest())
	}

	if err := checkCheckpoints(&t, cps); err != nil {
		return Report{}, err
	}
	if trustedCP != nil {
		if trustedCP.Size > n {
			return Report{}, fmt.Errorf("audit: trusted checkpoint signs %d entries but the store has %d: entries were deleted or the log rolled back", trustedCP.Size, n)
		}
		root, err := t.root(trustedCP.Size)
		if err != nil {
			return Report{}, err
		}
		if root != trustedCP.Hash {
			return Report{}, fmt.Errorf("audit: the log is not consistent with the trusted checkpoint at size %d: history up to it was rewritten (forked log)", trustedCP.Size)
		}
	}

	root, err := t.root(n)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Size: n, RootHash: root, CheckpointsChecked: len(cps), SignedFrom: min(auth.signedFrom, n)}
	if haveLatest {
		rep.CheckpointSize = latest.Size
	}
	return rep, nil
}

// readSignedCheckpoint reads the checkpoint at key and verifies its
// signature. ok is false if there is none.
func readSignedCheckpoint(ctx context.Context, store objstore.Store, v note.Verifier, key string) (c signedCheckpoint, ok bool, err error) {
	data, _, err := readObject(ctx, store, key)
	if errors.Is(err, objstore.ErrNotFound) {
		return signedCheckpoint{}, false, nil
	}
	if err != nil {
		return signedCheckpoint{}, false, fmt.Errorf("audit: read %s: %w", key, err)
	}
	cp, from, err := openCheckpointFrom(data, v)
	if err != nil {
		return signedCheckpoint{}, false, fmt.Errorf("audit: %s: %w", key, err)
	}
	return signedCheckpoint{key: key, from: from, Checkpoint: cp}, true, nil
}

// checkCheckpoints compares each checkpoint's root with the recomputed tree.
// Going in size order and remembering the largest size that matched
// narrows a mismatch to the entries between that size and the first size
// that does not: the tampered entries must lie there, since everything
// before was signed as it is now.
func checkCheckpoints(t *tree, cps []signedCheckpoint) error {
	sort.SliceStable(cps, func(i, j int) bool { return cps[i].Size < cps[j].Size })
	var good int64
	for _, c := range cps {
		if c.Size > t.n {
			return fmt.Errorf("audit: %s signs %d entries but the store has %d: entries were deleted", c.key, c.Size, t.n)
		}
		root, err := t.root(c.Size)
		if err != nil {
			return err
		}
		if root == c.Hash {
			good = c.Size
			continue
		}
		if c.Size-good == 1 {
			return fmt.Errorf("audit: entry %d: hash does not match the signed checkpoint at size %d (%s)", good, c.Size, c.key)
		}
		return fmt.Errorf("audit: entries %d..%d: recomputed tree does not match the signed checkpoint at size %d (%s)", good, c.Size-1, c.Size, c.key)
	}
	return nil
}
