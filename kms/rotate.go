package kms

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/parley-mediation/parley/objstore"
)

// RotateOptions tunes RotateMasterKey.
type RotateOptions struct {
	// AfterEach, if set, is called after each wrapped-key object is settled
	// (rewrapped, or found already under the new key, and its old versions
	// deleted), with how many are settled and how many there are. An error
	// stops the rotation at that point; running it again resumes. The CLI
	// draws its progress bar with it; tests stop a rotation half-way with it.
	// Calls come from the workers but never overlap.
	AfterEach func(objectKey string, done, total int) error
	// Workers is how many objects are rewrapped at once (default 8). Each
	// object takes a few round trips to the store, so a large deployment
	// rotates several times faster in parallel; objects are independent,
	// and each one's rewrap is still a single conditional write.
	Workers int
}

// RotateReport says what a rotation did.
type RotateReport struct {
	// Objects is the number of wrapped-key objects under keys/.
	Objects int
	// Rewrapped were moved from the old master key to the new one by this run.
	Rewrapped int
	// AlreadyNew were under the new master key already (an earlier run that
	// was interrupted got to them).
	AlreadyNew int
	// OldVersionsDeleted counts noncurrent versions of those objects that
	// were deleted, so the bucket keeps no copy wrapped by the old key.
	OldVersionsDeleted int
	// Verified is the number of stored versions under keys/ checked, after
	// the rotation, to be wrapped by the new master key.
	Verified int
}

// RotateMasterKey rewraps every key the master key wraps — every object
// under KeysPrefix — from oldKey to newKey. Only those small objects change:
// the keys themselves stay the same, so nothing they encrypt (records,
// documents, audit signatures) is touched or re-encrypted.
//
// It is idempotent and resumable. Each object is rewritten by one
// conditional Put, so at every moment its latest version is whole and
// wrapped by one key or the other; an interrupted run leaves some objects
// under the old key and some under the new, and running again with both
// keys finishes the job (objects already under newKey are only checked).
// Noncurrent versions of an object are deleted only once its latest
// version has been read back and unwrapped with newKey.
//
// Before changing anything it checks that every object under keys/ has a
// KeyRule; afterwards it reads every stored version under keys/ and fails
// unless all are wrapped by newKey. So on success the old master key
// unwraps nothing in the store.
//
// Nodes must not run while it does (they hold one master key, and a node
// still on the old key would fail to read rewrapped case keys, or create
// new ones under the old key). The records key is rewrapped first, alone,
// and keys/ listed after it: LoadOrCreateKey refuses to create a key once
// RecordsKeyObject is rewrapped, and takes back one it wrote while the
// rewrap landed, so a stale node's key is either in that listing (and
// rewrapped) or taken back by that node. oldKey and newKey may be the same
// key: that only checks.
func RotateMasterKey(ctx context.Context, store objstore.Store, oldKey, newKey *MasterKey, opts RotateOptions) (RotateReport, error) {
	var rep RotateReport
	if oldKey == nil || newKey == nil {
		return rep, errors.New("kms: rotation needs the old and the new master key")
	}
	objects, labels, err := wrappedObjects(ctx, store)
	if err != nil {
		return rep, fmt.Errorf("%w; nothing was rotated", err)
	}
	var mu sync.Mutex
	done := 0
	// The records key first, alone: from then on a process still on the
	// old master key creates no wrapped key (LoadOrCreateKey checks the
	// records key before and after its write), so the listing made after
	// it holds every key the old master key wrapped.
	if i := slices.Index(objects, RecordsKeyObject); i >= 0 {
		rewrapped, deleted, err := settle(ctx, store, oldKey, newKey, objects[i], labels[i])
		if err != nil {
			return rep, err
		}
		if rewrapped {
			rep.Rewrapped++
		} else {
			rep.AlreadyNew++
		}
		rep.OldVersionsDeleted += deleted
		done++
		if opts.AfterEach != nil {
			if err := opts.AfterEach(objects[i], done, len(objects)); err != nil {
				return rep, err
			}
		}
		if objects, labels, err = wrappedObjects(ctx, store); err != nil {
			return rep, err
		}
		if i := slices.Index(objects, RecordsKeyObject); i >= 0 {
			objects, labels = slices.Delete(objects, i, i+1), slices.Delete(labels, i, i+1)
		}
	}
	rep.Objects = done + len(objects)
	err = forEach(ctx, len(objects), opts.Workers, func(ctx context.Context, i int) error {
		rewrapped, deleted, err := settle(ctx, store, oldKey, newKey, objects[i], labels[i])
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		if rewrapped {
			rep.Rewrapped++
		} else {
			rep.AlreadyNew++
		}
		rep.OldVersionsDeleted += deleted
		done++
		if opts.AfterEach != nil {
			return opts.AfterEach(objects[i], done, rep.Objects)
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	rep.Verified, err = VerifyWrapped(ctx, store, newKey)
	return rep, err
}

// forEach calls fn(i) for i in [0, n) on up to workers goroutines (8 if
// workers ≤ 0). The first error cancels the context fn gets, stops handing
// out indexes, and is returned once the calls under way have returned.
func forEach(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	if workers <= 0 {
		workers = 8
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		once     sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	next := make(chan int)
	for range min(workers, n) {
		wg.Go(func() {
			for i := range next {
				if err := fn(ctx, i); err != nil {
					once.Do(func() { firstErr = err; cancel() })
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// wrappedObjects lists the objects under keys/ with their labels, failing
// if any has no rule.
func wrappedObjects(ctx context.Context, store objstore.Store) (objects, labels []string, err error) {
	var unknown []string
	err = store.List(ctx, KeysPrefix, func(info objstore.Info) error {
		label, err := LabelFor(info.Key)
		if err != nil {
			unknown = append(unknown, info.Key)
			return nil
		}
		objects = append(objects, info.Key)
		labels = append(labels, label)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("kms: list %s: %w", KeysPrefix, err)
	}
	if len(unknown) > 0 {
		return nil, nil, fmt.Errorf("kms: %d object(s) under %s have no key rule: %v", len(unknown), KeysPrefix, unknown[:min(len(unknown), 5)])
	}
	return objects, labels, nil
}

// settle brings one object under newKey and deletes its other versions.
func settle(ctx context.Context, store objstore.Store, oldKey, newKey *MasterKey, key, label string) (rewrapped bool, deleted int, err error) {
	var keep string // the version wrapped by newKey, verified
	for attempt := 0; keep == ""; attempt++ {
		if attempt == 3 {
			return false, 0, fmt.Errorf("kms: %s keeps changing under the rotation (is a node running?)", key)
		}
		blob, info, err := readWrapped(ctx, store, key, "")
		if err != nil {
			return false, 0, err
		}
		by, _ := WrappedBy(blob)
		switch by {
		case newKey.ID():
			pt, err := newKey.Unwrap(blob, label)
			if err != nil {
				return false, 0, fmt.Errorf("kms: %s: %w", key, err)
			}
			clear(pt)
			keep = info.VersionID
		case oldKey.ID():
			pt, err := oldKey.Unwrap(blob, label)
			if err != nil {
				return false, 0, fmt.Errorf("kms: %s: %w", key, err)
			}
			wrapped := newKey.Wrap(pt, label)
			put, err := store.Put(ctx, key, bytes.NewReader(wrapped), int64(len(wrapped)), objstore.PutOptions{IfMatch: info.ETag})
			if errors.Is(err, objstore.ErrPrecondition) {
				clear(pt)
				continue // changed since we read it: look again
			}
			if err != nil {
				clear(pt)
				return false, 0, fmt.Errorf("kms: rewrap %s: %w", key, err)
			}
			// Read back what is now stored and check it opens to the same key
			// under newKey before anything old is deleted.
			back, _, err := readWrapped(ctx, store, key, put.VersionID)
			if err == nil {
				var got []byte
				if got, err = newKey.Unwrap(back, label); err == nil && subtle.ConstantTimeCompare(got, pt) != 1 {
					err = errors.New("read back a different key")
				}
				clear(got)
			}
			clear(pt)
			if err != nil {
				return false, 0, fmt.Errorf("kms: check rewrapped %s: %w", key, err)
			}
			keep, rewrapped = put.VersionID, true
		default:
			return false, 0, fmt.Errorf("kms: %s is wrapped by master key %q, which is neither the old key (%s) nor the new one (%s)", key, by, oldKey.ID(), newKey.ID())
		}
	}
	versions, err := store.Versions(ctx, key)
	if err != nil {
		return rewrapped, 0, fmt.Errorf("kms: versions of %s: %w", key, err)
	}
	for _, v := range versions {
		if v.VersionID == keep || v.IsLatest {
			continue
		}
		if err := store.Delete(ctx, key, v.VersionID); err != nil {
			return rewrapped, deleted, fmt.Errorf("kms: delete old version of %s: %w", key, err)
		}
		deleted++
	}
	return rewrapped, deleted, nil
}

// VerifyWrapped reads every stored version of every object under keys/ and
// checks that mk unwraps it with the object's label. It returns the number
// of versions checked, and an error naming the objects that fail (wrapped
// by another master key, a wrong label, tampered, or without a key rule).
func VerifyWrapped(ctx context.Context, store objstore.Store, mk *MasterKey) (int, error) {
	objects, labels, err := wrappedObjects(ctx, store)
	if err != nil {
		return 0, err
	}
	var (
		mu      sync.Mutex
		checked int
		bad     []string
	)
	err = forEach(ctx, len(objects), 0, func(ctx context.Context, i int) error {
		key := objects[i]
		versions, err := store.Versions(ctx, key)
		if err != nil {
			return fmt.Errorf("kms: versions of %s: %w", key, err)
		}
		for _, v := range versions {
			if v.DeleteMarker {
				continue
			}
			blob, _, err := readWrapped(ctx, store, key, v.VersionID)
			if err != nil {
				return err
			}
			pt, err := mk.Unwrap(blob, labels[i])
			clear(pt)
			mu.Lock()
			checked++
			if err != nil {
				by, _ := WrappedBy(blob)
				bad = append(bad, fmt.Sprintf("%s@%s (wrapped by %q)", key, v.VersionID, by))
			}
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return checked, err
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return checked, fmt.Errorf("kms: %d stored version(s) under %s do not unwrap with master key %s (written during the rotation by a node still running?): %v", len(bad), KeysPrefix, mk.ID(), bad[:min(len(bad), 5)])
	}
	return checked, nil
}

// readWrapped reads one version (versionID "" for the latest) of a wrapped
// key object, refusing one too large to be a wrapped key.
func readWrapped(ctx context.Context, store objstore.Store, key, versionID string) ([]byte, objstore.Info, error) {
	rc, info, err := store.Get(ctx, key, objstore.GetOptions{VersionID: versionID})
	if err != nil {
		return nil, info, fmt.Errorf("kms: read %s: %w", key, err)
	}
	defer rc.Close()
	blob, err := io.ReadAll(io.LimitReader(rc, maxWrappedKeySize+1))
	if err != nil {
		return nil, info, fmt.Errorf("kms: read %s: %w", key, err)
	}
	if len(blob) > maxWrappedKeySize {
		return nil, info, fmt.Errorf("kms: %s is larger than any wrapped key (%d bytes or more)", key, maxWrappedKeySize+1)
	}
	return blob, info, nil
}
